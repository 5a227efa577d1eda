"""Sinks: where routed writes end up. Span and trace annotations and dataset examples, in Phoenix.

Routing turns verdicts and feedback into ``AnnotationWrite``s and ``ExampleWrite``s; the outbox
(``otel_flywheel.outbox``) stores them durably and delivers them to a ``WriteSink``, which answers with
one ``WriteOutcome`` per write. ``otel_flywheel.phoenix.PhoenixSink`` writes to Arize Phoenix;
``InMemorySink`` keeps what it is given, for tests and dry runs.
"""

from __future__ import annotations

from otel_flywheel.sinks._sink import InMemorySink, OutcomeKind, WriteOutcome, WriteSink
from otel_flywheel.sinks._writes import (
    RESERVED_ANNOTATION_NAMES,
    AnnotationTarget,
    AnnotationWrite,
    AnnotatorKind,
    ExampleWrite,
    Write,
    write_from_dict,
)

__all__ = [
    "RESERVED_ANNOTATION_NAMES",
    "AnnotationTarget",
    "AnnotationWrite",
    "AnnotatorKind",
    "ExampleWrite",
    "InMemorySink",
    "OutcomeKind",
    "Write",
    "WriteOutcome",
    "WriteSink",
    "write_from_dict",
]
