"""The Starlette app behind ``otel-flywheel serve``: wiring, lifespan and probes.

Routes:

- ``POST /v1/traces`` (``_traces_endpoint``): OTLP/HTTP, committed to the spool before the 200.
- ``POST /v1/feedback`` (``_feedback_endpoint``): one ``Feedback`` as JSON, with its own
  credential, spooled before the 202.
- ``GET /healthz`` (the process answers), ``GET /readyz`` (spool writable and below its limit,
  worker running), ``GET /metrics`` (Prometheus text, this app's registry).

Client input never causes a 5xx. Blocking work runs in worker threads (``anyio.to_thread``),
never on the event loop.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import AsyncIterator, Sequence

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_flywheel.capture import TracePipeline
from otel_flywheel.config import CaptureSettings, resolve_settings
from otel_flywheel.privacy import Redactor, build_redactor
from otel_flywheel.server._feedback import FeedbackSink, LoggingFeedbackSink
from otel_flywheel.server._feedback_endpoint import FEEDBACK_PATH, FeedbackEndpoint
from otel_flywheel.server._http import RequestGate
from otel_flywheel.server._ingest import IngestWorker
from otel_flywheel.server._metrics import ServerMetrics
from otel_flywheel.server._settings import ServerSettings
from otel_flywheel.server._spool import Spool
from otel_flywheel.server._traces_endpoint import TRACES_PATH, TracesEndpoint

__all__ = ["FEEDBACK_PATH", "TRACES_PATH", "create_app", "open_spool"]


def create_app(
    *,
    pipeline: TracePipeline,
    spool: Spool | None = None,
    settings: ServerSettings | None = None,
    feedback_sink: FeedbackSink | None = None,
    redactor: Redactor | bool = True,
    capture_settings: CaptureSettings | None = None,
    registry: CollectorRegistry | None = None,
    collectors: Sequence[Collector] = (),
) -> Starlette:
    """The ASGI app of ``otel-flywheel serve``; run it under uvicorn (or any ASGI server).

    Args:
        pipeline: receives each assembled, normalized, redacted ``AgentTrace``. The app shuts it
            down when it stops.
        spool: where accepted spans and feedback wait; default: a ``Spool`` at
            ``settings.spool_path()`` with the settings' limits. The app closes it when it stops.
        settings: host, port, token, limits; default: resolved from environment and config file.
        feedback_sink: receives each spooled feedback record; default ``LoggingFeedbackSink``.
        redactor: as for ``FlywheelSpanProcessor``: ``True`` builds the configured redactor
            (``FLYWHEEL_REDACTION=off`` turns it off), ``False`` disables redaction.
        capture_settings: trace assembly (grace, idle timeout, bounds); default: resolved from
            environment and config file, as the in-process processor does.
        registry: the Prometheus registry ``/metrics`` serves; default: a new one for this app.
            Pass the pipeline's registry to serve its metrics too.
        collectors: more Prometheus collectors to register (e.g. the pipeline's).

    The lifespan starts the ingest worker; on shutdown it delivers what it can, closes every
    open trace, shuts the pipeline down and closes the spool. One app serves one lifespan.
    """
    settings = settings if settings is not None else resolve_settings(ServerSettings)
    capture_settings = (
        capture_settings if capture_settings is not None else resolve_settings(CaptureSettings)
    )
    built_redactor = build_redactor() if redactor is True else (redactor or None)
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    for collector in collectors:
        registry.register(collector)
    if spool is None:
        spool = open_spool(settings)
        try:
            return _build_app(
                pipeline=pipeline,
                spool=spool,
                settings=settings,
                feedback_sink=feedback_sink,
                redactor=built_redactor,
                capture_settings=capture_settings,
                registry=registry,
            )
        except BaseException:
            spool.close()  # an open spool holds its lock: never leave one behind
            raise
    return _build_app(
        pipeline=pipeline,
        spool=spool,
        settings=settings,
        feedback_sink=feedback_sink,
        redactor=built_redactor,
        capture_settings=capture_settings,
        registry=registry,
    )


def open_spool(settings: ServerSettings) -> Spool:
    """The spool ``settings`` name, with their limits. Raises ``ConfigError`` naming the fix."""
    return Spool(
        settings.spool_path(),
        max_spans=settings.max_spool_spans,
        max_feedback=settings.max_spool_feedback,
        max_held_feedback=settings.max_held_feedback,
    )


def _build_app(
    *,
    pipeline: TracePipeline,
    spool: Spool,
    settings: ServerSettings,
    feedback_sink: FeedbackSink | None,
    redactor: Redactor | None,
    capture_settings: CaptureSettings,
    registry: CollectorRegistry,
) -> Starlette:
    # The gauges read the worker and the gate, which need the metrics: bound late.
    worker: IngestWorker | None = None
    gate: RequestGate | None = None
    metrics = ServerMetrics(
        registry,
        spool_spans=lambda: spool.depth_spans,
        spool_feedback=lambda: spool.depth_feedback,
        held_feedback=lambda: spool.depth_held_feedback,
        open_traces=lambda: worker.open_traces if worker is not None else 0,
        awaiting_ack=lambda: worker.traces_awaiting_ack if worker is not None else 0,
        requests_in_flight=lambda: gate.inflight if gate is not None else 0,
    )
    gate = RequestGate(settings=settings, metrics=metrics)
    worker = IngestWorker(
        spool,
        pipeline,
        feedback_sink=feedback_sink if feedback_sink is not None else LoggingFeedbackSink(),
        metrics=metrics,
        redactor=redactor,
        capture_settings=capture_settings,
        known_trace_retention_seconds=settings.known_trace_retention_seconds,
        max_known_traces=settings.max_known_traces,
        senders_waiting=lambda: gate is not None and gate.storing > 0,
    )
    probes = _Probes(gate=gate, spool=spool, worker=worker, metrics=metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            gate.closing = True
            await anyio.to_thread.run_sync(
                functools.partial(
                    worker.shutdown, timeout_seconds=settings.shutdown_timeout_seconds
                )
            )
            spool.close()

    app = Starlette(
        routes=[
            Route(
                TRACES_PATH,
                TracesEndpoint(gate=gate, spool=spool, worker=worker).handle,
                methods=["POST"],
            ),
            Route(
                FEEDBACK_PATH,
                FeedbackEndpoint(gate=gate, spool=spool, worker=worker).handle,
                methods=["POST"],
            ),
            Route("/healthz", probes.healthz, methods=["GET"]),
            Route("/readyz", probes.readyz, methods=["GET"]),
            Route("/metrics", probes.metrics_text, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    # For tests and embedding: the parts, without reaching into closures.
    app.state.spool = spool
    app.state.worker = worker
    app.state.metrics = metrics
    return app


class _Probes:
    def __init__(
        self, *, gate: RequestGate, spool: Spool, worker: IngestWorker, metrics: ServerMetrics
    ) -> None:
        self._gate = gate
        self._spool = spool
        self._worker = worker
        self._metrics = metrics

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        problems = []
        closing = self._gate.closing
        if closing:
            problems.append("shutting down")
        if not self._worker.alive:
            problems.append("the ingest worker is not running")
        if self._spool.full:
            problems.append(
                f"the spool is full ({self._spool.depth_spans} of {self._spool.max_spans} spans)"
            )
        if not closing:
            try:
                await anyio.to_thread.run_sync(self._spool.check_writable)
            except (sqlite3.Error, OSError) as error:
                problems.append(f"the spool {self._spool.path} is not writable: {error}")
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics_text(self, request: Request) -> Response:
        return Response(generate_latest(self._metrics.registry), media_type=CONTENT_TYPE_LATEST)
