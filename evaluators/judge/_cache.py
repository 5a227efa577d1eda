"""The judge's response cache: one SQLite file, scored evaluations only.

The key is (rubric id and version, judge model, hash of the rendered input, samples): change any of
them and the trace is judged afresh. Unscored evaluations are never stored, so a judgment that
failed is retried the next time. WAL journaling lets several processes share the file; within a
process one connection is shared under a lock (lookups and writes are small, so running them on the
event loop thread costs microseconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from functools import cache
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from otel_flywheel.errors import ConfigError
from otel_flywheel.model import Evaluation
from otel_flywheel.state import open_sqlite

__all__ = ["JudgeCache", "cache_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    key TEXT PRIMARY KEY,
    evaluation TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""


@cache
def _adapter() -> TypeAdapter[Evaluation]:
    return TypeAdapter(Evaluation)


def cache_key(
    *, rubric_id: str, rubric_version: str, model: str, input_hash: str, samples: int
) -> str:
    """A stable digest of everything that decides a judgment."""
    parts = [rubric_id, rubric_version, model, input_hash, samples]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class JudgeCache:
    """Scored evaluations by `cache_key`, in the SQLite file at ``path`` (created on demand)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        fix = "point cache_path (FLYWHEEL_JUDGE_CACHE) at a writable file, or set it to 'off'"
        # Private (0600) like every state file: cached judgments quote the judged traces.
        self._connection = open_sqlite(
            self.path,
            what="judge cache",
            fix=fix,
            synchronous="NORMAL",  # a lost entry is only judged again
            busy_timeout_seconds=10.0,
            require_wal=False,
        )
        try:
            self._connection.execute(_SCHEMA)
        except sqlite3.Error as exc:
            self._connection.close()
            raise ConfigError(f"judge cache {self.path}: cannot use it ({exc}); {fix}") from None
        self._lock = threading.Lock()
        self._closed = False

    def get(self, key: str) -> Evaluation | None:
        """The stored evaluation, or None (also for an entry that no longer reads back)."""
        with self._lock:
            if self._closed:
                return None
            row = self._connection.execute(
                "SELECT evaluation FROM judgments WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        try:
            return _adapter().validate_json(row[0])
        except ValidationError:
            return None  # written by an incompatible version: judge again, then overwrite

    def put(self, key: str, evaluation: Evaluation) -> None:
        """Store ``evaluation`` under ``key``; unscored evaluations are ignored."""
        if evaluation.unscored:
            return
        payload = _adapter().dump_json(evaluation).decode()
        with self._lock:
            if self._closed:
                return
            self._connection.execute(
                "INSERT OR REPLACE INTO judgments (key, evaluation, created_at) VALUES (?, ?, ?)",
                (key, payload, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._connection.execute("SELECT COUNT(*) FROM judgments").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._connection.close()
