"""``Outbox``: the durable local queue every write to Phoenix passes through (SQLite, WAL).

A write is committed here (``synchronous=FULL``: it survives a crash and a power cut) before any
sink sees it; the worker then delivers it and records the outcome. Phoenix or the network being
down delays writes, it never loses them.

One row per write key. ``put`` of a key that is already there changes nothing when the content is
the same (a repeated routing decision, a replayed trace), and re-queues the write when the content
changed (a rewritten verdict): the latest write wins, as it does in Phoenix. Every content change
gets a new ``seq``, and the ``mark_*`` methods given an ``OutboxEntry`` only touch the row if its
``seq`` is still the one that was delivered, so a write changed while its old content was in
flight is delivered again rather than marked done.

States: ``pending`` (due at ``next_attempt_at``), ``done`` (kept ``done_retention_seconds`` so
that a repeated ``put`` stays a no-op, then pruned; the ``done_total`` counter survives pruning),
``dead`` (kept with its reason until ``requeue_dead``, ``drop_dead`` or ``purge_user``; never
dropped silently). ``failures`` counts the attempts of the current content that failed for a
reason waiting alone will not fix (``mark_failed``); the worker dead-letters a write after a
bounded number of them.

Thread-safe: one connection, guarded by a lock, shared by the threads of this process. Other
processes may open the same file (WAL, ``busy_timeout``). Workers ``claim`` writes with a lease, so
several workers on one file (a forked server's children, a CLI flush next to a server) do not send
the same write twice. After ``os.fork()`` the child opens its own connection.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from otel_flywheel._internal import ClosedOnExit, reinit_after_fork
from otel_flywheel.errors import ConfigError, FlywheelError
from otel_flywheel.outbox._records import (
    EntryState,
    OutboxEntry,
    OutboxStats,
    entry_from_row,
    key_and_seq,
)
from otel_flywheel.outbox._sqlite import (
    COLUMNS,
    MARK_DEAD,
    MARK_DONE,
    MARK_FAILED,
    MARK_RETRY,
    UPSERT,
    connect,
)
from otel_flywheel.sinks import Write
from otel_flywheel.state import state_path, write_transaction

__all__ = [
    "DEFAULT_DONE_RETENTION_SECONDS",
    "EntryState",
    "Outbox",
    "OutboxClosedError",
    "OutboxEntry",
    "OutboxStats",
    "default_outbox_path",
]

logger = logging.getLogger(__name__)

DEFAULT_FILE_NAME: Final = "outbox.sqlite"
DEFAULT_DONE_RETENTION_SECONDS: Final = 7 * 24 * 3600.0

# Connections abandoned in a fork child: closing one there could checkpoint or delete the WAL
# the parent is still using, so they are kept referenced and never closed.
_ABANDONED_AFTER_FORK: list[sqlite3.Connection] = []


class OutboxClosedError(FlywheelError, RuntimeError):
    """The outbox was used after ``close()``."""


def default_outbox_path(*, environ: Mapping[str, str] | None = None) -> Path:
    """``<FLYWHEEL_STATE_DIR or .flywheel>/outbox.sqlite``."""
    return state_path(DEFAULT_FILE_NAME, environ=environ)


class Outbox(ClosedOnExit):
    """The SQLite outbox at ``path`` (default: ``default_outbox_path()``), created if missing.

    ``clock`` gives wall-clock seconds (times are stored and compared across restarts).
    Raises ``ConfigError`` when the file is not an outbox or was written by a newer version.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        done_retention_seconds: float = DEFAULT_DONE_RETENTION_SECONDS,
    ) -> None:
        if not done_retention_seconds >= 0:
            raise ConfigError(
                f"done_retention_seconds must be >= 0, got {done_retention_seconds!r}"
            )
        self._path = Path(path) if path is not None else default_outbox_path()
        self._clock = clock
        self._done_retention_seconds = done_retention_seconds
        self._lock = threading.Lock()  # guards _conn and _closed; never held while calling out
        self._closed = False
        self._conn = connect(self._path)
        reinit_after_fork(self._at_fork_reinit)

    def _at_fork_reinit(self) -> None:
        self._lock = threading.Lock()  # may have been held by another thread at the fork
        if not self._closed:
            _ABANDONED_AFTER_FORK.append(self._conn)
            self._conn = connect(self._path)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @property
    def closed(self) -> bool:
        return self._closed

    # --- writing ----------------------------------------------------------------------------------

    def put(self, writes: Iterable[Write]) -> int:
        """Queue ``writes`` in one transaction; return how many are new or changed.

        A write whose key is already there with the same content is left as it is, whatever its
        state; with different content it replaces the old one and is due now. Within one call the
        last write of a key wins. Raises ``ValueError`` if a write is not JSON.
        """
        rows: dict[str, tuple[str, str, str | None]] = {}
        for write in writes:
            data = write.to_dict()
            payload = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
            rows[write.key] = (data["type"], payload, write.user_id)
        if not rows:
            return 0
        now = self._clock()
        with self._transaction() as conn:
            (seq,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM writes").fetchone()
            before = conn.total_changes
            for key, (kind, payload, user_id) in rows.items():
                seq += 1
                conn.execute(UPSERT, (key, seq, kind, payload, user_id, now, now, now, now))
            return conn.total_changes - before

    def mark_done(self, entries: Iterable[OutboxEntry | str]) -> int:
        """Record delivered writes; returns how many pending rows were marked."""
        return self.mark_many(done=entries)

    def mark_retry(self, entry: OutboxEntry | str, *, reason: str, delay_seconds: float) -> int:
        """Count a failed attempt and make the write due again ``delay_seconds`` from now."""
        return self.mark_many(retry=[(entry, reason, delay_seconds)])

    def mark_failed(self, entry: OutboxEntry | str, *, reason: str, delay_seconds: float) -> int:
        """Like ``mark_retry``, for a failure waiting alone will not fix; counted in ``failures``."""
        return self.mark_many(failed=[(entry, reason, delay_seconds)])

    def mark_dead(self, entry: OutboxEntry | str, *, reason: str) -> int:
        """Give up on a write: it is kept, with ``reason``, and counted as dead."""
        return self.mark_many(dead=[(entry, reason)])

    def mark_many(
        self,
        *,
        done: Iterable[OutboxEntry | str] = (),
        retry: Iterable[tuple[OutboxEntry | str, str, float]] = (),
        failed: Iterable[tuple[OutboxEntry | str, str, float]] = (),
        dead: Iterable[tuple[OutboxEntry | str, str]] = (),
    ) -> int:
        """Record a batch's outcomes in one transaction; returns the rows changed.

        Given an ``OutboxEntry``, a row is only changed if it is still pending with the same
        ``seq`` (its content did not change meanwhile); given a bare key, if it is pending.
        """
        done_items = [key_and_seq(item) for item in done]
        retry_items = [(*key_and_seq(item), reason, delay) for item, reason, delay in retry]
        failed_items = [(*key_and_seq(item), reason, delay) for item, reason, delay in failed]
        dead_items = [(*key_and_seq(item), reason) for item, reason in dead]
        if not (done_items or retry_items or failed_items or dead_items):
            return 0
        now = self._clock()
        with self._transaction() as conn:
            marked_done = 0
            for key, seq in done_items:
                marked_done += conn.execute(MARK_DONE, (now, now, key, seq, seq)).rowcount
            changed = marked_done
            for key, seq, reason, delay in retry_items:
                next_attempt_at = now + max(0.0, delay)
                changed += conn.execute(
                    MARK_RETRY, (now, now, next_attempt_at, reason, key, seq, seq)
                ).rowcount
            for key, seq, reason, delay in failed_items:
                changed += conn.execute(
                    MARK_FAILED, (now, now, now + max(0.0, delay), reason, key, seq, seq)
                ).rowcount
            for key, seq, reason in dead_items:
                changed += conn.execute(MARK_DEAD, (now, now, reason, key, seq, seq)).rowcount
            if marked_done:
                conn.execute(
                    "UPDATE counters SET value = value + ? WHERE name = 'done_total'",
                    (marked_done,),
                )
            return changed

    def requeue_dead(self, keys: Iterable[str] | None = None) -> int:
        """Make dead writes (all, or those of ``keys``) pending and due now; returns how many."""
        now = self._clock()
        sql = (
            "UPDATE writes SET state = 'pending', attempts = 0, failures = 0, next_attempt_at = ?, "
            "updated_at = ?, last_error = NULL, leased_until = NULL WHERE state = 'dead'"
        )
        with self._transaction() as conn:
            if keys is None:
                return conn.execute(sql, (now, now)).rowcount
            return sum(conn.execute(sql + " AND key = ?", (now, now, key)).rowcount for key in keys)

    def drop_dead(self, keys: Iterable[str] | None = None) -> int:
        """Delete dead writes (all, or those of ``keys``) for good; returns how many.

        Only dead ones: a pending write is still on its way. Their keys are forgotten, so putting
        the same write again queues it afresh."""
        sql = "DELETE FROM writes WHERE state = 'dead'"
        with self._transaction() as conn:
            if keys is None:
                return conn.execute(sql).rowcount
            return sum(conn.execute(sql + " AND key = ?", (key,)).rowcount for key in keys)

    def purge_user(self, user_id: str) -> int:
        """Delete every write about ``user_id`` (pseudonymized), whatever its state; how many."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM writes WHERE user_id = ?", (user_id,)).rowcount

    def prune_done(self, *, now: float | None = None) -> int:
        """Delete done writes older than ``done_retention_seconds``; returns how many."""
        cutoff = (self._clock() if now is None else now) - self._done_retention_seconds
        with self._transaction() as conn:
            return conn.execute(
                "DELETE FROM writes WHERE state = 'done' AND updated_at < ?", (cutoff,)
            ).rowcount

    # --- reading ----------------------------------------------------------------------------------

    def due(
        self,
        *,
        limit: int,
        now: float | None = None,
        max_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[OutboxEntry]:
        """Pending writes due at ``now`` (default: the clock) and not leased, at most ``limit``.

        Ordered by due time, or by ``seq`` when paging with ``after_seq``. ``max_seq`` leaves out
        writes put (or changed) after that point; ``now=math.inf`` ignores backoff (a lease still
        counts). A row that can no longer be read as a write (written by another version, edited
        by hand) is marked dead with the reason, not returned.
        """
        sql, params = self._due_query(limit, now, max_seq, after_seq)
        with self._reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        return self._readable(rows)

    def claim(
        self,
        *,
        limit: int,
        lease_seconds: float,
        now: float | None = None,
        max_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[OutboxEntry]:
        """Like ``due``, and lease what it returns for ``lease_seconds``: no other worker (in this
        or another process sharing the file, e.g. after a fork) claims them meanwhile. Recording
        an outcome ends the lease; a worker that dies holding one only delays its writes."""
        sql, params = self._due_query(limit, now, max_seq, after_seq)
        with self._transaction() as conn:
            rows = conn.execute(sql, params).fetchall()
            leased_until = self._clock() + lease_seconds
            conn.executemany(
                "UPDATE writes SET leased_until = ? WHERE key = ? AND seq = ?",
                [(leased_until, row[0], row[1]) for row in rows],
            )
        return self._readable(rows)

    def earliest_claimable(self, *, max_seq: int | None = None) -> float | None:
        """When the next pending write (up to ``max_seq``) can be claimed, by backoff and lease;
        ``None`` when none is pending."""
        sql = (
            "SELECT MIN(MAX(next_attempt_at, COALESCE(leased_until, next_attempt_at))) "
            "FROM writes WHERE state = 'pending'"
        )
        params: list[Any] = []
        if max_seq is not None:
            sql += " AND seq <= ?"
            params.append(max_seq)
        with self._reading() as conn:
            (earliest,) = conn.execute(sql, params).fetchone()
        return None if earliest is None else float(earliest)

    def leased(self, *, max_seq: int | None = None) -> int:
        """Pending writes (up to ``max_seq``) a worker holds a lease on right now."""
        sql = "SELECT COUNT(*) FROM writes WHERE state = 'pending' AND leased_until > ?"
        params: list[Any] = [self._clock()]
        if max_seq is not None:
            sql += " AND seq <= ?"
            params.append(max_seq)
        with self._reading() as conn:
            (count,) = conn.execute(sql, params).fetchone()
        return int(count)

    def _due_query(
        self, limit: int, now: float | None, max_seq: int | None, after_seq: int | None
    ) -> tuple[str, list[Any]]:
        clock_now = self._clock()
        sql = (
            f"SELECT {COLUMNS} FROM writes WHERE state = 'pending' AND next_attempt_at <= ? "
            "AND (leased_until IS NULL OR leased_until <= ?)"
        )
        params: list[Any] = [clock_now if now is None else now, clock_now]
        if max_seq is not None:
            sql += " AND seq <= ?"
            params.append(max_seq)
        if after_seq is not None:
            sql += " AND seq > ? ORDER BY seq"
            params.append(after_seq)
        else:
            sql += " ORDER BY next_attempt_at, seq"
        sql += " LIMIT ?"
        params.append(limit)
        return sql, params

    def _readable(self, rows: list[tuple[Any, ...]]) -> list[OutboxEntry]:
        entries: list[OutboxEntry] = []
        unreadable: list[tuple[OutboxEntry | str, str]] = []
        for row in rows:
            try:
                entries.append(entry_from_row(row))
            except ValueError as error:
                reason = f"stored write cannot be read: {error}"
                logger.error("outbox %s: write %s is dead: %s", self._path, row[0], reason)
                unreadable.append((row[0], reason))
        if unreadable:
            self.mark_many(dead=unreadable)
        return entries

    def get(self, key: str) -> OutboxEntry | None:
        """The write stored under ``key``, in whatever state; ``None`` if there is none.

        Raises ``ValueError`` if the row cannot be read back as a write."""
        with self._reading() as conn:
            row = conn.execute(f"SELECT {COLUMNS} FROM writes WHERE key = ?", (key,)).fetchone()
        return None if row is None else entry_from_row(row)

    def list_entries(self, *, state: EntryState, limit: int = 100) -> list[OutboxEntry]:
        """Up to ``limit`` writes in ``state``, oldest first (e.g. the dead, to show why).

        A row that cannot be read back as a write is left out, with a warning naming its key."""
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM writes WHERE state = ? ORDER BY seq LIMIT ?",
                (state, limit),
            ).fetchall()
        entries: list[OutboxEntry] = []
        for row in rows:
            try:
                entries.append(entry_from_row(row))
            except ValueError as error:
                logger.warning("outbox %s: write %s cannot be read: %s", self._path, row[0], error)
        return entries

    def last_seq(self) -> int:
        """The ``seq`` of the latest put; writes put later get larger ones."""
        with self._reading() as conn:
            (seq,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM writes").fetchone()
        return int(seq)

    def stats(self) -> OutboxStats:
        now = self._clock()
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT state, COUNT(*), MIN(queued_at), SUM(attempts > 0) FROM writes "
                "GROUP BY state"
            ).fetchall()
            (done_total,) = conn.execute(
                "SELECT value FROM counters WHERE name = 'done_total'"
            ).fetchone()
        counts = {state: (count, oldest, retrying) for state, count, oldest, retrying in rows}
        depth, oldest, retrying = counts.get("pending", (0, None, 0))
        return OutboxStats(
            depth=depth,
            retrying=int(retrying or 0),
            dead=counts.get("dead", (0, None, 0))[0],
            done_kept=counts.get("done", (0, None, 0))[0],
            done_total=int(done_total),
            oldest_pending_age_seconds=max(0.0, now - oldest) if oldest is not None else 0.0,
        )

    # --- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database. Idempotent; any later call raises ``OutboxClosedError``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()

    def __repr__(self) -> str:
        return f"Outbox({str(self._path)!r}{', closed' if self._closed else ''})"

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE: take the write lock now, so that MAX(seq) and the upserts that follow see
        # no other process's writes in between.
        with self._lock, write_transaction(self._open_connection()) as conn:
            yield conn

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._open_connection()

    def _open_connection(self) -> sqlite3.Connection:
        # Caller holds _lock.
        if self._closed:
            raise OutboxClosedError(f"outbox {self._path} is closed; open a new Outbox to use it")
        return self._conn
