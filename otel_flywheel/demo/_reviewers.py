"""Simulated reviewers: two people label part of the review dataset in Phoenix, as they would in
its UI (a HUMAN span annotation named ``flywheel.verdict`` on the trace's root span, labelled
``pass`` or ``fail``). ``alice`` agrees with the verdicts; ``bob`` thinks the bad-arguments
failures were fine, and says so: the report's calibration must show the disagreement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from otel_flywheel.model import Verdict
from otel_flywheel.phoenix import annotate_span, load_dataset

if TYPE_CHECKING:
    from otel_flywheel.phoenix import PhoenixClient

__all__ = ["REVIEWERS", "ReviewLabel", "label_review_items"]

REVIEWERS: Final = ("alice", "bob")
VERDICT_ANNOTATION: Final = "flywheel.verdict"
_ALICE_ITEMS: Final = 10
_BOB_SHARED: Final = 6  # bob labels alice's first six too (for agreement between reviewers)
_BOB_OWN: Final = 2


@dataclass(frozen=True)
class ReviewLabel:
    trace_id: str
    span_id: str
    reviewer: str
    passed: bool
    verdict_passed: bool | None


def label_review_items(
    client: PhoenixClient, *, review_dataset: str, verdicts: Mapping[str, Verdict]
) -> list[ReviewLabel]:
    """Label the review dataset's first items (by their source trace's time) in Phoenix."""
    examples = load_dataset(client, review_dataset).examples
    items: list[tuple[str, str, Verdict]] = []
    for example in examples:
        meta: Mapping[str, Any] = example.metadata
        trace_id, span_id = meta.get("source_trace_id"), meta.get("source_span_id")
        verdict = verdicts.get(str(trace_id))
        if isinstance(trace_id, str) and isinstance(span_id, str) and verdict is not None:
            items.append((trace_id, span_id, verdict))
    items.sort(key=lambda item: (item[2].start_time or "", item[0]))
    alice = items[:_ALICE_ITEMS]
    bob = items[:_BOB_SHARED] + items[_ALICE_ITEMS : _ALICE_ITEMS + _BOB_OWN]
    labels = [
        _label(trace, span, "alice", verdict, verdict.passed is not False)
        for trace, span, verdict in alice
    ]
    labels += [
        # bob disagrees with the checks about arguments: "the tool call was good enough".
        _label(
            trace,
            span,
            "bob",
            verdict,
            verdict.passed is not False or verdict.category == "parameter",
        )
        for trace, span, verdict in bob
    ]
    for label in labels:
        annotate_span(
            client,
            span_id=label.span_id,
            name=VERDICT_ANNOTATION,
            annotator_kind="HUMAN",
            label="pass" if label.passed else "fail",
            score=1.0 if label.passed else 0.0,
            explanation=f"reviewed by {label.reviewer}",
            identifier=label.reviewer,
        )
    return labels


def _label(
    trace_id: str, span_id: str, reviewer: str, verdict: Verdict, passed: bool
) -> ReviewLabel:
    return ReviewLabel(trace_id, span_id, reviewer, passed, verdict.passed)
