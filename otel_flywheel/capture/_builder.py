"""One way to build a trace: span views -> redact -> assemble -> normalize.

Every entry point builds the ``AgentTrace`` it evaluates here, so a trace looks the same whichever
way it came in: `TraceBuilder` for spans that stream in a trace at a time (the in-process capture
worker, ``serve``'s ingest worker), `build_traces` for spans that are all at hand (``inspect`` and
``evaluate`` on OTLP files; ``judge``, exports and replay on Phoenix).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.sdk.trace import ReadableSpan

from otel_flywheel.capture._assembler import ClosedTrace, TraceAssembler
from otel_flywheel.config import CaptureSettings
from otel_flywheel.conventions import SpanView, normalize_trace
from otel_flywheel.model import AgentTrace
from otel_flywheel.privacy import (
    RedactedResourceCache,
    Redactor,
    redact_readable_span,
    redact_span_view,
)

__all__ = ["TraceBuilder", "build_traces"]


class TraceBuilder:
    """Builds traces from spans that arrive over time, for one worker thread.

    Each span is redacted once (``redactor``; ``None`` when redaction is off), with one cache of
    redacted resources; `add` files it with its trace's other spans under the assembler's rules
    (``settings``: grace after the root, idle timeout, bounded open traces and spans); `pop`
    returns the traces that closed, and `normalize` turns one into an ``AgentTrace``.
    """

    def __init__(self, settings: CaptureSettings, *, redactor: Redactor | None) -> None:
        self.redactor = redactor
        self._resources = RedactedResourceCache(redactor) if redactor is not None else None
        self.assembler = TraceAssembler.from_settings(settings)

    def redact(self, view: SpanView) -> SpanView:
        return _redacted(view, self.redactor, self._resources)

    def redact_readable(self, span: ReadableSpan) -> ReadableSpan:
        """The SDK span redacted, for an exporter (the capture worker feeds both paths from it)."""
        if self.redactor is None:
            return span
        return redact_readable_span(span, self.redactor, resources=self._resources)

    def add(self, view: SpanView, *, now_ns: int, is_root: bool, redacted: bool = False) -> None:
        """Redact ``view`` (unless it is ``redacted`` already) and file it with its trace."""
        self.assembler.add(view if redacted else self.redact(view), now_ns=now_ns, is_root=is_root)

    def pop(self, *, now_ns: int, every: bool = False) -> list[ClosedTrace]:
        """The traces that closed by ``now_ns``; with ``every``, every open trace (a flush)."""
        return self.assembler.pop_all() if every else self.assembler.pop_due(now_ns=now_ns)

    @staticmethod
    def normalize(closed: ClosedTrace) -> AgentTrace:
        return normalize_trace(closed.spans, complete=closed.complete, truncated=closed.truncated)


def build_traces(views: Iterable[SpanView], *, redactor: Redactor | None) -> list[AgentTrace]:
    """The traces of ``views``, in order of first appearance: each span redacted as capture
    redacts it (``redactor``; ``None`` only to look at raw values), then normalized."""
    resources = RedactedResourceCache(redactor) if redactor is not None else None
    by_trace: dict[str, list[SpanView]] = {}
    for view in views:
        by_trace.setdefault(view.trace_id, []).append(_redacted(view, redactor, resources))
    return [normalize_trace(spans) for spans in by_trace.values()]


def _redacted(
    view: SpanView, redactor: Redactor | None, resources: RedactedResourceCache | None
) -> SpanView:
    return view if redactor is None else redact_span_view(view, redactor, resources=resources)
