"""OTLP trace requests from and to bytes: OTLP/JSON as the spec defines it, and binary protobuf.

OTLP/JSON is proto3 JSON with one deviation that generic proto3 JSON parsers get wrong: trace and
span ids are hex strings, not base64 (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
We let ``google.protobuf.json_format`` do everything else (camelCase *and* snake_case keys, enums as
ints or names, 64-bit ints as strings or numbers, unknown fields ignored) and rewrite exactly the id
fields around it, validating them on the way so an error can say which span is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_flywheel.errors import OTLPDecodeError

__all__ = [
    "decode_otlp_json",
    "decode_otlp_json_value",
    "decode_otlp_protobuf",
    "encode_otlp_json",
]

_TRACE_ID_BYTES = 16
_SPAN_ID_BYTES = 8
_HEX = re.compile(r"[0-9a-fA-F]*")

# Top-level keys of the other OTLP signals. ``ignore_unknown_fields`` would turn a logs or metrics
# export into an empty trace request without a word; naming the mix-up is kinder.
_OTHER_SIGNALS = {
    "resourceLogs": "logs",
    "resource_logs": "logs",
    "resourceMetrics": "metrics",
    "resource_metrics": "metrics",
    "resourceProfiles": "profiles",
    "resource_profiles": "profiles",
}

# protobuf nests its JSON errors as "Failed to parse a field: Failed to parse b field: <reason>", some
# reasons ending " at ExportTraceServiceRequest.a[0].b."; we rewrite them as "<path>: <reason>".
_FAILED_FIELD = re.compile(r"Failed to parse (\w+) field: ")
_AT_PATH = re.compile(r" at ExportTraceServiceRequest\.(\S+?)\.*$")


def decode_otlp_json(data: bytes | str) -> ExportTraceServiceRequest:
    """Decode one OTLP/JSON ``ExportTraceServiceRequest`` (hex ids, as the OTLP spec writes them).

    Raises ``OTLPDecodeError`` for anything that is not one: invalid UTF-8 or JSON, a top-level value
    that is not an object, a malformed id or a field of the wrong type. Nothing else escapes.
    """
    if isinstance(data, bytes):
        try:
            # utf-8-sig: a byte order mark is legal at the start of a JSON text some tools write.
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise OTLPDecodeError(
                f"not valid UTF-8: {error.reason} at byte {error.start}"
            ) from None
    else:
        text = data.removeprefix("\ufeff")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise OTLPDecodeError(f"not valid JSON: {error}") from None
    except RecursionError:
        raise OTLPDecodeError("not valid OTLP/JSON: nested too deeply") from None
    return decode_otlp_json_value(value)


def decode_otlp_json_value(value: Any) -> ExportTraceServiceRequest:
    """Like ``decode_otlp_json`` for a value ``json.loads`` already produced. Does not modify it."""
    if not isinstance(value, dict):
        raise OTLPDecodeError(
            "expected a JSON object (an ExportTraceServiceRequest) at the top level, "
            f"got {_json_type(value)}"
        )
    if "resourceSpans" not in value and "resource_spans" not in value:
        for key, signal in _OTHER_SIGNALS.items():
            if key in value:
                raise OTLPDecodeError(f"this is an OTLP {signal} export ({key!r}), not traces")
    # Shallow copies along the id paths only: the caller's dict stays untouched and the (large)
    # attribute trees are shared, not copied.
    value = _copy_id_paths(value)
    for slot in _id_slots(value):
        slot.holder[slot.key] = _hex_id_to_base64(slot)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(value, request, ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise OTLPDecodeError(_tidy_parse_error(str(error))) from None
    except RecursionError:
        raise OTLPDecodeError("not valid OTLP/JSON: nested too deeply") from None
    return request


def encode_otlp_json(request: ExportTraceServiceRequest) -> str:
    """One compact line of OTLP/JSON with the content the Collector's file exporter writes.

    Hex ids, lowerCamelCase keys, enums as integers, 64-bit integers as strings, default values
    omitted; keys come in protobuf field-number order, which may differ from the Collector's.
    Join several with ``"\\n"`` for a JSON-lines file.
    """
    value = json_format.MessageToDict(request, use_integers_for_enums=True)
    for slot in _id_slots(value):
        if slot.key in slot.holder:
            slot.holder[slot.key] = base64.b64decode(slot.holder[slot.key]).hex()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def decode_otlp_protobuf(data: bytes) -> ExportTraceServiceRequest:
    """Decode one binary-protobuf ``ExportTraceServiceRequest``; ``OTLPDecodeError`` if it is not one.

    The protobuf parser skips unknown fields, so some garbage parses; checking every id's length
    afterwards catches most of it (and other signals' exports, whose field 1 looks like ours).
    """
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(data)
    except DecodeError as error:
        raise OTLPDecodeError(f"not a valid ExportTraceServiceRequest protobuf: {error}") from None
    for where, id_bytes, size, may_be_empty in _proto_ids(request):
        if len(id_bytes) != size and not (may_be_empty and id_bytes == b""):
            raise OTLPDecodeError(
                f"{where}: {len(id_bytes)} bytes, expected {size} "
                "(is this really an OTLP trace export?)"
            )
    return request


# -- id fields ------------------------------------------------------------------------------------

# (camelCase, snake_case, size in bytes, may be empty) of each id field. OTLP requires trace and
# span ids; only a root span's parentSpanId is empty.
_SPAN_IDS = (
    ("traceId", "trace_id", _TRACE_ID_BYTES, False),
    ("spanId", "span_id", _SPAN_ID_BYTES, False),
    ("parentSpanId", "parent_span_id", _SPAN_ID_BYTES, True),
)
_LINK_IDS = _SPAN_IDS[:2]
# The list fields leading from the request to a span, then from a span to its links.
_SPAN_PATH = (
    ("resourceSpans", "resource_spans"),
    ("scopeSpans", "scope_spans"),
    ("spans", "spans"),
)
_LINKS = ("links", "links")


class _IdSlot(NamedTuple):
    holder: dict[str, Any]
    key: str  # as the input spells it
    where: str
    size: int
    may_be_empty: bool


def _id_slots(request: dict[str, Any]) -> Iterator[_IdSlot]:
    """Every id field of a request dict, validating the structure that leads to it.

    A missing id is yielded under its camelCase key. A key present in both spellings is yielded
    twice, so both get converted; protobuf then keeps the last, as it would for any field.
    """
    for span, where in _walk(request, "", _SPAN_PATH):
        yield from _slots_of(span, where, _SPAN_IDS)
        for link, link_where in _walk(span, where, (_LINKS,)):
            yield from _slots_of(link, link_where, _LINK_IDS)


def _slots_of(
    holder: dict[str, Any], where: str, fields: tuple[tuple[str, str, int, bool], ...]
) -> Iterator[_IdSlot]:
    for camel, snake, size, may_be_empty in fields:
        keys = [key for key in (camel, snake) if key in holder] or [camel]
        for key in keys:
            yield _IdSlot(holder, key, f"{where}.{key}", size, may_be_empty)


def _walk(
    node: dict[str, Any], where: str, path: tuple[tuple[str, str], ...]
) -> Iterator[tuple[dict[str, Any], str]]:
    """The objects reached by following ``path``'s list fields from ``node``, with locations."""
    if not path:
        yield node, where
        return
    (camel, snake), rest = path[0], path[1:]
    for key in (camel, snake) if camel != snake else (camel,):
        items = node.get(key)
        if items is None:  # absent, or proto3 JSON's null for "empty"
            continue
        list_where = f"{where}.{key}" if where else key
        if not isinstance(items, list):
            raise OTLPDecodeError(f"{list_where}: expected an array, got {_json_type(items)}")
        for index, item in enumerate(items):
            item_where = f"{list_where}[{index}]"
            if not isinstance(item, dict):
                raise OTLPDecodeError(f"{item_where}: expected an object, got {_json_type(item)}")
            yield from _walk(item, item_where, rest)


def _copy_id_paths(
    node: dict[str, Any], path: tuple[tuple[str, str], ...] = (*_SPAN_PATH, _LINKS)
) -> dict[str, Any]:
    """Copy of ``node`` with fresh dicts and lists along ``path``; everything else shared."""
    copied = dict(node)
    if path:
        (camel, snake), rest = path[0], path[1:]
        for key in {camel, snake}:
            items = copied.get(key)
            if isinstance(items, list):
                copied[key] = [
                    _copy_id_paths(item, rest) if isinstance(item, dict) else item for item in items
                ]
    return copied


def _hex_id_to_base64(slot: _IdSlot) -> str:
    value, where, size = slot.holder.get(slot.key), slot.where, slot.size
    if value is None or value == "":
        if slot.may_be_empty:
            return ""
        raise OTLPDecodeError(f"{where}: missing; OTLP requires a {size}-byte id here")
    if not isinstance(value, str):
        raise OTLPDecodeError(f"{where}: expected a hex string, got {_json_type(value)}")
    if len(value) != 2 * size or not _HEX.fullmatch(value):
        hint = " (OTLP/JSON ids are hex, not base64)" if _is_base64_of(value, size) else ""
        shown = value if len(value) <= 64 else value[:61] + "..."
        raise OTLPDecodeError(f"{where}: {shown!r} is not {2 * size} hex characters{hint}")
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def _is_base64_of(value: str, size: int) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == size
    except (binascii.Error, ValueError):
        return False


def _proto_ids(request: ExportTraceServiceRequest) -> Iterator[tuple[str, bytes, int, bool]]:
    for r, resource_spans in enumerate(request.resource_spans):
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            for i, span in enumerate(scope_spans.spans):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                yield f"{where}.traceId", span.trace_id, _TRACE_ID_BYTES, False
                yield f"{where}.spanId", span.span_id, _SPAN_ID_BYTES, False
                yield f"{where}.parentSpanId", span.parent_span_id, _SPAN_ID_BYTES, True
                for j, link in enumerate(span.links):
                    yield f"{where}.links[{j}].traceId", link.trace_id, _TRACE_ID_BYTES, False
                    yield f"{where}.links[{j}].spanId", link.span_id, _SPAN_ID_BYTES, False


def _tidy_parse_error(message: str) -> str:
    fields, position = [], 0
    while match := _FAILED_FIELD.match(message, position):
        fields.append(match[1])
        position = match.end()
    reason = message[position:]
    if located := _AT_PATH.search(reason):
        where, reason = located[1], reason[: located.start()]
    elif fields:  # no indices then, but still the field that failed
        where = ".".join(fields)
    else:  # another protobuf version's wording: keep it whole rather than guess
        return f"not a valid ExportTraceServiceRequest: {message}"
    return f"{where}: {reason.rstrip('.')}"


_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),  # before int: bool is an int subclass
    (str, "a string"),
    (int, "a number"),
    (float, "a number"),
    (list, "an array"),
    (dict, "an object"),
)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return next(
        (name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__
    )
