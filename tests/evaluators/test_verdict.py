"""The verdict roll-up: pass only when nothing failed or went unscored; the earliest culprit leads."""

from __future__ import annotations

from otel_flywheel.evaluators.verdict import roll_up
from otel_flywheel.model import AgentTrace, Evaluation, Step, StepKind

TRACE = "0af7651916cd43dd8448eb211c80319c"


def trace_of(*span_ids: str) -> AgentTrace:
    steps = [
        Step(
            trace_id=TRACE,
            span_id=span_id,
            parent_id=None if index == 0 else span_ids[0],
            kind=StepKind.AGENT if index == 0 else StepKind.TOOL,
            name=f"step-{index}",
        )
        for index, span_id in enumerate(span_ids)
    ]
    return AgentTrace(trace_id=TRACE, steps=steps)


def failure(category: str, subcategory: str, culprit: str) -> Evaluation:
    return Evaluation(
        evaluator="check",
        label="fail",
        passed=False,
        score=0.0,
        category=category,
        subcategory=subcategory,
        culprit_span_id=culprit,
    )


PASS = Evaluation(evaluator="check", label="pass", passed=True, score=1.0)
UNSCORED = Evaluation(evaluator="judge", label="unscored", passed=None, raw="<html>")
TRACE_3 = trace_of("a" * 16, "b" * 16, "c" * 16)


def test_all_passing_evaluations_pass() -> None:
    verdict = roll_up(TRACE_3, [PASS, PASS])
    assert (verdict.passed, verdict.category, verdict.severity) == (True, None, None)


def test_an_unscored_evaluation_is_never_a_pass() -> None:
    verdict = roll_up(TRACE_3, [PASS, UNSCORED])
    assert verdict.passed is None
    assert verdict.severity == "low"


def test_the_earliest_culprit_is_the_primary_failure() -> None:
    late = failure("output_quality", "hallucination", "c" * 16)
    early = failure("parameter", "missing_required", "b" * 16)

    verdict = roll_up(
        TRACE_3, [late, PASS, early], root_cause_owners={"parameter": "generation / tool schema"}
    )

    assert verdict.passed is False
    assert (verdict.category, verdict.subcategory, verdict.culprit_span_id) == (
        "parameter",
        "missing_required",
        "b" * 16,
    )
    assert verdict.root_cause_owner == "generation / tool schema"
    assert verdict.severity == "high"  # a hallucination anywhere makes it high
    assert len(verdict.evaluations) == 3


def test_same_culprit_ties_go_to_the_cause_before_the_effect() -> None:
    answer = failure("output_quality", "format_error", "b" * 16)
    tool = failure("tool_selection", "wrong_tool", "b" * 16)

    verdict = roll_up(TRACE_3, [answer, tool])

    assert verdict.category == "tool_selection"
    assert verdict.severity == "medium"


def test_business_rule_violations_are_high_severity() -> None:
    verdict = roll_up(TRACE_3, [failure("business_rule", "approval", "b" * 16)])
    assert verdict.severity == "high"


def test_a_failure_without_a_culprit_ranks_after_located_ones() -> None:
    unlocated = failure("knowledge_context", "missing_retrieval", "")
    located = failure("output_quality", "format_error", "c" * 16)
    assert roll_up(TRACE_3, [unlocated, located]).category == "output_quality"


def test_a_categorized_failure_outranks_an_earlier_uncategorized_one() -> None:
    tool_404 = failure("", "", "b" * 16)
    tool_404.category = tool_404.subcategory = None  # a tool's own error: a fact, not a diagnosis
    hallucination = failure("output_quality", "hallucination", "c" * 16)

    verdict = roll_up(TRACE_3, [tool_404, hallucination])

    assert (verdict.category, verdict.culprit_span_id) == ("output_quality", "c" * 16)


def test_uncategorized_failures_alone_do_not_fail_the_trace_but_stay_visible() -> None:
    tool_404 = failure("", "", "b" * 16)
    tool_404.category = tool_404.subcategory = None

    verdict = roll_up(TRACE_3, [PASS, tool_404])

    assert (verdict.passed, verdict.category) == (True, None)
    assert tool_404 in verdict.evaluations


def effectful(category: str, subcategory: str, culprit: str, effect: str | None) -> Evaluation:
    evaluation = failure(category, subcategory, culprit)
    evaluation.effect = effect  # type: ignore[assignment]
    return evaluation


def test_a_state_changing_finding_leads_however_late_it_comes() -> None:
    lookup = effectful("parameter", "unexpected_argument", "b" * 16, "read_only")
    judged = effectful("output_quality", "incorrect_answer", "b" * 16, None)
    write = effectful("tool_selection", "missing_tool_call", "c" * 16, "state_changing")

    verdict = roll_up(TRACE_3, [lookup, judged, write])

    assert (verdict.category, verdict.subcategory) == ("tool_selection", "missing_tool_call")
    assert verdict.culprit_span_id == "c" * 16
    assert verdict.severity == "high"  # a wrong or missing write harms the user


def test_among_state_changing_findings_the_earliest_culprit_leads() -> None:
    wrong = effectful("parameter", "wrong_value", "b" * 16, "state_changing")
    missing = effectful("tool_selection", "missing_tool_call", "c" * 16, "state_changing")
    assert roll_up(TRACE_3, [missing, wrong]).subcategory == "wrong_value"


def test_read_only_and_unknown_effects_rank_alike_by_culprit() -> None:
    unknown = effectful("output_quality", "hallucination", "b" * 16, None)
    read = effectful("tool_selection", "repeated_call", "c" * 16, "read_only")
    verdict = roll_up(TRACE_3, [read, unknown])
    assert verdict.category == "output_quality"


def test_the_effect_is_in_the_verdict_line() -> None:
    write = effectful("parameter", "wrong_value", "b" * 16, "state_changing")
    (line,) = roll_up(TRACE_3, [write]).to_dict()["evaluations"]
    assert line["effect"] == "state_changing"
