"""The outbox's SQLite schema, statements and connection set-up (see ``_store`` for semantics)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Final

from otel_flywheel.errors import ConfigError
from otel_flywheel.state import open_sqlite, write_transaction

__all__ = [
    "COLUMNS",
    "MARK_DEAD",
    "MARK_DONE",
    "MARK_FAILED",
    "MARK_RETRY",
    "SCHEMA_VERSION",
    "UPSERT",
    "connect",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 2
# How long to wait for another process's write lock (a CLI purge, a second worker).
BUSY_TIMEOUT_SECONDS: Final = 30.0

SCHEMA: Final = (
    """
    CREATE TABLE writes (
        key TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        user_id TEXT,
        state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        queued_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        last_attempt_at REAL,
        last_error TEXT,
        leased_until REAL
    )
    """,
    "CREATE INDEX writes_due ON writes (state, next_attempt_at)",
    "CREATE INDEX writes_seq ON writes (seq)",
    "CREATE INDEX writes_user ON writes (user_id) WHERE user_id IS NOT NULL",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT INTO counters (name, value) VALUES ('done_total', 0)",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

# From version N to N + 1, and on to the current one.
MIGRATIONS: Final = {
    1: (
        # failures: non-transient failures in a row (a malformed answer, refused credentials),
        # which dead-letter a write after a bound; transient ones (Phoenix down) never do.
        "ALTER TABLE writes ADD COLUMN failures INTEGER NOT NULL DEFAULT 0",
        f"PRAGMA user_version = {SCHEMA_VERSION}",
    ),
}

COLUMNS: Final = (
    "key, seq, payload, state, attempts, created_at, queued_at, next_attempt_at, "
    "last_attempt_at, last_error, leased_until, failures"
)

# Same key and same content: nothing to do. Same key, new content: the new content is queued afresh.
UPSERT: Final = """
    INSERT INTO writes (key, seq, kind, payload, user_id, state, attempts, created_at, queued_at,
                        updated_at, next_attempt_at)
    VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET
        seq = excluded.seq, kind = excluded.kind, payload = excluded.payload,
        user_id = excluded.user_id, state = 'pending', attempts = 0, failures = 0,
        queued_at = excluded.queued_at, updated_at = excluded.updated_at,
        next_attempt_at = excluded.next_attempt_at, last_attempt_at = NULL, last_error = NULL,
        leased_until = NULL
    WHERE writes.payload IS NOT excluded.payload
"""

# Only a pending row, and with an entry's seq only that revision of it: see ``_store``.
WHERE_PENDING: Final = " WHERE key = ? AND state = 'pending' AND (? IS NULL OR seq = ?)"
MARK_DONE: Final = (
    "UPDATE writes SET state = 'done', attempts = attempts + 1, last_attempt_at = ?, "
    "updated_at = ?, last_error = NULL, leased_until = NULL" + WHERE_PENDING
)
MARK_RETRY: Final = (
    "UPDATE writes SET attempts = attempts + 1, last_attempt_at = ?, updated_at = ?, "
    "next_attempt_at = ?, last_error = ?, leased_until = NULL" + WHERE_PENDING
)
MARK_FAILED: Final = (
    "UPDATE writes SET attempts = attempts + 1, failures = failures + 1, last_attempt_at = ?, "
    "updated_at = ?, next_attempt_at = ?, last_error = ?, leased_until = NULL" + WHERE_PENDING
)
MARK_DEAD: Final = (
    "UPDATE writes SET state = 'dead', attempts = attempts + 1, last_attempt_at = ?, "
    "updated_at = ?, last_error = ?, leased_until = NULL" + WHERE_PENDING
)


def connect(path: Path) -> sqlite3.Connection:
    """The outbox's connection: private, WAL, ``synchronous=FULL`` (a committed put survives a
    power cut), its schema created or migrated. Raises ``ConfigError`` naming the fix."""
    conn = open_sqlite(
        path,
        what="outbox",
        fix="point the outbox at another file on a local disk, or move this one aside",
        synchronous="FULL",
        busy_timeout_seconds=BUSY_TIMEOUT_SECONDS,
        require_wal=False,  # it works without WAL, only with more waiting: warn, do not refuse
    )
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"outbox {path} has schema version {version}, newer than this otel-flywheel "
                f"understands ({SCHEMA_VERSION}); upgrade otel-flywheel or use another file"
            )
        if version < SCHEMA_VERSION:
            with write_transaction(conn):
                # Read again under the write lock: another process may have migrated meanwhile.
                (version,) = conn.execute("PRAGMA user_version").fetchone()
                if version == 0:
                    for statement in SCHEMA:
                        conn.execute(statement)
                elif version < SCHEMA_VERSION:
                    for statement in MIGRATIONS[version]:
                        conn.execute(statement)
    except sqlite3.DatabaseError as error:
        conn.close()
        raise ConfigError(
            f"{path} is not a usable outbox ({error}); point the outbox at another file, or move "
            "this one aside"
        ) from error
    except BaseException:
        conn.close()
        raise
    return conn
