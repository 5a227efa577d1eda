"""One way to build a trace: span views -> redact -> assemble -> normalize.

Every entry point builds the ``AgentTrace`` it evaluates here, so a trace looks the same whichever
way it came in: the in-process processor and ``serve`` (a trace at a time, as spans stream in),
and ``inspect``/``evaluate`` (OTLP files) and ``judge``/exports/replay (Phoenix), which have every
span of a trace at hand.
"""

from __future__ import annotations

from collections.abc import Iterable

from otel_flywheel.conventions import SpanView, normalize_trace
from otel_flywheel.model import AgentTrace
from otel_flywheel.privacy import RedactedResourceCache, Redactor, redact_span_view

__all__ = ["build_traces"]


def build_traces(views: Iterable[SpanView], *, redactor: Redactor | None) -> list[AgentTrace]:
    """The traces of ``views``, in order of first appearance: each span redacted as capture
    redacts it (``redactor``; ``None`` only to look at raw values), then normalized."""
    by_trace: dict[str, list[SpanView]] = {}
    for view in views:
        by_trace.setdefault(view.trace_id, []).append(view)
    resources = RedactedResourceCache(redactor) if redactor is not None else None
    traces = []
    for spans in by_trace.values():
        redacted = (
            [redact_span_view(view, redactor, resources=resources) for view in spans]
            if redactor is not None
            else spans
        )
        traces.append(normalize_trace(redacted))
    return traces
