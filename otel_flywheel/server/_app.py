"""The Starlette app behind ``otel-flywheel serve``: OTLP/HTTP traces in, feedback in, probes.

Routes:

- ``POST /v1/traces``: OTLP/HTTP, ``application/x-protobuf`` or ``application/json``, optionally
  ``Content-Encoding: gzip`` (or ``deflate``). The spans are committed to the spool before the
  200 goes out; the answer is an ``ExportTraceServiceResponse`` in the request's encoding, with
  ``partial_success`` when some spans were rejected. Errors carry an OTLP ``Status`` body.
- ``POST /v1/feedback``: one ``Feedback`` as JSON, spooled before the 202.
- ``GET /healthz`` (the process answers), ``GET /readyz`` (spool writable and below its limit,
  worker running), ``GET /metrics`` (Prometheus text, this app's registry).

Status codes follow the OTLP/HTTP spec: 400 malformed (never retried), 401 missing or wrong
bearer token, 413 body too large (on the wire or inflated), 415 unsupported content type or
encoding, 429 too many requests in flight and 503 spool full or shutting down, both with
``Retry-After`` (retried by the OTel exporters and the Collector). Client input never causes a 5xx.

Blocking work (decompression, decoding, the SQLite commit, the readiness probe) runs in worker
threads (``anyio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Final

import anyio.to_thread
from google.protobuf import json_format
from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from otel_flywheel.capture import TracePipeline
from otel_flywheel.config import CaptureSettings, resolve_settings
from otel_flywheel.model import Feedback
from otel_flywheel.privacy import Redactor, build_redactor
from otel_flywheel.server._body import (
    ClientError,
    ContentKind,
    DecodedRequest,
    decode_request,
    decompress,
    span_counts_by_trace,
)
from otel_flywheel.server._feedback import FeedbackSink, LoggingFeedbackSink
from otel_flywheel.server._ingest import IngestWorker
from otel_flywheel.server._metrics import ServerMetrics
from otel_flywheel.server._settings import ServerSettings
from otel_flywheel.server._spool import Spool, SpoolFullError

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

TRACES_PATH: Final = "/v1/traces"
FEEDBACK_PATH: Final = "/v1/feedback"
_PROTOBUF_TYPES: Final = frozenset({"application/x-protobuf", "application/protobuf"})
_JSON_TYPE: Final = "application/json"
_PROTOBUF_RESPONSE_TYPE: Final = "application/x-protobuf"
# google.rpc.Code for the Status body, as the Collector's OTLP receiver sends them.
_RPC_CODES: Final = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    413: 3,
    415: 3,
    429: 8,  # RESOURCE_EXHAUSTED
    503: 14,  # UNAVAILABLE
}


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
        spool = Spool(
            settings.spool_path(),
            max_spans=settings.max_spool_spans,
            max_feedback=settings.max_spool_feedback,
        )
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
    # The gauges read the worker and the receiver, which need the metrics: bound late.
    worker: IngestWorker | None = None
    receiver: _Receiver | None = None
    metrics = ServerMetrics(
        registry,
        spool_spans=lambda: spool.depth_spans,
        spool_feedback=lambda: spool.depth_feedback,
        open_traces=lambda: worker.open_traces if worker is not None else 0,
        requests_in_flight=lambda: receiver.requests_in_flight if receiver is not None else 0,
    )
    worker = IngestWorker(
        spool,
        pipeline,
        feedback_sink=feedback_sink if feedback_sink is not None else LoggingFeedbackSink(),
        metrics=metrics,
        redactor=redactor,
        capture_settings=capture_settings,
        senders_waiting=lambda: receiver is not None and receiver.requests_storing > 0,
    )
    receiver = handlers = _Receiver(settings=settings, spool=spool, worker=worker, metrics=metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        handlers.worker.start()
        try:
            yield
        finally:
            handlers.closing = True
            await anyio.to_thread.run_sync(
                functools.partial(
                    handlers.worker.shutdown, timeout_seconds=settings.shutdown_timeout_seconds
                )
            )
            spool.close()

    app = Starlette(
        routes=[
            Route(TRACES_PATH, handlers.traces, methods=["POST"]),
            Route(FEEDBACK_PATH, handlers.feedback, methods=["POST"]),
            Route("/healthz", handlers.healthz, methods=["GET"]),
            Route("/readyz", handlers.readyz, methods=["GET"]),
            Route("/metrics", handlers.metrics_text, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    # For tests and embedding: the parts, without reaching into closures.
    app.state.spool = spool
    app.state.worker = worker
    app.state.metrics = metrics
    return app


class _Receiver:
    """The request handlers and what they share. Handlers run on the event loop only, so the
    in-flight counter and the closing flag need no lock."""

    def __init__(
        self,
        *,
        settings: ServerSettings,
        spool: Spool,
        worker: IngestWorker,
        metrics: ServerMetrics,
    ) -> None:
        self.settings = settings
        self.spool = spool
        self.worker = worker
        self.metrics = metrics
        token = settings.token_value()
        self._token = token.encode() if token is not None else None
        self._retry_after = {"Retry-After": str(settings.retry_after_seconds)}
        self._inflight = 0
        self._storing = 0  # requests fully read, being decoded and committed
        self.closing = False

    @property
    def requests_in_flight(self) -> int:
        return self._inflight

    @property
    def requests_storing(self) -> int:
        """Requests past reading their body: the CPU-bound part the ingest worker steps aside
        for. (Counting those still uploading would let one slow client stall delivery.)"""
        return self._storing

    # --- POST /v1/traces --------------------------------------------------------------------------

    async def traces(self, request: Request) -> Response:
        kind = _content_kind(request.headers.get("content-type", ""))
        response = self._refuse(request, kind, accepted=("protobuf", "json"))
        if response is None:
            self._inflight += 1
            try:
                response = await self._receive_traces(request, kind)
            finally:
                self._inflight -= 1
        self.metrics.requests.labels(TRACES_PATH, str(response.status_code)).inc()
        return response

    async def _receive_traces(self, request: Request, kind: ContentKind | None) -> Response:
        assert kind is not None
        if self.spool.full:
            return _status_response(
                503,
                f"the spool holds {self.spool.depth_spans} spans, its limit: retry later",
                kind,
                self._retry_after,
            )
        try:
            body = await self._read_body(request, TRACES_PATH)
            self._storing += 1
            try:
                decoded = await anyio.to_thread.run_sync(
                    self._store_traces, body, _content_encoding(request), kind
                )
            finally:
                self._storing -= 1
        except ClientError as error:
            return _status_response(error.status, error.message, kind)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        except SpoolFullError as error:
            return _status_response(503, f"{error}: retry later", kind, self._retry_after)
        except sqlite3.Error as error:  # a full or failing disk: retryable, and loud
            logger.error("cannot write to the spool %s: %s", self.spool.path, error)
            return _status_response(
                503, f"the spool cannot be written: {error}", kind, self._retry_after
            )
        return _export_response(decoded, kind)

    def _store_traces(self, body: bytes, encoding: str, kind: ContentKind) -> DecodedRequest:
        """Off the event loop: inflate, decode, commit. Raises ``ClientError`` for bad input."""
        data = decompress(body, encoding, limit=self.settings.max_body_bytes)
        decoded = decode_request(data, kind)
        if decoded.rejected_spans:
            self.metrics.spans_rejected.labels("invalid_span").inc(decoded.rejected_spans)
        span_counts = span_counts_by_trace(decoded.request)
        if not span_counts:
            return decoded
        spans = sum(span_counts.values())
        stored = (
            data
            if kind == "protobuf" and not decoded.rejected_spans
            else decoded.request.SerializeToString()
        )
        try:
            self.spool.append_request(stored, span_counts)
        except SpoolFullError:
            self.metrics.spans_rejected.labels("spool_full").inc(spans)
            raise
        self.metrics.spans_received.inc(spans)
        self.worker.notify()
        return decoded

    # --- POST /v1/feedback ------------------------------------------------------------------------

    async def feedback(self, request: Request) -> Response:
        kind = _content_kind(request.headers.get("content-type", ""))
        response = self._refuse(request, kind, accepted=("json",))
        if response is None:
            self._inflight += 1
            try:
                response = await self._receive_feedback(request)
            finally:
                self._inflight -= 1
        self.metrics.requests.labels(FEEDBACK_PATH, str(response.status_code)).inc()
        return response

    async def _receive_feedback(self, request: Request) -> Response:
        try:
            body = await self._read_body(request, FEEDBACK_PATH)
            self._storing += 1
            try:
                feedback = await anyio.to_thread.run_sync(
                    self._store_feedback, body, _content_encoding(request)
                )
            finally:
                self._storing -= 1
        except ClientError as error:
            return _status_response(error.status, error.message, "json")
        except ClientDisconnect:
            return Response(status_code=400)
        except SpoolFullError as error:
            return _status_response(503, f"{error}: retry later", "json", self._retry_after)
        except sqlite3.Error as error:
            logger.error("cannot write to the spool %s: %s", self.spool.path, error)
            return _status_response(
                503, f"the spool cannot be written: {error}", "json", self._retry_after
            )
        return JSONResponse({"feedback_id": feedback.feedback_id}, status_code=202)

    def _store_feedback(self, body: bytes, encoding: str) -> Feedback:
        data = decompress(body, encoding, limit=self.settings.max_body_bytes)
        try:
            value = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise ClientError(400, f"the body is not valid JSON: {error}") from None
        try:
            feedback = Feedback.from_dict(value)
        except ValidationError as error:
            raise ClientError(400, f"invalid feedback: {_validation_summary(error)}") from None
        if self.spool.add_feedback(feedback.feedback_id, json.dumps(feedback.to_dict())):
            self.metrics.feedback_received.inc()
            self.worker.notify()
        return feedback

    # --- probes -----------------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        problems = []
        if self.closing:
            problems.append("shutting down")
        if not self.worker.alive:
            problems.append("the ingest worker is not running")
        if self.spool.full:
            problems.append(
                f"the spool is full ({self.spool.depth_spans} of {self.spool.max_spans} spans)"
            )
        if not self.closing:
            try:
                await anyio.to_thread.run_sync(self.spool.check_writable)
            except (sqlite3.Error, OSError) as error:
                problems.append(f"the spool {self.spool.path} is not writable: {error}")
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics_text(self, request: Request) -> Response:
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # --- shared -----------------------------------------------------------------------------------

    def _refuse(
        self, request: Request, kind: ContentKind | None, *, accepted: tuple[ContentKind, ...]
    ) -> Response | None:
        """The answer for a request refused before its body is read, or ``None`` to go on."""
        if self._token is not None and not self._authorized(request):
            return _status_response(
                401,
                "missing or wrong bearer token: send 'Authorization: Bearer <token>' with the "
                "token the server has in FLYWHEEL_SERVER_TOKEN",
                kind,
                {"WWW-Authenticate": "Bearer"},
            )
        if kind not in accepted:
            types = " or ".join(
                sorted(_PROTOBUF_RESPONSE_TYPE if k == "protobuf" else _JSON_TYPE for k in accepted)
            )
            return PlainTextResponse(
                f"Content-Type {request.headers.get('content-type', '(none)')!r} is not "
                f"supported: send {types}",
                status_code=415,
            )
        if self.closing:
            return _status_response(503, "shutting down: retry later", kind, self._retry_after)
        if self._inflight >= self.settings.max_concurrent_requests:
            return _status_response(
                429,
                f"{self._inflight} requests in flight, the limit: retry later",
                kind,
                self._retry_after,
            )
        return None

    def _authorized(self, request: Request) -> bool:
        assert self._token is not None
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        # compare_digest: the time taken does not reveal how much of the token matched.
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self._token
        )

    async def _read_body(self, request: Request, path: str) -> bytes:
        """The body as sent, refused with 413 as soon as it passes ``max_body_bytes``."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ClientError(
                413, f"the body has {declared} bytes, the limit is {limit}: send smaller batches"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ClientError(
                    413, f"the body exceeds {limit} bytes, the limit: send smaller batches"
                )
            chunks.append(chunk)
        self.metrics.request_body_bytes.labels(path).observe(size)
        return b"".join(chunks)


def _content_kind(content_type: str) -> ContentKind | None:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _PROTOBUF_TYPES:
        return "protobuf"
    if media_type == _JSON_TYPE:
        return "json"
    return None


def _content_encoding(request: Request) -> str:
    return request.headers.get("content-encoding", "").strip().lower()


def _export_response(decoded: DecodedRequest, kind: ContentKind) -> Response:
    message = ExportTraceServiceResponse()
    if decoded.rejected_spans:
        message.partial_success.rejected_spans = decoded.rejected_spans
        message.partial_success.error_message = (
            f"rejected {decoded.rejected_spans} span(s): {decoded.rejected_reason}"
        )
    if kind == "protobuf":
        return Response(message.SerializeToString(), media_type=_PROTOBUF_RESPONSE_TYPE)
    return Response(
        json.dumps(json_format.MessageToDict(message), separators=(",", ":")),
        media_type=_JSON_TYPE,
    )


def _status_response(
    status: int,
    message: str,
    kind: ContentKind | None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error as the OTLP spec wants it: a ``google.rpc.Status`` in the request's encoding."""
    code = _RPC_CODES.get(status, 2)  # 2: UNKNOWN
    if kind == "protobuf":
        body = Status(code=code, message=message).SerializeToString()
        return Response(body, status, headers, media_type=_PROTOBUF_RESPONSE_TYPE)
    if kind == "json":
        return JSONResponse({"code": code, "message": message}, status, headers)
    return PlainTextResponse(message, status, headers)


def _validation_summary(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "feedback"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
