"""Capture: the span processor, trace assembly and the pipeline interface traces are handed to.

``FlywheelSpanProcessor`` goes on a ``TracerProvider``; it assembles ended spans into traces on a
background worker and submits each, normalized into an ``AgentTrace``, to a ``TracePipeline``.
"""

from __future__ import annotations

from otel_flywheel.capture._assembler import ClosedTrace, CloseReason, TraceAssembler
from otel_flywheel.capture._builder import TraceBuilder, build_traces
from otel_flywheel.capture._pipeline import InMemoryPipeline, LoggingPipeline, TracePipeline
from otel_flywheel.capture._processor import DropReason, FlywheelSpanProcessor

__all__ = [
    "CloseReason",
    "ClosedTrace",
    "DropReason",
    "FlywheelSpanProcessor",
    "InMemoryPipeline",
    "LoggingPipeline",
    "TraceAssembler",
    "TraceBuilder",
    "TracePipeline",
    "build_traces",
]
