"""Reading agent traces from an OTLP file, as the flywheel sees them: assembled and redacted."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from otel_flywheel.capture import build_traces
from otel_flywheel.conventions import span_views_from_request
from otel_flywheel.errors import OTLPDecodeError
from otel_flywheel.model import AgentTrace
from otel_flywheel.otlp import read_otlp_file
from otel_flywheel.privacy import Redactor, build_redactor

__all__ = ["TraceFile", "read_trace_file"]


@dataclass
class TraceFile:
    traces: list[AgentTrace] = field(default_factory=list)
    unreadable: list[OTLPDecodeError] = field(default_factory=list)


def read_trace_file(
    path: Path | BinaryIO, *, redact: bool = True, redactor: Redactor | None = None
) -> TraceFile:
    """Every trace in an OTLP file, in order of first appearance.

    Spans of one trace spread over several requests (lines) are assembled into one trace.
    Unreadable requests are collected, not raised; a file that cannot be read at all raises
    ``OSError`` or ``OTLPDecodeError``. With ``redact`` (the default), spans go through the same
    redaction as the capture path: a Collector's file may hold raw data, and nothing raw reaches
    the judge or the output. ``redactor`` is the one to use (default: ``build_redactor()``), so
    a caller can redact its references with the same one.
    """
    result = TraceFile()
    views = (
        view
        for request in read_otlp_file(path, on_error=result.unreadable.append)
        for view in span_views_from_request(request)
    )
    if not redact:
        redactor = None
    elif redactor is None:
        redactor = build_redactor()
    result.traces = build_traces(views, redactor=redactor)
    return result
