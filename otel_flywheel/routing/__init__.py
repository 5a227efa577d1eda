"""Routing: verdicts and feedback become Phoenix annotations and dataset examples.

``Router`` holds the rules, ``RoutingStore`` what they must remember (traces for later feedback,
the dedupe and cap ledger), and ``RoutingSink`` puts the resulting writes into the durable outbox,
from which the outbox worker writes them to Phoenix.
"""

from __future__ import annotations

from otel_flywheel.routing._router import VERDICT_ANNOTATION, RoutedExample, Router
from otel_flywheel.routing._sink import RoutingSink
from otel_flywheel.routing._store import PurgeCounts, RoutingStore, StoredTrace

__all__ = [
    "VERDICT_ANNOTATION",
    "PurgeCounts",
    "RoutedExample",
    "Router",
    "RoutingSink",
    "RoutingStore",
    "StoredTrace",
]
