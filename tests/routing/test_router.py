"""The routing rules of issue 5: which verdicts and feedback become which annotations and examples."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from trace_builders import build_trace, check_failure, judged, verdict_of

from otel_flywheel.config import RoutingSettings, resolve_settings
from otel_flywheel.model import AgentTrace, Evaluation, Feedback, Step, StepKind, ToolCall
from otel_flywheel.routing import DATASET_PURPOSES, VERDICT_ANNOTATION, Router
from otel_flywheel.routing._examples import example_id
from otel_flywheel.verdict_context import with_context


@pytest.fixture
def router() -> Router:
    return Router(resolve_settings(RoutingSettings, {"project": "support"}, environ={}))


def routes(router: Router, examples: list) -> list[tuple[str, str]]:
    return [(e.route, e.reason) for e in examples]


# --- verdicts --------------------------------------------------------------------------------


def test_a_failed_check_routes_regression_and_review_with_lineage(router: Router) -> None:
    trace = build_trace()
    verdict = verdict_of(trace, check_failure(trace))
    examples = router.verdict_examples(trace, verdict)
    assert routes(router, examples) == [
        ("regression", "confident_failure"),
        ("review", "failure_without_expected_output"),
    ]
    write = router.example_write(examples[0], verdict)
    assert write.dataset == "support/regression"
    assert write.span_id == trace.steps[0].span_id  # linked to the source trace's root span
    assert write.input == {"input": trace.goal, "session_id": "session-1"}
    assert write.metadata["source_trace_id"] == trace.trace_id
    assert write.metadata["category"] == "parameter"
    assert write.metadata["culprit_span_id"] == trace.steps[1].span_id
    assert write.metadata["failing_checks"] == ["argument_schema"]
    assert write.metadata["user_id"] == trace.user_id
    assert write.splits == ["regression"]


def test_a_confident_judged_failure_carries_its_failing_rubric_for_replay(router: Router) -> None:
    trace = build_trace()
    verdict = verdict_of(trace, judged(trace, passed=False, confidence=0.95))
    regression, _review = router.verdict_examples(trace, verdict)
    write = router.example_write(regression, verdict)
    assert write.metadata["failing_rubrics"] == ["tool_selection"]
    assert write.metadata["rubric_versions"] == {"tool_selection": "abc123"}
    assert write.metadata["judge_models"] == ["judge-model"]


def test_an_uncertain_judgment_goes_to_review_ranked_by_uncertainty_and_rarity() -> None:
    counts = {"tool_selection": 3}
    router = Router(
        resolve_settings(RoutingSettings, {"project": "support"}, environ={}),
        category_counts=lambda: counts,
    )
    trace = build_trace()
    verdict = verdict_of(trace, judged(trace, passed=False, confidence=0.4))
    (review,) = router.verdict_examples(trace, verdict)
    assert (review.route, review.reason) == ("review", "uncertain_judgment")
    assert review.metadata["priority"] == pytest.approx(0.6 / 4)
    counts["tool_selection"] = 0  # a rarer category ranks higher for the same uncertainty
    (rarer,) = router.verdict_examples(trace, verdict)
    assert rarer.metadata["priority"] > review.metadata["priority"]


def test_an_unscored_judgment_goes_to_review_as_most_uncertain(router: Router) -> None:
    trace = build_trace()
    verdict = verdict_of(trace, judged(trace, passed=None, confidence=None))
    (review,) = router.verdict_examples(trace, verdict)
    assert review.metadata["priority"] == 1.0


def test_a_passing_trace_routes_no_example_and_annotates_only_the_verdict(router: Router) -> None:
    trace = build_trace()
    verdict = verdict_of(trace, judged(trace, passed=True))
    assert router.verdict_examples(trace, verdict) == []
    writes = router.verdict_annotations(trace, verdict)
    assert [(w.target, w.name, w.annotator_kind, w.label) for w in writes] == [
        ("span", "tool_selection", "LLM", "pass"),
        ("trace", VERDICT_ANNOTATION, "LLM", "pass"),
        ("span", VERDICT_ANNOTATION, "LLM", "pass"),
    ]
    assert writes[0].metadata["result"] == "correct"  # the rubric's own label, kept


def test_annotation_labels_say_what_failed_and_keep_the_score_for_sorting(
    router: Router,
) -> None:
    trace = build_trace()
    observation = Evaluation(
        evaluator="tool_error", label="tool_error", passed=False, score=0.0, explanation="404"
    )
    unscored = judged(trace, passed=None, confidence=None)
    verdict = verdict_of(trace, check_failure(trace), observation, unscored)
    by_name = {w.name: w for w in router.verdict_annotations(trace, verdict) if w.target == "span"}
    assert (by_name["argument_schema"].label, by_name["argument_schema"].score) == (
        "parameter/invalid_type",
        0.0,
    )
    assert by_name["argument_schema"].metadata["result"] == "fail"
    assert by_name["tool_error"].label == "tool_error"  # an observation keeps its own label
    assert by_name["tool_selection"].label == "unscored"
    assert (by_name[VERDICT_ANNOTATION].label, by_name[VERDICT_ANNOTATION].score) == (
        "parameter/invalid_type",
        0.0,
    )
    unscored_verdict = verdict_of(trace, unscored)
    (trace_write,) = [
        w for w in router.verdict_annotations(trace, unscored_verdict) if w.target == "trace"
    ]
    assert (trace_write.label, trace_write.score) == ("unscored", None)


def test_the_verdict_annotation_carries_the_analysis_context_the_report_reads(
    router: Router,
) -> None:
    trace = build_trace()
    trace.resource = {"service.name": "support", "service.version": "2.1.0"}
    trace.steps[0].attributes["tenant"] = "acme"
    trace.steps[0].start_time_unix_nano = 1_795_000_000_123_456_000
    trace.steps[1].start_time_unix_nano = 1_795_000_000_500_000_000
    verdict = with_context(
        verdict_of(trace, check_failure(trace), judged(trace, passed=True)),
        trace,
        cohort_attributes=["tenant", "plan"],
    )
    (write,) = [w for w in router.verdict_annotations(trace, verdict) if w.target == "trace"]
    meta = write.metadata
    assert meta["service"] == {"name": "support", "version": "2.1.0"}
    assert meta["cohort"] == {"tenant": "acme"}  # plan is not set on this trace: left out
    assert meta["start_time"] == verdict.start_time == "2026-11-18T11:06:40.123456Z"
    assert meta["tools"] == ["lookup_order"]
    assert meta["goal"] == "Where is order A-1001?"
    assert meta["culprit"] == {"kind": "tool", "name": "lookup_order", "tool": "lookup_order"}
    assert meta["rubric_versions"] == {"tool_selection": "abc123"}
    assert meta["judge_models"] == ["judge-model"]
    assert meta["evaluations"] == [
        {"name": "argument_schema", "rubric_id": None, "rubric_version": None, "passed": False},
        {
            "name": "tool_selection",
            "rubric_id": "tool_selection",
            "rubric_version": "abc123",
            "passed": True,
        },
    ]


def test_annotations_go_on_the_culprit_span_with_category_and_rubric_metadata(
    router: Router,
) -> None:
    trace = build_trace()
    second = check_failure(trace)
    verdict = verdict_of(trace, check_failure(trace), second, judged(trace, passed=False))
    writes = router.verdict_annotations(trace, verdict)
    check_writes = [w for w in writes if w.name == "argument_schema"]
    assert [w.target_id for w in check_writes] == [trace.steps[1].span_id] * 2
    assert [w.identifier for w in check_writes] == ["otel-flywheel", "otel-flywheel:1"]
    assert {w.annotator_kind for w in check_writes} == {"CODE"}
    (judge_write,) = [w for w in writes if w.name == "tool_selection"]
    assert judge_write.annotator_kind == "LLM"
    assert judge_write.metadata["rubric_version"] == "abc123"
    assert judge_write.metadata["category"] == "tool_selection"
    (verdict_write,) = [w for w in writes if w.target == "trace"]
    assert verdict_write.label == "parameter/invalid_type"
    assert verdict_write.score == 0.0
    assert verdict_write.metadata["culprit_span_id"] == trace.steps[1].span_id
    assert len({w.key for w in writes}) == len(writes)  # no two writes upsert each other


def test_consent_false_gives_annotations_only(router: Router) -> None:
    trace = build_trace(consent=False)
    verdict = verdict_of(trace, check_failure(trace))
    assert router.verdict_examples(trace, verdict) == []
    assert router.verdict_annotations(trace, verdict)
    for feedback in (
        Feedback(trace_id=trace.trace_id, thumbs="up"),
        Feedback(trace_id=trace.trace_id, thumbs="down", correction="It ships today."),
    ):
        assert router.feedback_examples(trace, feedback) == []


# --- feedback --------------------------------------------------------------------------------


def test_thumbs_up_becomes_golden_with_the_output_and_tool_calls_as_expected(
    router: Router,
) -> None:
    trace = build_trace()
    (golden,) = router.feedback_examples(trace, Feedback(trace_id=trace.trace_id, thumbs="up"))
    assert (golden.route, golden.reason) == ("golden", "thumbs_up")
    assert golden.output == {
        "output": "It shipped yesterday.",
        "expected_tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1001"}}],
    }


def _with_tool_steps(trace: AgentTrace, *steps: Step) -> AgentTrace:
    return dataclasses.replace(trace, steps=[*trace.steps, *steps])


def _tool_step(trace: AgentTrace, index: int, **fields: Any) -> Step:
    tool = fields.pop("tool")
    return Step(
        trace_id=trace.trace_id,
        span_id=f"{index:016x}",
        parent_id=trace.steps[0].span_id,
        kind=StepKind.TOOL,
        name=tool.name,
        tool=tool,
        **fields,
    )


@pytest.mark.parametrize(
    "failed",
    [
        pytest.param({"status": "error"}, id="error-status"),
        pytest.param({"error": "TimeoutError: upstream"}, id="raised"),
        pytest.param({"result": '{"error": "seat 12A is taken"}'}, id="error-payload"),
        pytest.param({"result": '{"isError": true, "content": []}'}, id="mcp-is-error"),
        pytest.param({"result": "Error: rate limited"}, id="error-text"),
        pytest.param({"tool_error": "ValueError"}, id="tool-error"),
    ],
)
def test_a_golden_example_expects_only_the_calls_that_took_effect(
    router: Router, failed: dict[str, Any]
) -> None:
    """A write that failed and was retried is one write: golden expects the retry alone."""
    trace = build_trace()
    arguments = {"order_id": "A-1001", "seat": "12A"}
    step_fields = {k: v for k, v in failed.items() if k in ("status", "error")}
    tool_fields: dict[str, Any] = {"name": "change_seat", "arguments": arguments}
    if "result" in failed:
        tool_fields["result"] = failed["result"]
    if "tool_error" in failed:
        tool_fields["error"] = failed["tool_error"]
    trace = _with_tool_steps(
        trace,
        _tool_step(trace, 7, tool=ToolCall(**tool_fields), **step_fields),
        _tool_step(
            trace,
            8,
            tool=ToolCall(name="change_seat", arguments=arguments, result='{"ok": true}'),
        ),
    )
    (golden,) = router.feedback_examples(trace, Feedback(trace_id=trace.trace_id, thumbs="up"))
    assert golden.output["expected_tool_calls"] == [
        {"name": "lookup_order", "arguments": {"order_id": "A-1001"}},
        {"name": "change_seat", "arguments": arguments},
    ]


def test_thumbs_up_on_a_failed_verdict_goes_to_review_with_both_signals_never_golden(
    router: Router,
) -> None:
    trace = build_trace()
    for failing in (check_failure(trace), judged(trace, passed=False, confidence=0.95)):
        verdict = verdict_of(trace, failing)
        (review,) = router.feedback_examples(
            trace, Feedback(trace_id=trace.trace_id, thumbs="up"), verdict
        )
        assert (review.route, review.reason) == ("review", "thumbs_up_on_failed_verdict")
        assert review.metadata["conflict"] is True
        assert review.metadata["signals"] == {"feedback": "up", "verdict": verdict.label}
        assert review.metadata["priority"] == 1.0
        assert review.category == verdict.category
    # A passed or unscored verdict, or none known yet: the thumbs up is golden as before.
    for verdict in (verdict_of(trace, judged(trace, passed=True)), None):
        (golden,) = router.feedback_examples(
            trace, Feedback(trace_id=trace.trace_id, thumbs="up"), verdict
        )
        assert golden.route == "golden"


def test_thumbs_down_on_a_passed_verdict_is_review_marked_as_a_conflict(router: Router) -> None:
    trace = build_trace()
    down = Feedback(trace_id=trace.trace_id, thumbs="down")
    (review,) = router.feedback_examples(trace, down, verdict_of(trace, judged(trace, passed=True)))
    assert (review.route, review.reason) == ("review", "thumbs_down")
    assert review.metadata["conflict"] is True
    assert review.metadata["signals"] == {"feedback": "down", "verdict": "pass"}
    (agreeing,) = router.feedback_examples(trace, down, verdict_of(trace, check_failure(trace)))
    assert agreeing.metadata["conflict"] is False


def test_every_example_write_says_what_its_dataset_holds(router: Router) -> None:
    trace = build_trace()
    verdict = verdict_of(trace, check_failure(trace))
    examples = [
        *router.verdict_examples(trace, verdict),
        *router.feedback_examples(trace, Feedback(trace_id=trace.trace_id, thumbs="up")),
    ]
    for routed in examples:
        write = router.example_write(routed, verdict)
        purpose = DATASET_PURPOSES[routed.route]
        assert write.dataset_description == purpose.description
        assert write.dataset_labels == purpose.labels
        assert "otel-flywheel" in write.dataset_labels
        assert write.metadata["routed_at"].endswith("Z")


def test_thumbs_down_with_a_correction_becomes_regression_and_preference(router: Router) -> None:
    trace = build_trace()
    feedback = Feedback(trace_id=trace.trace_id, thumbs="down", correction="It ships today.")
    regression, preference = router.feedback_examples(trace, feedback)
    assert (regression.route, regression.output) == ("regression", {"output": "It ships today."})
    assert regression.metadata["original_output"] == "It shipped yesterday."
    assert (preference.route, preference.output) == (
        "preference",
        {"chosen": "It ships today.", "rejected": "It shipped yesterday."},
    )


def test_thumbs_down_without_a_correction_goes_to_review_first(router: Router) -> None:
    trace = build_trace()
    (review,) = router.feedback_examples(trace, Feedback(trace_id=trace.trace_id, thumbs="down"))
    assert (review.route, review.reason, review.metadata["priority"]) == (
        "review",
        "thumbs_down",
        1.0,
    )


def test_pairwise_preference_becomes_a_preference_example(router: Router) -> None:
    trace = build_trace()
    feedback = Feedback(trace_id=trace.trace_id, chosen="B", rejected="A")
    (preference,) = router.feedback_examples(trace, feedback)
    assert preference.output == {"chosen": "B", "rejected": "A"}


def test_implicit_signals_go_to_review_below_explicit_feedback(router: Router) -> None:
    trace = build_trace()
    signal = Feedback(trace_id=trace.trace_id, signal="rephrase", evidence="...", weight=0.5)
    (review,) = router.feedback_examples(trace, signal)
    assert review.reason == "implicit_rephrase"
    assert review.metadata["priority"] == 0.25
    annotation = router.feedback_annotation(trace, signal)
    assert (annotation.name, annotation.annotator_kind) == ("implicit_feedback.rephrase", "CODE")


def test_feedback_annotations_are_human_on_the_named_span(router: Router) -> None:
    trace = build_trace()
    feedback = Feedback(
        span_id=trace.steps[1].span_id, thumbs="down", reason="wrong order", annotator="ops"
    )
    annotation = router.feedback_annotation(trace, feedback)
    assert (annotation.target, annotation.target_id) == ("span", trace.steps[1].span_id)
    assert (annotation.name, annotation.annotator_kind, annotation.label) == (
        "user_feedback",
        "HUMAN",
        "down",
    )
    assert annotation.score == 0.0
    assert annotation.identifier == "ops"


def test_example_ids_dedupe_the_normalized_input_per_dataset() -> None:
    a = build_trace("Where is  order A-1001?", seed="a")
    b = build_trace("where is order a-1001?", seed="b")
    c = build_trace("Where is order A-1002?", seed="c")
    assert example_id("p/golden", a) == example_id("p/golden", b)
    assert example_id("p/golden", a) != example_id("p/golden", c)
    assert example_id("p/golden", a) != example_id("p/review", a)
