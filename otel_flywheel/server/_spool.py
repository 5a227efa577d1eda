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
  once), deleted once the feedback sink accepted it.

Delivery is at least once: a crash between the pipeline's ``submit`` and the release delivers
that trace again after the restart (pipelines key their own writes by trace id).

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
from types import TracebackType
from typing import Final

from otel_flywheel.errors import ConfigError, FlywheelError

__all__ = ["Spool", "SpoolFullError", "SpooledFeedback", "SpooledRequest"]

logger = logging.getLogger(__name__)

_SCHEMA_VERSION: Final = "1"
_BUSY_TIMEOUT_MILLIS: Final = 10_000
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_unix_nano INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS request_traces (
    request_id INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    span_count INTEGER NOT NULL,
    PRIMARY KEY (request_id, trace_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    feedback_id TEXT NOT NULL UNIQUE,
    received_unix_nano INTEGER NOT NULL,
    payload TEXT NOT NULL
);
"""


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


class Spool:
    """A SQLite file holding what the server accepted and has not delivered yet. Thread-safe.

    Args:
        path: the SQLite file; its directory is created.
        max_spans: depth in spans past which ``append_request`` raises ``SpoolFullError``.
        max_feedback: feedback records past which ``add_feedback`` raises ``SpoolFullError``.

    Raises:
        ConfigError: the file is locked by another instance, or cannot be opened or used in WAL
            mode; the message names the fix.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, max_spans: int, max_feedback: int = 100_000
    ) -> None:
        if max_spans < 1 or max_feedback < 1:
            raise ConfigError(
                f"max_spans={max_spans!r} and max_feedback={max_feedback!r}: use integers >= 1"
            )
        self._path = Path(path)
        self._max_spans = max_spans
        self._max_feedback = max_feedback
        self._lock_fd = _lock_exclusively(self._path)
        try:
            # check_same_thread=False: handlers write from anyio's worker threads; each connection
            # is used under its own lock below.
            self._ingest = _connect(self._path, synchronous="FULL")
            self._worker = _connect(self._path, synchronous="NORMAL")
        except sqlite3.Error as error:
            _unlock(self._lock_fd)
            raise ConfigError(
                f"cannot use {self._path} as the spool: {error}; give --spool a writable path "
                "on a local disk"
            ) from None
        self._ingest_lock = threading.Lock()  # guards _ingest (the handlers' connection)
        self._worker_lock = threading.Lock()  # guards _worker (the ingest worker's connection)
        self._depth_lock = threading.Lock()  # guards _spans, _feedback and _closed
        # One write transaction at a time, across both connections (see _transaction).
        self._write_lock = threading.Lock()
        self._closed = False
        with self._worker_lock:
            row = self._worker.execute(
                "SELECT COALESCE(SUM(span_count), 0) FROM request_traces"
            ).fetchone()
            self._spans: int = row[0]
            self._feedback: int = self._worker.execute("SELECT COUNT(*) FROM feedback").fetchone()[
                0
            ]
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
        """Feedback records accepted and not yet handed to the sink."""
        return self._feedback

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
        with self._ingest_lock:
            with self._depth_lock:
                self._check_open()
                if self._spans and self._spans + spans > self._max_spans:
                    raise SpoolFullError(
                        f"the spool holds {self._spans} spans, its limit is {self._max_spans}"
                    )
            with self._transaction(self._ingest) as connection:
                cursor = connection.execute(
                    "INSERT INTO requests (received_unix_nano, body) VALUES (?, ?)",
                    (time.time_ns(), body),
                )
                request_id = cursor.lastrowid
                assert request_id is not None
                connection.executemany(
                    "INSERT INTO request_traces (request_id, trace_id, span_count) VALUES (?, ?, ?)",
                    [(request_id, trace_id, count) for trace_id, count in span_counts.items()],
                )
            with self._depth_lock:
                self._spans += spans
        return request_id

    def add_feedback(self, feedback_id: str, payload: str) -> bool:
        """Store one feedback record; ``False`` if one with this id is stored already."""
        with self._ingest_lock:
            with self._depth_lock:
                self._check_open()
                if self._feedback >= self._max_feedback:
                    raise SpoolFullError(
                        f"the spool holds {self._feedback} feedback records, its limit is "
                        f"{self._max_feedback}"
                    )
            with self._transaction(self._ingest) as connection:
                cursor = connection.execute(
                    "INSERT OR IGNORE INTO feedback (feedback_id, received_unix_nano, payload) "
                    "VALUES (?, ?, ?)",
                    (feedback_id, time.time_ns(), payload),
                )
                inserted = cursor.rowcount == 1
            if inserted:
                with self._depth_lock:
                    self._feedback += 1
        return inserted

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

    def read_feedback(self, *, after_row: int, limit: int) -> list[SpooledFeedback]:
        """Up to ``limit`` stored feedback records after ``after_row``, oldest first."""
        with self._worker_lock:
            self._check_open()
            rows = self._worker.execute(
                "SELECT id, feedback_id, payload FROM feedback WHERE id > ? ORDER BY id LIMIT ?",
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

    # --- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close both connections and drop the lock. Idempotent."""
        with self._ingest_lock, self._worker_lock, self._depth_lock:
            if self._closed:
                return
            self._closed = True
            self._ingest.close()
            self._worker.close()
            _unlock(self._lock_fd)

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Spool({str(self._path)!r}, spans={self._spans}, feedback={self._feedback})"

    @contextlib.contextmanager
    def _transaction(self, connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed on exit and rolled back on an exception.

        Writers queue on a Python lock rather than on SQLite's: SQLite's busy handler makes a
        blocked writer sleep 1, 2, 5, 10, ... ms, which stalled the handlers behind the worker's
        releases; a lock hands over the moment the other transaction ends.
        """
        with self._write_lock:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                _rollback(connection)
                raise

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the spool {self._path} is closed")


def _connect(path: Path, *, synchronous: str) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE itself, so
    # a writer takes the lock up front instead of failing to upgrade a read transaction.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MILLIS}")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(
                f"journal_mode is {mode!r}, not 'wal' (a network file system?)"
            )
        connection.execute(f"PRAGMA synchronous = {synchronous}")
        connection.executescript(_SCHEMA)
        connection.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (_SCHEMA_VERSION,),
        )
        version = connection.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchone()[0]
        if version != _SCHEMA_VERSION:
            raise sqlite3.OperationalError(
                f"spool schema version {version!r}, this otel-flywheel reads {_SCHEMA_VERSION!r}"
            )
    except BaseException:
        connection.close()
        raise
    return connection


def _rollback(connection: sqlite3.Connection) -> None:
    # No transaction may be left to roll back: a failed statement can end it.
    with contextlib.suppress(sqlite3.Error):
        connection.execute("ROLLBACK")


def _lock_exclusively(path: Path) -> int | None:
    """Hold an exclusive lock on ``<path>.lock`` while the spool is open; ``None`` where
    ``fcntl`` does not exist (Windows), which then relies on the operator."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise ConfigError(
            f"cannot create the spool {path}: {error}; give --spool a writable path"
        ) from None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        os.close(fd)
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ConfigError(
            f"the spool {path} is in use by another process (another `otel-flywheel serve`?); "
            "give each instance its own --spool"
        ) from None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock
