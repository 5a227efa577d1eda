"""Reviewers' feedback in Phoenix: which HUMAN annotations people add in the Phoenix UI read as
`Feedback`, and reading them (routing's ``sync_feedback`` routes them like feedback from the
application).

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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal

from otel_flywheel.model import Feedback, Thumbs

if TYPE_CHECKING:
    from otel_flywheel.phoenix import Annotation, PhoenixClient

__all__ = [
    "DEFAULT_MAX_TRACES",
    "NEGATIVE_LABELS",
    "POSITIVE_LABELS",
    "ExplanationUse",
    "ReviewWindow",
    "feedback_from_annotation",
    "feedback_id_for",
    "read_review_window",
]

logger = logging.getLogger(__name__)

ExplanationUse = Literal["correction", "reason"]

POSITIVE_LABELS: Final = frozenset(
    {"up", "thumbs_up", "thumbsup", "👍", "good", "correct", "positive", "pass", "accept"}
)
NEGATIVE_LABELS: Final = frozenset(
    {"down", "thumbs_down", "thumbsdown", "👎", "bad", "incorrect", "wrong", "negative", "fail",
     "reject"}
)  # fmt: skip
DEFAULT_MAX_TRACES: Final = 10_000


def feedback_id_for(annotation: Annotation) -> str:
    """Stable per Phoenix annotation: syncing it again gives the same id."""
    basis = f"phoenix-annotation\n{annotation.target}\n{annotation.annotation_id}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def feedback_from_annotation(
    annotation: Annotation, *, explanation_is: ExplanationUse = "correction"
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


@dataclass
class ReviewWindow:
    """The traces that started in a window, and every span and trace annotation on them."""

    trace_ids: list[str] = field(default_factory=list)
    spans: int = 0
    annotations: list[Annotation] = field(default_factory=list)
    truncated: bool = False  # more than max_traces traces: the newest were read


def read_review_window(
    client: PhoenixClient,
    *,
    project: str,
    since: datetime | None,
    until: datetime | None = None,
    max_traces: int = DEFAULT_MAX_TRACES,
    progress: Callable[[str], None] | None = None,
) -> ReviewWindow:
    """The annotations on the traces of ``project`` that started in ``[since, until)``, the newest
    ``max_traces`` of them. httpx errors propagate as the client raises them."""
    # Here, not at the top: `otel_flywheel.feedback(...)` in an agent needs none of Phoenix.
    from otel_flywheel.phoenix import annotations_on, trace_pages

    report = progress or (lambda message: None)
    window = ReviewWindow()
    traces = [
        trace
        for page in trace_pages(
            client, project=project, since=since, until=until, max_traces=max_traces + 1
        )
        for trace in page
    ]
    window.truncated = len(traces) > max_traces
    traces = traces[:max_traces]
    window.trace_ids = [str(trace["trace_id"]) for trace in traces]
    window.spans = sum(len(trace.get("spans") or ()) for trace in traces)
    report(f"{len(window.trace_ids)} traces ({window.spans} spans) in the window")
    window.annotations = annotations_on(client, project=project, traces=traces)
    report(f"{len(window.annotations)} annotations on them")
    return window


# --- syncing ---------------------------------------------------------------------------------------


# --- conventions -----------------------------------------------------------------------------------


def _thumbs(annotation: Annotation) -> Thumbs | None:
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


def _annotator(annotation: Annotation) -> str:
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
