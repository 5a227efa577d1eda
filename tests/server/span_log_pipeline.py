"""A ``--pipeline`` factory for the subprocess tests: ``span_log_pipeline:make_pipeline``.

Appends one line per span it receives, ``<trace id> <span id>``, to the file named by
``FLYWHEEL_TEST_SPAN_LOG``, and ``shutdown`` when it is shut down. Each line is written straight to
the OS, so a SIGKILL of the server loses nothing the pipeline received.
"""

from __future__ import annotations

import os
from pathlib import Path

from otel_flywheel.model import AgentTrace

SPAN_LOG_ENV = "FLYWHEEL_TEST_SPAN_LOG"
SHUTDOWN_LINE = "shutdown"


class SpanLogPipeline:
    def __init__(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the server

    def submit(self, trace: AgentTrace) -> None:
        self._file.write("".join(f"{trace.trace_id} {step.span_id}\n" for step in trace.steps))
        self._file.flush()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self._file.flush()
        return True

    def shutdown(self) -> None:
        self._file.write(f"{SHUTDOWN_LINE}\n")
        self._file.close()


def make_pipeline() -> SpanLogPipeline:
    return SpanLogPipeline(os.environ[SPAN_LOG_ENV])


def read_span_log(path: str | os.PathLike[str]) -> tuple[set[tuple[str, str]], bool]:
    """The (trace id, span id) pairs logged so far, and whether the pipeline was shut down.

    A line still being written (read mid-write) is left out.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return set(), False
    pairs: set[tuple[str, str]] = set()
    for line in lines:
        trace_id, _, span_id = line.partition(" ")
        if len(trace_id) == 32 and len(span_id) == 16:
            pairs.add((trace_id, span_id))
    return pairs, SHUTDOWN_LINE in lines
