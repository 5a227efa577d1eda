"""File arguments: ``-`` means stdout for what a command writes and stdin for what it reads."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Final, TextIO

__all__ = ["STDIO", "input_source", "is_stdio", "open_output"]

STDIO: Final = "-"


def is_stdio(path: str | Path | None) -> bool:
    return path is not None and str(path) == STDIO


def input_source(path: Path) -> Path | BinaryIO:
    """``path``, or standard input's bytes for ``-``."""
    return sys.stdin.buffer if is_stdio(path) else path


@contextmanager
def open_output(path: Path | None) -> Iterator[TextIO]:
    """A text stream to write to: ``path`` (its directory created), or stdout for ``None`` or
    ``-``. Stdout is flushed, never closed."""
    if path is None or is_stdio(path):
        try:
            yield sys.stdout
        finally:
            sys.stdout.flush()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        yield out
