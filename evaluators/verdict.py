"""The verdict roll-up: many evaluations of one trace become one answer a reviewer can act on.

- Only *categorized* failures fail a trace. A failed evaluation without a badcase category (a
  tool's own 404, an over-budget run) is an observation about the run, not a diagnosis: an agent
  that tells the user "order A-9999 does not exist" after a 404 did its job. Observations stay in
  ``evaluations`` for reviewers and for the judge, which decides whether the agent recovered.
- ``passed`` is False when a categorized evaluation failed, None when none did but some were
  unscored (an unscored judgment is never a pass), True otherwise.
- The *primary* failure is ranked, in order, by:

  1. *effect*: a finding about a state-changing call (a wrong, missing, unexpected or repeated
     write: book, cancel, refund) comes before anything else, a finding about a read-only call
     included. What the run did to the world is what the user lives with; a clumsy lookup on the
     way is not. Checks set ``Evaluation.effect`` where the tools are known (``checks._tools``);
     a finding without one (the judge's, or any when nothing is known about the tools) is not a
     state change.
  2. *the earliest culprit*: among equals, the step that comes first in the trace. The earliest
     thing that went wrong is usually the root cause, and later failures (a wrong answer after a
     failed tool call) tend to follow from it.
  3. *category order*: ties go to ``CATEGORY_PRECEDENCE``, which puts causes (choosing and
     calling tools) before effects (the final answer).

- ``severity`` is ``high`` for business-rule violations, hallucinations and findings about a
  state-changing call (what harms users or the business), ``medium`` for other failures, ``low``
  when only unscored evaluations stand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from otel_flywheel.model import AgentTrace, Evaluation, Verdict

__all__ = ["CATEGORY_PRECEDENCE", "roll_up"]

CATEGORY_PRECEDENCE: Final = (
    "tool_selection",
    "parameter",
    "task_decomposition",
    "knowledge_context",
    "business_rule",
    "output_quality",
)
_HIGH_SEVERITY: Final = frozenset({("business_rule", None), ("output_quality", "hallucination")})


def roll_up(
    trace: AgentTrace,
    evaluations: Sequence[Evaluation],
    *,
    root_cause_owners: Mapping[str, str] | None = None,
) -> Verdict:
    """The trace's verdict. ``root_cause_owners`` maps a category to who fixes it (taxonomy)."""
    failed = [e for e in evaluations if e.passed is False and e.category is not None]
    unscored = [e for e in evaluations if e.passed is None]
    if not failed:
        return Verdict(
            trace_id=trace.trace_id,
            passed=None if unscored else True,
            severity="low" if unscored else None,
            evaluations=list(evaluations),
        )
    order = {step.span_id: index for index, step in enumerate(trace.steps)}
    primary = min(failed, key=lambda e: _rank(e, order))
    return Verdict(
        trace_id=trace.trace_id,
        passed=False,
        category=primary.category,
        subcategory=primary.subcategory,
        culprit_span_id=primary.culprit_span_id,
        severity=_severity(failed),
        root_cause_owner=(root_cause_owners or {}).get(primary.category or ""),
        evaluations=list(evaluations),
    )


def _rank(evaluation: Evaluation, order: Mapping[str, int]) -> tuple[int, int, int]:
    effect = 0 if evaluation.effect == "state_changing" else 1
    step = order.get(evaluation.culprit_span_id or "", len(order))
    category = evaluation.category or ""
    precedence = (
        CATEGORY_PRECEDENCE.index(category)
        if category in CATEGORY_PRECEDENCE
        else len(CATEGORY_PRECEDENCE)
    )
    return effect, step, precedence


def _severity(failed: Sequence[Evaluation]) -> str:
    for evaluation in failed:
        if evaluation.effect == "state_changing":
            return "high"
        if (evaluation.category, None) in _HIGH_SEVERITY or (
            evaluation.category,
            evaluation.subcategory,
        ) in _HIGH_SEVERITY:
            return "high"
    return "medium"
