"""Sinks: where routed writes end up. Span and trace annotations and dataset examples, in Phoenix.

Routing turns verdicts and feedback into ``AnnotationWrite``s and ``ExampleWrite``s; the outbox
(``otel_flywheel.outbox``) stores them durably and delivers them to a ``Sink``, which answers with
one ``WriteOutcome`` per write. ``PhoenixSink`` writes to Arize Phoenix; ``InMemorySink`` keeps
what it is given, for tests and dry runs.

``PhoenixSink`` is loaded on first use, so that importing this package does not import the
Phoenix client.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from otel_flywheel.sinks._sink import InMemorySink, OutcomeKind, Sink, WriteOutcome
from otel_flywheel.sinks._writes import (
    RESERVED_ANNOTATION_NAMES,
    AnnotationTarget,
    AnnotationWrite,
    AnnotatorKind,
    ExampleWrite,
    Write,
    write_from_dict,
)

if TYPE_CHECKING:
    from otel_flywheel.sinks._phoenix import PhoenixSink

__all__ = [
    "RESERVED_ANNOTATION_NAMES",
    "AnnotationTarget",
    "AnnotationWrite",
    "AnnotatorKind",
    "ExampleWrite",
    "InMemorySink",
    "OutcomeKind",
    "PhoenixSink",
    "Sink",
    "Write",
    "WriteOutcome",
    "write_from_dict",
]

_LAZY = {"PhoenixSink": "otel_flywheel.sinks._phoenix"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_flywheel.sinks' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
