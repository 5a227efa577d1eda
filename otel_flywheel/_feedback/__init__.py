"""Feedback: what users and reviewers say about a run, and what their behaviour implies.

``feedback(...)`` records explicit feedback from the application (thumbs, a correction, a pairwise
preference) and hands it to the process's feedback sink, which ``otel_flywheel.register()`` sets
when routing is configured (or ``set_feedback_sink``). ``ImplicitSignalDetector`` finds implicit
signals in sessions. Both end in routing: annotations for triage, examples for datasets.
"""

from __future__ import annotations

import threading
from typing import Literal, Protocol, runtime_checkable

from otel_flywheel._feedback._implicit import SIGNAL_WEIGHTS, ImplicitSignalDetector
from otel_flywheel._feedback._reviews import (
    DEFAULT_MAX_TRACES,
    NEGATIVE_LABELS,
    POSITIVE_LABELS,
    ExplanationUse,
    ReviewWindow,
    feedback_from_annotation,
    feedback_id_for,
    read_review_window,
)
from otel_flywheel.errors import ConfigError
from otel_flywheel.model import Feedback

__all__ = [
    "DEFAULT_MAX_TRACES",
    "NEGATIVE_LABELS",
    "POSITIVE_LABELS",
    "SIGNAL_WEIGHTS",
    "ExplanationUse",
    "FeedbackSink",
    "ImplicitSignalDetector",
    "ReviewWindow",
    "feedback",
    "feedback_from_annotation",
    "feedback_id_for",
    "read_review_window",
    "set_feedback_sink",
]


@runtime_checkable
class FeedbackSink(Protocol):
    """Takes feedback durably, or raises; may return the feedback as stored (e.g. redacted).

    The same feedback (same ``feedback_id``) may come again after a failure (``serve`` offers a
    spooled record until a sink takes it): a sink must tolerate repeats.
    """

    def submit_feedback(self, feedback: Feedback) -> Feedback | None: ...


_lock = threading.Lock()  # guards _sink
_sink: FeedbackSink | None = None


def set_feedback_sink(sink: FeedbackSink | None) -> FeedbackSink | None:
    """Make ``sink`` the process's feedback sink; returns the previous one."""
    global _sink
    with _lock:
        previous, _sink = _sink, sink
    return previous


def feedback(
    *,
    trace_id: str | None = None,
    span_id: str | None = None,
    thumbs: Literal["up", "down"] | bool | None = None,
    correction: str | None = None,
    chosen: str | None = None,
    rejected: str | None = None,
    reason: str | None = None,
    annotator: str | None = None,
    sink: FeedbackSink | None = None,
) -> Feedback:
    """Record feedback on a run (its trace, or one span of it) and route it.

    ``thumbs``: ``"up"``/``"down"`` (or ``True``/``False``); ``correction``: the answer that should
    have been given; ``chosen``/``rejected``: a pairwise preference. Ids are the lowercase hex
    OTel uses (``format_trace_id(span.get_span_context().trace_id)``). Raises ``ValueError`` for
    feedback that says nothing or names no run, and ``ConfigError`` when no sink is set.
    """
    if isinstance(thumbs, bool):
        thumbs = "up" if thumbs else "down"
    record = Feedback(
        trace_id=trace_id,
        span_id=span_id,
        thumbs=thumbs,
        correction=correction,
        chosen=chosen,
        rejected=rejected,
        reason=reason,
        annotator=annotator,
    )
    target = sink
    if target is None:
        with _lock:
            target = _sink
    if target is None:
        raise ConfigError(
            "no feedback sink in this process. Fix: call otel_flywheel.register(...) with "
            "routing on, or pass sink= (or POST it to `otel-flywheel serve` at /v1/feedback)"
        )
    stored = target.submit_feedback(record)
    return stored if stored is not None else record
