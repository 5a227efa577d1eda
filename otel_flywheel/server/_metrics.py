"""The server's Prometheus metrics, in a registry of its own (never the process-global one).

Every app gets its own ``CollectorRegistry``, so several apps in one process (tests, embedding)
never collide. The pipeline adds its metrics (traces judged, judge latency and tokens, outbox
depth) by passing its registry or its collectors to ``create_app``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ServerMetrics"]

# Request bodies from 1 KiB (a few spans) to the 16 MiB default limit.
_BODY_BUCKETS: Final = (*(float(1024 * 4**i) for i in range(8)), float("inf"))


class ServerMetrics:
    """Counters and gauges of one server; names start with ``flywheel_server_``."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        spool_spans: Callable[[], float],
        spool_feedback: Callable[[], float],
        held_feedback: Callable[[], float],
        open_traces: Callable[[], float],
        awaiting_ack: Callable[[], float],
        requests_in_flight: Callable[[], float],
    ) -> None:
        self.registry = registry
        self.requests = Counter(
            "flywheel_server_requests",
            "HTTP requests answered, by path and status code",
            ["path", "status"],
            registry=registry,
        )
        self.requests_in_flight = Gauge(
            "flywheel_server_requests_in_flight",
            "POST requests being handled now (past max_concurrent_requests: 429)",
            registry=registry,
        )
        self.requests_in_flight.set_function(requests_in_flight)
        self.request_body_bytes = Histogram(
            "flywheel_server_request_body_bytes",
            "Request body size on the wire (before decompression), by path",
            ["path"],
            buckets=_BODY_BUCKETS,
            registry=registry,
        )
        self.spans_received = Counter(
            "flywheel_server_spans_received",
            "Spans accepted: committed to the spool before the 200 went out",
            registry=registry,
        )
        self.spans_rejected = Counter(
            "flywheel_server_spans_rejected",
            "Spans of decoded requests that were not accepted, by reason",
            ["reason"],
            registry=registry,
        )
        self.spans_dropped = Counter(
            "flywheel_server_spans_dropped",
            "Spans accepted but left out of the traces handed to the pipeline, by reason",
            ["reason"],
            registry=registry,
        )
        self.traces_submitted = Counter(
            "flywheel_server_traces_submitted",
            "Traces the pipeline accepted",
            registry=registry,
        )
        self.traces_acknowledged = Counter(
            "flywheel_server_traces_acknowledged",
            "Traces released from the spool: durable downstream (verdict and writes in the "
            "outbox), or, for a pipeline without acknowledgements, accepted",
            registry=registry,
        )
        self.traces_unacknowledged = Counter(
            "flywheel_server_traces_unacknowledged",
            "Times the pipeline reported a trace not made durable; it stays spooled and is "
            "offered again",
            registry=registry,
        )
        self.traces_awaiting_ack = Gauge(
            "flywheel_server_traces_awaiting_ack",
            "Traces handed to the pipeline whose verdict is not durable yet (they stay spooled)",
            registry=registry,
        )
        self.traces_awaiting_ack.set_function(awaiting_ack)
        self.pipeline_errors = Counter(
            "flywheel_server_pipeline_errors",
            "Times the pipeline's submit raised; the trace stays spooled and is offered again",
            registry=registry,
        )
        self.feedback_received = Counter(
            "flywheel_server_feedback_received",
            "Feedback records accepted (a repeated feedback_id counts once)",
            registry=registry,
        )
        self.feedback_rejected = Counter(
            "flywheel_server_feedback_rejected",
            "Feedback records refused after authentication, by reason (unknown_trace, spool_full)",
            ["reason"],
            registry=registry,
        )
        self.feedback_expired = Counter(
            "flywheel_server_feedback_expired",
            "Held feedback dropped because its trace did not arrive within feedback_hold_seconds",
            registry=registry,
        )
        self.feedback_submitted = Counter(
            "flywheel_server_feedback_submitted",
            "Feedback records the feedback sink accepted",
            registry=registry,
        )
        self.feedback_errors = Counter(
            "flywheel_server_feedback_errors",
            "Times the feedback sink raised; the record stays spooled and is offered again",
            registry=registry,
        )
        self.spool_spans = Gauge(
            "flywheel_server_spool_spans",
            "Spans in the spool: accepted, not yet delivered to the pipeline",
            registry=registry,
        )
        self.spool_spans.set_function(spool_spans)
        self.spool_feedback = Gauge(
            "flywheel_server_spool_feedback",
            "Feedback records in the spool, not yet delivered to the feedback sink",
            registry=registry,
        )
        self.spool_feedback.set_function(spool_feedback)
        self.held_feedback = Gauge(
            "flywheel_server_held_feedback",
            "Feedback records held until their trace arrives (unknown_trace_feedback: hold)",
            registry=registry,
        )
        self.held_feedback.set_function(held_feedback)
        self.open_traces = Gauge(
            "flywheel_server_open_traces",
            "Traces being assembled (waiting for their root span or their grace period)",
            registry=registry,
        )
        self.open_traces.set_function(open_traces)
