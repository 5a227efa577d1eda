"""The spool's SQLite file: its schema and migrations, its connections, and its instance lock.

See ``_spool`` for what the tables mean. Version 2 added ``known_traces`` and ``known_spans``
(what this instance has received, so that feedback on anything else is refused or held) and the
feedback columns that hold feedback until its trace arrives.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Final

from otel_flywheel.errors import ConfigError
from otel_flywheel.state import Synchronous, open_sqlite, private_directory, write_transaction

__all__ = ["SCHEMA_VERSION", "connect", "lock_exclusively", "unlock"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = "2"
_BUSY_TIMEOUT_SECONDS: Final = 10.0
_FIX: Final = "give --spool a writable path on a local disk"

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_unix_nano INTEGER NOT NULL,
        body BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS request_traces (
        request_id INTEGER NOT NULL,
        trace_id TEXT NOT NULL,
        span_count INTEGER NOT NULL,
        PRIMARY KEY (request_id, trace_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        feedback_id TEXT NOT NULL UNIQUE,
        received_unix_nano INTEGER NOT NULL,
        payload TEXT NOT NULL
    )""",
)
# Version 1 -> 2 (and the tail of a fresh file's schema).
_VERSION_2: Final = (
    # Held until its trace arrives (NULL: ready for the sink), and what it names.
    "ALTER TABLE feedback ADD COLUMN held_until_unix_nano INTEGER",
    "ALTER TABLE feedback ADD COLUMN trace_id TEXT",
    "ALTER TABLE feedback ADD COLUMN span_id TEXT",
    "CREATE INDEX IF NOT EXISTS feedback_held ON feedback (held_until_unix_nano) "
    "WHERE held_until_unix_nano IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS known_traces (
        trace_id TEXT PRIMARY KEY,
        seen_unix_nano INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS known_traces_seen ON known_traces (seen_unix_nano)",
    """CREATE TABLE IF NOT EXISTS known_spans (
        span_id TEXT PRIMARY KEY,
        trace_id TEXT NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS known_spans_trace ON known_spans (trace_id)",
)


def connect(path: Path, *, synchronous: Synchronous) -> sqlite3.Connection:
    """A private WAL connection with the schema at ``SCHEMA_VERSION``; ``ConfigError`` if not."""
    connection = open_sqlite(
        path,
        what="the spool",
        fix=_FIX,
        synchronous=synchronous,
        busy_timeout_seconds=_BUSY_TIMEOUT_SECONDS,
    )
    # The spool holds spans and feedback before redaction: what is released is overwritten with
    # zeros, not left in free pages until reused. Debian's SQLite does this by default, others
    # (macOS, python.org builds) do not; it costs ~3.5 us per span delivered (docs/benchmarks.md).
    connection.execute("PRAGMA secure_delete = ON")
    try:
        with write_transaction(connection):
            for statement in _SCHEMA:
                connection.execute(statement)
            row = connection.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
            version = row[0] if row is not None else None
            if version is None or version == "1":
                for statement in _VERSION_2:
                    connection.execute(statement)
                connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
            elif version != SCHEMA_VERSION:
                raise ConfigError(
                    f"the spool {path} has schema version {version!r}; this otel-flywheel reads "
                    f"{SCHEMA_VERSION!r}: upgrade otel-flywheel, or give --spool another file"
                )
    except sqlite3.Error as error:
        connection.close()
        raise ConfigError(f"cannot use {path} as the spool: {error}; {_FIX}") from None
    except BaseException:
        connection.close()
        raise
    return connection


def lock_exclusively(path: Path) -> int | None:
    """Hold an exclusive lock on ``<path>.lock`` (mode 0600) while the spool is open; ``None``
    where ``fcntl`` does not exist (Windows), which then relies on the operator."""
    try:
        private_directory(path.parent)
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
    except OSError as error:
        raise ConfigError(f"cannot create the spool {path}: {error}; {_FIX}") from None
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


def unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock
