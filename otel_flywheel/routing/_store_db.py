"""The routing store's SQLite schema, its migration, and the statements that keep it bounded.

See ``_store`` for what the tables mean. Version 1 added ``traces.size_bytes`` and a running
total (``totals``), so that the size limit costs no scan per put. Version 2 added
``routed.relinked``: the example moved to another source trace, which Phoenix cannot relink.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from otel_flywheel.state import write_transaction

__all__ = [
    "add_bytes",
    "cap_pending_feedback",
    "create_or_migrate",
    "evict_oldest",
    "expire",
    "total_bytes",
]

_EVICT_DOWN_TO: Final = 0.9  # of max_bytes: evict in steps, not at every put
SCHEMA_VERSION: Final = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY,
    user_id TEXT,
    stored_at REAL NOT NULL,
    trace_json TEXT NOT NULL,
    verdict_json TEXT,
    size_bytes INTEGER NOT NULL DEFAULT 0
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
    relinked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dataset, example_id)
);
CREATE INDEX IF NOT EXISTS routed_category ON routed (dataset, category, routed_at);
CREATE INDEX IF NOT EXISTS routed_user ON routed (user_id);
CREATE INDEX IF NOT EXISTS pending_feedback_received ON pending_feedback (received_at);
CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# A store written before the limits existed: size its traces once.
_MIGRATE_FROM_0 = (
    "ALTER TABLE traces ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT 0",
    "UPDATE traces SET size_bytes = length(CAST(trace_json AS BLOB)) "
    "+ COALESCE(length(CAST(verdict_json AS BLOB)), 0)",
)
_MIGRATE_FROM_1 = ("ALTER TABLE routed ADD COLUMN relinked INTEGER NOT NULL DEFAULT 0",)


def create_or_migrate(connection: sqlite3.Connection) -> None:
    """Create the schema, or bring a store written before the limits up to ``SCHEMA_VERSION``."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version >= SCHEMA_VERSION:
        return
    (tables,) = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    if not tables:
        # Before the first table: freed pages go back to the file system when trimmed.
        connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
    with write_transaction(connection) as db:
        (version,) = db.execute("PRAGMA user_version").fetchone()  # under the write lock
        if version >= SCHEMA_VERSION:
            return
        columns = {row[1] for row in db.execute("PRAGMA table_info(traces)")}
        routed_columns = {row[1] for row in db.execute("PRAGMA table_info(routed)")}
        # One statement at a time: executescript would commit the transaction.
        for statement in filter(str.strip, _SCHEMA.split(";")):
            db.execute(statement)
        if columns and "size_bytes" not in columns:
            for statement in _MIGRATE_FROM_0:
                db.execute(statement)
        if routed_columns and "relinked" not in routed_columns:
            for statement in _MIGRATE_FROM_1:
                db.execute(statement)
        db.execute(
            "INSERT OR REPLACE INTO totals (name, value) "
            "SELECT 'trace_bytes', COALESCE(SUM(size_bytes), 0) FROM traces"
        )
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def evict_oldest(db: sqlite3.Connection, *, max_bytes: int) -> int:
    """Past ``max_bytes`` of stored traces, delete the oldest down to 90 % of it; how many."""
    total = total_bytes(db)
    if total <= max_bytes:
        return 0
    target = int(max_bytes * _EVICT_DOWN_TO)
    evicted = freed = 0
    for trace_id, size in db.execute(
        "SELECT trace_id, size_bytes FROM traces ORDER BY stored_at"
    ).fetchall():
        if total - freed <= target:
            break
        db.execute("DELETE FROM spans WHERE trace_id = ?", (trace_id,))
        db.execute("DELETE FROM traces WHERE trace_id = ?", (trace_id,))
        evicted += 1
        freed += size
    add_bytes(db, -freed)
    return evicted


def expire(db: sqlite3.Connection, cutoff: float) -> tuple[int, int]:
    """Delete traces and waiting feedback stored before ``cutoff``; (traces, feedback) deleted."""
    db.execute(
        "DELETE FROM spans WHERE trace_id IN (SELECT trace_id FROM traces WHERE stored_at < ?)",
        (cutoff,),
    )
    (size,) = db.execute(
        "SELECT COALESCE(SUM(size_bytes), 0) FROM traces WHERE stored_at < ?", (cutoff,)
    ).fetchone()
    traces = db.execute("DELETE FROM traces WHERE stored_at < ?", (cutoff,)).rowcount
    add_bytes(db, -size)
    feedback = db.execute("DELETE FROM pending_feedback WHERE received_at < ?", (cutoff,)).rowcount
    return traces, feedback


def cap_pending_feedback(db: sqlite3.Connection, limit: int) -> None:
    """Keep the ``limit`` most recent feedback records waiting for their trace."""
    (waiting,) = db.execute("SELECT count(*) FROM pending_feedback").fetchone()
    if waiting > limit:
        db.execute(
            "DELETE FROM pending_feedback WHERE feedback_id IN (SELECT feedback_id FROM "
            "pending_feedback ORDER BY received_at LIMIT ?)",
            (waiting - limit,),
        )


def add_bytes(db: sqlite3.Connection, delta: int) -> None:
    if delta:
        db.execute(
            "UPDATE totals SET value = MAX(0, value + ?) WHERE name = 'trace_bytes'", (delta,)
        )


def total_bytes(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM totals WHERE name = 'trace_bytes'").fetchone()
    return int(row[0]) if row is not None else 0
