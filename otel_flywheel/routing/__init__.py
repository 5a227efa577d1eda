"""Routing: verdicts and feedback become Phoenix annotations and dataset examples.

``Router`` holds the rules, ``RoutingStore`` what they must remember (traces for later feedback,
the dedupe and cap ledger), and ``RoutingSink`` puts the resulting writes into the durable outbox,
from which the outbox worker writes them to Phoenix.
"""

from __future__ import annotations

from otel_flywheel.routing._annotations import (
    FEEDBACK_ANNOTATION,
    VERDICT_ANNOTATION,
    verdict_metadata,
)
from otel_flywheel.routing._datasets import DATASET_PURPOSES, DatasetPurpose, Route
from otel_flywheel.routing._review_sync import FeedbackSyncReport, sync_feedback
from otel_flywheel.routing._router import ExampleCandidate, Router
from otel_flywheel.routing._sink import RoutingSink
from otel_flywheel.routing._store import (
    ROUTING_STORE_FILE,
    Claim,
    PurgeCounts,
    RoutingStore,
    StoredTrace,
    default_routing_store_path,
)

__all__ = [
    "DATASET_PURPOSES",
    "FEEDBACK_ANNOTATION",
    "ROUTING_STORE_FILE",
    "VERDICT_ANNOTATION",
    "Claim",
    "DatasetPurpose",
    "ExampleCandidate",
    "FeedbackSyncReport",
    "PurgeCounts",
    "Route",
    "Router",
    "RoutingSink",
    "RoutingStore",
    "StoredTrace",
    "default_routing_store_path",
    "sync_feedback",
    "verdict_metadata",
]
