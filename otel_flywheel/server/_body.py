"""OTLP/HTTP request bodies: decompression with a size limit, decoding, and partial acceptance.

Pure functions on bytes, run off the event loop. Client input never raises anything but
``ClientError`` (a 4xx with a message for the sender).

Decoding goes through ``otel_flywheel.otlp``'s decoders. They reject a whole request for one bad
span (an id of the wrong length); the OTLP spec prefers a partial success, so when a request
fails to decode, each span is tried on its own with the same decoder and the request is accepted
without the spans that fail. A request whose error is not in a span (truncated protobuf, bad
JSON, a resource of the wrong type) stays a 400.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final, Literal

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_flywheel.errors import OTLPDecodeError
from otel_flywheel.otlp import decode_otlp_json, decode_otlp_json_value, decode_otlp_protobuf

__all__ = [
    "ClientError",
    "ContentKind",
    "DecodedRequest",
    "decode_request",
    "decompress",
    "span_counts_by_trace",
]

ContentKind = Literal["protobuf", "json"]

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_ZLIB_WBITS: Final = zlib.MAX_WBITS
_SPAN_PATH: Final = (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"))


class ClientError(Exception):
    """The request is wrong; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class DecodedRequest:
    """A decoded request and the spans left out of it (with the first reason)."""

    request: ExportTraceServiceRequest
    rejected_spans: int = 0
    rejected_reason: str = ""


def decompress(body: bytes, encoding: str, *, limit: int) -> bytes:
    """``body`` decoded per its ``Content-Encoding`` (``gzip``, ``deflate`` or none).

    Raises ``ClientError`` 413 when the result exceeds ``limit`` bytes (a gzip bomb stops at the
    limit, it is never inflated whole), 400 for a corrupt or truncated stream, 415 for another
    encoding.
    """
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = _GZIP_WBITS
    elif encoding == "deflate":
        wbits = _ZLIB_WBITS  # HTTP's "deflate" is the zlib format (RFC 9110, 8.4.1.2)
    else:
        raise ClientError(
            415, f"Content-Encoding {encoding!r} is not supported: send gzip, deflate or none"
        )
    out = bytearray()
    data = body
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            # max_length: never produce more than one byte past the limit, whatever the input.
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error as error:
            raise ClientError(400, f"the {encoding} body is corrupt: {error}") from None
        if len(out) > limit:
            raise ClientError(
                413, f"the request body inflates to more than {limit} bytes; send smaller batches"
            )
        if not inflater.eof:
            raise ClientError(400, f"the {encoding} body is truncated")
        data = inflater.unused_data
        # gzip allows several members back to back (RFC 1952, 2.2); zlib streams are single.
        if not data or wbits != _GZIP_WBITS:
            if data:
                raise ClientError(400, f"the {encoding} body has data after its end")
            return bytes(out)


def decode_request(body: bytes, kind: ContentKind) -> DecodedRequest:
    """Decode an OTLP ``ExportTraceServiceRequest``; spans that cannot be decoded are left out
    and counted. Raises ``ClientError`` 400 when the request itself is unreadable."""
    try:
        if kind == "protobuf":
            return DecodedRequest(decode_otlp_protobuf(body))
        return DecodedRequest(decode_otlp_json(body))
    except OTLPDecodeError as error:
        salvaged = _salvage_protobuf(body) if kind == "protobuf" else _salvage_json(body)
        if salvaged is None:
            raise ClientError(400, f"not a valid OTLP traces request: {error}") from None
        request, rejected = salvaged
        return DecodedRequest(request, rejected, str(error))


def span_counts_by_trace(request: ExportTraceServiceRequest) -> dict[str, int]:
    """Trace id (hex) -> number of the request's spans in that trace."""
    counts: Counter[bytes] = Counter()
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            counts.update(span.trace_id for span in scope_spans.spans)
    return {trace_id.hex(): count for trace_id, count in counts.items()}


def _salvage_protobuf(body: bytes) -> tuple[ExportTraceServiceRequest, int] | None:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError:
        return None
    rejected = kept = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            good = [span for span in scope_spans.spans if _protobuf_span_decodes(span)]
            rejected += len(scope_spans.spans) - len(good)
            kept += len(good)
            del scope_spans.spans[:]
            scope_spans.spans.extend(good)
    if not rejected or not kept:
        return None  # the error was not in a span, or nothing was worth keeping: not OTLP
    try:
        return decode_otlp_protobuf(request.SerializeToString()), rejected
    except OTLPDecodeError:
        return None


def _protobuf_span_decodes(span: Any) -> bool:
    probe = ExportTraceServiceRequest()
    probe.resource_spans.add().scope_spans.add().spans.append(span)
    try:
        decode_otlp_protobuf(probe.SerializeToString())
    except OTLPDecodeError:
        return False
    return True


def _salvage_json(body: bytes) -> tuple[ExportTraceServiceRequest, int] | None:
    try:
        value = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    rejected = kept = 0
    pruned = dict(value)
    for key in _SPAN_PATH[0]:
        resources = value.get(key)
        if not isinstance(resources, list):
            continue
        pruned_resources = []
        for resource in resources:
            if not isinstance(resource, dict):
                return None
            pruned_resource = dict(resource)
            for scope_key in _SPAN_PATH[1]:
                scopes = resource.get(scope_key)
                if not isinstance(scopes, list):
                    continue
                pruned_scopes = []
                for scope in scopes:
                    if not isinstance(scope, dict):
                        return None
                    spans = scope.get("spans")
                    if spans is None:  # absent, or proto3 JSON's null for "empty"
                        spans = []
                    if not isinstance(spans, list):
                        return None
                    good = [span for span in spans if _json_span_decodes(span)]
                    rejected += len(spans) - len(good)
                    kept += len(good)
                    pruned_scopes.append({**scope, "spans": good})
                pruned_resource[scope_key] = pruned_scopes
            pruned_resources.append(pruned_resource)
        pruned[key] = pruned_resources
    if not rejected or not kept:
        return None
    try:
        return decode_otlp_json_value(pruned), rejected
    except (OTLPDecodeError, RecursionError):
        return None


def _json_span_decodes(span: Any) -> bool:
    try:
        decode_otlp_json_value({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    except (OTLPDecodeError, RecursionError):
        return False
    return True
