"""The small span view the normalizer reads, built from an SDK span or a decoded OTLP span.

Both sources carry the same facts in different shapes (ints vs bytes for ids, ``BoundedAttributes`` vs
``KeyValue`` lists). Converting each into one frozen record keeps the normalizer free of either shape,
so the in-process processor and the OTLP receiver cannot drift apart.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import StatusCode

from otel_flywheel.model import StepStatus

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = [
    "SpanEvent",
    "SpanView",
    "any_value_to_python",
    "span_view_from_otlp",
    "span_view_from_readable",
    "span_views_from_request",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})

# OTLP Status.code: 0 unset, 1 ok, 2 error.
_OTLP_STATUS: dict[int, StepStatus] = {0: "unset", 1: "ok", 2: "error"}
# OTLP Span.flags bits 8 and 9: "has is_remote" and "is_remote" (SpanFlags in trace.proto).
_REMOTE_MASK = 0x100 | 0x200
_SDK_STATUS: dict[StatusCode, StepStatus] = {
    StatusCode.UNSET: "unset",
    StatusCode.OK: "ok",
    StatusCode.ERROR: "error",
}


@dataclass(slots=True)
class SpanEvent:
    name: str
    time_unix_nano: int
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(slots=True)
class SpanView:
    """What the normalizer needs of one span. Ids are lowercase hex. Treat it as read-only.

    Not frozen, and the mappings are not copied: built once per span on the capture worker, it is
    on the path whose CPU the agent shares under the GIL, and frozen construction costs ~1 us more.
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    # True when the parent lives in another process (an incoming `traceparent`): this span is then
    # the root of what this process saw, not an orphan.
    parent_is_remote: bool = False
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    status_code: StepStatus = "unset"
    status_message: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    events: tuple[SpanEvent, ...] = ()
    resource: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    scope_name: str | None = None


def span_view_from_readable(span: ReadableSpan) -> SpanView:
    """View of an ended SDK span.

    The SDK ignores writes to an ended span, so its read-only attribute mapping is referenced, not
    copied; the normalizer makes the one copy a ``Step`` keeps.
    """
    context = span.context
    if context is None:  # pragma: no cover - the SDK always sets it on recorded spans
        raise ValueError("span has no context")
    parent = span.parent
    status = span.status
    events = span.events
    scope = span.instrumentation_scope
    return SpanView(
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_id=f"{parent.span_id:016x}" if parent is not None and parent.span_id else None,
        parent_is_remote=bool(parent is not None and parent.is_remote),
        name=span.name,
        start_time_unix_nano=span.start_time or 0,
        end_time_unix_nano=span.end_time or 0,
        status_code=_SDK_STATUS.get(status.status_code, "unset"),
        status_message=status.description or None,
        attributes=span.attributes or _EMPTY,
        events=tuple(
            SpanEvent(
                name=event.name,
                time_unix_nano=event.timestamp or 0,
                attributes=event.attributes or _EMPTY,
            )
            for event in events
        )
        if events
        else (),
        resource=_resource_attributes(span.resource),
        scope_name=scope.name if scope is not None else None,
    )


# Every span of a provider shares one Resource: convert its attributes once, not once per span.
# Keyed by identity and holding the Resource itself, so a recycled id() can never alias.
_RESOURCE_CACHE_SIZE = 16
_resource_cache: dict[int, tuple[Resource, Mapping[str, Any]]] = {}


def _resource_attributes(resource: Resource | None) -> Mapping[str, Any]:
    if resource is None:
        return _EMPTY
    cached = _resource_cache.get(id(resource))
    if cached is not None and cached[0] is resource:
        return cached[1]
    attributes = MappingProxyType(dict(resource.attributes))
    if len(_resource_cache) >= _RESOURCE_CACHE_SIZE:
        _resource_cache.clear()  # providers are few; a process with many just converts again
    _resource_cache[id(resource)] = (resource, attributes)
    return attributes


def span_view_from_otlp(
    span: ProtoSpan, *, resource: Mapping[str, Any] = _EMPTY, scope_name: str | None = None
) -> SpanView:
    """View of one decoded OTLP span; ``resource`` and ``scope_name`` come from its enclosing lists."""
    return SpanView(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex() if span.parent_span_id else None,
        parent_is_remote=span.flags & _REMOTE_MASK == _REMOTE_MASK,
        name=span.name,
        start_time_unix_nano=span.start_time_unix_nano,
        end_time_unix_nano=span.end_time_unix_nano,
        status_code=_OTLP_STATUS.get(span.status.code, "unset"),
        status_message=span.status.message or None,
        attributes=key_values_to_dict(span.attributes),
        events=tuple(
            SpanEvent(
                name=event.name,
                time_unix_nano=event.time_unix_nano,
                attributes=key_values_to_dict(event.attributes),
            )
            for event in span.events
        ),
        resource=resource,
        scope_name=scope_name or None,
    )


def span_views_from_request(request: ExportTraceServiceRequest) -> Iterator[SpanView]:
    """Every span of an ``ExportTraceServiceRequest``, with its resource and scope attached."""
    for resource_spans in request.resource_spans:
        resource = key_values_to_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name
            for span in scope_spans.spans:
                yield span_view_from_otlp(span, resource=resource, scope_name=scope_name)


def key_values_to_dict(key_values: Any) -> dict[str, Any]:
    """OTLP ``repeated KeyValue`` to a dict; a repeated key keeps its last value, as the SDK does."""
    converted: dict[str, Any] = {}
    for kv in key_values:
        value = kv.value
        # Most values are non-empty strings: read without asking which field is set (an empty
        # ``string_value`` is also what every other kind reads as, so those ask).
        converted[kv.key] = value.string_value or any_value_to_python(value)
    return converted


def any_value_to_python(value: AnyValue) -> Any:
    """OTLP ``AnyValue`` to Python: arrays become tuples (as SDK attributes are), kvlists dicts.

    Bytes become base64 text, the way OTLP/JSON writes them, so every value stays JSON-serializable.
    """
    kind = value.WhichOneof("value")
    if kind == "string_value":  # most attributes: checked first, and read without getattr
        return value.string_value
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(any_value_to_python(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return key_values_to_dict(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)
