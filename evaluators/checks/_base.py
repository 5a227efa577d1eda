"""What every deterministic check shares: the ``Check`` protocol and the evaluations it returns.

A check reads one normalized :class:`~otel_flywheel.model.AgentTrace` and returns one
:class:`~otel_flywheel.model.Evaluation` per finding (``passed=False``, label ``"fail"``, score 0,
a taxonomy category and the culprit span), or a single passing evaluation when it found nothing.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

from otel_flywheel.model import AgentTrace, CallEffect, Evaluation, Step

__all__ = ["Check", "canonical_json", "failing", "passing", "unscored"]


@runtime_checkable
class Check(Protocol):
    """A deterministic evaluator: no model, no network, the same answer for the same trace."""

    name: str

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]: ...


def passing(evaluator: str, explanation: str = "") -> Evaluation:
    return Evaluation(
        evaluator=evaluator, label="pass", passed=True, score=1.0, explanation=explanation
    )


def failing(
    evaluator: str,
    *,
    category: str | None,
    subcategory: str | None,
    culprit: Step | None,
    explanation: str,
    label: str = "fail",
    effect: CallEffect | None = None,
) -> Evaluation:
    return Evaluation(
        evaluator=evaluator,
        label=label,
        passed=False,
        score=0.0,
        category=category,
        subcategory=subcategory,
        culprit_span_id=culprit.span_id if culprit is not None else None,
        explanation=explanation,
        effect=effect,
    )


def unscored(evaluator: str, *, culprit: Step | None, explanation: str) -> Evaluation:
    """The check could not judge (a broken schema, say): never counted as a pass."""
    return Evaluation(
        evaluator=evaluator,
        label="unscored",
        passed=None,
        culprit_span_id=culprit.span_id if culprit is not None else None,
        explanation=explanation,
    )


def canonical_json(value: Any) -> str:
    """A stable text form for quoting and comparing arguments (sorted keys, no NaN surprises)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
