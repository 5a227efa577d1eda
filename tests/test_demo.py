"""The bundled demo: the scripted support agent's conversations through the whole flywheel loop.

Some customers give an email address, a phone number or a card number: the flywheel and Phoenix must
see pseudonyms only, while every other word of the conversation arrives unchanged. The planted
failures must come back from Phoenix as annotations on their culprit spans, the customers' feedback
and the failures as examples in the four datasets (linked to their source spans), and the
conversation of a customer who withheld consent in none of them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from phoenix.client import Client

from otel_flywheel.cli import main
from otel_flywheel.demo import (
    ALL_SCENARIOS,
    FOLLOW_UPS,
    PLANTED_DRIFT,
    REVIEWERS,
    SCENARIOS,
    DemoResult,
    DemoRun,
    plan_history,
    run_demo,
    write_demo_report,
)
from otel_flywheel.model import AgentTrace, StepKind
from otel_flywheel.routing import DATASET_PURPOSES
from otel_flywheel.testing.phoenix import LocalPhoenix, wait_for_spans

WHERE_IS_MY_ORDER = (
    "My order A-1001 hasn't arrived. Email me at ada.lovelace@example.com or call +44 20 7946 0958"
)
CANCEL_WITH_EMAIL = "Can I cancel order A-1002? Send the confirmation to ben.okafor@example.org"
REFUND_TO_CARD = "My order A-1005 arrived broken, refund it to my card 4111 1111 1111 1111 please"
CANCEL_WITH_PHONE = "Cancel A-1001 please, and text me on +1 415-555-0132 when it's done"
# The personal data the demo's customers give, by the kind of pseudonym it must become.
PII = {
    "ada.lovelace@example.com": "EMAIL",
    "ben.okafor@example.org": "EMAIL",
    "+44 20 7946 0958": "PHONE",
    "+1 415-555-0132": "PHONE",
    "4111 1111 1111 1111": "CARD",
}
# ... and the other ways the same values could be written.
RAW_FORMS = [*PII, "4111111111111111", "+442079460958", "+14155550132"]
USER_TOKEN = re.compile(r"<USER:[0-9a-f]{8}>")
RETURN_POLICY = "What is your return policy?"
REPHRASED = "What is your actual return policy?"
JACKET = "How many days do I have to return a jacket?"
OPENING_HOURS = "Hi, what are your opening hours?"
NO_CONSENT = "Was my order A-1005 delivered?"
REPEATED = "Has A-1001 shipped yet?"
# What the deterministic checks fail (tests configure no judge): category, subcategory, culprit.
CHECKED_FAILURES = {
    "Status of order A-1003 please": ("parameter", "missing_required", StepKind.LLM),
    "Has A-1001 shipped yet?": ("tool_selection", "repeated_call", StepKind.TOOL),
    "Do you price-match competitors?": ("knowledge_context", "empty_retrieval", StepKind.RETRIEVER),
    "Refund order A-1003, it was late": ("parameter", "malformed_arguments", StepKind.LLM),
    "Refund A-1002 please, it's late": ("parameter", "invalid_type_or_value", StepKind.LLM),
    NO_CONSENT: ("tool_selection", "repeated_call", StepKind.TOOL),
}
ROUTED_FAILURES = [question for question in CHECKED_FAILURES if question != NO_CONSENT]
THUMBS_UP = [
    "How long does standard shipping take?",
    "What does the warranty cover?",
    "Track A-1004",
]
# What each dataset holds after one run: (question, route reason) per example.
EXPECTED_DATASETS = {
    "golden": {(question, "thumbs_up") for question in THUMBS_UP},
    "regression": {
        *((question, "confident_failure") for question in ROUTED_FAILURES),
        (JACKET, "correction"),
    },
    "review": {
        *(
            (question, "failure_without_expected_output")
            for question in ROUTED_FAILURES
            if question != REPEATED
        ),
        # A customer liked an answer the checks failed (in the simulated history): both signals
        # go to review, and the explicit one replaces the inferred example.
        (REPEATED, "thumbs_up_on_failed_verdict"),
        (OPENING_HOURS, "thumbs_down"),
        (RETURN_POLICY, "implicit_rephrase"),
    },
    "preference": {(JACKET, "correction"), (REFUND_TO_CARD, "pairwise_feedback")},
}
# The feedback annotation each customer's reaction becomes (label, on the root span).
FEEDBACK_LABELS = {
    **dict.fromkeys(THUMBS_UP, "up"),
    NO_CONSENT: "up",
    JACKET: "down",
    OPENING_HOURS: "down",
    REFUND_TO_CARD: "preference",
}

_DEMO_RUN = pytest.StashKey[DemoResult]()


def demo_of_session(
    config: pytest.Config, phoenix_server: LocalPhoenix, state_dir: Path
) -> DemoResult:
    """The session's one demo run, in a project of its own; every module that asks shares it."""
    if _DEMO_RUN not in config.stash:
        config.stash[_DEMO_RUN] = run_demo(
            phoenix_url=phoenix_server.base_url,
            project=f"test-demo-{uuid.uuid4().hex[:10]}",
            state_dir=state_dir,
        )
    return config.stash[_DEMO_RUN]


@pytest.fixture(scope="session")
def demo(
    request: pytest.FixtureRequest,
    phoenix_server: LocalPhoenix,
    tmp_path_factory: pytest.TempPathFactory,
) -> DemoResult:
    return demo_of_session(request.config, phoenix_server, tmp_path_factory.mktemp("demo-state"))


def run_for(demo: DemoResult, question: str) -> DemoRun:
    (run,) = [run for run in demo.runs if run.scenario.question == question]
    return run


def trace_for(demo: DemoResult, question: str) -> AgentTrace:
    return run_for(demo, question).trace


def root_span_id(trace: AgentTrace) -> str:
    assert trace.root is not None
    return trace.root.span_id


def executed(trace: AgentTrace) -> list[tuple[str, dict[str, object], str]]:
    return [(call.name, call.arguments, step.status) for step, call in trace.tool_calls()]


def as_seen(text: str) -> re.Pattern[str]:
    """What the flywheel must see of ``text``: each PII value a pseudonym, everything else as is."""
    pattern = re.escape(text)
    for value, kind in PII.items():
        pattern = pattern.replace(re.escape(value), f"<{kind}:[0-9a-f]{{8}}>")
    return re.compile(pattern)


def span_annotations(client: Client, demo: DemoResult, *, reviewers: bool = False) -> list[Any]:
    """The annotations on every span of the demo's traces (the history's included); the
    reviewers' labels only with ``reviewers``."""
    span_ids = [step.span_id for trace in demo.traces.values() for step in trace.steps]
    found = client.spans.get_span_annotations(span_ids=span_ids, project_identifier=demo.project)
    return [a for a in found if reviewers or a.get("identifier") not in REVIEWERS]


def trace_annotations(client: Client, demo: DemoResult) -> list[dict[str, Any]]:
    trace_ids = list(demo.traces)
    data: list[dict[str, Any]] = []
    for start in range(0, len(trace_ids), 50):
        response = client._client.get(
            f"v1/projects/{demo.project}/trace_annotations",
            params={"trace_ids": trace_ids[start : start + 50], "limit": 1000},
        )
        response.raise_for_status()
        data += response.json()["data"]
    return data


def question_of(demo: DemoResult) -> dict[str, str]:
    """trace id -> the question, for the live conversations and the simulated history."""
    questions = {run.reply.trace_id: run.question for run in demo.history}
    questions.update({run.trace.trace_id: run.scenario.question for run in demo.runs})
    return questions


def dataset_examples(client: Client, name: str) -> list[Any]:
    return list(client.datasets.get_dataset(dataset=name).examples)


def test_every_scenario_yields_one_trace_whose_goal_and_answer_are_the_conversations(
    demo: DemoResult,
) -> None:
    assert len(SCENARIOS) == 20
    assert len(FOLLOW_UPS) == 2
    assert [run.scenario for run in demo.runs] == list(ALL_SCENARIOS)
    assert len({run.trace.trace_id for run in demo.runs}) == 22
    for index, run in enumerate(demo.runs, start=1):
        trace = run.trace
        assert trace.goal is not None
        assert trace.final_output is not None
        assert as_seen(run.scenario.question).fullmatch(trace.goal)
        assert as_seen(run.answer).fullmatch(trace.final_output)
        assert trace.session_id == run.scenario.conversation(index).session_id
        assert trace.user_id is not None
        assert USER_TOKEN.fullmatch(trace.user_id)  # user ids are always pseudonymized
        assert trace.project == demo.project
        assert trace.complete
        assert trace.warnings == []
        assert trace.root is not None
        assert (trace.root.kind, trace.root.name, trace.root.status) == (
            StepKind.AGENT,
            "support-agent",
            "ok",
        )
        # One LLM call per scripted turn, all answered by the scripted model.
        assert len(trace.steps_of_kind(StepKind.LLM)) == len(run.scenario.turns)
        assert trace.models == ["acme-support-1"]
    # The rephrase comes back to the session of the question it rephrases.
    assert trace_for(demo, REPHRASED).session_id == trace_for(demo, RETURN_POLICY).session_id


def test_the_scripted_answers_are_what_the_agent_returned(demo: DemoResult) -> None:
    by_question = {run.scenario.question: run.answer for run in demo.runs}
    assert by_question[WHERE_IS_MY_ORDER] == (
        "Order A-1001 has shipped with UPS and should arrive on 2026-11-24."
    )
    assert by_question["Hi, what are your opening hours?"] == (
        "Our support team is available around the clock via chat."
    )


def test_a_clean_lookup_calls_lookup_order_and_records_its_result(demo: DemoResult) -> None:
    trace = trace_for(demo, WHERE_IS_MY_ORDER)

    assert executed(trace) == [("lookup_order", {"order_id": "A-1001"}, "ok")]
    ((_, call),) = trace.tool_calls()
    assert call.result is not None
    assert '"status": "shipped"' in call.result
    assert call.error is None
    (asking, _) = trace.steps_of_kind(StepKind.LLM)
    assert asking.llm is not None
    assert [(c.name, c.arguments) for c in asking.llm.tool_calls] == [
        ("lookup_order", {"order_id": "A-1001"})
    ]


def test_the_wrong_tool_scenario_looks_up_an_order_for_a_policy_question(
    demo: DemoResult,
) -> None:
    trace = trace_for(demo, "What is your return policy?")

    assert executed(trace) == [("lookup_order", {"order_id": "A-1003"}, "ok")]
    assert trace.steps_of_kind(StepKind.RETRIEVER) == []


def test_the_malformed_arguments_scenario_keeps_the_truncated_json_and_the_tool_error(
    demo: DemoResult,
) -> None:
    trace = trace_for(demo, "Refund order A-1003, it was late")

    ((step, call),) = trace.tool_calls()
    assert call.name == "issue_refund"
    assert call.arguments_malformed
    assert call.arguments == {}
    assert call.raw_arguments == '{"order_id": "A-1003", "amount": 45.5, "rea'
    assert step.status == "error"
    assert call.error is not None
    assert "JSONDecodeError" in call.error
    assert trace.final_output == "Your refund is on its way."


def test_the_empty_retrieval_scenario_has_a_retriever_step_with_no_documents(
    demo: DemoResult,
) -> None:
    trace = trace_for(demo, "Do you price-match competitors?")

    assert executed(trace) == [("search_kb", {"query": "competitor price match guarantee"}, "ok")]
    ((tool_step, _),) = trace.tool_calls()
    (retriever,) = trace.steps_of_kind(StepKind.RETRIEVER)
    assert retriever.parent_id == tool_step.span_id
    assert retriever.retrieval is not None
    assert retriever.retrieval.query == "competitor price match guarantee"
    assert retriever.retrieval.documents == []


def test_a_successful_search_retrieves_scored_knowledge_base_articles(demo: DemoResult) -> None:
    trace = trace_for(demo, "How many days do I have to return a jacket?")

    (retriever,) = trace.steps_of_kind(StepKind.RETRIEVER)
    assert retriever.retrieval is not None
    documents = retriever.retrieval.documents
    assert documents[0].id == "kb-returns"
    assert all(d.content and d.score is not None and d.score > 0 for d in documents)


@pytest.mark.parametrize(
    ("question", "calls"),
    [
        pytest.param(
            "Status of order A-1003 please",
            [
                ("lookup_order", {"order": 1003}, "error"),
                ("lookup_order", {"order_id": "A-1003"}, "ok"),
            ],
            id="bad-arguments-then-retry",
        ),
        pytest.param(
            "Has A-1001 shipped yet?",
            [("lookup_order", {"order_id": "A-1001"}, "ok")] * 3,
            id="repeated-calls",
        ),
        pytest.param(
            "Where is order A-9999?",
            [("lookup_order", {"order_id": "A-9999"}, "error")],
            id="unknown-order",
        ),
        pytest.param(
            CANCEL_WITH_PHONE,
            [("cancel_order", {"order_id": "A-1001"}, "error")],
            id="cannot-cancel-shipped",
        ),
        pytest.param(
            REFUND_TO_CARD,
            [
                (
                    "issue_refund",
                    {"order_id": "A-1005", "amount": 720.0, "reason": "damaged"},
                    "ok",
                )
            ],
            id="refund-over-the-approval-limit",
        ),
        pytest.param(
            "When will A-1002 arrive and can I still change it?",
            [
                ("lookup_order", {"order_id": "A-1002"}, "ok"),
                ("search_kb", {"query": "cancellations before shipping"}, "ok"),
            ],
            id="two-tools-in-one-turn",
        ),
        pytest.param("Hi, what are your opening hours?", [], id="no-tools"),
    ],
)
def test_planted_failures_show_in_the_captured_tool_calls(
    demo: DemoResult, question: str, calls: list[tuple[str, dict[str, object], str]]
) -> None:
    trace = trace_for(demo, question)

    assert executed(trace) == calls
    for step, call in trace.tool_calls():
        assert (call.error is not None) == (step.status == "error")


def test_pii_in_questions_and_answers_reaches_the_flywheel_as_pseudonyms_only(
    demo: DemoResult,
) -> None:
    with_pii = [
        run
        for run in demo.runs
        if any(value in run.scenario.question + run.answer for value in PII)
    ]
    assert {run.scenario.question for run in with_pii} == {
        WHERE_IS_MY_ORDER,
        CANCEL_WITH_EMAIL,
        REFUND_TO_CARD,
        CANCEL_WITH_PHONE,
    }
    everything = "\n".join(run.trace.to_json() for run in demo.runs)
    assert [value for value in RAW_FORMS if value in everything] == []
    goal = trace_for(demo, WHERE_IS_MY_ORDER).goal
    assert goal is not None
    assert re.fullmatch(
        r"My order A-1001 hasn't arrived\. Email me at <EMAIL:[0-9a-f]{8}> or call <PHONE:[0-9a-f]{8}>",
        goal,
    )
    # The card the customer gives and the card the agent repeats get one pseudonym.
    refund = trace_for(demo, REFUND_TO_CARD)
    assert refund.goal is not None
    assert refund.final_output is not None
    (card,) = re.findall(r"<CARD:[0-9a-f]{8}>", refund.goal)
    assert card in refund.final_output
    # The answer quotes the email the question gave: the same pseudonym in both.
    cancel = trace_for(demo, CANCEL_WITH_EMAIL)
    assert cancel.goal is not None
    assert cancel.final_output is not None
    (email,) = re.findall(r"<EMAIL:[0-9a-f]{8}>", cancel.goal)
    assert email in cancel.final_output


def test_pseudonymous_user_ids_still_group_a_users_conversations(demo: DemoResult) -> None:
    token_of = {run.scenario.user_id: run.trace.user_id for run in demo.runs}

    for run in demo.runs:  # one pseudonym per user, in every trace
        assert run.trace.user_id == token_of[run.scenario.user_id]
    assert len(set(token_of.values())) == len(token_of)  # and different users stay apart
    assert sum(1 for run in demo.runs if run.trace.user_id == token_of["user-ada"]) == 3
    assert "user-ada" not in "\n".join(run.trace.to_json() for run in demo.runs)


def test_phoenix_holds_every_span_of_every_demo_trace(
    demo: DemoResult, phoenix_server: LocalPhoenix, phoenix_server_client: Client
) -> None:
    total_steps = sum(len(trace.steps) for trace in demo.traces.values())

    spans = wait_for_spans(
        phoenix_server_client,
        project=demo.project,
        min_count=total_steps,
        limit=total_steps + 50,
        timeout_seconds=60,
    )

    assert len(spans) == total_steps
    assert {s["context"]["trace_id"] for s in spans} == set(demo.traces)
    assert {s["context"]["span_id"] for s in spans} == {
        step.span_id for trace in demo.traces.values() for step in trace.steps
    }
    kinds = {s["span_kind"] for s in spans}
    assert kinds == {"AGENT", "LLM", "TOOL", "RETRIEVER"}
    # Phoenix shows only tokens: nothing the customers gave is in anything its REST API returns.
    pages: list[str] = []
    with httpx.Client(base_url=phoenix_server.base_url, timeout=30) as http:
        cursor = None
        while True:
            params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            response = http.get(f"/v1/projects/{demo.project}/spans", params=params)
            response.raise_for_status()
            pages.append(response.text)
            cursor = response.json().get("next_cursor")
            if not cursor:
                break
    assert [value for value in RAW_FORMS if value in "".join(pages)] == []
    # ... and each conversation's audit names the kinds of data that were replaced in it.
    expected_kinds = {
        WHERE_IS_MY_ORDER: {"EMAIL", "PHONE", "USER"},
        CANCEL_WITH_EMAIL: {"EMAIL", "USER"},
        REFUND_TO_CARD: {"CARD", "USER"},
        CANCEL_WITH_PHONE: {"PHONE", "USER"},
        "How long does standard shipping take?": {"USER"},
    }
    for question, kinds in expected_kinds.items():
        trace_id = trace_for(demo, question).trace_id
        audited = {
            kind
            for s in spans
            if s["context"]["trace_id"] == trace_id
            for kind in s["attributes"].get("flywheel.redaction.types", ())
        }
        assert audited == kinds, question


def test_the_customer_who_withheld_consent_is_captured_with_consent_false(
    demo: DemoResult,
) -> None:
    assert [run.scenario.question for run in demo.runs if run.trace.consent is False] == [
        NO_CONSENT
    ]
    assert {run.trace.consent for run in demo.runs if run.scenario.question != NO_CONSENT} == {None}


def test_each_planted_failure_is_annotated_on_its_culprit_span_with_its_category(
    demo: DemoResult, phoenix_server_client: Client
) -> None:
    annotations = span_annotations(phoenix_server_client, demo)
    on_span: dict[str, list[Any]] = {}
    for annotation in annotations:
        on_span.setdefault(annotation["span_id"], []).append(annotation)

    failed = {run.scenario.question for run in demo.runs if run.verdict.passed is False}
    assert failed == set(CHECKED_FAILURES)
    for question, (category, subcategory, kind) in CHECKED_FAILURES.items():
        run = run_for(demo, question)
        culprit = run.trace.step(run.verdict.culprit_span_id or "")
        assert culprit is not None
        assert culprit.kind == kind, question
        # The checks that found the failure, on the culprit span, with the taxonomy in metadata.
        found = [
            a
            for a in on_span.get(culprit.span_id, [])
            if a["annotator_kind"] == "CODE" and a["name"] != "flywheel.verdict"
        ]
        assert found, question
        # Each label says what failed at a glance; the checks' own result stays in metadata.
        assert all(
            a["result"]["label"] == f"{a['metadata']['category']}/{a['metadata']['subcategory']}"
            for a in found
        ), question
        assert all(a["metadata"]["result"] == "fail" for a in found), question
        assert all(a["result"]["score"] == 0.0 for a in found), question
        assert all(a["metadata"]["trace_id"] == run.trace.trace_id for a in found), question
        assert (category, subcategory) in {
            (a["metadata"]["category"], a["metadata"]["subcategory"]) for a in found
        }, question
        # The verdict on the root span names the category and points at the culprit.
        (verdict,) = [
            a for a in on_span[root_span_id(run.trace)] if a["name"] == "flywheel.verdict"
        ]
        assert verdict["result"]["label"] == f"{category}/{subcategory}", question
        assert verdict["result"]["score"] == 0.0, question
        assert verdict["metadata"]["culprit_span_id"] == culprit.span_id, question
        assert verdict["metadata"]["subcategory"] == subcategory, question


def test_every_trace_and_its_root_span_carry_the_verdict(
    demo: DemoResult, phoenix_server_client: Client
) -> None:
    on_traces = {
        a["trace_id"]: a
        for a in trace_annotations(phoenix_server_client, demo)
        if a["name"] == "flywheel.verdict"
    }
    on_roots = {
        a["span_id"]: a
        for a in span_annotations(phoenix_server_client, demo)
        if a["name"] == "flywheel.verdict"
    }

    assert len(on_traces) == len(on_roots) == len(demo.traces)
    for trace_id, trace in demo.traces.items():
        verdict = demo.verdicts[trace_id]
        # What failed, at a glance: `parameter/missing_required`, `pass`, `unscored`.
        expected = (
            f"{verdict.category}/{verdict.subcategory}" if verdict.passed is False else "pass"
        )
        assert on_traces[trace_id]["result"]["label"] == expected
        assert on_traces[trace_id]["result"]["score"] == (0.0 if verdict.passed is False else 1.0)
        assert on_roots[root_span_id(trace)]["result"]["label"] == expected
        assert on_roots[root_span_id(trace)]["annotator_kind"] == "CODE"
        metadata = on_traces[trace_id]["metadata"]
        assert metadata["start_time"] == verdict.start_time
        assert metadata["service"] == {
            "name": "support-agent",
            "version": verdict.service["version"],
        }
    history = {run.reply.trace_id: run for run in demo.history}
    for trace_id, run in history.items():
        metadata = on_traces[trace_id]["metadata"]
        assert metadata["cohort"] == {"tenant": run.tenant}
        assert metadata["service"]["version"] == run.version
    assert {on_traces[r.trace.trace_id]["metadata"]["service"]["version"] for r in demo.runs} == {
        "1.1.0"
    }


def test_customer_feedback_is_a_human_annotation_on_the_answers_root_span(
    demo: DemoResult, phoenix_server_client: Client
) -> None:
    annotations = span_annotations(phoenix_server_client, demo)
    live_roots = {root_span_id(run.trace) for run in demo.runs}
    feedback = {
        a["span_id"]: a
        for a in annotations
        if a["name"] == "user_feedback" and a["span_id"] in live_roots
    }

    assert {
        question: feedback[root_span_id(trace_for(demo, question))]["result"]["label"]
        for question in FEEDBACK_LABELS
    } == FEEDBACK_LABELS
    assert len(feedback) == len(FEEDBACK_LABELS)
    assert {a["annotator_kind"] for a in feedback.values()} == {"HUMAN"}
    correction = feedback[root_span_id(trace_for(demo, JACKET))]
    assert correction["metadata"]["has_correction"] is True
    assert "correction: You have 30 days" in correction["result"]["explanation"]
    # What the demo kept of each feedback is what the flywheel stored: ids and all.
    for run in demo.runs:
        if run.feedback is not None:
            stored = feedback[root_span_id(run.trace)]
            assert stored["metadata"]["feedback_id"] == run.feedback.feedback_id


def test_the_rephrase_is_detected_as_implicit_feedback_on_the_turn_it_rephrases(
    demo: DemoResult, phoenix_server_client: Client
) -> None:
    annotations = span_annotations(phoenix_server_client, demo)

    (rephrase,) = [a for a in annotations if a["name"].startswith("implicit_feedback.")]
    assert rephrase["name"] == "implicit_feedback.rephrase"
    assert rephrase["annotator_kind"] == "CODE"
    assert rephrase["span_id"] == root_span_id(trace_for(demo, RETURN_POLICY))
    assert REPHRASED in rephrase["result"]["explanation"]


def test_the_four_datasets_hold_the_expected_examples_linked_to_their_source_spans(
    demo: DemoResult, phoenix_server_client: Client
) -> None:
    questions = question_of(demo)

    assert set(demo.datasets) == set(EXPECTED_DATASETS)
    for route, expected in EXPECTED_DATASETS.items():
        name = demo.datasets[route]
        assert name == f"{demo.project}/{route}"
        examples = dataset_examples(phoenix_server_client, name)
        held = {
            (questions[e["metadata"]["source_trace_id"]], e["metadata"]["route_reason"])
            for e in examples
        }
        assert held == expected, route
        assert len(examples) == len(expected), route
        for example in examples:
            trace = demo.traces[example["metadata"]["source_trace_id"]]
            root = root_span_id(trace)
            assert example["source"]["span_id"] == root  # linked: Phoenix opens the span
            assert example["metadata"]["source_span_id"] == root
            assert example["metadata"]["route"] == route
            assert example["input"]["input"] == trace.goal
            assert example["input"]["session_id"] == trace.session_id
            # Phoenix never moves a link: an example moved to a later trace is a new example,
            # under an id naming its span (the thumbs up on a repeated question).
            own = example["metadata"]["example_id"]
            assert example["id"] in (own, f"{own}-{root}")


def test_dataset_outputs_are_the_answers_corrections_and_preferences(
    demo: DemoResult, phoenix_server_client: Client
) -> None:
    def by_reason(route: str) -> dict[tuple[str, str], Any]:
        questions = question_of(demo)
        return {
            (questions[e["metadata"]["source_trace_id"]], e["metadata"]["route_reason"]): e
            for e in dataset_examples(phoenix_server_client, demo.datasets[route])
        }

    golden = by_reason("golden")[("Track A-1004", "thumbs_up")]
    assert golden["output"] == {
        "output": "Order A-1004 was cancelled, so there is nothing to track.",
        "expected_tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1004"}}],
    }
    corrected = by_reason("regression")[(JACKET, "correction")]
    assert corrected["output"] == {
        "output": "You have 30 days from delivery to return it for a full refund."
    }
    assert corrected["metadata"]["original_output"] == (
        "You have 90 days to return it for a full refund."
    )
    preference = by_reason("preference")
    assert preference[(JACKET, "correction")]["output"] == {
        "chosen": "You have 30 days from delivery to return it for a full refund.",
        "rejected": "You have 90 days to return it for a full refund.",
    }
    pairwise = preference[(REFUND_TO_CARD, "pairwise_feedback")]["output"]
    assert pairwise["chosen"].startswith("Refunds over $500 need a supervisor's approval.")
    # The reviewer quoted the agent's reply with the customer's card: stored as its pseudonym.
    assert re.fullmatch(
        r"I've refunded \$720 to your card <CARD:[0-9a-f]{8}>\.", pairwise["rejected"]
    )
    failure = by_reason("review")[
        ("Do you price-match competitors?", "failure_without_expected_output")
    ]
    assert failure["metadata"]["category"] == "knowledge_context"
    assert failure["metadata"]["failing_checks"] == ["empty_retrieval"]
    # A thumbs up on a trace the checks failed: review, with both signals, never golden.
    conflict = by_reason("review")[(REPEATED, "thumbs_up_on_failed_verdict")]
    assert conflict["metadata"]["source_trace_id"] == demo.conflict_trace_id
    assert conflict["metadata"]["conflict"] is True
    assert conflict["metadata"]["signals"] == {
        "feedback": "up",
        "verdict": "tool_selection/repeated_call",
    }
    assert conflict["metadata"]["category"] == "tool_selection"
    golden_sources = {
        e["metadata"]["source_trace_id"]
        for e in dataset_examples(phoenix_server_client, demo.datasets["golden"])
    }
    assert demo.conflict_trace_id not in golden_sources


def test_consent_false_keeps_the_conversation_out_of_every_dataset_but_annotated(
    demo: DemoResult, phoenix_server_client: Client
) -> None:
    withheld = trace_for(demo, NO_CONSENT)
    sources = {
        example["metadata"]["source_trace_id"]
        for name in demo.datasets.values()
        for example in dataset_examples(phoenix_server_client, name)
    }
    annotated = {
        a["name"]
        for a in span_annotations(phoenix_server_client, demo)
        if a["metadata"].get("trace_id") == withheld.trace_id
        or a["span_id"] in {step.span_id for step in withheld.steps}
    }

    assert withheld.trace_id not in sources
    # Without the consent flag, its failure and its thumbs up would have been routed.
    assert run_for(demo, NO_CONSENT).verdict.passed is False
    assert annotated == {"repeated_call", "flywheel.verdict", "user_feedback"}


def test_nothing_customers_gave_reaches_phoenixs_annotations_or_datasets(
    demo: DemoResult, phoenix_server_client: Client
) -> None:
    stored = repr(span_annotations(phoenix_server_client, demo))
    stored += repr(trace_annotations(phoenix_server_client, demo))
    for name in demo.datasets.values():
        stored += repr(dataset_examples(phoenix_server_client, name))

    assert [value for value in RAW_FORMS if value in stored] == []
    assert "user-ada" not in stored


def test_the_outbox_delivered_every_write(demo: DemoResult) -> None:
    delivery = demo.delivery

    assert delivery.flushed
    assert delivery.outbox.depth == 0
    assert delivery.outbox.dead == 0
    # A rewrite of a key not yet delivered replaces it in the outbox: it is sent once.
    assert delivery.examples_upgraded == 1  # the thumbs up on a failed trace
    assert (
        delivery.writes_put - delivery.examples_upgraded
        <= delivery.outbox.done_total
        <= delivery.writes_put
    )


def test_the_counts_the_demo_reports_are_what_phoenix_holds(
    demo: DemoResult, phoenix_server_client: Client
) -> None:
    spans = Counter(a["name"] for a in span_annotations(phoenix_server_client, demo))
    traces = Counter(a["name"] for a in trace_annotations(phoenix_server_client, demo))

    assert demo.phoenix.span_annotations == dict(spans)
    assert demo.phoenix.trace_annotations == dict(traces)
    assert demo.phoenix.spans == sum(len(trace.steps) for trace in demo.traces.values())
    assert demo.phoenix.datasets == {
        demo.datasets[route]: len(expected) for route, expected in EXPECTED_DATASETS.items()
    }
    assert demo.phoenix.annotations == sum(spans.values()) + sum(traces.values())
    # Every annotation the routing put is one Phoenix holds: nothing lost, nothing doubled.
    examples = sum(len(expected) for expected in EXPECTED_DATASETS.values())
    assert demo.phoenix.annotations + examples == (
        demo.delivery.writes_put - demo.delivery.examples_upgraded
    )


def test_the_failing_trace_link_is_the_first_failures_culprit_span_in_phoenixs_ui(
    demo: DemoResult, phoenix_server: LocalPhoenix
) -> None:
    failing = demo.failing_run()

    assert failing is not None
    assert failing.scenario.question == "Status of order A-1003 please"
    url = demo.culprit_url(failing)
    assert url == f"{phoenix_server.base_url}/redirects/spans/{failing.verdict.culprit_span_id}"
    # A route of Phoenix's single-page app: the server serves the app, which resolves the span.
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_demo_command_against_a_running_phoenix_prints_the_loop_and_exits_0(
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Writes the command's own project (support-agent-demo), which no other test uses.
    code = main(
        [
            "demo",
            "--phoenix-url",
            phoenix_server.base_url + "/",
            "--working-dir",
            str(tmp_path),
            "--exit",
        ]
    )

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert "[20/22] How fast is standard shipping and where is A-1001?" in out
    assert "[21/22] (back in session-04) What is your actual return policy?" in out
    assert "2. captured and judged: the flywheel saw 22 traces" in out
    assert "goal:   Refund order A-1003, it was late" in out
    assert "seen:   tool error; malformed arguments" in out
    assert "seen:   empty retrieval" in out
    assert "consent: withheld (annotated for triage, kept out of every dataset)" in out
    assert "10 of 22 conversations carry a planted failure; 6 traces failed" in out
    assert "the deterministic checks (set FLYWHEEL_JUDGE_MODEL" in out
    assert "3. feedback: 7 reactions, sent with otel_flywheel.feedback()" in out
    assert re.search(r"thumbs down \+ correction +-> regression \+ preference +'How many days", out)
    assert re.search(r"thumbs up +-> none \(consent withheld\) +'Was my order A-1005", out)
    assert "noticed by itself in the sessions: 1 rephrase (-> review;" in out
    # The progress lines echo what the customers typed; what the flywheel captured is redacted.
    assert "[ 9/22] " + REFUND_TO_CARD in out
    captured = out.split("2. captured and judged")[1]
    assert [value for value in RAW_FORMS if value in captured] == []
    assert re.search(
        r"goal:   My order A-1001 hasn't arrived\. Email me at <EMAIL:[0-9a-f]{8}> ", out
    )
    assert re.search(r"answer: I've refunded \$720 to your card <CARD:[0-9a-f]{8}>\.\n", out)
    # The counts it prints are the ones Phoenix holds for its project.
    project = "support-agent-demo"
    (delivered,) = re.findall(r"outbox: (\d+) writes done, 0 pending, 0 rejected\n", out)
    examples = {
        route: len(dataset_examples(phoenix_server_client, f"{project}/{route}"))
        for route in EXPECTED_DATASETS
    }
    # The A/B replay (step 7) adds its preference pairs after step 5 printed the counts.
    (pairs,) = re.findall(r"preference pairs: (\d+) written to \S+/preference \(delivered\)", out)
    examples["preference"] -= int(pairs)
    for route, count in examples.items():
        assert count == len(EXPECTED_DATASETS[route])
        assert re.search(rf"\n    {project}/{route} +{count} examples\n", out), route
    spans = wait_for_spans(phoenix_server_client, project=project, min_count=1, limit=10_000)
    traces = len({s["context"]["trace_id"] for s in spans})
    assert traces == 22 + len(plan_history())  # the live conversations and the history
    span_names = Counter(
        a["name"]
        for a in phoenix_server_client.spans.get_span_annotations(
            spans=spans, project_identifier=project
        )
        if a["identifier"] not in REVIEWERS  # added after the counts were printed
    )
    assert f"  spans:       {len(spans)} in project '{project}'\n" in out
    held = sum(span_names.values()) + traces + sum(examples.values())  # before step 7
    # The review example the thumbs up replaced was sent once or twice, as timing had it.
    assert int(delivered) in (held, held + 1)
    assert (
        f"  annotations: {sum(span_names.values()) + traces} "
        f"({sum(span_names.values())} on spans, {traces} on traces)\n" in out
    )
    assert re.search(rf"\n    flywheel\.verdict +{traces} on spans, {traces} on traces\n", out)
    assert re.search(r"\n    user_feedback +8 on spans\n", out)  # 7 live, 1 in the history
    assert re.search(r"\n    implicit_feedback\.rephrase +1 on spans\n", out)
    (link,) = re.findall(r"a failing trace:  (\S+)\n", out)
    assert re.fullmatch(
        rf"{re.escape(phoenix_server.base_url)}/redirects/spans/[0-9a-f]{{16}}", link
    )
    assert f"  datasets:         {phoenix_server.base_url}/datasets\n" in out
    # The regression dataset gates a fixed agent (it passes) and the original (it fails).
    assert "GATE PASSED (exit 0)" in out
    assert "GATE FAILED (exit 1)" in out
    assert "the gate passes the fix and fails the original, as it should" in out
    # The loop into the agent: the few-shot variant beside the original, on the regression set.
    assert "7. the loop closes into the agent" in out
    assert "The demo's model is scripted" in out
    assert "A/B replay of support-agent-demo/regression" in out
    assert re.search(r"fewshot - original over the \d+ examples both scored: \+\d+\.\d%", out)
    assert "better with fewshot (fewshot passes, original fails): 1\n" in out
    assert "      Status of order A-1003 please" in out
    assert int(pairs) == 1
    # SFT, DPO and GRPO files from the demo's feedback, loadable, each with its manifest.
    exports = re.findall(r"  (SFT|DPO|GRPO): (\d+) rows -> (\S+) \(manifest: (\S+)\)\n", out)
    assert [kind for kind, *_ in exports] == ["SFT", "DPO", "GRPO"]
    for _kind, rows, path, manifest in exports:
        assert int(rows) > 0
        assert pq.read_table(path).num_rows == int(rows)
        assert json.loads(Path(manifest).read_text())
    # The loop's last step: the report, written under the working dir, and the top of its plan.
    assert (
        f"9. analyzed and planned: {len(plan_history())} conversations of the last two weeks" in out
    )
    assert re.search(r"drift: parameter for tenant=globex: \d+% -> \d+% \(q=", out)
    assert re.search(r"\n    1\. parameter -> prompt or tool schema: \d+ failures", out)
    assert f"  the report:       {tmp_path / 'report' / 'report.html'}\n" in out
    for name in ("report.html", "report.json", "report.md"):
        assert (tmp_path / "report" / name).is_file()


def test_demo_command_with_a_bad_phoenix_url_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["demo", "--phoenix-url", "localhost:6006", "--working-dir", str(tmp_path), "--exit"]
    )

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("otel-flywheel demo: endpoint='localhost:6006' is not an http(s) URL")


def test_planted_deterministic_failures_get_verdicts_with_the_right_categories(
    demo: DemoResult,
) -> None:
    by_question = {run.scenario.question: run for run in demo.runs}

    def verdict_of(question_start: str) -> tuple[object, object, str | None]:
        [run] = [r for q, r in by_question.items() if q.startswith(question_start)]
        verdict = run.verdict
        culprit = run.trace.step(verdict.culprit_span_id or "")
        return verdict.category, verdict.subcategory, culprit.kind.value if culprit else None

    assert verdict_of("Status of order A-1003") == ("parameter", "missing_required", "llm")
    assert verdict_of("Has A-1001 shipped") == ("tool_selection", "repeated_call", "tool")
    assert verdict_of("Do you price-match") == ("knowledge_context", "empty_retrieval", "retriever")
    assert verdict_of("Refund order A-1003") == ("parameter", "malformed_arguments", "llm")
    assert verdict_of("Refund A-1002") == ("parameter", "invalid_type_or_value", "llm")
    assert verdict_of("Was my order A-1005") == ("tool_selection", "repeated_call", "tool")
    # A 404 the agent reported honestly is an observation, not a badcase.
    [not_found] = [r for q, r in by_question.items() if q.startswith("Where is order A-9999")]
    assert not_found.verdict.passed is True
    assert any(e.label == "tool_error" for e in not_found.verdict.evaluations)
    assert demo.judged is False  # no judge endpoint configured in tests


def test_the_report_over_the_demo_finds_the_planted_drift_and_the_reviewers_disagreement(
    demo: DemoResult, tmp_path: Path
) -> None:
    written = write_demo_report(
        phoenix_url=demo.phoenix_url,
        project=demo.project,
        datasets=list(demo.datasets.values()),
        out_dir=tmp_path / "report",
    )
    report = written.report
    assert json.loads(written.json.read_text())["flags"] == report["flags"]
    assert written.markdown.read_text().startswith("## otel-flywheel report")
    assert "<svg" in written.html.read_text()
    # Every trace of the project, read back from Phoenix with its verdict.
    assert report["totals"]["traces"] == len(demo.traces)
    assert report["cohort_attributes"] == ["tenant"]
    # The planted drift: parameter failures for globex on the new version.
    category, tenant, version = PLANTED_DRIFT
    (cell,) = [
        c
        for c in report["drift"]
        if c["category"] == category and c["cohort"] == {"tenant": tenant}
    ]
    assert cell["flagged"]
    assert cell["direction"] == "worse"
    assert cell["current"]["rate"] > 3 * cell["baseline"]["rate"]
    (acme,) = [
        c
        for c in report["drift"]
        if c["category"] == category and c["cohort"] == {"tenant": "acme"}
    ]
    assert not acme["flagged"]
    regressions = {r["category"]: r for r in report["compare"]["regressions"] if r["flagged"]}
    assert regressions[category]["to_version"] == version
    assert report["plan"][0]["category"] == category
    assert report["plan"][0]["examples"]  # with traces to look at
    # The new question globex started asking, which no golden example covers.
    assert any("delivery address" in c["cluster"] for c in report["input_mix"]["new_uncovered"])
    # The customer's thumbs up on a failed trace is counted as a conflict.
    (everyone,) = report["feedback"]["cuts"]["everyone"]
    assert everyone["conflicts"]["thumbs_up_on_failed"] >= 1
    # The reviewers' labels against the verdicts: bob disagrees on the parameter failures.
    (verdict_row,) = [r for r in report["calibration"] if r["rubric_id"] == "flywheel.verdict"]
    bob = next(a for a in verdict_row["annotators"] if a["annotator"] == "bob")
    alice = next(a for a in verdict_row["annotators"] if a["annotator"] == "alice")
    assert alice["agreement_with_judge"] == 1.0
    assert bob["agreement_with_judge"] < 1.0
    assert verdict_row["reviewers"]["items_with_two_or_more"] >= 1
    disagreements = [r for r in demo.reviews if r.passed != r.verdict_passed]
    assert {r.reviewer for r in disagreements} == {"bob"}
    # Review items the reviewers labelled leave the queue.
    labelled = {r.trace_id for r in demo.reviews}
    assert not labelled & {item["trace_id"] for item in report["review_queue"]["items"]}


def test_each_routed_dataset_says_what_it_holds_in_its_description_and_labels(
    demo: DemoResult, phoenix_server_client: Client
) -> None:
    http = phoenix_server_client._client
    listed = {d["name"]: d for d in phoenix_server_client.datasets.list()}
    for route, name in demo.datasets.items():
        purpose = DATASET_PURPOSES[route]  # type: ignore[index]
        assert listed[name]["description"] == purpose.description
        response = http.get(f"v1/datasets/{listed[name]['id']}/labels")
        response.raise_for_status()
        labels = {label["name"]: label["description"] for label in response.json()["data"]}
        assert labels == purpose.labels
