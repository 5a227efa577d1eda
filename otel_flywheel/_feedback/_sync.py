"""Reviewers' feedback from Phoenix: the HUMAN annotations people add in the Phoenix UI become
`Feedback` and go through the same routing as feedback from the application.

What counts as feedback (``feedback_from_annotation``; ``otel-flywheel sync-feedback --help``
says the same to users):

- **Thumbs.** A label such as ``up``/``down``, ``thumbs_up``/``thumbs_down``, ``good``/``bad``,
  ``correct``/``incorrect`` (any case; see `POSITIVE_LABELS` / `NEGATIVE_LABELS`); else a score
  of exactly 1 (up) or 0 (down).
- **Correction.** The ``correction`` metadata key; or an explanation starting ``correction:``;
  or, on a thumbs down, the whole explanation (``explanation_is="reason"`` turns that last rule
  off for teams whose reviewers explain rather than correct). Otherwise the explanation is the
  reason (also the ``reason`` metadata key, or an explanation starting ``reason:``).
- **Preference.** The ``chosen`` and ``rejected`` metadata keys, together.

An annotation that says none of these is not feedback and is left alone: a ``hallucination``
annotation labelled ``yes`` must not become a training example.

Annotations otel-flywheel wrote are skipped: routing writes each feedback back as a
``user_feedback`` annotation whose metadata carries its ``feedback_id``. That also makes syncing
idempotent without local state: a reviewer's annotation gets the feedback id derived from its
Phoenix annotation id, and once Phoenix holds an annotation carrying that id, it is synced.
Routing's own dedupe (outbox keys, the routing store's example ledger) covers the time between
routing and delivery. Editing an annotation after it was synced does not sync it again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from otel_flywheel.model import AgentTrace, Feedback, Thumbs

if TYPE_CHECKING:
    from phoenix.client import Client

    from otel_flywheel.routing import RoutingSink

__all__ = [
    "NEGATIVE_LABELS",
    "POSITIVE_LABELS",
    "ExplanationUse",
    "FeedbackSyncReport",
    "ReviewAnnotation",
    "ReviewWindow",
    "feedback_from_annotation",
    "feedback_id_for",
    "read_review_window",
    "sync_feedback",
]

logger = logging.getLogger(__name__)

ExplanationUse = Literal["correction", "reason"]
AnnotationTarget = Literal["span", "trace"]

POSITIVE_LABELS: Final = frozenset(
    {"up", "thumbs_up", "thumbsup", "👍", "good", "correct", "positive", "pass", "accept"}
)
NEGATIVE_LABELS: Final = frozenset(
    {"down", "thumbs_down", "thumbsdown", "👎", "bad", "incorrect", "wrong", "negative", "fail",
     "reject"}
)  # fmt: skip
FEEDBACK_ID_KEY: Final = "feedback_id"  # what routing's feedback annotations carry in metadata
DEFAULT_MAX_TRACES: Final = 10_000
# Trace ids per request: they go into the query string, and URLs have length limits.
_IDS_PER_REQUEST: Final = 50
_TRACES_PER_PAGE: Final = 100
_ANNOTATIONS_PER_PAGE: Final = 1000
_REQUEST_TIMEOUT_SECONDS: Final = 60


@dataclass(frozen=True, kw_only=True)
class ReviewAnnotation:
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
    def from_phoenix(data: Mapping[str, Any], *, trace_id: str) -> ReviewAnnotation:
        """From a ``SpanAnnotation`` / ``TraceAnnotation`` of Phoenix's REST API."""
        result = data.get("result") or {}
        score = result.get("score")
        span_id = data.get("span_id")
        return ReviewAnnotation(
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
        value = self.metadata.get(FEEDBACK_ID_KEY)
        return value if isinstance(value, str) and value else None

    @property
    def by_a_person(self) -> bool:
        """HUMAN, and not one of the feedback annotations otel-flywheel writes itself."""
        return self.annotator_kind == "HUMAN" and self.feedback_id_written is None


def feedback_id_for(annotation: ReviewAnnotation) -> str:
    """Stable per Phoenix annotation: syncing it again gives the same id."""
    basis = f"phoenix-annotation\n{annotation.target}\n{annotation.annotation_id}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def feedback_from_annotation(
    annotation: ReviewAnnotation, *, explanation_is: ExplanationUse = "correction"
) -> Feedback | None:
    """The feedback a reviewer's annotation gives, or ``None`` when it gives none (see module)."""
    thumbs = _thumbs(annotation)
    metadata = annotation.metadata
    correction = _text(metadata.get("correction"))
    reason = _text(metadata.get("reason"))
    chosen, rejected = _text(metadata.get("chosen")), _text(metadata.get("rejected"))
    if chosen is None or rejected is None:
        chosen = rejected = None
    explanation = _text(annotation.explanation)
    if explanation is not None:
        head, _, rest = explanation.partition(":")
        prefix = head.strip().casefold()
        if prefix in ("correction", "reason") and rest.strip():
            if prefix == "correction":
                correction = correction or rest.strip()
            else:
                reason = reason or rest.strip()
        elif thumbs == "down" and explanation_is == "correction" and correction is None:
            correction = explanation
        else:
            reason = reason or explanation
    if thumbs is None and correction is None and chosen is None:
        return None
    created = _unix(annotation.updated_at)
    return Feedback(
        trace_id=annotation.trace_id,
        span_id=annotation.span_id,
        thumbs=thumbs,
        correction=correction,
        chosen=chosen,
        rejected=rejected,
        reason=reason,
        annotator=_annotator(annotation),
        created_at_unix=created if created is not None else time.time(),
        feedback_id=feedback_id_for(annotation),
    )


# --- reading Phoenix -------------------------------------------------------------------------------


@dataclass
class ReviewWindow:
    """The traces that started in a window, and every span and trace annotation on them."""

    trace_ids: list[str] = field(default_factory=list)
    spans: int = 0
    annotations: list[ReviewAnnotation] = field(default_factory=list)
    truncated: bool = False  # more than max_traces traces: the newest were read


def read_review_window(
    client: Client,
    *,
    project: str,
    since: datetime | None,
    until: datetime | None = None,
    max_traces: int = DEFAULT_MAX_TRACES,
    progress: Callable[[str], None] | None = None,
) -> ReviewWindow:
    """The annotations on the traces of ``project`` that started in ``[since, until)``.

    Phoenix lists annotations by span or trace id only, so the traces (with their span ids, not
    their attributes) are listed first. httpx errors propagate as the client raises them.
    """
    report = progress or (lambda message: None)
    window = ReviewWindow()
    span_trace: dict[str, str] = {}
    traces = client.traces.get_traces(
        project_identifier=project,
        start_time=since,
        end_time=until,
        include_spans=True,
        limit=max_traces + 1,
        timeout=_REQUEST_TIMEOUT_SECONDS,
    )
    window.truncated = len(traces) > max_traces
    for trace in traces[:max_traces]:
        trace_id = trace["trace_id"]
        window.trace_ids.append(trace_id)
        for span in trace.get("spans") or ():
            span_trace[span["span_id"]] = trace_id
    window.spans = len(span_trace)
    report(f"{len(window.trace_ids)} traces ({window.spans} spans) in the window")

    if span_trace:
        for span_annotation in client.spans.get_span_annotations(
            span_ids=list(span_trace),
            project_identifier=project,
            limit=_ANNOTATIONS_PER_PAGE,
            timeout=_REQUEST_TIMEOUT_SECONDS,
        ):
            owner = span_trace.get(span_annotation["span_id"])
            if owner is not None:
                window.annotations.append(
                    ReviewAnnotation.from_phoenix(span_annotation, trace_id=owner)
                )
    for start in range(0, len(window.trace_ids), _IDS_PER_REQUEST):
        chunk = window.trace_ids[start : start + _IDS_PER_REQUEST]
        for trace_annotation in _trace_annotations(client, project, chunk):
            window.annotations.append(
                ReviewAnnotation.from_phoenix(
                    trace_annotation, trace_id=str(trace_annotation["trace_id"])
                )
            )
    report(f"{len(window.annotations)} annotations on them")
    return window


def _trace_annotations(
    client: Client, project: str, trace_ids: Sequence[str]
) -> Iterable[Mapping[str, Any]]:
    # phoenix-client 3.5 has no getter for trace annotations; this is the REST route it would use.
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"trace_ids": list(trace_ids), "limit": _ANNOTATIONS_PER_PAGE}
        if cursor:
            params["cursor"] = cursor
        response = client._client.get(
            f"v1/projects/{project}/trace_annotations",
            params=params,
            headers={"accept": "application/json"},
            timeout=_REQUEST_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        body = response.json()
        yield from body.get("data") or ()
        cursor = body.get("next_cursor")
        if not cursor:
            return


# --- syncing ---------------------------------------------------------------------------------------


@dataclass
class FeedbackSyncReport:
    """What one sync found and did."""

    traces: int = 0
    annotations: int = 0
    by_people: int = 0
    skipped_names: int = 0  # by people, but not among the names asked for
    not_feedback: int = 0  # by people, but saying nothing the conventions read as feedback
    already_synced: int = 0
    routed: list[Feedback] = field(default_factory=list)
    traces_pulled: int = 0  # not in the local routing store: read from Phoenix
    traces_missing: list[str] = field(default_factory=list)  # routed as annotations only
    truncated: bool = False


def sync_feedback(
    client: Client,
    *,
    project: str,
    sink: RoutingSink,
    since: datetime | None,
    until: datetime | None = None,
    fetch_traces: Callable[[Sequence[str]], Iterable[AgentTrace]] | None = None,
    names: Collection[str] | None = None,
    explanation_is: ExplanationUse = "correction",
    max_traces: int = DEFAULT_MAX_TRACES,
    progress: Callable[[str], None] | None = None,
) -> FeedbackSyncReport:
    """Route the reviewers' feedback on the traces of ``project`` started in ``[since, until)``.

    Each annotation a person added (and routing did not write), and that reads as feedback, is
    routed through ``sink`` unless Phoenix already holds its routed copy. Routing needs the trace
    to build dataset examples: it comes from ``sink.store`` (traces the flywheel evaluated, with
    their verdicts), else from ``fetch_traces`` (redacted and normalized, e.g. ``pull_traces``),
    and is then stored there. ``names`` limits the annotation names read. Writes go into the
    sink's outbox; delivering them is the caller's (``OutboxWorker.force_flush``).
    """
    report = progress or (lambda message: None)
    window = read_review_window(
        client,
        project=project,
        since=since,
        until=until,
        max_traces=max_traces,
        progress=progress,
    )
    result = FeedbackSyncReport(
        traces=len(window.trace_ids),
        annotations=len(window.annotations),
        truncated=window.truncated,
    )
    synced = {a.feedback_id_written for a in window.annotations} - {None}
    pending: list[Feedback] = []
    for annotation in window.annotations:
        if not annotation.by_a_person:
            continue
        result.by_people += 1
        if names is not None and annotation.name not in names:
            result.skipped_names += 1
            continue
        feedback = feedback_from_annotation(annotation, explanation_is=explanation_is)
        if feedback is None:
            result.not_feedback += 1
            logger.debug(
                "annotation %s is not feedback by the conventions", annotation.annotation_id
            )
        elif feedback.feedback_id in synced:
            result.already_synced += 1
        else:
            pending.append(feedback)
    if not pending:
        return result

    wanted = list(dict.fromkeys(f.trace_id for f in pending if f.trace_id is not None))
    unknown = [t for t in wanted if sink.store.get_trace(trace_id=t) is None]
    if unknown and fetch_traces is not None:
        report(f"reading {len(unknown)} traces from Phoenix (not in the local routing store)")
        for trace in fetch_traces(unknown):
            sink.store.put_trace(trace, None)
            result.traces_pulled += 1
    result.traces_missing = [t for t in unknown if sink.store.get_trace(trace_id=t) is None]
    for feedback in pending:
        sink.submit_feedback(feedback)
        result.routed.append(feedback)
    report(f"routed {len(result.routed)} feedback")
    return result


# --- conventions -----------------------------------------------------------------------------------


def _thumbs(annotation: ReviewAnnotation) -> Thumbs | None:
    label = annotation.label
    if label is not None:
        key = "_".join(label.strip().casefold().replace("-", " ").split())
        if key in POSITIVE_LABELS:
            return "up"
        if key in NEGATIVE_LABELS:
            return "down"
    if annotation.score == 1.0:
        return "up"
    if annotation.score == 0.0:
        return "down"
    return None


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return stripped or None


def _annotator(annotation: ReviewAnnotation) -> str:
    # Routing writes this feedback back as a `user_feedback` annotation with this identifier: one
    # per reviewer annotation (Phoenix's own key for it is name + target + identifier), so two
    # reviewers, or two annotation names, on one span do not overwrite each other's copy.
    annotator = f"phoenix:{annotation.target}:{annotation.name}"
    return f"{annotator}:{annotation.identifier}" if annotation.identifier else annotator


def _unix(timestamp: str | None) -> float | None:
    if not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
