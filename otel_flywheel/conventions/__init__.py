"""Normalization of OpenInference and OTel GenAI spans into the flywheel's model.

Both the in-process span processor and the OTLP receiver build ``SpanView`` records and call
``normalize_trace``; nothing else reads raw span attributes.
"""

from __future__ import annotations

from otel_flywheel.conventions._messages import messages_from_json, tool_definitions_from_json
from otel_flywheel.conventions._normalize import normalize_span, normalize_trace
from otel_flywheel.conventions._span_view import (
    SpanEvent,
    SpanView,
    any_value_to_python,
    span_view_from_otlp,
    span_view_from_readable,
    span_views_from_request,
)

__all__ = [
    "SpanEvent",
    "SpanView",
    "any_value_to_python",
    "messages_from_json",
    "normalize_span",
    "normalize_trace",
    "span_view_from_otlp",
    "span_view_from_readable",
    "span_views_from_request",
    "tool_definitions_from_json",
]
