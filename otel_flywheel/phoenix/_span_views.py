"""The span view of a span read back from Phoenix's REST API (``GET /v1/projects/{p}/spans``).

Phoenix stores spans in its own shape, and what ``phoenix.client.Client().spans.get_spans`` returns
differs from the OTLP the agent sent in ways the normalizer would trip over (measured against
Phoenix 20.26):

- ``openinference.span.kind`` is lifted out of the attributes into ``span_kind`` (``UNKNOWN`` when
  the span declared none);
- attributes whose key ends in ``metadata``, ``tool.parameters`` or
  ``llm.prompt_template.variables`` are JSON strings in OpenInference. Phoenix parses them on
  ingest, and the API returns them flattened to dotted keys (``tool.parameters.properties.x.type``),
  lists of objects by index, an empty ``{}`` and ``null`` members gone. We rebuild the JSON string
  OpenInference specifies, which is what the normalizer and a judge expect;
- times are ISO 8601 strings rounded to the microsecond, not unix nanoseconds;
- resource attributes and the instrumentation scope are not returned: the caller knows the project
  it asked for and passes it as ``resource``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Final

from otel_flywheel import semconv as sc
from otel_flywheel.conventions import SpanEvent, SpanView
from otel_flywheel.model import StepStatus

__all__ = ["iso_to_unix_nano", "rebuild_json_string_attributes", "span_view_from_phoenix"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_STATUS: Final[dict[str, StepStatus]] = {"OK": "ok", "ERROR": "error", "UNSET": "unset"}
# What Phoenix reports for a span that declared no OpenInference kind: not a kind the agent chose,
# so it is not put back (the normalizer then falls back to the GenAI convention, then `other`).
_UNDECLARED_KIND: Final = "UNKNOWN"
# Phoenix parses an attribute as JSON when its key *ends with* one of these (a plain string suffix,
# so `user_metadata` too); `phoenix.trace.attributes.JSON_STRING_ATTRIBUTES` in the server.
_JSON_STRING_SUFFIXES: Final = (
    sc.DocumentAttributes.DOCUMENT_METADATA,
    sc.SpanAttributes.LLM_PROMPT_TEMPLATE_VARIABLES,
    sc.SpanAttributes.METADATA,
    sc.SpanAttributes.TOOL_PARAMETERS,
)
_ISO_TIME = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_SECOND: Final = timedelta(seconds=1)


def span_view_from_phoenix(
    span: Mapping[str, Any], *, resource: Mapping[str, Any] = _EMPTY
) -> SpanView:
    """View of one span as Phoenix's REST API returns it (``phoenix.client`` ``v1.Span``).

    ``resource`` stands in for the resource attributes Phoenix does not return; pass the project
    (``{"openinference.project.name": project}``), shared by all spans of a request, so the trace
    knows where it came from. Raises ``ValueError`` naming the field when the span has no trace or
    span id.
    """
    context = span.get("context") or {}
    trace_id = _hex_id(context.get("trace_id"), field="context.trace_id")
    span_id = _hex_id(context.get("span_id"), field="context.span_id")
    parent_id = span.get("parent_id")
    attributes = rebuild_json_string_attributes(span.get("attributes") or {})
    kind = span.get("span_kind")
    if isinstance(kind, str) and kind and kind.upper() != _UNDECLARED_KIND:
        attributes[sc.SpanAttributes.OPENINFERENCE_SPAN_KIND] = kind
    status = span.get("status_code")
    return SpanView(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=str(parent_id).lower() if parent_id else None,
        name=str(span.get("name") or ""),
        # Not in the REST shape. A service continuing a remote trace shows up as a trace whose
        # root is missing, which the normalizer handles (with a warning).
        parent_is_remote=False,
        start_time_unix_nano=iso_to_unix_nano(span.get("start_time")),
        end_time_unix_nano=iso_to_unix_nano(span.get("end_time")),
        status_code=_STATUS.get(str(status).upper(), "unset") if status else "unset",
        status_message=span.get("status_message") or None,
        attributes=attributes,
        events=tuple(_event(event) for event in span.get("events") or () if event),
        resource=resource,
        scope_name=None,
    )


def rebuild_json_string_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Phoenix's flattened attributes with its parsed JSON-string attributes turned back into JSON.

    ``tool.parameters.properties.x.type = "string"`` becomes ``tool.parameters =
    '{"properties": {"x": {"type": "string"}}}'``; a value Phoenix parsed into a number or a list
    (``metadata = "42"``) is dumped back; one it could not parse is still the original string.
    Other attributes pass through unchanged.
    """
    rebuilt: dict[str, Any] = {}
    parsed: dict[str, dict[str, Any]] = {}  # JSON attribute key -> {path below it: value}
    for key, value in attributes.items():
        base, rest = _json_string_key(key)
        if base is None:
            rebuilt[key] = value
        elif rest is None:
            # A string here is either what Phoenix could not parse (kept verbatim) or a JSON
            # string literal it parsed; the first is far likelier, so strings stay as they are.
            rebuilt[key] = value if isinstance(value, str) else _dumps(value)
        else:
            parsed.setdefault(base, {})[rest] = value
    for base, flattened in parsed.items():
        rebuilt[base] = _dumps(_unflatten(flattened))
    return rebuilt


def iso_to_unix_nano(value: Any) -> int:
    """An ISO 8601 time (as Phoenix returns it; naive means UTC) in unix nanoseconds, exactly;
    ``0`` for a missing or unreadable value, as OTLP writes an unset time."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        delta = moment - _EPOCH
        return (delta // _ONE_SECOND) * 1_000_000_000 + delta.microseconds * 1_000
    if not isinstance(value, str):
        return 0
    match = _ISO_TIME.fullmatch(value.strip())
    if match is None:
        return 0
    zone = match.group("zone") or "+00:00"
    try:
        # Whole seconds through datetime; the fraction by hand, so nanoseconds survive.
        moment = datetime.fromisoformat(match.group("base") + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return 0
    seconds = (moment - _EPOCH) // _ONE_SECOND
    fraction = (match.group("fraction") or "").ljust(9, "0")
    return seconds * 1_000_000_000 + int(fraction)


def _event(event: Mapping[str, Any]) -> SpanEvent:
    attributes = event.get("attributes")
    return SpanEvent(
        name=str(event.get("name") or ""),
        time_unix_nano=iso_to_unix_nano(event.get("timestamp")),
        attributes=attributes if isinstance(attributes, Mapping) else _EMPTY,
    )


def _hex_id(value: Any, *, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"Phoenix span has no {field}; pass spans as get_spans() returns them")
    return value.lower()


def _json_string_key(key: str) -> tuple[str | None, str | None]:
    """``(attribute key Phoenix parsed, path below it)``: ``(key, None)`` when the key itself is
    one, ``(None, None)`` when it is not under one. The shortest match wins: the agent sent the
    flat OTLP key, and Phoenix nested the parsed value below it."""
    if not any(suffix in key for suffix in _JSON_STRING_SUFFIXES):  # most keys: one cheap test
        return None, None
    start = 0
    while True:
        dot = key.find(".", start)
        prefix = key if dot < 0 else key[:dot]
        if prefix.endswith(_JSON_STRING_SUFFIXES):
            return prefix, None if dot < 0 else key[dot + 1 :]
        if dot < 0:
            return None, None
        start = dot + 1


def _unflatten(flattened: Mapping[str, Any]) -> Any:
    """Dotted paths back into objects; an object whose keys are all indices was a list of objects
    (Phoenix flattens only lists that hold objects; lists of plain values come back whole)."""
    root: dict[str, Any] = {}
    for path, value in flattened.items():
        node = root
        *parents, leaf = path.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return _lists_from_indices(root)


def _lists_from_indices(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists_from_indices(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _dumps(value: Any) -> str:
    # json.dumps' defaults are what Python instrumentors (OpenInference's among them) write, so a
    # schema usually comes back as the very string the agent sent.
    return json.dumps(value)
