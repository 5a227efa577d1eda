"""What the endpoints share: content types, OTLP error bodies, bearer tokens, and the gate that
bounds requests in flight and reads bodies within the size limit.

Status codes follow the OTLP/HTTP spec: 400 malformed (never retried), 401 missing or wrong bearer
token, 413 body too large (on the wire or inflated), 415 unsupported content type or encoding,
429 too many requests in flight and 503 spool full or shutting down, both with ``Retry-After``
(retried by the OTel exporters and the Collector). An error's message names the field and the
problem, never a value from the request (see ``_messages``).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Final

from google.protobuf import json_format
from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from otel_flywheel.server._body import ClientError, ContentKind, DecodedRequest
from otel_flywheel.server._metrics import ServerMetrics
from otel_flywheel.server._settings import ServerSettings

__all__ = [
    "RequestGate",
    "bearer_identity",
    "content_encoding",
    "content_kind",
    "export_response",
    "status_response",
]

_PROTOBUF_TYPES: Final = frozenset({"application/x-protobuf", "application/protobuf"})
_JSON_TYPE: Final = "application/json"
PROTOBUF_RESPONSE_TYPE: Final = "application/x-protobuf"
# google.rpc.Code for the Status body, as the Collector's OTLP receiver sends them.
_RPC_CODES: Final = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    413: 3,
    415: 3,
    429: 8,  # RESOURCE_EXHAUSTED
    503: 14,  # UNAVAILABLE
}


def content_kind(request: Request) -> ContentKind | None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type in _PROTOBUF_TYPES:
        return "protobuf"
    if media_type == _JSON_TYPE:
        return "json"
    return None


def content_encoding(request: Request) -> str:
    return request.headers.get("content-encoding", "").strip().lower()


def bearer_identity(request: Request, credentials: Mapping[str, bytes]) -> str | None:
    """The name of the credential the request's ``Authorization: Bearer`` token matches."""
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = sent.strip().encode()
    found = None
    for name, expected in credentials.items():
        # compare_digest: the time taken does not reveal how much of a token matched; every
        # credential is compared, so neither does which one did.
        if hmac.compare_digest(token, expected) and found is None:
            found = name
    return found


def export_response(decoded: DecodedRequest, kind: ContentKind) -> Response:
    message = ExportTraceServiceResponse()
    if decoded.rejected_spans:
        message.partial_success.rejected_spans = decoded.rejected_spans
        message.partial_success.error_message = (
            f"rejected {decoded.rejected_spans} span(s): {decoded.rejected_reason}"
        )
    if kind == "protobuf":
        return Response(message.SerializeToString(), media_type=PROTOBUF_RESPONSE_TYPE)
    return Response(
        json.dumps(json_format.MessageToDict(message), separators=(",", ":")),
        media_type=_JSON_TYPE,
    )


def status_response(
    status: int,
    message: str,
    kind: ContentKind | None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error as the OTLP spec wants it: a ``google.rpc.Status`` in the request's encoding."""
    code = _RPC_CODES.get(status, 2)  # 2: UNKNOWN
    if kind == "protobuf":
        body = Status(code=code, message=message).SerializeToString()
        return Response(body, status, headers, media_type=PROTOBUF_RESPONSE_TYPE)
    if kind == "json":
        return JSONResponse({"code": code, "message": message}, status, headers)
    return PlainTextResponse(message, status, headers)


class RequestGate:
    """Admission shared by the POST endpoints: the in-flight limit, the closing flag, and bodies
    read within ``max_body_bytes``. Handlers run on the event loop only, so the counters and the
    flag need no lock."""

    def __init__(self, *, settings: ServerSettings, metrics: ServerMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.retry_after = {"Retry-After": str(settings.retry_after_seconds)}
        self.inflight = 0
        self.storing = 0  # requests fully read, being decoded and committed
        self.closing = False

    def refusal(
        self, request: Request, kind: ContentKind | None, *, accepted: tuple[ContentKind, ...]
    ) -> Response | None:
        """The answer for a request refused before its body is read (after authentication),
        or ``None`` to go on."""
        if kind not in accepted:
            types = " or ".join(
                sorted(PROTOBUF_RESPONSE_TYPE if k == "protobuf" else _JSON_TYPE for k in accepted)
            )
            # The header's value is not quoted back: it is the sender's text.
            return PlainTextResponse(
                f"this Content-Type is not supported: send {types}", status_code=415
            )
        if self.closing:
            return status_response(503, "shutting down: retry later", kind, self.retry_after)
        if self.inflight >= self.settings.max_concurrent_requests:
            return status_response(
                429,
                f"{self.inflight} requests in flight, the limit: retry later",
                kind,
                self.retry_after,
            )
        return None

    async def read_body(self, request: Request, path: str) -> bytes:
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
