"""Syncing reviewers' feedback from Phoenix: the HUMAN annotations people added in the Phoenix UI
that read as feedback (``otel_flywheel._feedback``'s conventions) are routed like feedback from
the application. ``otel-flywheel sync-feedback`` runs it on a schedule; it is idempotent (see
``otel_flywheel._feedback._reviews``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from otel_flywheel._feedback import (
    DEFAULT_MAX_TRACES,
    ExplanationUse,
    feedback_from_annotation,
    read_review_window,
)
from otel_flywheel.model import AgentTrace, Feedback
from otel_flywheel.routing._sink import RoutingSink

if TYPE_CHECKING:
    from otel_flywheel.phoenix import PhoenixClient

__all__ = ["FeedbackSyncReport", "sync_feedback"]

logger = logging.getLogger(__name__)


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
    client: PhoenixClient,
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
