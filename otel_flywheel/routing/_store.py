"""`RoutingStore`: what routing must remember between a verdict and the feedback that follows it.

Feedback arrives after the trace (a user clicks thumbs-down minutes later), or before it (the
client sends feedback while the trace is still being assembled), or names a span rather than a
trace. Routing needs the trace to build dataset examples from either, so this SQLite file (WAL)
keeps, per instance:

- ``traces``: each evaluated trace (redacted, as the pipeline saw it) with its verdict, and
  ``spans`` mapping its span ids to it;
- ``pending_feedback``: feedback whose trace has not arrived yet;
- ``routed``: every example routed, by dataset and example id: dedupe across restarts (the outbox
  forgets delivered writes), the per-category cap per window, and category rarity for review
  priority.

Everything is keyed by pseudonymized ``user_id`` where there is one, so ``purge_user`` and
``purge_older_than`` can apply erasure and retention.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import TypeAdapter

from otel_flywheel.model import AgentTrace, Feedback, Verdict

__all__ = ["PurgeCounts", "RoutingStore", "StoredTrace"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY,
    user_id TEXT,
    stored_at REAL NOT NULL,
    trace_json TEXT NOT NULL,
    verdict_json TEXT
);
CREATE INDEX IF NOT EXISTS traces_user ON traces (user_id);
CREATE INDEX IF NOT EXISTS traces_stored_at ON traces (stored_at);
CREATE TABLE IF NOT EXISTS spans (
    span_id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id);
CREATE TABLE IF NOT EXISTS pending_feedback (
    feedback_id TEXT PRIMARY KEY,
    trace_id TEXT,
    span_id TEXT,
    received_at REAL NOT NULL,
    feedback_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS routed (
    dataset TEXT NOT NULL,
    example_id TEXT NOT NULL,
    category TEXT,
    user_id TEXT,
    trace_id TEXT NOT NULL,
    routed_at REAL NOT NULL,
    rank INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dataset, example_id)
);
CREATE INDEX IF NOT EXISTS routed_category ON routed (dataset, category, routed_at);
CREATE INDEX IF NOT EXISTS routed_user ON routed (user_id);
"""


@dataclass(frozen=True, slots=True)
class StoredTrace:
    trace: AgentTrace
    verdict: Verdict | None


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    traces: int = 0
    feedback: int = 0
    routed: int = 0


class RoutingStore:
    """Thread-safe; one connection guarded by a lock (every call is a short transaction)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()  # guards _db: sqlite3 connections are not thread-safe
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=5000")  # other processes may share the state dir
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across crashes
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --------------------------------------------------------------------------- traces

    def put_trace(self, trace: AgentTrace, verdict: Verdict | None) -> None:
        verdict_json = json.dumps(_verdict_record(verdict)) if verdict is not None else None
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO traces VALUES (?, ?, ?, ?, ?)",
                (trace.trace_id, trace.user_id, self._clock(), trace.to_json(), verdict_json),
            )
            db.executemany(
                "INSERT OR REPLACE INTO spans VALUES (?, ?)",
                [(step.span_id, trace.trace_id) for step in trace.steps],
            )

    def get_trace(
        self, *, trace_id: str | None = None, span_id: str | None = None
    ) -> StoredTrace | None:
        with self._lock:
            if trace_id is None and span_id is not None:
                row = self._db.execute(
                    "SELECT trace_id FROM spans WHERE span_id = ?", (span_id,)
                ).fetchone()
                trace_id = row[0] if row else None
            if trace_id is None:
                return None
            row = self._db.execute(
                "SELECT trace_json, verdict_json FROM traces WHERE trace_id = ?", (trace_id,)
            ).fetchone()
        if row is None:
            return None
        verdict = _verdict_from_record(json.loads(row[1])) if row[1] else None
        return StoredTrace(trace=AgentTrace.from_json(row[0]), verdict=verdict)

    # ------------------------------------------------------------------------- feedback

    def put_pending_feedback(self, feedback: Feedback) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO pending_feedback VALUES (?, ?, ?, ?, ?)",
                (
                    feedback.feedback_id,
                    feedback.trace_id,
                    feedback.span_id,
                    self._clock(),
                    json.dumps(feedback.to_dict()),
                ),
            )

    def take_pending_feedback(self, trace: AgentTrace) -> list[Feedback]:
        """Remove and return feedback waiting for ``trace`` (by trace id or one of its spans)."""
        span_ids = [step.span_id for step in trace.steps]
        marks = ",".join("?" * len(span_ids)) or "NULL"
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT feedback_id, feedback_json FROM pending_feedback "
                f"WHERE trace_id = ? OR span_id IN ({marks})",
                (trace.trace_id, *span_ids),
            ).fetchall()
            db.executemany(
                "DELETE FROM pending_feedback WHERE feedback_id = ?", [(r[0],) for r in rows]
            )
        return [Feedback.from_dict(json.loads(r[1])) for r in rows]

    def pending_feedback_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM pending_feedback").fetchone()[0])

    # --------------------------------------------------------------------------- ledger

    def claim_example(
        self,
        *,
        dataset: str,
        example_id: str,
        category: str | None,
        trace_id: str,
        user_id: str | None,
        rank: int = 0,
        cap: int,
        window_seconds: float,
    ) -> str:
        """Record an example as routed unless it is a duplicate or over its category's cap.

        Returns ``"routed"``, ``"duplicate"``, ``"capped"``, or ``"upgraded"`` when an example with
        the same id was routed at a lower ``rank`` (an inferred failure, now corrected by a
        person): the caller then rewrites it. Check and insert are one transaction, so two
        workers cannot both route the same example.
        """
        now = self._clock()
        with self._transaction() as db:
            existing = db.execute(
                "SELECT rank FROM routed WHERE dataset = ? AND example_id = ?",
                (dataset, example_id),
            ).fetchone()
            if existing is not None:
                if rank <= existing[0]:
                    return "duplicate"
                db.execute(
                    "UPDATE routed SET rank = ?, trace_id = ?, user_id = ?, routed_at = ? "
                    "WHERE dataset = ? AND example_id = ?",
                    (rank, trace_id, user_id, now, dataset, example_id),
                )
                return "upgraded"
            if category is not None:
                (count,) = db.execute(
                    "SELECT count(*) FROM routed WHERE dataset = ? AND category = ? "
                    "AND routed_at >= ?",
                    (dataset, category, now - window_seconds),
                ).fetchone()
                if count >= cap:
                    return "capped"
            db.execute(
                "INSERT INTO routed VALUES (?, ?, ?, ?, ?, ?, ?)",
                (dataset, example_id, category, user_id, trace_id, now, rank),
            )
        return "routed"

    def category_counts(self, *, window_seconds: float) -> dict[str, int]:
        """Examples routed per category (all datasets) within the window: rarity for priorities."""
        with self._lock:
            rows = self._db.execute(
                "SELECT category, count(*) FROM routed WHERE category IS NOT NULL "
                "AND routed_at >= ? GROUP BY category",
                (self._clock() - window_seconds,),
            ).fetchall()
        return {category: count for category, count in rows}

    # -------------------------------------------------------------------------- privacy

    def purge_user(self, user_id: str) -> PurgeCounts:
        """Erase a (pseudonymized) user's traces, feedback on them and routing records."""
        with self._transaction() as db:
            trace_ids = [
                r[0]
                for r in db.execute("SELECT trace_id FROM traces WHERE user_id = ?", (user_id,))
            ]
            feedback = 0
            for trace_id in trace_ids:
                db.execute("DELETE FROM spans WHERE trace_id = ?", (trace_id,))
                feedback += db.execute(
                    "DELETE FROM pending_feedback WHERE trace_id = ?", (trace_id,)
                ).rowcount
            traces = db.execute("DELETE FROM traces WHERE user_id = ?", (user_id,)).rowcount
            routed = db.execute("DELETE FROM routed WHERE user_id = ?", (user_id,)).rowcount
        return PurgeCounts(traces=traces, feedback=feedback, routed=routed)

    def purge_older_than(self, seconds: float) -> PurgeCounts:
        """Retention: drop traces and waiting feedback older than ``seconds``.

        Routing records stay (they hold ids and categories, no content) so that dedupe still
        holds for examples already in Phoenix.
        """
        cutoff = self._clock() - seconds
        with self._transaction() as db:
            db.execute(
                "DELETE FROM spans WHERE trace_id IN "
                "(SELECT trace_id FROM traces WHERE stored_at < ?)",
                (cutoff,),
            )
            traces = db.execute("DELETE FROM traces WHERE stored_at < ?", (cutoff,)).rowcount
            feedback = db.execute(
                "DELETE FROM pending_feedback WHERE received_at < ?", (cutoff,)
            ).rowcount
        return PurgeCounts(traces=traces, feedback=feedback)

    def close(self) -> None:
        with self._lock:
            self._db.close()


@cache
def _verdict_adapter() -> TypeAdapter[Verdict]:
    return TypeAdapter(Verdict)


def _verdict_record(verdict: Verdict) -> object:
    return _verdict_adapter().dump_python(verdict, mode="json")


def _verdict_from_record(record: object) -> Verdict:
    return _verdict_adapter().validate_python(record)
