"""``POST /v1/traces``: OTLP/HTTP in, committed to the spool before the 200 goes out.

``application/x-protobuf`` or ``application/json``, optionally ``Content-Encoding: gzip`` (or
``deflate``). The answer is an ``ExportTraceServiceResponse`` in the request's encoding, with
``partial_success`` when some spans were rejected; errors carry an OTLP ``Status`` body. Blocking
work (decompression, decoding, the SQLite commit) runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Final

import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from otel_flywheel.server._body import (
    ClientError,
    ContentKind,
    DecodedRequest,
    decode_request,
    decompress,
    span_counts_by_trace,
)
from otel_flywheel.server._http import (
    RequestGate,
    bearer_identity,
    content_encoding,
    content_kind,
    export_response,
    status_response,
)
from otel_flywheel.server._ingest import IngestWorker
from otel_flywheel.server._spool import Spool, SpoolFullError

__all__ = ["TRACES_PATH", "TracesEndpoint"]

logger = logging.getLogger(__name__)

TRACES_PATH: Final = "/v1/traces"
_TRACES_CREDENTIAL: Final = "traces"


class TracesEndpoint:
    """The handler of ``POST /v1/traces``; runs on the event loop."""

    def __init__(self, *, gate: RequestGate, spool: Spool, worker: IngestWorker) -> None:
        self._gate = gate
        self._spool = spool
        self._worker = worker
        self._metrics = gate.metrics
        token = gate.settings.token_value()
        self._credentials = {_TRACES_CREDENTIAL: token.encode()} if token is not None else None

    async def handle(self, request: Request) -> Response:
        kind = content_kind(request)
        response = self._unauthorized(request, kind) or self._gate.refusal(
            request, kind, accepted=("protobuf", "json")
        )
        if response is None:
            assert kind is not None
            self._gate.inflight += 1
            try:
                response = await self._receive(request, kind)
            finally:
                self._gate.inflight -= 1
        self._metrics.requests.labels(TRACES_PATH, str(response.status_code)).inc()
        return response

    def _unauthorized(self, request: Request, kind: ContentKind | None) -> Response | None:
        if self._credentials is None or bearer_identity(request, self._credentials) is not None:
            return None
        return status_response(
            401,
            "missing or wrong bearer token: send 'Authorization: Bearer <token>' with the "
            "token the server has in FLYWHEEL_SERVER_TOKEN",
            kind,
            {"WWW-Authenticate": "Bearer"},
        )

    async def _receive(self, request: Request, kind: ContentKind) -> Response:
        gate = self._gate
        if self._spool.full:
            return status_response(
                503,
                f"the spool holds {self._spool.depth_spans} spans, its limit: retry later",
                kind,
                gate.retry_after,
            )
        try:
            body = await gate.read_body(request, TRACES_PATH)
            gate.storing += 1
            try:
                decoded = await anyio.to_thread.run_sync(
                    self._store, body, content_encoding(request), kind
                )
            finally:
                gate.storing -= 1
        except ClientError as error:
            return status_response(error.status, error.message, kind)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        except SpoolFullError as error:
            return status_response(503, f"{error}: retry later", kind, gate.retry_after)
        except sqlite3.Error as error:  # a full or failing disk: retryable, and loud
            logger.error("cannot write to the spool %s: %s", self._spool.path, error)
            return status_response(
                503, f"the spool cannot be written: {error}", kind, gate.retry_after
            )
        return export_response(decoded, kind)

    def _store(self, body: bytes, encoding: str, kind: ContentKind) -> DecodedRequest:
        """Off the event loop: inflate, decode, commit. Raises ``ClientError`` for bad input."""
        data = decompress(body, encoding, limit=self._gate.settings.max_body_bytes)
        decoded = decode_request(data, kind)
        if decoded.rejected_spans:
            self._metrics.spans_rejected.labels("invalid_span").inc(decoded.rejected_spans)
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
            self._spool.append_request(stored, span_counts)
        except SpoolFullError:
            self._metrics.spans_rejected.labels("spool_full").inc(spans)
            raise
        self._metrics.spans_received.inc(spans)
        self._worker.notify()
        return decoded
