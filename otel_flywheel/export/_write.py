"""Writing export files: JSON lines or Parquet by suffix, atomically, with their sha256.

A file is written under a temporary name beside its target and renamed into place, so a failed
or interrupted export leaves the previous file (or none), never half a file that a training job
could pick up.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from otel_flywheel.export._errors import ExportError

__all__ = ["FileFormat", "WrittenFile", "atomic_target", "file_format", "write_rows"]

FileFormat = Literal["parquet", "jsonl"]


@dataclass(frozen=True, kw_only=True)
class WrittenFile:
    path: Path
    format: FileFormat
    rows: int
    bytes: int
    sha256: str


def file_format(path: str | os.PathLike[str]) -> FileFormat:
    """``parquet`` or ``jsonl`` from the suffix; `ExportError` for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".jsonl":
        return "jsonl"
    raise ExportError(f"{path}: write .parquet or .jsonl (got {suffix or 'no suffix'!r})")


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """A temporary path with ``path``'s suffix; renamed onto ``path`` when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_rows(
    path: str | os.PathLike[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    to_table: Callable[[Sequence[Mapping[str, Any]]], pa.Table] | None = None,
) -> WrittenFile:
    """Write ``rows`` (their JSONL form) to ``path``; for Parquet, ``to_table`` lays them out."""
    target = Path(path)
    kind = file_format(target)
    with atomic_target(target) as temporary:
        if kind == "parquet":
            if to_table is None:
                raise ExportError(f"{target}: this export has no Parquet layout; write .jsonl")
            pq.write_table(to_table(rows), temporary)
        else:
            with temporary.open("w", encoding="utf-8") as out:
                for row in rows:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return described(target, kind, len(rows))


def described(path: Path, kind: FileFormat, rows: int) -> WrittenFile:
    return WrittenFile(
        path=path, format=kind, rows=rows, bytes=path.stat().st_size, sha256=sha256_of(path)
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
