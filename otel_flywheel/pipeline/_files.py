"""`VerdictFile`: a verdict sink that appends one JSON line per verdict to a local file."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from otel_flywheel.model import AgentTrace, Verdict

__all__ = ["VerdictFile"]


class VerdictFile:
    """Appends each verdict as the JSON line ``otel-flywheel evaluate`` writes; fsyncs on flush.

    Each line is handed to the operating system before ``submit_verdict`` returns, so a verdict
    the pipeline acknowledged survives the process being killed (a power cut needs the fsync of
    ``force_flush``). Thread-safe. A trace evaluated twice (judged again after feedback, or after
    a crash) gets two lines; the later one is current.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # guards _file
        self._file = self.path.open("a", encoding="utf-8")

    def submit_verdict(self, trace: AgentTrace, verdict: Verdict) -> None:
        line = json.dumps(verdict.to_dict()) + "\n"
        with self._lock:
            if self._file.closed:
                raise RuntimeError(f"{self.path}: this VerdictFile is shut down")
            self._file.write(line)
            self._file.flush()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())
        return True

    def shutdown(self) -> None:
        self.force_flush()
        with self._lock:
            self._file.close()
