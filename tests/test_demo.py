"""The bundled demo: the scripted support agent's 20 conversations reach the flywheel and Phoenix.

Some customers give an email address, a phone number or a card number: the flywheel and Phoenix must
see pseudonyms only, while every other word of the conversation arrives unchanged.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from phoenix.client import Client

from otel_flywheel.cli import main
from otel_flywheel.demo import SCENARIOS, DemoResult, run_demo
from otel_flywheel.model import AgentTrace, StepKind
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


@pytest.fixture(scope="module")
def demo(phoenix_server: LocalPhoenix) -> DemoResult:
    return run_demo(
        phoenix_url=phoenix_server.base_url, project=f"test-demo-{uuid.uuid4().hex[:10]}"
    )


def trace_for(demo: DemoResult, question: str) -> AgentTrace:
    (run,) = [run for run in demo.runs if run.scenario.question == question]
    return run.trace


def executed(trace: AgentTrace) -> list[tuple[str, dict[str, object], str]]:
    return [(call.name, call.arguments, step.status) for step, call in trace.tool_calls()]


def as_seen(text: str) -> re.Pattern[str]:
    """What the flywheel must see of ``text``: each PII value a pseudonym, everything else as is."""
    pattern = re.escape(text)
    for value, kind in PII.items():
        pattern = pattern.replace(re.escape(value), f"<{kind}:[0-9a-f]{{8}}>")
    return re.compile(pattern)


def test_every_scenario_yields_one_trace_whose_goal_and_answer_are_the_conversations(
    demo: DemoResult,
) -> None:
    assert len(demo.runs) == len(SCENARIOS) == 20
    assert [run.scenario for run in demo.runs] == list(SCENARIOS)
    assert len({run.trace.trace_id for run in demo.runs}) == 20
    for index, run in enumerate(demo.runs, start=1):
        trace = run.trace
        assert trace.goal is not None
        assert trace.final_output is not None
        assert as_seen(run.scenario.question).fullmatch(trace.goal)
        assert as_seen(run.answer).fullmatch(trace.final_output)
        assert trace.session_id == f"session-{index:02d}"
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
    total_steps = sum(len(run.trace.steps) for run in demo.runs)

    spans = wait_for_spans(
        phoenix_server_client,
        project=demo.project,
        min_count=total_steps,
        limit=total_steps + 50,
        timeout_seconds=60,
    )

    assert len(spans) == total_steps
    assert {s["context"]["trace_id"] for s in spans} == {r.trace.trace_id for r in demo.runs}
    assert {s["context"]["span_id"] for s in spans} == {
        step.span_id for run in demo.runs for step in run.trace.steps
    }
    kinds = {s["span_kind"] for s in spans}
    assert kinds == {"AGENT", "LLM", "TOOL", "RETRIEVER"}
    # Phoenix shows only tokens: nothing the customers gave is in anything its REST API returns.
    with httpx.Client(base_url=phoenix_server.base_url, timeout=30) as http:
        response = http.get(f"/v1/projects/{demo.project}/spans", params={"limit": 1000})
    response.raise_for_status()
    assert [value for value in RAW_FORMS if value in response.text] == []
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


def test_demo_command_against_a_running_phoenix_prints_the_captured_traces_and_exits_0(
    demo: DemoResult, phoenix_server: LocalPhoenix, capsys: pytest.CaptureFixture[str]
) -> None:
    # Writes the command's own project (support-agent-demo), which no other test uses, so the
    # span count it waits for is exactly this run's.
    code = main(["demo", "--phoenix-url", phoenix_server.base_url + "/", "--exit"])

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert "[20/20] How fast is standard shipping and where is A-1001?" in out
    assert "the flywheel captured 20 traces:" in out
    assert "goal:   Refund order A-1003, it was late" in out
    assert "seen:   tool error; malformed arguments" in out
    assert "seen:   empty retrieval" in out
    assert "9 of 20 conversations carry a planted failure" in out
    # The progress lines echo what the customers typed; what the flywheel captured is redacted.
    assert "[ 9/20] " + REFUND_TO_CARD in out
    captured = out.split("the flywheel captured 20 traces:")[1]
    assert [value for value in RAW_FORMS if value in captured] == []
    assert re.search(
        r"goal:   My order A-1001 hasn't arrived\. Email me at <EMAIL:[0-9a-f]{8}> ", out
    )
    assert re.search(r"answer: I've refunded \$720 to your card <CARD:[0-9a-f]{8}>\.\n", out)
    total_steps = sum(len(run.trace.steps) for run in demo.runs)
    assert (
        f"Phoenix holds {total_steps} spans in project 'support-agent-demo': "
        f"{phoenix_server.base_url}\n" in out
    )


def test_demo_command_with_a_bad_phoenix_url_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "--phoenix-url", "localhost:6006", "--exit"])

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
    assert verdict_of("Refund order A-1003") == ("parameter", "invalid_type_or_value", "llm")
    # A 404 the agent reported honestly is an observation, not a badcase.
    [not_found] = [r for q, r in by_question.items() if q.startswith("Where is order A-9999")]
    assert not_found.verdict.passed is True
    assert any(e.label == "tool_error" for e in not_found.verdict.evaluations)
    assert demo.judged is False  # no judge endpoint configured in tests
