"""The demo agent's traces through the whole loop into a real Phoenix.

``build_flywheel`` -> deterministic checks and a rubric judge (the scripted LLM server plays the
judge model) -> routing -> SQLite outbox -> ``PhoenixSink``; then feedback for every routing rule
through ``flywheel.submit_feedback``. Everything is read back over Phoenix's REST API.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flywheel_e2e import (
    DemoCopy,
    VerdictLog,
    copy_demo,
    dataset_examples,
    delivered_writes,
    demo_questions,
    export_and_wait,
    phoenix,
    phoenix_spans,
    phoenix_writes,
    span_annotations,
    trace_annotations,
)
from opentelemetry.sdk.trace import ReadableSpan

from otel_flywheel._flywheel import build_flywheel
from otel_flywheel.evaluation import load_trace_evaluator
from otel_flywheel.model import Feedback, Verdict
from otel_flywheel.routing import VERDICT_ANNOTATION
from otel_flywheel.testing.llm_server import Reply, ScriptedLLMServer, StructuredJSON
from otel_flywheel.testing.phoenix import LocalPhoenix

JUDGE_MODEL = "judge-model"
# What the checks catch (evaluator, category, kind of the culprit span in Phoenix).
BAD_ARGS = "Status of order A-1003 please"
REPEATED = "Has A-1001 shipped yet?"
PRICE_MATCH = "Do you price-match competitors?"
CHECKED = {
    BAD_ARGS: ("argument_schema", "parameter", "LLM"),
    REPEATED: ("repeated_call", "tool_selection", "TOOL"),
    PRICE_MATCH: ("empty_retrieval", "knowledge_context", "RETRIEVER"),
}
# What only the judge catches: a confident wrong tool, and a failure it is unsure of.
WRONG_TOOL = "What is your return policy?"
UNCERTAIN = "What does the warranty cover?"
# Feedback, one rule each.
THUMBS_UP = "How long does standard shipping take?"
CORRECTED = "How many days do I have to return a jacket?"
CORRECTION = "You have 30 days to return it for a full refund."
THUMBS_DOWN = "Is express shipping faster?"
IMPLICIT = "Track A-1004"
PAIRWISE = "Hi, what are your opening hours?"
PAIR = ("We're here 24/7 on chat; see the help centre for phone hours.", "Around the clock.")
NO_CONSENT = "Refund A-1002 please, it's late"  # fails a check, then gets a correction


def judge_reply(body: dict[str, Any]) -> Reply:
    """The judge model: the question is in the last (user) message; the system prompt's own
    examples quote some of the demo's questions too."""
    asked = json.dumps(body["messages"][-1])
    failing = {WRONG_TOOL: 0.95, UNCERTAIN: 0.4}
    for question, confidence in failing.items():
        if json.dumps(question)[1:-1] in asked:
            return StructuredJSON(
                {
                    "explanation": "Step 1 called lookup_order; search_kb answers policy questions.",
                    "label": "incorrect",
                    "category": "tool_selection",
                    "subcategory": "wrong_tool",
                    "culprit_step": 2,
                    "confidence": confidence,
                }
            )
    return StructuredJSON(
        {
            "explanation": "Every call was needed.",
            "label": "correct",
            "category": None,
            "subcategory": None,
            "culprit_step": None,
            "confidence": 0.9,
        }
    )


@dataclass
class Run:
    copy: DemoCopy
    verdicts: dict[str, Verdict]
    delivered: Any  # Counter of write keys the outbox delivered
    depth: int
    dead: int

    @property
    def project(self) -> str:
        return self.copy.project

    def trace_id(self, question: str) -> str:
        return self.copy.trace_ids[question]

    def verdict(self, question: str) -> Verdict:
        return self.verdicts[self.trace_id(question)]


@pytest.fixture(scope="module")
def run(
    demo_spans: list[ReadableSpan],
    phoenix_server: LocalPhoenix,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Run]:
    project = f"e2e-routing-{uuid.uuid4().hex[:10]}"
    copy = copy_demo(
        demo_spans, demo_questions(demo_spans), project=project, without_consent=[NO_CONSENT]
    )
    export_and_wait(copy.spans, base_url=phoenix_server.base_url, project=project)
    traces = copy.traces()
    log = VerdictLog()
    with (
        pytest.MonkeyPatch.context() as env,
        ScriptedLLMServer(responder=judge_reply) as judge,
    ):
        env.setenv("FLYWHEEL_STATE_DIR", str(tmp_path_factory.mktemp("e2e-routing-state")))
        evaluator = load_trace_evaluator(
            judge=True,
            rubric_ids=["tool_selection"],
            judge_options={
                "model": JUDGE_MODEL,
                "base_url": judge.base_url,
                "api_key": "test",
                "cache_path": None,
                "max_retries": 1,
                "timeout_seconds": 30.0,
                "environ": {},
            },
        )
        flywheel = build_flywheel(
            project=project,
            phoenix_url=phoenix_server.base_url,
            evaluator=evaluator,
            extra_sinks=(log,),
        )
        try:
            for trace in traces.values():
                flywheel.submit(trace)
            assert flywheel.force_flush(120_000)

            def on(question: str) -> str:
                return traces[question].trace_id

            express_tool = next(s for s in traces[THUMBS_DOWN].steps if s.name == "search_kb")
            for feedback in (
                Feedback(trace_id=on(THUMBS_UP), thumbs="up", annotator="support-lead"),
                Feedback(trace_id=on(CORRECTED), thumbs="down", correction=CORRECTION),
                Feedback(span_id=express_tool.span_id, thumbs="down", reason="too vague"),
                Feedback(trace_id=on(IMPLICIT), signal="retry", evidence="regenerated", weight=0.6),
                Feedback(trace_id=on(PAIRWISE), chosen=PAIR[0], rejected=PAIR[1]),
                Feedback(
                    trace_id=on(NO_CONSENT), thumbs="down", correction="Refund needs approval."
                ),
            ):
                flywheel.submit_feedback(feedback)
            assert flywheel.force_flush(120_000)
            stats = flywheel.outbox.stats()
            yield Run(
                copy=copy,
                verdicts=dict(log.verdicts),
                delivered=delivered_writes(flywheel.outbox),
                depth=stats.depth,
                dead=stats.dead,
            )
        finally:
            flywheel.shutdown()


@pytest.fixture
def client(phoenix_server: LocalPhoenix) -> Iterator[Any]:
    with phoenix(phoenix_server.base_url) as phoenix_client:
        yield phoenix_client


def examples_by_input(client: Any, run: Run, route: str) -> dict[str, dict[str, Any]]:
    examples = dataset_examples(client, f"{run.project}/{route}")
    by_input = {e["input"]["input"]: e for e in examples}
    assert len(by_input) == len(examples), f"two {route} examples for one input"
    return by_input


# --- annotations ------------------------------------------------------------------------------------


def test_every_trace_gets_one_verdict_annotation_on_the_trace_and_one_on_its_root_span(
    run: Run, client: Any
) -> None:
    annotations = trace_annotations(client, run.project, run.copy.trace_ids.values())
    verdicts = [a for a in annotations if a["name"] == VERDICT_ANNOTATION]
    assert sorted(a["trace_id"] for a in verdicts) == sorted(run.copy.trace_ids.values())
    for question, trace_id in run.copy.trace_ids.items():
        verdict = run.verdict(question)
        expected = verdict.label  # pass, or category/subcategory: what failed, at a glance
        (on_trace,) = [a for a in verdicts if a["trace_id"] == trace_id]
        assert on_trace["result"]["label"] == expected, question
        root = run.copy.root_span_id(question)
        on_root = [
            a
            for a in span_annotations(client, run.project, [root])
            if a["name"] == VERDICT_ANNOTATION
        ]
        assert [a["result"]["label"] for a in on_root] == [expected], question


@pytest.mark.parametrize("question", sorted(CHECKED))
def test_a_failed_check_is_annotated_on_its_culprit_span_with_its_category(
    run: Run, client: Any, question: str
) -> None:
    evaluator, category, kind = CHECKED[question]
    spans = {
        s["context"]["span_id"]: s
        for s in phoenix_spans(client, run.project, run.trace_id(question))
    }
    found = [
        a
        for a in span_annotations(client, run.project, spans)
        if a["name"] == evaluator and a["metadata"]["result"] == "fail"
    ]
    assert found, f"no failing {evaluator} annotation on {question!r}"
    for annotation in found:
        assert annotation["annotator_kind"] == "CODE"
        assert annotation["metadata"]["category"] == category
        assert annotation["result"]["label"].startswith(f"{category}/")
        assert spans[annotation["span_id"]]["span_kind"] == kind
    verdict = run.verdict(question)
    assert (verdict.category, spans[verdict.culprit_span_id or ""]["span_kind"]) == (category, kind)


def test_the_judges_confident_failure_is_an_llm_annotation_on_the_model_turn_that_chose_wrong(
    run: Run, client: Any
) -> None:
    spans = {
        s["context"]["span_id"]: s
        for s in phoenix_spans(client, run.project, run.trace_id(WRONG_TOOL))
    }
    (judged,) = [
        a for a in span_annotations(client, run.project, spans) if a["name"] == "tool_selection"
    ]
    assert (judged["annotator_kind"], judged["result"]["label"]) == (
        "LLM",
        "tool_selection/wrong_tool",
    )
    assert judged["metadata"]["result"] == "incorrect"  # the rubric's own label
    assert judged["metadata"]["judge_model"] == JUDGE_MODEL
    assert judged["metadata"]["subcategory"] == "wrong_tool"
    assert spans[judged["span_id"]]["span_kind"] == "LLM"


def test_feedback_is_annotated_on_the_span_it_names_else_on_the_root(run: Run, client: Any) -> None:
    def feedback_on(question: str) -> list[tuple[str, str, str, str]]:
        return [
            (a["span_id"], a["name"], a["annotator_kind"], a["result"]["label"])
            for a in span_annotations(client, run.project, run.copy.span_ids(question))
            if "feedback" in a["name"]
        ]

    root = run.copy.root_span_id
    assert feedback_on(THUMBS_UP) == [(root(THUMBS_UP), "user_feedback", "HUMAN", "up")]
    assert feedback_on(CORRECTED) == [(root(CORRECTED), "user_feedback", "HUMAN", "down")]
    assert feedback_on(IMPLICIT) == [(root(IMPLICIT), "implicit_feedback.retry", "CODE", "retry")]
    assert feedback_on(PAIRWISE) == [(root(PAIRWISE), "user_feedback", "HUMAN", "preference")]
    [(span_id, *rest)] = feedback_on(THUMBS_DOWN)
    assert rest == ["user_feedback", "HUMAN", "down"]
    assert span_id != root(THUMBS_DOWN)
    assert run.copy.span_names(THUMBS_DOWN)[span_id] == "search_kb"


# --- datasets ---------------------------------------------------------------------------------------


def test_confident_failures_become_regression_and_review_examples_linked_to_their_traces(
    run: Run, client: Any
) -> None:
    regression = examples_by_input(client, run, "regression")
    review = examples_by_input(client, run, "review")
    for question in (*CHECKED, WRONG_TOOL):
        for examples in (regression, review):
            example = examples[question]
            assert example["source"]["span_id"] == run.copy.root_span_id(question)
            assert example["metadata"]["source_trace_id"] == run.trace_id(question)
            assert example["metadata"]["category"] == run.verdict(question).category
        assert regression[question]["metadata"]["route_reason"] == "confident_failure"
        assert review[question]["metadata"]["route_reason"] == "failure_without_expected_output"
    assert regression[WRONG_TOOL]["metadata"]["failing_rubrics"] == ["tool_selection"]
    assert "argument_schema" in regression[BAD_ARGS]["metadata"]["failing_checks"]


def test_an_uncertain_judgment_goes_to_review_only_ranked_by_its_uncertainty(
    run: Run, client: Any
) -> None:
    example = examples_by_input(client, run, "review")[UNCERTAIN]
    assert example["metadata"]["route_reason"] == "uncertain_judgment"
    assert example["metadata"]["confidence"] == 0.4
    assert 0 < example["metadata"]["priority"] <= 0.6
    assert UNCERTAIN not in examples_by_input(client, run, "regression")


def test_thumbs_up_becomes_a_golden_example_with_the_tool_calls_to_replay(
    run: Run, client: Any
) -> None:
    golden = examples_by_input(client, run, "golden")
    assert list(golden) == [THUMBS_UP]
    example = golden[THUMBS_UP]
    assert example["output"]["expected_tool_calls"] == [
        {"name": "search_kb", "arguments": {"query": "standard shipping time"}}
    ]
    assert example["metadata"]["annotator"] == "support-lead"
    assert example["source"]["span_id"] == run.copy.root_span_id(THUMBS_UP)


def test_a_correction_becomes_a_regression_example_and_a_preference_pair(
    run: Run, client: Any
) -> None:
    regression = examples_by_input(client, run, "regression")[CORRECTED]
    assert regression["output"] == {"output": CORRECTION}
    assert regression["metadata"]["expected_output_known"] is True
    assert regression["metadata"]["original_output"] == (
        "You have 90 days to return it for a full refund."
    )
    preference = examples_by_input(client, run, "preference")[CORRECTED]
    assert preference["output"] == {
        "chosen": CORRECTION,
        "rejected": "You have 90 days to return it for a full refund.",
    }


def test_thumbs_down_and_implicit_signals_go_to_review_people_first(run: Run, client: Any) -> None:
    review = examples_by_input(client, run, "review")
    assert review[THUMBS_DOWN]["metadata"]["route_reason"] == "thumbs_down"
    assert review[THUMBS_DOWN]["metadata"]["priority"] == 1.0
    assert review[IMPLICIT]["metadata"]["route_reason"] == "implicit_retry"
    assert review[IMPLICIT]["metadata"]["priority"] == pytest.approx(0.3)


def test_a_pairwise_preference_becomes_a_preference_example(run: Run, client: Any) -> None:
    example = examples_by_input(client, run, "preference")[PAIRWISE]
    assert example["output"] == {"chosen": PAIR[0], "rejected": PAIR[1]}
    assert example["metadata"]["route_reason"] == "pairwise_feedback"


def test_a_trace_without_consent_is_annotated_but_enters_no_dataset(run: Run, client: Any) -> None:
    assert run.verdict(NO_CONSENT).passed is False
    trace_id = run.trace_id(NO_CONSENT)
    for route in ("golden", "regression", "review", "preference"):
        examples = dataset_examples(client, f"{run.project}/{route}")
        assert [e for e in examples if e["metadata"]["source_trace_id"] == trace_id] == []
    names = {
        a["name"] for a in span_annotations(client, run.project, run.copy.span_ids(NO_CONSENT))
    }
    assert {VERDICT_ANNOTATION, "user_feedback"} <= names


def test_every_write_the_outbox_delivered_is_in_phoenix_exactly_once(run: Run, client: Any) -> None:
    assert (run.depth, run.dead) == (0, 0)
    assert phoenix_writes(client, run.copy) == run.delivered
    assert set(run.delivered.values()) == {1}
