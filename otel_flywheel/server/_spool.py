"""The durable spool: accepted spans and feedback stay on local disk until they are delivered.

A request's spans are committed (SQLite in WAL mode, ``synchronous=FULL``, one transaction per
request) before the server answers 200, so an acknowledged span survives a crash or a SIGKILL.
The ingest worker reads requests in id order and releases each trace's rows once the pipeline
accepted the trace; after a restart it reads whatever is still here and resumes.

Layout:

- ``requests``: one row per accepted OTLP request, its body as binary protobuf (JSON requests are
  re-encoded; rejected spans are left out). ``AUTOINCREMENT`` so ids are never reused: the worker
  reads past a cursor, and an id handed out again after the table emptied would be skipped.
- ``request_traces``: one row per (request, trace) with that trace's span count in the request.
  A trace is released by deleting its rows; a request goes when it has no trace left. The sum of
  ``span_count`` is the spool depth in spans, which back-pressure compares with its limit.
- ``feedback``: one row per feedback record, unique by ``feedback_id`` (a retried POST is stored
  once), deleted once the feedback sink accepted it. Feedback for a trace this instance has not
  received yet may be *held* (``held_until_unix_nano``) until the trace arrives or that time
  passes.
- ``known_traces`` (written with each request) and ``known_spans`` (written by the worker): what
  this instance has received, so that feedback naming anything else can be refused. Bounded by
  age and count (``forget_known``).

A trace's rows are released once the pipeline has made it durable downstream (its verdict and
routed writes in the outbox) or, for a pipeline that does not acknowledge, once it accepted the
trace. A crash before that delivers the trace again after the restart; pipelines key their
writes by trace id, so the repeat changes nothing downstream.

Two connections: the request handlers write through one (``synchronous=FULL``: each commit is on
disk before the answer); the worker reads and releases through the other with
``synchronous=NORMAL``, because a release lost in a crash only means a trace delivered twice.
An exclusive ``flock`` on ``<spool>.lock`` keeps a second instance off the same file: two workers
would deliver every trace twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from otel_flywheel._internal import ClosedOnExit
from otel_flywheel.errors import ConfigError, FlywheelError
from otel_flywheel.server._spool_db import connect, lock_exclusively, unlock
from otel_flywheel.state import write_transaction

__all__ = ["Spool", "SpoolFullError", "SpooledFeedback", "SpooledRequest"]

logger = logging.getLogger(__name__)


class SpoolFullError(FlywheelError):
    """The spool is at its limit; the sender should retry later (503 with ``Retry-After``)."""


@dataclass(frozen=True, slots=True)
class SpooledRequest:
    """One stored request and the span count of each of its traces not yet released."""

    request_id: int
    body: bytes
    pending: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class SpooledFeedback:
    row_id: int
    feedback_id: str
    payload: str


class Spool(ClosedOnExit):
    """A SQLite file holding what the server accepted and has not delivered yet. Thread-safe.

    Args:
        path: the SQLite file; it and its directory are created private (0600/0700).
        max_spans: depth in spans past which ``append_request`` raises ``SpoolFullError``.
        max_feedback: feedback records past which ``add_feedback`` raises ``SpoolFullError``.
        max_held_feedback: of those, how many may be held waiting for their trace.

    Raises:
        ConfigError: the file is locked by another instance, or cannot be opened or used in WAL
            mode; the message names the fix.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_spans: int,
        max_feedback: int = 100_000,
        max_held_feedback: int = 10_000,
    ) -> None:
        if max_spans < 1 or max_feedback < 1 or max_held_feedback < 1:
            raise ConfigError(
                f"max_spans={max_spans!r}, max_feedback={max_feedback!r} and "
                f"max_held_feedback={max_held_feedback!r}: use integers >= 1"
            )
        self._path = Path(path)
        self._max_spans = max_spans
        self._max_feedback = max_feedback
        self._max_held = max_held_feedback
        self._lock_fd = lock_exclusively(self._path)
        try:
            # Handlers write from anyio's worker threads; each connection is used under its own
            # lock below.
            self._ingest = connect(self._path, synchronous="FULL")
            try:
                self._worker = connect(self._path, synchronous="NORMAL")
            except BaseException:
                self._ingest.close()
                raise
        except BaseException:
            unlock(self._lock_fd)
            raise
        self._ingest_lock = threading.Lock()  # guards _ingest (the handlers' connection)
        self._worker_lock = threading.Lock()  # guards _worker (the ingest worker's connection)
        self._depth_lock = threading.Lock()  # guards _spans, _feedback, _held and _closed
        # One write transaction at a time, across both connections (see _transaction).
        self._write_lock = threading.Lock()
        self._closed = False
        with self._worker_lock:
            db = self._worker
            self._spans: int = db.execute(
                "SELECT COALESCE(SUM(span_count), 0) FROM request_traces"
            ).fetchone()[0]
            self._feedback: int = db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
            self._held: int = db.execute(
                "SELECT COUNT(*) FROM feedback WHERE held_until_unix_nano IS NOT NULL"
            ).fetchone()[0]
        if self._spans or self._feedback:
            logger.info(
                "spool %s holds %d spans and %d feedback records from before; resuming",
                self._path,
                self._spans,
                self._feedback,
            )

    # --- state -----------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def max_spans(self) -> int:
        return self._max_spans

    @property
    def depth_spans(self) -> int:
        """Spans accepted and not yet released."""
        return self._spans

    @property
    def depth_feedback(self) -> int:
        """Feedback records accepted and not yet handed to the sink (held ones included)."""
        return self._feedback

    @property
    def depth_held_feedback(self) -> int:
        """Feedback records held until their trace arrives."""
        return self._held

    @property
    def full(self) -> bool:
        return self._spans >= self._max_spans

    # --- the handlers' side -----------------------------------------------------------------------

    def append_request(self, body: bytes, span_counts: Mapping[str, int]) -> int:
        """Store one request (``span_counts``: trace id -> its spans in ``body``) in one
        transaction, on disk when this returns. Returns the request id.

        Raises ``SpoolFullError`` when the spans would take the spool past ``max_spans`` (a
        request larger than the whole limit still goes into an empty spool, or it could never
        be taken).
        """
        spans = sum(span_counts.values())
        now = time.time_ns()
        with self._ingest_lock:
            with self._depth_lock:
                self._check_open()
                if self._spans and self._spans + spans > self._max_spans:
                    raise SpoolFullError(
                        f"the spool holds {self._spans} spans, its limit is {self._max_spans}"
                    )
            with self._transaction(self._ingest) as connection:
                cursor = connection.execute(
                    "INSERT INTO requests (received_unix_nano, body) VALUES (?, ?)", (now, body)
                )
                request_id = cursor.lastrowid
                assert request_id is not None
                connection.executemany(
                    "INSERT INTO request_traces (request_id, trace_id, span_count) VALUES (?, ?, ?)",
                    [(request_id, trace_id, count) for trace_id, count in span_counts.items()],
                )
                connection.executemany(
                    "INSERT OR IGNORE INTO known_traces (trace_id, seen_unix_nano) VALUES (?, ?)",
                    [(trace_id, now) for trace_id in span_counts],
                )
            with self._depth_lock:
                self._spans += spans
        return request_id

    def add_feedback(
        self,
        feedback_id: str,
        payload: str,
        *,
        trace_id: str | None = None,
        span_id: str | None = None,
        held_until_unix_nano: int | None = None,
    ) -> bool:
        """Store one feedback record; ``False`` if one with this id is stored already.

        With ``held_until_unix_nano`` it is held: not handed to the sink until its trace (or
        span) is known (``settle_held``), and dropped when that time passes first.
        """
        held = held_until_unix_nano is not None
        with self._ingest_lock:
            with self._depth_lock:
                self._check_open()
                if self._feedback >= self._max_feedback:
                    raise SpoolFullError(
                        f"the spool holds {self._feedback} feedback records, its limit is "
                        f"{self._max_feedback}"
                    )
                if held and self._held >= self._max_held:
                    raise SpoolFullError(
                        f"the spool holds {self._held} feedback records for traces it has not "
                        f"received, its limit is {self._max_held}"
                    )
            with self._transaction(self._ingest) as connection:
                cursor = connection.execute(
                    "INSERT OR IGNORE INTO feedback (feedback_id, received_unix_nano, payload, "
                    "held_until_unix_nano, trace_id, span_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (feedback_id, time.time_ns(), payload, held_until_unix_nano, trace_id, span_id),
                )
                inserted = cursor.rowcount == 1
            if inserted:
                with self._depth_lock:
                    self._feedback += 1
                    self._held += held
        return inserted

    def knows(self, *, trace_id: str | None = None, span_id: str | None = None) -> bool:
        """Whether this instance received the trace ``trace_id``, or a span ``span_id``."""
        with self._ingest_lock:
            self._check_open()
            return self._knows(self._ingest, trace_id, span_id)

    def check_writable(self) -> None:
        """Commit a probe row; raises ``sqlite3.Error`` (or ``OSError``) when the disk refuses."""
        with self._ingest_lock:
            self._check_open()
            with self._transaction(self._ingest) as connection:
                connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('ready_probe', ?)",
                    (str(time.time_ns()),),
                )

    # --- the worker's side ------------------------------------------------------------------------

    def read_requests(self, *, after_id: int, limit: int) -> list[SpooledRequest]:
        """Up to ``limit`` stored requests with ids above ``after_id``, oldest first, each with its
        traces not yet released. Requests are read in commit order: ids are assigned under the
        write lock, so no smaller id can commit after a larger one was read."""
        with self._worker_lock:
            self._check_open()
            connection = self._worker
            connection.execute("BEGIN")  # one snapshot for both queries
            try:
                rows = connection.execute(
                    "SELECT id, body FROM requests WHERE id > ? ORDER BY id LIMIT ?",
                    (after_id, limit),
                ).fetchall()
                pending: dict[int, dict[str, int]] = {}
                if rows:
                    for request_id, trace_id, count in connection.execute(
                        "SELECT request_id, trace_id, span_count FROM request_traces "
                        "WHERE request_id BETWEEN ? AND ?",
                        (rows[0][0], rows[-1][0]),
                    ):
                        pending.setdefault(request_id, {})[trace_id] = count
            finally:
                connection.execute("COMMIT")
        return [
            SpooledRequest(request_id=request_id, body=body, pending=pending.get(request_id, {}))
            for request_id, body in rows
        ]

    def release(self, keys: Iterable[tuple[int, str]]) -> int:
        """Delete the (request id, trace id) rows of delivered traces, and requests left with no
        trace. Returns the spans released."""
        keys = list(keys)
        if not keys:
            return 0
        released = 0
        with self._worker_lock:
            self._check_open()
            with self._transaction(self._worker) as connection:
                for request_id, trace_id in keys:
                    row = connection.execute(
                        "DELETE FROM request_traces WHERE request_id = ? AND trace_id = ? "
                        "RETURNING span_count",
                        (request_id, trace_id),
                    ).fetchone()
                    if row is not None:
                        released += row[0]
                request_ids = sorted({request_id for request_id, _ in keys})
                connection.executemany(
                    "DELETE FROM requests WHERE id = ? AND NOT EXISTS "
                    "(SELECT 1 FROM request_traces WHERE request_id = ?)",
                    [(request_id, request_id) for request_id in request_ids],
                )
        with self._depth_lock:
            self._spans -= released
        return released

    def remember_spans(self, spans: Iterable[tuple[str, str]]) -> None:
        """Record (span id, trace id) pairs received, so feedback naming a span can be checked."""
        rows = list(spans)
        if not rows:
            return
        with self._worker_lock:
            self._check_open()
            with self._transaction(self._worker) as connection:
                connection.executemany(
                    "INSERT OR IGNORE INTO known_spans (span_id, trace_id) VALUES (?, ?)", rows
                )

    def forget_known(self, *, seen_before_unix_nano: int, keep_latest: int) -> int:
        """Forget traces (and their spans) first seen before the cutoff, and all but the
        ``keep_latest`` most recent ones; returns how many traces were forgotten."""
        with self._worker_lock:
            self._check_open()
            with self._transaction(self._worker) as connection:
                (count,) = connection.execute("SELECT COUNT(*) FROM known_traces").fetchone()
                old = connection.execute(
                    "SELECT trace_id FROM known_traces WHERE seen_unix_nano < ? "
                    "UNION SELECT trace_id FROM (SELECT trace_id FROM known_traces "
                    "ORDER BY seen_unix_nano LIMIT ?)",
                    (seen_before_unix_nano, max(0, count - keep_latest)),
                ).fetchall()
                connection.executemany("DELETE FROM known_spans WHERE trace_id = ?", old)
                connection.executemany("DELETE FROM known_traces WHERE trace_id = ?", old)
        return len(old)

    def read_feedback(self, *, after_row: int, limit: int) -> list[SpooledFeedback]:
        """Up to ``limit`` feedback records ready for the sink after ``after_row``, oldest first."""
        with self._worker_lock:
            self._check_open()
            rows = self._worker.execute(
                "SELECT id, feedback_id, payload FROM feedback WHERE id > ? "
                "AND held_until_unix_nano IS NULL ORDER BY id LIMIT ?",
                (after_row, limit),
            ).fetchall()
        return [
            SpooledFeedback(row_id, feedback_id, payload) for row_id, feedback_id, payload in rows
        ]

    def release_feedback(self, row_ids: Iterable[int]) -> None:
        """Delete feedback records the sink accepted."""
        row_ids = list(row_ids)
        if not row_ids:
            return
        with self._worker_lock:
            self._check_open()
            with self._transaction(self._worker) as connection:
                deleted = 0
                for row_id in row_ids:
                    deleted += connection.execute(
                        "DELETE FROM feedback WHERE id = ?", (row_id,)
                    ).rowcount
        with self._depth_lock:
            self._feedback -= deleted

    def settle_held(self, *, now_unix_nano: int) -> tuple[int, list[str]]:
        """Make held feedback whose trace arrived ready; drop what waited past its time.

        Returns how many became ready, and the ids of those dropped.
        """
        if not self._held:
            return 0, []
        with self._worker_lock:
            self._check_open()
            with self._transaction(self._worker) as connection:
                held = connection.execute(
                    "SELECT id, feedback_id, trace_id, span_id, held_until_unix_nano FROM feedback "
                    "WHERE held_until_unix_nano IS NOT NULL"
                ).fetchall()
                ready: list[int] = []
                expired: list[tuple[int, str]] = []
                for row_id, feedback_id, trace_id, span_id, held_until in held:
                    if self._knows(connection, trace_id, span_id):
                        ready.append(row_id)
                    elif held_until <= now_unix_nano:
                        expired.append((row_id, feedback_id))
                connection.executemany(
                    "UPDATE feedback SET held_until_unix_nano = NULL WHERE id = ?",
                    [(row_id,) for row_id in ready],
                )
                connection.executemany(
                    "DELETE FROM feedback WHERE id = ?", [(row_id,) for row_id, _ in expired]
                )
        with self._depth_lock:
            self._held -= len(ready) + len(expired)
            self._feedback -= len(expired)
        return len(ready), [feedback_id for _, feedback_id in expired]

    # --- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close both connections and drop the lock. Idempotent."""
        with self._ingest_lock, self._worker_lock, self._depth_lock:
            if self._closed:
                return
            self._closed = True
            self._ingest.close()
            self._worker.close()
            unlock(self._lock_fd)

    def __repr__(self) -> str:
        return f"Spool({str(self._path)!r}, spans={self._spans}, feedback={self._feedback})"

    @contextlib.contextmanager
    def _transaction(self, connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed on exit and rolled back on an exception.

        Writers queue on a Python lock rather than on SQLite's: SQLite's busy handler makes a
        blocked writer sleep 1, 2, 5, 10, ... ms, which stalled the handlers behind the worker's
        releases; a lock hands over the moment the other transaction ends.
        """
        with self._write_lock, write_transaction(connection):
            yield connection

    @staticmethod
    def _knows(connection: sqlite3.Connection, trace_id: str | None, span_id: str | None) -> bool:
        if trace_id is not None:
            row = connection.execute(
                "SELECT 1 FROM known_traces WHERE trace_id = ?", (trace_id,)
            ).fetchone()
            if row is not None:
                return True
        if span_id is not None:
            row = connection.execute(
                "SELECT 1 FROM known_spans WHERE span_id = ?", (span_id,)
            ).fetchone()
            return row is not None
        return False

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the spool {self._path} is closed")
