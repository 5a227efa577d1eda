"""Routing: verdicts and feedback become Phoenix annotations and dataset examples.

``Router`` holds the rules, ``RoutingStore`` what they must remember (traces for later feedback,
the dedupe and cap ledger), and ``RoutingSink`` puts the resulting writes into the durable outbox,
from which the outbox worker writes them to Phoenix.
"""

from __future__ import annotations

from otel_flywheel.routing._datasets import DATASET_PURPOSES, DatasetPurpose, Route
from otel_flywheel.routing._router import (
    FEEDBACK_ANNOTATION,
    VERDICT_ANNOTATION,
    RoutedExample,
    Router,
    verdict_metadata,
)
from otel_flywheel.routing._sink import RoutingSink
from otel_flywheel.routing._store import PurgeCounts, RoutingStore, StoredTrace

__all__ = [
    "DATASET_PURPOSES",
    "FEEDBACK_ANNOTATION",
    "VERDICT_ANNOTATION",
    "DatasetPurpose",
    "PurgeCounts",
    "Route",
    "RoutedExample",
    "Router",
    "RoutingSink",
    "RoutingStore",
    "StoredTrace",
    "verdict_metadata",
]
