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
from otel_flywheel.server._messages import decode_problem

__all__ = [
    "MAX_GZIP_MEMBERS",
    "ClientError",
    "ContentKind",
    "DecodedRequest",
    "decode_request",
    "decompress",
    "span_counts_by_trace",
]

ContentKind = Literal["protobuf", "json"]

MAX_GZIP_MEMBERS: Final = 64
"""gzip members accepted in one body. The OTLP exporters and the Collector send one."""

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_ZLIB_WBITS: Final = zlib.MAX_WBITS
_FIRST_CHUNK_BYTES: Final = 256  # an empty gzip member is 20 bytes
_MAX_CHUNK_BYTES: Final = 1024 * 1024
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


def decompress(
    body: bytes, encoding: str, *, limit: int, max_members: int = MAX_GZIP_MEMBERS
) -> bytes:
    """``body`` decoded per its ``Content-Encoding`` (``gzip``, ``deflate`` or none).

    Raises ``ClientError`` 413 when the result exceeds ``limit`` bytes (a gzip bomb stops at the
    limit, it is never inflated whole), 400 for a corrupt or truncated stream or a gzip body of
    more than ``max_members`` members, 415 for another encoding.

    Linear in the size of the body, whatever its shape. gzip allows members back to back
    (RFC 1952, 2.2); each needs a fresh decompressor, and ``unused_data`` is a *copy* of the input
    left after a member's end. Handing zlib the whole rest of the body for every member copied it
    once per member: quadratic, and a body of many empty members cost seconds of CPU per MB.
    Here each member is fed through a ``memoryview`` in chunks that start small and grow 4x, so
    what is copied past a member's end is at most one chunk: less than three times the member
    itself, plus ``_FIRST_CHUNK_BYTES``. (Growing 4x rather than 2x keeps a large member to a
    handful of calls: the common one-member body decodes as fast as before.)
    """
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = _GZIP_WBITS
    elif encoding == "deflate":
        wbits = _ZLIB_WBITS  # HTTP's "deflate" is the zlib format (RFC 9110, 8.4.1.2)
    else:
        raise ClientError(415, "this Content-Encoding is not supported: send gzip, deflate or none")
    name = "gzip" if wbits == _GZIP_WBITS else "deflate"
    data = memoryview(body)
    out = bytearray()
    offset = members = 0
    while True:
        members += 1
        if members > max_members:
            raise ClientError(
                400,
                f"the gzip body has more than {max_members} members: send one gzip stream, as "
                "the OTLP exporters do",
            )
        inflater = zlib.decompressobj(wbits)
        chunk_bytes = _FIRST_CHUNK_BYTES
        while not inflater.eof:
            if offset >= len(data):
                raise ClientError(400, f"the {name} body is truncated")
            chunk = data[offset : offset + chunk_bytes]  # a view: nothing is copied here
            offset += len(chunk)
            try:
                # max_length: never produce more than one byte past the limit, whatever the input.
                out += inflater.decompress(chunk, limit + 1 - len(out))
            except zlib.error:
                raise ClientError(400, f"the {name} body is corrupt") from None
            if len(out) > limit:
                raise ClientError(
                    413,
                    f"the request body inflates to more than {limit} bytes; send smaller batches",
                )
            chunk_bytes = min(4 * chunk_bytes, _MAX_CHUNK_BYTES)
        offset -= len(inflater.unused_data)  # the next member starts there
        if offset >= len(data):
            return bytes(out)
        if wbits != _GZIP_WBITS:  # zlib streams are single
            raise ClientError(400, f"the {name} body has data after its end")


def decode_request(body: bytes, kind: ContentKind) -> DecodedRequest:
    """Decode an OTLP ``ExportTraceServiceRequest``; spans that cannot be decoded are left out
    and counted. Raises ``ClientError`` 400 when the request itself is unreadable."""
    try:
        if kind == "protobuf":
            return DecodedRequest(decode_otlp_protobuf(body))
        return DecodedRequest(decode_otlp_json(body))
    except OTLPDecodeError as error:
        salvaged = _salvage_protobuf(body) if kind == "protobuf" else _salvage_json(body)
        # The decoders quote what they could not read; the sender gets the field and the
        # problem only (a Collector logs these bodies).
        problem = decode_problem(str(error))
        if salvaged is None:
            raise ClientError(400, f"not a valid OTLP traces request: {problem}") from None
        request, rejected = salvaged
        return DecodedRequest(request, rejected, problem)


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
