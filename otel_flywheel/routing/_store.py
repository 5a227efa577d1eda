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

It is bounded, because agents put megabytes into span attributes:

- per trace, ``max_trace_bytes`` of JSON (default 1 MiB): a larger trace is stored trimmed (see
  ``_trim``), and says so in its warnings;
- in total, ``max_bytes`` of stored traces (default 256 MiB): past it the oldest traces go, down
  to 90 % of the limit, so that eviction runs now and then rather than at every put;
- in time, ``retention_seconds`` (default 30 days): older traces and waiting feedback are deleted
  as new traces come in (at most once every ten minutes), and ``max_pending_feedback`` (10 000)
  caps feedback waiting for a trace.

A trace evicted or expired can no longer turn later feedback into examples: that feedback still
becomes an annotation, and waits for the trace like feedback for a trace not seen yet. The ledger
(``routed``) holds ids and categories only and is kept, so dedupe holds for examples already in
Phoenix. Freed pages are returned to the file system (``auto_vacuum = INCREMENTAL``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from pydantic import TypeAdapter

from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, Feedback, Verdict
from otel_flywheel.routing._store_db import (
    add_bytes,
    cap_pending_feedback,
    create_or_migrate,
    evict_oldest,
    expire,
    total_bytes,
)
from otel_flywheel.routing._trim import fit_trace_json
from otel_flywheel.state import open_sqlite, state_path, write_transaction

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PENDING_FEEDBACK",
    "DEFAULT_MAX_TRACE_BYTES",
    "DEFAULT_RETENTION_SECONDS",
    "Claim",
    "PurgeCounts",
    "RoutingStore",
    "StoredTrace",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_TRACE_BYTES: Final = 1024 * 1024
DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024
DEFAULT_RETENTION_SECONDS: Final = 30 * 86_400.0
DEFAULT_MAX_PENDING_FEEDBACK: Final = 10_000
_MAINTENANCE_INTERVAL_SECONDS: Final = 600.0


@dataclass(frozen=True, slots=True)
class StoredTrace:
    trace: AgentTrace
    verdict: Verdict | None


@dataclass(frozen=True, slots=True)
class Claim:
    """What `RoutingStore.claim_example` decided: ``outcome`` (``"routed"``, ``"duplicate"``,
    ``"capped"`` or ``"upgraded"``), and whether the example's writes must ``relink`` it."""

    outcome: str
    relink: bool = False


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    traces: int = 0
    feedback: int = 0
    routed: int = 0


ROUTING_STORE_FILE: Final = "routing.sqlite"


def default_routing_store_path(*, environ: Mapping[str, str] | None = None) -> Path:
    """``<FLYWHEEL_STATE_DIR or .flywheel>/routing.sqlite``."""
    return state_path(ROUTING_STORE_FILE, environ=environ)


class RoutingStore:
    """Thread-safe; one connection guarded by a lock (every call is a short transaction).

    Args:
        path: the SQLite file, created private (0600) if missing.
        clock: wall-clock seconds (stored times are compared across restarts).
        max_trace_bytes: JSON bytes kept per trace; a larger trace is stored trimmed.
        max_bytes: stored trace bytes in total; past it the oldest traces are evicted.
        retention_seconds: traces and waiting feedback older than this are deleted.
        max_pending_feedback: feedback records waiting for their trace; past it the oldest go.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        max_trace_bytes: int = DEFAULT_MAX_TRACE_BYTES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        max_pending_feedback: int = DEFAULT_MAX_PENDING_FEEDBACK,
    ) -> None:
        for name, value in (
            ("max_trace_bytes", max_trace_bytes),
            ("max_bytes", max_bytes),
            ("retention_seconds", retention_seconds),
            ("max_pending_feedback", max_pending_feedback),
        ):
            if not value > 0:
                raise ConfigError(f"RoutingStore {name} must be > 0, got {value!r}")
        self.path = Path(path)
        self._clock = clock
        self.max_trace_bytes = max_trace_bytes
        self.max_bytes = max(max_bytes, max_trace_bytes)
        self.retention_seconds = retention_seconds
        self.max_pending_feedback = max_pending_feedback
        self._next_maintenance = 0.0  # clock seconds; guarded by _lock
        self._lock = threading.Lock()  # guards _db: sqlite3 connections are not thread-safe
        # Other processes may share the state dir (a CLI purge next to a server): wait for them.
        # WAL + NORMAL is durable across a crash of the process; only a power cut may lose the
        # last commits, which routing repeats when the trace is judged again.
        self._db = open_sqlite(
            self.path,
            what="routing store",
            fix="point FLYWHEEL_STATE_DIR at a writable directory on a local disk",
            synchronous="NORMAL",
            busy_timeout_seconds=5.0,
        )
        try:
            create_or_migrate(self._db)
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise ConfigError(
                f"{self.path} is not a usable routing store ({error}); move it aside"
            ) from None

    @classmethod
    def existing(cls, path: str | Path | None = None) -> RoutingStore | None:
        """The store at ``path`` (default: `default_routing_store_path`), or ``None`` when this
        machine has none: a reader (export, replay, purge) must not create an empty store."""
        target = Path(path) if path is not None else default_routing_store_path()
        return cls(target) if target.is_file() else None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, write_transaction(self._db) as db:
            yield db

    # --------------------------------------------------------------------------- traces

    def put_trace(self, trace: AgentTrace, verdict: Verdict | None) -> None:
        """Store ``trace`` (trimmed to ``max_trace_bytes``) with its verdict; apply the limits."""
        trace_json, trimmed = fit_trace_json(trace, max_bytes=self.max_trace_bytes)
        if trimmed:
            logger.info(
                "trace %s is stored trimmed: its JSON exceeds the routing store's %d bytes",
                trace.trace_id,
                self.max_trace_bytes,
            )
        verdict_json = json.dumps(_verdict_record(verdict)) if verdict is not None else None
        size = len(trace_json.encode("utf-8", "surrogatepass")) + len(verdict_json or "")
        now = self._clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT size_bytes FROM traces WHERE trace_id = ?", (trace.trace_id,)
            ).fetchone()
            if row is not None:
                db.execute("DELETE FROM spans WHERE trace_id = ?", (trace.trace_id,))
            db.execute(
                "INSERT OR REPLACE INTO traces VALUES (?, ?, ?, ?, ?, ?)",
                (trace.trace_id, trace.user_id, now, trace_json, verdict_json, size),
            )
            db.executemany(
                "INSERT OR REPLACE INTO spans VALUES (?, ?)",
                [(step.span_id, trace.trace_id) for step in trace.steps],
            )
            add_bytes(db, size - (row[0] if row is not None else 0))
            self._enforce_limits(db, now)

    def stored_bytes(self) -> int:
        """JSON bytes of the traces and verdicts stored now (what ``max_bytes`` bounds)."""
        with self._lock:
            return total_bytes(self._db)

    def trace_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM traces").fetchone()[0])

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

    def pending_feedback_for(self, trace: AgentTrace) -> list[Feedback]:
        """Feedback waiting for ``trace`` (by trace id or one of its spans), oldest first.

        It stays stored until ``drop_pending_feedback``: a caller that crashes before its writes
        are durable finds it again when the trace is routed again.
        """
        span_ids = [step.span_id for step in trace.steps]
        marks = ",".join("?" * len(span_ids)) or "NULL"
        with self._lock:
            rows = self._db.execute(
                f"SELECT feedback_json FROM pending_feedback "
                f"WHERE trace_id = ? OR span_id IN ({marks}) ORDER BY received_at",
                (trace.trace_id, *span_ids),
            ).fetchall()
        return [Feedback.from_dict(json.loads(row[0])) for row in rows]

    def drop_pending_feedback(self, feedback_ids: list[str]) -> None:
        """Forget waiting feedback whose writes are now durable elsewhere (the outbox)."""
        if not feedback_ids:
            return
        with self._transaction() as db:
            db.executemany(
                "DELETE FROM pending_feedback WHERE feedback_id = ?", [(i,) for i in feedback_ids]
            )

    def take_pending_feedback(self, trace: AgentTrace) -> list[Feedback]:
        """Remove and return feedback waiting for ``trace`` (``pending_feedback_for``, then
        ``drop_pending_feedback``)."""
        feedback = self.pending_feedback_for(trace)
        self.drop_pending_feedback([item.feedback_id for item in feedback])
        return feedback

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
    ) -> Claim:
        """Record an example as routed unless it is a duplicate or over its category's cap.

        The claim's outcome is ``"routed"``, ``"duplicate"``, ``"capped"``, or ``"upgraded"`` when
        an example with the same id was routed at a lower ``rank`` (an inferred failure, now
        corrected by a person): the caller then rewrites it. Check and insert are one
        transaction, so two workers cannot both route the same example. The same trace claiming
        the same example at the same rank again is ``"routed"`` again: routing that is repeated
        after a crash must put the write again, since it may never have reached the outbox (the
        outbox makes the repeat a no-op when it did).

        An upgrade from another trace (a person's feedback on a later asking of the same
        question) moves the example's source, and the claim says ``relink`` from then on, for
        every write of that example: Phoenix keeps the span an example was created with, so
        the sink must replace it rather than patch it (a repeat after a crash included).
        """
        now = self._clock()
        with self._transaction() as db:
            existing = db.execute(
                "SELECT rank, trace_id, relinked FROM routed WHERE dataset = ? AND example_id = ?",
                (dataset, example_id),
            ).fetchone()
            if existing is not None:
                routed_rank, routed_trace, relinked = existing
                if rank == routed_rank and trace_id == routed_trace:
                    return Claim("routed", relink=bool(relinked))
                if rank <= routed_rank:
                    return Claim("duplicate")
                relink = bool(relinked) or trace_id != routed_trace
                db.execute(
                    "UPDATE routed SET rank = ?, trace_id = ?, user_id = ?, routed_at = ?, "
                    "relinked = ? WHERE dataset = ? AND example_id = ?",
                    (rank, trace_id, user_id, now, int(relink), dataset, example_id),
                )
                return Claim("upgraded", relink=relink)
            if category is not None:
                (count,) = db.execute(
                    "SELECT count(*) FROM routed WHERE dataset = ? AND category = ? "
                    "AND routed_at >= ?",
                    (dataset, category, now - window_seconds),
                ).fetchone()
                if count >= cap:
                    return Claim("capped")
            db.execute(
                "INSERT INTO routed (dataset, example_id, category, user_id, trace_id, routed_at, "
                "rank) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (dataset, example_id, category, user_id, trace_id, now, rank),
            )
        return Claim("routed")

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
            (size,) = db.execute(
                "SELECT COALESCE(SUM(size_bytes), 0) FROM traces WHERE user_id = ?", (user_id,)
            ).fetchone()
            traces = db.execute("DELETE FROM traces WHERE user_id = ?", (user_id,)).rowcount
            add_bytes(db, -size)
            routed = db.execute("DELETE FROM routed WHERE user_id = ?", (user_id,)).rowcount
        self._vacuum()
        return PurgeCounts(traces=traces, feedback=feedback, routed=routed)

    def purge_older_than(self, seconds: float) -> PurgeCounts:
        """Retention: drop traces and waiting feedback older than ``seconds``.

        Routing records stay (they hold ids and categories, no content) so that dedupe still
        holds for examples already in Phoenix.
        """
        with self._transaction() as db:
            traces, feedback = expire(db, self._clock() - seconds)
        self._vacuum()
        return PurgeCounts(traces=traces, feedback=feedback)

    def _enforce_limits(self, db: sqlite3.Connection, now: float) -> None:
        """Within a put's transaction: the total size now, retention now and then."""
        evicted = evict_oldest(db, max_bytes=self.max_bytes)
        if evicted:
            logger.info(
                "routing store %s reached its %d-byte limit: evicted the %d oldest traces",
                self.path,
                self.max_bytes,
                evicted,
            )
        if now >= self._next_maintenance:
            self._next_maintenance = now + _MAINTENANCE_INTERVAL_SECONDS
            expire(db, now - self.retention_seconds)
        cap_pending_feedback(db, self.max_pending_feedback)

    # ------------------------------------------------------------------------ limits

    def _vacuum(self) -> None:
        # Give freed pages back (a no-op for a file created before auto_vacuum was set).
        with self._lock:
            self._db.execute("PRAGMA incremental_vacuum")

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
