"""Small pure helpers of ``PhoenixSink``: request payloads, outcome filling, batching, bodies."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from otel_flywheel.sinks import AnnotationWrite, ExampleWrite, Write, WriteOutcome

if TYPE_CHECKING:
    from phoenix.client.__generated__ import v1

__all__ = [
    "annotation_data",
    "chunks",
    "example_of",
    "fill",
    "itself",
    "json_object",
]


def itself(write: AnnotationWrite) -> Write:
    return write


def example_of(item: tuple[ExampleWrite, str | None]) -> Write:
    return item[0]


def annotation_data(write: AnnotationWrite) -> dict[str, Any]:
    """One annotation as Phoenix's REST API takes it (``SpanAnnotationData`` for spans,
    ``TraceAnnotationData`` for traces: the same fields, with ``span_id`` or ``trace_id``)."""
    return {
        f"{write.target}_id": write.target_id,
        "name": write.name,
        "annotator_kind": write.annotator_kind,
        "result": _result(write),
        "metadata": write.metadata,
        "identifier": write.identifier,
    }


def _result(write: AnnotationWrite) -> v1.AnnotationResult:
    result: v1.AnnotationResult = {}
    if write.label is not None:
        result["label"] = write.label
    if write.score is not None:
        result["score"] = write.score
    if write.explanation is not None:
        result["explanation"] = write.explanation
    return result


def fill(outcomes: dict[str, WriteOutcome], writes: Sequence[Write], outcome: WriteOutcome) -> None:
    for write in writes:
        outcomes.setdefault(write.key, outcome)


def chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
