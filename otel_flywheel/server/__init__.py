"""``otel-flywheel serve``: the flywheel out of process, behind an OpenTelemetry Collector.

Agents export OTLP to a Collector; the Collector sends traces to Phoenix and to one or more
``otel-flywheel serve`` instances (its ``loadbalancing`` exporter, routed by trace id, keeps a
trace on one instance). Each instance spools what it accepts to local SQLite before answering,
assembles and redacts traces as the in-process processor does, and hands them to a
``TracePipeline``; a trace leaves the spool once the pipeline made its verdict durable.

``create_app`` builds the ASGI app; the CLI runs it under uvicorn.
"""

from __future__ import annotations

from otel_flywheel.server._app import FEEDBACK_PATH, TRACES_PATH, create_app, open_spool
from otel_flywheel.server._body import MAX_GZIP_MEMBERS
from otel_flywheel.server._feedback import FeedbackSink, LoggingFeedbackSink, redact_feedback
from otel_flywheel.server._ingest import WORKER_THREAD_NAME, IngestWorker
from otel_flywheel.server._metrics import ServerMetrics
from otel_flywheel.server._settings import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    FEEDBACK_TOKEN_IDENTITY,
    SPOOL_FILE_NAME,
    ServerSettings,
    UnknownTraceFeedback,
)
from otel_flywheel.server._spool import Spool, SpooledFeedback, SpooledRequest, SpoolFullError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "FEEDBACK_PATH",
    "FEEDBACK_TOKEN_IDENTITY",
    "MAX_GZIP_MEMBERS",
    "SPOOL_FILE_NAME",
    "TRACES_PATH",
    "WORKER_THREAD_NAME",
    "FeedbackSink",
    "IngestWorker",
    "LoggingFeedbackSink",
    "ServerMetrics",
    "ServerSettings",
    "Spool",
    "SpoolFullError",
    "SpooledFeedback",
    "SpooledRequest",
    "UnknownTraceFeedback",
    "create_app",
    "open_spool",
    "redact_feedback",
]
