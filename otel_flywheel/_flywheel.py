"""`Flywheel`: the whole in-process loop behind one ``TracePipeline``.

capture -> `EvaluationPipeline` (checks, judge) -> `RoutingSink` (rules, dedupe, caps) -> `Outbox`
(SQLite) -> `OutboxWorker` -> `PhoenixSink` (annotations, datasets). ``register()`` builds one when
no pipeline is given; ``otel-flywheel serve`` builds one behind its spool. It is also the process's
feedback sink, so ``otel_flywheel.feedback(...)`` routes through the same rules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client.registry import Collector

from otel_flywheel import _env
from otel_flywheel._feedback import ImplicitSignalDetector
from otel_flywheel.config import RoutingSettings, resolve_settings
from otel_flywheel.evaluation import TraceEvaluator, load_tool_catalog, load_trace_evaluator
from otel_flywheel.model import AgentTrace, Feedback
from otel_flywheel.outbox import Outbox, OutboxCollector, OutboxWorker, default_outbox_path
from otel_flywheel.phoenix import PhoenixSink
from otel_flywheel.pipeline import EvaluationPipeline, PipelineCollector, TraceAck, VerdictSink
from otel_flywheel.privacy import Redactor
from otel_flywheel.routing import RoutingSink, RoutingStore, default_routing_store_path
from otel_flywheel.verdict_metrics import VerdictMetrics

__all__ = ["Flywheel", "build_flywheel"]

logger = logging.getLogger(__name__)


class Flywheel:
    """A ``TracePipeline`` and a ``FeedbackSink``; ``shutdown`` drains and closes every part."""

    def __init__(
        self,
        *,
        pipeline: EvaluationPipeline,
        routing: RoutingSink,
        outbox: Outbox,
        worker: OutboxWorker,
        phoenix: PhoenixSink,
        verdict_metrics: VerdictMetrics | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.verdict_metrics = verdict_metrics
        self.routing = routing
        self.outbox = outbox
        self.worker = worker
        self.phoenix = phoenix
        self._closed = False

    def submit(self, trace: AgentTrace) -> None:
        self.pipeline.submit(trace)

    def submit_acknowledged(self, trace: AgentTrace, ack: TraceAck) -> bool:
        """``serve``'s hand-over: ``ack`` says when the verdict and its routed writes are in
        the outbox (see ``otel_flywheel.pipeline.AcknowledgingPipeline``)."""
        return self.pipeline.submit_acknowledged(trace, ack)

    def collectors(self) -> list[Collector]:
        """Prometheus collectors for the pipeline, the outbox and the verdict counts (``serve``
        exposes them)."""
        collectors: list[Collector] = [
            PipelineCollector(self.pipeline),
            OutboxCollector(self.outbox, worker=self.worker),
        ]
        if self.verdict_metrics is not None:
            collectors.append(self.verdict_metrics.collector())
        return collectors

    def submit_feedback(self, feedback: Feedback) -> Feedback:
        return self.routing.submit_feedback(feedback)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Verdicts routed and the outbox delivered (or waiting on Phoenix) within the deadline."""
        return self.pipeline.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        if self._closed:
            return
        self._closed = True
        # The pipeline shuts down its sinks: routing closes its store and the outbox worker.
        self.pipeline.shutdown(timeout_millis)
        self.phoenix.close()
        self.outbox.close()


def build_flywheel(
    *,
    project: str,
    phoenix_url: str,
    phoenix_api_key: str | None = None,
    judge: bool | None = None,
    rubrics_dir: str | os.PathLike[str] | None = None,
    tools: str | os.PathLike[str] | None = None,
    references: Callable[[AgentTrace], Any] | None = None,
    redactor: Redactor | None = None,
    evaluator: TraceEvaluator | None = None,
    extra_sinks: tuple[VerdictSink, ...] = (),
    environ: Mapping[str, str] | None = None,
) -> Flywheel:
    """Build the loop for ``project``, writing to the Phoenix at ``phoenix_url``.

    ``judge``: ``None`` judges when ``FLYWHEEL_JUDGE_MODEL`` is set. ``tools``: a tool file (MCP
    ``tools/list`` JSON, plus ``read_only`` and ``retrieval`` name lists) saying which tools only
    read, for the checks' ranking of findings by effect. State (outbox, routing store)
    lives in ``FLYWHEEL_STATE_DIR``. Raises ``ConfigError`` naming the fix for bad settings.
    """
    environ = os.environ if environ is None else environ
    if evaluator is None:
        if judge is None:
            judge = bool(environ.get(_env.FLYWHEEL_JUDGE_MODEL))
        catalog = load_tool_catalog(tools) if tools is not None else None
        evaluator = load_trace_evaluator(judge=judge, rubrics_dir=rubrics_dir, tools=catalog)
    settings = resolve_settings(RoutingSettings, {"project": project}, environ=environ)
    outbox = Outbox(default_outbox_path(environ=environ))  # the same state dir as the store
    phoenix = PhoenixSink(base_url=phoenix_url, api_key=phoenix_api_key)
    worker = OutboxWorker(outbox, phoenix)
    routing = RoutingSink(
        outbox,
        store=RoutingStore(default_routing_store_path(environ=environ)),
        settings=settings,
        worker=worker,
        redactor=redactor,
        signals=ImplicitSignalDetector(),
    )
    # Verdict counts as OTel metrics (the global meter provider) and for serve's /metrics.
    verdict_metrics = VerdictMetrics()
    pipeline = EvaluationPipeline(
        evaluator, sinks=[routing, verdict_metrics, *extra_sinks], references=references
    )
    routing.on_feedback = pipeline.notify_feedback
    worker.start()
    return Flywheel(
        pipeline=pipeline,
        routing=routing,
        outbox=outbox,
        worker=worker,
        phoenix=phoenix,
        verdict_metrics=verdict_metrics,
    )
