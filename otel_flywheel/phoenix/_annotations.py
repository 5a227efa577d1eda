"""Annotations read back from Phoenix: what reviewers added in the UI, and what routing wrote.

Phoenix lists annotations by span or trace id only, so readers first list the traces they want
(``trace_pages``, with their spans' ids) and ask for the annotations on those.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from otel_flywheel import semconv as sc
from otel_flywheel.phoenix._connection import REQUEST_TIMEOUT_SECONDS, http_of

if TYPE_CHECKING:
    from phoenix.client import Client

__all__ = ["Annotation", "annotate_span", "annotations_on", "trace_annotations"]

AnnotationTarget = Literal["span", "trace"]
# Trace ids per request: they go into the query string, and URLs have length limits.
_IDS_PER_REQUEST: Final = 50
_ANNOTATIONS_PER_PAGE: Final = 1000


@dataclass(frozen=True, kw_only=True)
class Annotation:
    """A span or trace annotation as Phoenix returns it, with the trace it belongs to."""

    annotation_id: str
    target: AnnotationTarget
    trace_id: str
    span_id: str | None
    name: str
    annotator_kind: str
    label: str | None = None
    score: float | None = None
    explanation: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    identifier: str = ""
    user_id: str | None = None
    updated_at: str | None = None

    @staticmethod
    def from_phoenix(data: Mapping[str, Any], *, trace_id: str) -> Annotation:
        """From a ``SpanAnnotation`` / ``TraceAnnotation`` of Phoenix's REST API."""
        result = data.get("result") or {}
        score = result.get("score")
        span_id = data.get("span_id")
        return Annotation(
            annotation_id=str(data["id"]),
            target="span" if span_id else "trace",
            trace_id=trace_id,
            span_id=span_id or None,
            name=str(data.get("name") or ""),
            annotator_kind=str(data.get("annotator_kind") or ""),
            label=result.get("label"),
            score=float(score) if isinstance(score, (int, float)) else None,
            explanation=result.get("explanation"),
            metadata=data.get("metadata") or {},
            identifier=str(data.get("identifier") or ""),
            user_id=data.get("user_id"),
            updated_at=data.get("updated_at"),
        )

    @property
    def feedback_id_written(self) -> str | None:
        """The feedback id routing wrote into this annotation, if routing wrote it."""
        value = self.metadata.get(sc.FEEDBACK_ID_KEY)
        return value if isinstance(value, str) and value else None

    @property
    def by_a_person(self) -> bool:
        """HUMAN, and not one of the feedback annotations otel-flywheel writes itself."""
        return self.annotator_kind == "HUMAN" and self.feedback_id_written is None


def annotations_on(
    client: Client, *, project: str, traces: Sequence[Mapping[str, Any]]
) -> list[Annotation]:
    """Every span and trace annotation on ``traces`` (as ``trace_pages`` lists them, with their
    spans). httpx errors propagate as the client raises them."""
    owner = {span["span_id"]: t["trace_id"] for t in traces for span in t.get("spans") or ()}
    found: list[Annotation] = []
    if owner:
        for data in client.spans.get_span_annotations(
            span_ids=list(owner),
            project_identifier=project,
            limit=_ANNOTATIONS_PER_PAGE,
            timeout=int(REQUEST_TIMEOUT_SECONDS),
        ):
            trace_id = owner.get(data["span_id"])
            if trace_id is not None:
                found.append(Annotation.from_phoenix(data, trace_id=trace_id))
    trace_ids = [str(t["trace_id"]) for t in traces]
    for trace_annotation in trace_annotations(client, project=project, trace_ids=trace_ids):
        found.append(
            Annotation.from_phoenix(trace_annotation, trace_id=str(trace_annotation["trace_id"]))
        )
    return found


def trace_annotations(
    client: Client, *, project: str, trace_ids: Sequence[str]
) -> Iterator[Mapping[str, Any]]:
    """The trace annotations on ``trace_ids``, as Phoenix's REST API returns them.

    phoenix-client 3.5 has no getter for trace annotations; this is the REST route it would use,
    a few dozen ids and a page of annotations at a time.
    """
    for start in range(0, len(trace_ids), _IDS_PER_REQUEST):
        chunk = list(trace_ids[start : start + _IDS_PER_REQUEST])
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"trace_ids": chunk, "limit": _ANNOTATIONS_PER_PAGE}
            if cursor:
                params["cursor"] = cursor
            response = http_of(client).get(
                f"v1/projects/{project}/trace_annotations",
                params=params,
                headers={"accept": "application/json"},
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            body = response.json()
            yield from body.get("data") or ()
            cursor = body.get("next_cursor")
            if not cursor:
                break


def annotate_span(
    client: Client,
    *,
    span_id: str,
    name: str,
    annotator_kind: Literal["LLM", "CODE", "HUMAN"],
    label: str | None = None,
    score: float | None = None,
    explanation: str | None = None,
    identifier: str = "",
) -> None:
    """One span annotation, written now (the span must be ingested already; Phoenix answers 404
    otherwise). Routing's writes go through the outbox and ``PhoenixSink`` instead."""
    client.spans.add_span_annotation(
        span_id=span_id,
        annotation_name=name,
        annotator_kind=annotator_kind,
        label=label,
        score=score,
        explanation=explanation,
        identifier=identifier,
        sync=True,
    )
