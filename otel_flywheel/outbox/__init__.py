"""The durable outbox: every write to Phoenix is committed locally first, then delivered.

``Outbox`` is the SQLite store (``<state dir>/outbox.sqlite`` by default), ``OutboxWorker`` the
background thread that delivers it into a ``WriteSink`` with backoff, and ``OutboxCollector`` exposes
its depth and age to Prometheus. Phoenix or the network being down delays writes; it never drops
or duplicates them.
"""

from __future__ import annotations

from otel_flywheel.outbox._metrics import OutboxCollector
from otel_flywheel.outbox._store import (
    DEFAULT_DONE_RETENTION_SECONDS,
    EntryState,
    Outbox,
    OutboxClosedError,
    OutboxEntry,
    OutboxStats,
    default_outbox_path,
)
from otel_flywheel.outbox._worker import DeliveryCount, OutboxWorker

__all__ = [
    "DEFAULT_DONE_RETENTION_SECONDS",
    "DeliveryCount",
    "EntryState",
    "Outbox",
    "OutboxClosedError",
    "OutboxCollector",
    "OutboxEntry",
    "OutboxStats",
    "OutboxWorker",
    "default_outbox_path",
]
