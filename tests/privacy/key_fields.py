"""What the privacy tests share: a built-in redactor, text redacted with its counts, a value
checked where it is written, and a tool span followed to both places it goes (the OTLP
exporter's copy and the flywheel's trace)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_flywheel.conventions import normalize_trace, span_view_from_readable
from otel_flywheel.model import AgentTrace
from otel_flywheel.privacy import (
    BuiltinDetector,
    RedactingSpanExporter,
    RedactionAudit,
    Redactor,
    find_all,
    redact_span_view,
)
from otel_flywheel.privacy._decoding import Decoded, written_at

__all__ = [
    "assert_reads_back",
    "assert_redacted_as_written",
    "redact",
    "redactor",
    "tool_span_both_ways",
]


def redactor(**options: object) -> Redactor:
    return Redactor(key=b"k" * 32, detectors=[BuiltinDetector()], **options)  # type: ignore[arg-type]


def redact(text: str, r: Redactor | None = None) -> tuple[str, dict[str, int]]:
    """``text`` redacted, and the kinds found with their counts."""
    audit = RedactionAudit()
    output = (r or redactor()).redact_text(text, audit)
    return str(output), dict(audit.counts)


def assert_redacted_as_written(text: str, written: str, kind: str) -> None:
    """The one value in ``text`` is found as ``written`` (its encoding or typography included),
    and nothing of it is left after redaction."""
    found = [(m.kind, text[m.start : m.end]) for m in find_all(text, [BuiltinDetector()])]
    assert found == [(kind, written)], text
    output, counts = redact(text)
    assert written not in output
    assert counts == {kind: 1}


def assert_reads_back(
    decoded: Decoded | None, text: str, written: str, written_length: Callable[[str], int]
) -> None:
    """``decoded`` (of ``written``) reads ``text``, and each of its positions maps to where it is
    written: after ``written_length`` of the text before it."""
    if decoded is None:
        assert written == text
        return
    assert decoded.text == text
    for position in range(len(text) + 1):
        assert written_at(position, decoded.at, decoded.longer) == written_length(text[:position])


def tool_span_both_ways(name: str, attributes: dict[str, Any]) -> tuple[ReadableSpan, AgentTrace]:
    """A TOOL span ended through the real SDK: the copy ``RedactingSpanExporter`` exports, and
    the trace the flywheel builds from the raw span's redacted view."""
    raw = InMemorySpanExporter()
    redacted = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(raw))
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(redacted, redactor())))
    span_attributes = {"openinference.span.kind": "TOOL", "tool.name": name, **attributes}
    with provider.get_tracer("t").start_as_current_span(name, attributes=span_attributes):
        pass
    provider.shutdown()
    (exported,) = redacted.get_finished_spans()
    view = redact_span_view(span_view_from_readable(raw.get_finished_spans()[0]), redactor())
    return exported, normalize_trace([view])
