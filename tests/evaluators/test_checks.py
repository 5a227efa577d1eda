"""Deterministic checks: on the demo agent's real traces (real openai client, real OpenInference
instrumentor, real SDK) and on small hand-built traces for the matcher and format rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluators.checks import (
    ArgumentSchemaCheck,
    Check,
    EmptyRetrievalCheck,
    ExpectedToolCallsCheck,
    LatencyBudgetCheck,
    OutputFormatCheck,
    RepeatedCallCheck,
    TokenBudgetCheck,
    ToolCatalog,
    ToolErrorCheck,
    UnknownToolCheck,
    default_checks,
)
from otel_flywheel.model import (
    AgentTrace,
    Document,
    Evaluation,
    LLMCall,
    Message,
    Retrieval,
    Step,
    StepKind,
    TokenUsage,
    ToolCall,
    ToolDefinition,
)

# --- the demo's traces ---------------------------------------------------------------------------


def trace_asking(traces: dict[str, AgentTrace], fragment: str) -> AgentTrace:
    (trace,) = [trace for question, trace in traces.items() if fragment in question]
    return trace


def failures(check: Check, trace: AgentTrace) -> list[Evaluation]:
    return [e for e in check.evaluate(trace) if e.passed is not True]


def culprit_kind(trace: AgentTrace, evaluation: Evaluation) -> StepKind:
    assert evaluation.culprit_span_id is not None
    step = trace.step(evaluation.culprit_span_id)
    assert step is not None
    return step.kind


CLEAN = [
    "My order A-1001 hasn't arrived",
    "How long does standard shipping take?",
    "What does the warranty cover?",
    "Is express shipping faster?",
    "I want a refund for A-1003",
    "When will A-1002 arrive",
    "Track A-1004",
    "How fast is standard shipping and where is A-1001?",
]


@pytest.mark.parametrize("fragment", CLEAN)
def test_clean_demo_conversations_pass_every_default_check(
    demo_traces: dict[str, AgentTrace], fragment: str
) -> None:
    trace = trace_asking(demo_traces, fragment)
    for check in default_checks():
        (evaluation,) = check.evaluate(trace)
        assert evaluation.passed is True, (check.name, evaluation.explanation)
        assert evaluation.label == "pass"
        assert evaluation.score == 1.0
        assert evaluation.category is None


def test_bad_arguments_are_missing_required_and_wrong_field_mapping_blamed_on_the_llm_step(
    demo_traces: dict[str, AgentTrace],
) -> None:
    trace = trace_asking(demo_traces, "Status of order A-1003 please")
    found = failures(ArgumentSchemaCheck(), trace)
    assert {(e.category, e.subcategory) for e in found} == {
        ("parameter", "missing_required"),
        ("parameter", "wrong_field_mapping"),
    }
    first_llm = trace.steps_of_kind(StepKind.LLM)[0]
    for evaluation in found:
        assert evaluation.culprit_span_id == first_llm.span_id
        assert evaluation.label == "fail"
        assert evaluation.score == 0.0
        assert "lookup_order" in evaluation.explanation
        assert "order=1003" in evaluation.explanation
    (missing,) = [e for e in found if e.subcategory == "missing_required"]
    assert "'order_id' is a required property" in missing.explanation
    (extra,) = [e for e in found if e.subcategory == "wrong_field_mapping"]
    assert "'order' was unexpected" in extra.explanation


def test_malformed_arguments_are_malformed_arguments_and_quote_the_raw_text(
    demo_traces: dict[str, AgentTrace],
) -> None:
    trace = trace_asking(demo_traces, "Refund order A-1003, it was late")
    (evaluation,) = failures(ArgumentSchemaCheck(), trace)
    assert (evaluation.category, evaluation.subcategory) == ("parameter", "malformed_arguments")
    assert culprit_kind(trace, evaluation) is StepKind.LLM
    assert "issue_refund" in evaluation.explanation
    assert '{"order_id": "A-1003", "amount": 45.5, "rea' in evaluation.explanation


def test_a_reason_outside_the_enum_is_an_invalid_value(demo_traces: dict[str, AgentTrace]) -> None:
    trace = trace_asking(demo_traces, "Refund A-1002 please, it's late")
    (evaluation,) = failures(ArgumentSchemaCheck(), trace)
    assert (evaluation.category, evaluation.subcategory) == ("parameter", "invalid_type_or_value")
    assert "'slow' is not one of" in evaluation.explanation
    assert "'reason'" in evaluation.explanation


def test_three_identical_lookups_are_a_repeated_call_blamed_on_the_first_repeat(
    demo_traces: dict[str, AgentTrace],
) -> None:
    trace = trace_asking(demo_traces, "Has A-1001 shipped yet?")
    (evaluation,) = failures(RepeatedCallCheck(), trace)
    assert (evaluation.category, evaluation.subcategory) == ("tool_selection", "repeated_call")
    tool_steps = trace.steps_of_kind(StepKind.TOOL)
    assert evaluation.culprit_span_id == tool_steps[1].span_id
    assert "lookup_order(order_id='A-1001')" in evaluation.explanation
    assert "3 times" in evaluation.explanation


def test_a_retriever_with_no_documents_is_an_empty_retrieval_on_that_step(
    demo_traces: dict[str, AgentTrace],
) -> None:
    trace = trace_asking(demo_traces, "Do you price-match competitors?")
    (evaluation,) = failures(EmptyRetrievalCheck(), trace)
    assert (evaluation.category, evaluation.subcategory) == ("knowledge_context", "empty_retrieval")
    assert culprit_kind(trace, evaluation) is StepKind.RETRIEVER
    assert "competitor price match guarantee" in evaluation.explanation


def test_an_order_not_found_is_a_tool_error_on_the_tool_step_without_a_badcase_category(
    demo_traces: dict[str, AgentTrace],
) -> None:
    trace = trace_asking(demo_traces, "Where is order A-9999?")
    (evaluation,) = failures(ToolErrorCheck(), trace)
    assert evaluation.passed is False
    assert evaluation.label == "tool_error"
    assert evaluation.category is None
    assert culprit_kind(trace, evaluation) is StepKind.TOOL
    assert "404: no order A-9999" in evaluation.explanation
    assert "lookup_order(order_id='A-9999')" in evaluation.explanation


@pytest.mark.parametrize(
    ("fragment", "subcategory"),
    [
        ("Status of order A-1003 please", "missing_required"),
        ("Refund order A-1003, it was late", "malformed_arguments"),
    ],
)
def test_a_tool_failing_on_bad_arguments_is_a_parameter_error(
    demo_traces: dict[str, AgentTrace], fragment: str, subcategory: str
) -> None:
    trace = trace_asking(demo_traces, fragment)
    (evaluation,) = failures(ToolErrorCheck(), trace)
    assert (evaluation.category, evaluation.subcategory) == ("parameter", subcategory)
    assert culprit_kind(trace, evaluation) is StepKind.TOOL


def test_demo_tools_are_all_offered_so_unknown_tool_passes_everywhere(
    demo_traces: dict[str, AgentTrace],
) -> None:
    for trace in demo_traces.values():
        assert failures(UnknownToolCheck(), trace) == []


# --- hand-built traces ---------------------------------------------------------------------------

TRACE_ID = "0" * 31 + "1"
LOOKUP_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
    "additionalProperties": False,
}
OFFERED = [
    ToolDefinition(name="lookup_order", parameters=LOOKUP_SCHEMA),
    ToolDefinition(name="search_kb", parameters={"type": "object"}),
]


def build_trace(
    turns: Sequence[Sequence[tuple[str, dict[str, Any]]]],
    *,
    answer: str = "done",
    tools: Sequence[ToolDefinition] = OFFERED,
    tool_schema: dict[str, Any] | None = None,
    tool_results: dict[str, str] | None = None,
) -> AgentTrace:
    """An agent root, then per turn one LLM step requesting the calls and a TOOL step per call."""
    counter = iter(range(1, 1000))

    def span_id() -> str:
        return f"{next(counter):016x}"

    root = Step(
        trace_id=TRACE_ID, span_id=span_id(), parent_id=None, kind=StepKind.AGENT, name="agent"
    )
    steps = [root]
    results = tool_results or {}
    for turn in [*turns, []]:
        calls = [ToolCall(name=name, arguments=args) for name, args in turn]
        output = [Message(role="assistant", content=None if turn else answer)]
        llm = LLMCall(tool_calls=calls, tools=list(tools), output_messages=output)
        llm.usage = TokenUsage(total_tokens=100)
        steps.append(
            Step(
                trace_id=TRACE_ID,
                span_id=span_id(),
                parent_id=root.span_id,
                kind=StepKind.LLM,
                name="chat",
                llm=llm,
            )
        )
        for name, args in turn:
            result = results.get(name, "{}")
            tool = ToolCall(name=name, arguments=args, result=result, schema=tool_schema)
            steps.append(
                Step(
                    trace_id=TRACE_ID,
                    span_id=span_id(),
                    parent_id=root.span_id,
                    kind=StepKind.TOOL,
                    name=name,
                    status="ok",
                    output=result,
                    tool=tool,
                )
            )
    return AgentTrace(trace_id=TRACE_ID, steps=steps, goal="question", final_output=answer)


def subcategories(evaluations: list[Evaluation]) -> list[str | None]:
    return sorted((e.subcategory for e in evaluations if e.passed is False), key=str)


def test_expected_parallel_calls_match_in_any_order() -> None:
    trace = build_trace(
        [[("search_kb", {"query": "shipping"}), ("lookup_order", {"order_id": "A-1"})]]
    )
    check = ExpectedToolCallsCheck(
        [
            {"name": "lookup_order", "arguments": {"order_id": "A-1"}},
            {"name": "search_kb", "arguments": {"query": "shipping"}},
        ]
    )
    (evaluation,) = check.evaluate(trace)
    assert evaluation.passed is True


def test_expected_calls_report_missing_and_unexpected_calls() -> None:
    trace = build_trace([[("search_kb", {"query": "x"})]])
    check = ExpectedToolCallsCheck([{"name": "lookup_order", "arguments": {"order_id": "A-1"}}])
    found = check.evaluate(trace)
    assert subcategories(found) == ["missing_tool_call", "unnecessary_call"]
    assert {e.category for e in found} == {"tool_selection"}
    (missing,) = [e for e in found if e.subcategory == "missing_tool_call"]
    assert missing.culprit_span_id == trace.steps_of_kind(StepKind.LLM)[-1].span_id
    (unnecessary,) = [e for e in found if e.subcategory == "unnecessary_call"]
    assert unnecessary.culprit_span_id == trace.steps_of_kind(StepKind.LLM)[0].span_id


@pytest.mark.parametrize(
    ("expected", "actual", "finding"),
    [
        ({"order_id": {"$any_of": ["A-1", "A-2"]}}, {"order_id": "A-2"}, None),
        ({"order_id": {"$any_of": ["A-1", "A-2"]}}, {"order_id": "A-3"}, "wrong_value"),
        ({"order_id": {"$any_of": ["A-1", "A-2"]}}, {"order_id": 3}, "invalid_type_or_value"),
        ({"order_id": "A-1", "verbose": {"$optional": True}}, {"order_id": "A-1"}, None),
        (
            {"order_id": "A-1", "verbose": {"$optional": True}},
            {"order_id": "A-1", "verbose": True},
            None,
        ),
        (
            {"order_id": "A-1", "verbose": {"$optional": True}},
            {"order_id": "A-1", "verbose": False},
            "wrong_value",
        ),
        ({"order_id": {"$regex": r"A-\d{4}"}}, {"order_id": "A-1001"}, None),
        ({"order_id": {"$regex": r"A-\d{4}"}}, {"order_id": "A-1001x"}, "wrong_value"),
        ({"order_id": {"$regex": r"A-\d{4}"}}, {"order_id": 1001}, "invalid_type_or_value"),
        ({"order_id": {"$any": True}}, {"order_id": 7}, None),
        ({"order_id": {"$any": True}}, {}, "missing_required"),
        ({"order_id": "A-1"}, {"order": "A-1"}, "wrong_field_mapping"),
        ({"order_id": "A-1"}, {"order_id": "A-1", "verbose": True}, "unexpected_argument"),
        ({"amount": 1}, {"amount": True}, "invalid_type_or_value"),
        ({"amount": 1}, {"amount": "1"}, "invalid_type_or_value"),
        ({"amount": 45.5}, {"amount": 45.5}, None),
        ({"amount": 45.5}, {"amount": 45}, "wrong_value"),
        ({"filter": {"$literal": {"$gt": 5}}}, {"filter": {"$gt": 5}}, None),
        ({"filter": {"$literal": {"$gt": 5}}}, {"filter": {"$gt": 6}}, "wrong_value"),
    ],
)
def test_expected_argument_matchers(
    expected: dict[str, Any], actual: dict[str, Any], finding: str | None
) -> None:
    trace = build_trace([[("lookup_order", actual)]])
    found = ExpectedToolCallsCheck([{"name": "lookup_order", "arguments": expected}]).evaluate(
        trace
    )
    if finding is None:
        assert [e.passed for e in found] == [True]
    else:
        (evaluation,) = found
        assert (evaluation.category, evaluation.subcategory) == ("parameter", finding)
        assert evaluation.culprit_span_id == trace.steps_of_kind(StepKind.LLM)[0].span_id


def test_an_unknown_matcher_operator_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\$one_of"):
        ExpectedToolCallsCheck([{"name": "t", "arguments": {"a": {"$one_of": [1]}}}])


def test_a_call_to_a_tool_not_offered_is_an_unknown_tool_on_the_requesting_llm_step() -> None:
    trace = build_trace([[("delete_account", {"user": "u1"})]])
    (evaluation,) = UnknownToolCheck().evaluate(trace)
    assert (evaluation.category, evaluation.subcategory) == ("tool_selection", "unknown_tool")
    assert evaluation.culprit_span_id == trace.steps_of_kind(StepKind.LLM)[0].span_id
    assert "delete_account" in evaluation.explanation


def test_unknown_tool_is_skipped_when_no_tools_were_recorded() -> None:
    trace = build_trace([[("delete_account", {"user": "u1"})]], tools=[])
    assert [e.passed for e in UnknownToolCheck().evaluate(trace)] == [True]


def test_an_invalid_schema_is_unscored_not_a_crash() -> None:
    trace = build_trace([[("lookup_order", {"order_id": "A-1"})]], tool_schema={"type": "objekt"})
    (evaluation,) = ArgumentSchemaCheck().evaluate(trace)
    assert evaluation.passed is None
    assert evaluation.unscored
    assert "lookup_order" in evaluation.explanation
    assert "objekt" in evaluation.explanation


@pytest.mark.parametrize(
    "result",
    [
        '{"error": {"message": "boom"}}',
        '{"errors": ["bad"]}',
        '{"status": "error"}',
        '{"status_code": 404, "detail": "missing"}',
        "404: no such order",
        "HTTP 500 Internal Server Error",
        '{"isError": true, "content": [{"type": "text", "text": "unavailable"}]}',
        '{"success": false, "message": "locked"}',
        '{"ok": false}',
        "Error: user mia_li_3668 not found",
        "exception: KeyError('flight')",
        'Traceback (most recent call last):\n  File "tools.py", line 3',
    ],
)
def test_error_payloads_and_http_statuses_in_results_are_tool_errors(result: str) -> None:
    trace = build_trace(
        [[("lookup_order", {"order_id": "A-1"})]], tool_results={"lookup_order": result}
    )
    (evaluation,) = ToolErrorCheck().evaluate(trace)
    assert evaluation.passed is False
    assert evaluation.label == "tool_error"


@pytest.mark.parametrize(
    "result",
    [
        '{"status": "shipped"}',
        '{"error": null}',
        "200 items",
        "[]",
        '{"isError": false, "content": []}',
        '{"success": true}',
        "Errors are rare on this route.",
    ],
)
def test_ordinary_results_are_not_tool_errors(result: str) -> None:
    trace = build_trace(
        [[("lookup_order", {"order_id": "A-1"})]], tool_results={"lookup_order": result}
    )
    assert [e.passed for e in ToolErrorCheck().evaluate(trace)] == [True]


def test_retrying_a_failed_call_is_not_a_repeat() -> None:
    trace = build_trace(
        [[("lookup_order", {"order_id": "A-1"})], [("lookup_order", {"order_id": "A-1"})]],
    )
    first_tool = trace.steps_of_kind(StepKind.TOOL)[0]
    first_tool.status = "error"
    first_tool.error = "TimeoutError: upstream"
    assert [e.passed for e in RepeatedCallCheck().evaluate(trace)] == [True]


@pytest.mark.parametrize("result", ["[]", '{"documents": []}', "{}", '""'])
def test_an_empty_result_from_a_declared_retrieval_tool_is_an_empty_retrieval(
    result: str,
) -> None:
    trace = build_trace([[("search_kb", {"query": "x"})]], tool_results={"search_kb": result})
    check = EmptyRetrievalCheck(tools=ToolCatalog.of(retrieval=["search_*"]))
    (evaluation,) = check.evaluate(trace)
    assert evaluation.subcategory == "empty_retrieval"
    assert evaluation.culprit_span_id == trace.steps_of_kind(StepKind.TOOL)[0].span_id


@pytest.mark.parametrize("tools", [ToolCatalog(), ToolCatalog.of(retrieval=["search_faq"])])
def test_an_empty_result_from_any_other_tool_is_not_an_empty_retrieval(
    tools: ToolCatalog,
) -> None:
    # A search that correctly finds nothing (no flights that day) is not a retrieval failure.
    trace = build_trace([[("search_kb", {"query": "x"})]], tool_results={"search_kb": "[]"})
    assert [e.passed for e in EmptyRetrievalCheck(tools=tools).evaluate(trace)] == [True]


@pytest.mark.parametrize(
    ("documents", "passed"), [([Document(id="kb-1", content="30 days")], True), ([], False)]
)
def test_a_retriever_span_passes_only_with_documents(
    documents: list[Document], passed: bool
) -> None:
    trace = build_trace([])
    trace.steps.append(
        Step(
            trace_id=TRACE_ID,
            span_id="f" * 16,
            parent_id=trace.steps[0].span_id,
            kind=StepKind.RETRIEVER,
            name="kb",
            retrieval=Retrieval(query="q", documents=documents),
        )
    )
    (evaluation,) = EmptyRetrievalCheck().evaluate(trace)
    assert evaluation.passed is passed
    if not passed:
        assert evaluation.culprit_span_id == "f" * 16


@pytest.mark.parametrize(
    ("check", "answer", "passed"),
    [
        (OutputFormatCheck.json(), '{"status": "ok"}', True),
        (OutputFormatCheck.json(), "Sure! Here it is: {}", False),
        (OutputFormatCheck.json(schema={"type": "object", "required": ["status"]}), "{}", False),
        (OutputFormatCheck.json(schema={"type": "array"}), "[1, 2]", True),
        (OutputFormatCheck.regex(r"Order A-\d{4} .*"), "Order A-1001 has shipped.", True),
        (OutputFormatCheck.regex(r"Order A-\d{4} .*"), "Your order has shipped.", False),
    ],
)
def test_output_format_checks_the_final_answer_and_blames_the_answering_llm_step(
    check: OutputFormatCheck, answer: str, passed: bool
) -> None:
    trace = build_trace([[("lookup_order", {"order_id": "A-1"})]], answer=answer)
    (evaluation,) = check.evaluate(trace)
    assert evaluation.passed is passed
    if not passed:
        assert (evaluation.category, evaluation.subcategory) == ("output_quality", "format_error")
        assert evaluation.culprit_span_id == trace.steps_of_kind(StepKind.LLM)[-1].span_id
        assert answer[:10] in evaluation.explanation or "schema" in evaluation.explanation


def test_a_broken_output_schema_is_unscored() -> None:
    trace = build_trace([], answer="{}")
    (evaluation,) = OutputFormatCheck.json(schema={"type": 5}).evaluate(trace)
    assert evaluation.unscored


def test_budgets_are_operational_findings_without_a_badcase_category() -> None:
    trace = build_trace([[("lookup_order", {"order_id": "A-1"})]])
    root = trace.steps[0]
    root.end_time_unix_nano = 3_000_000_000  # 3 s
    (slow,) = LatencyBudgetCheck(trace_millis=1000).evaluate(trace)
    assert (slow.passed, slow.label, slow.category, slow.culprit_span_id) == (
        False,
        "over_budget",
        None,
        root.span_id,
    )
    (costly,) = TokenBudgetCheck(max_total_tokens=150).evaluate(trace)
    assert (costly.passed, costly.label, costly.category) == (False, "over_budget", None)
    assert "200 tokens" in costly.explanation
    assert [e.passed for e in TokenBudgetCheck(max_total_tokens=200).evaluate(trace)] == [True]


def test_every_check_is_a_check_with_a_name() -> None:
    checks: list[Check] = [
        *default_checks(),
        ExpectedToolCallsCheck([]),
        OutputFormatCheck.json(),
        LatencyBudgetCheck(step_millis=10),
        TokenBudgetCheck(max_total_tokens=10),
    ]
    names = [check.name for check in checks]
    assert len(set(names)) == len(names)
    assert all(isinstance(check, Check) for check in checks)


@pytest.mark.parametrize(
    ("tools", "repeated"),
    [
        (ToolCatalog.of(read_only=["lookup_*", "search_*"]), False),  # cancel changes state
        (ToolCatalog(), True),  # nothing known: no call resets the count
    ],
)
def test_reading_again_after_a_state_changing_call_is_not_a_repeat(
    tools: ToolCatalog, repeated: bool
) -> None:
    trace = build_trace(
        [
            [("lookup_order", {"order_id": "A-1"})],
            [("cancel_order", {"order_id": "A-1"})],
            [("lookup_order", {"order_id": "A-1"})],
        ]
    )
    (evaluation,) = RepeatedCallCheck(tools=tools).evaluate(trace)
    assert evaluation.passed is (not repeated)
    if repeated:
        assert evaluation.effect is None


def test_a_repeated_write_is_a_repeat_even_though_it_changes_state() -> None:
    trace = build_trace(
        [[("cancel_order", {"order_id": "A-1"})], [("cancel_order", {"order_id": "A-1"})]]
    )
    check = RepeatedCallCheck(tools=ToolCatalog.of(read_only=["lookup_*"]))
    (evaluation,) = check.evaluate(trace)
    assert (evaluation.subcategory, evaluation.effect) == ("repeated_call", "state_changing")


def test_declared_tools_stand_in_when_the_trace_recorded_none() -> None:
    """openai-v2 records no tools offered: a tools file names them and gives their schemas."""
    trace = build_trace(
        [[("lookup_ordr", {"order_id": "A-1"})], [("lookup_order", {"id": 1})]], tools=[]
    )
    declared = ToolCatalog.of(tools=OFFERED)
    (unknown,) = UnknownToolCheck(tools=declared).evaluate(trace)
    assert unknown.subcategory == "unknown_tool"
    found = {e.subcategory for e in ArgumentSchemaCheck(tools=declared).evaluate(trace)}
    assert found == {"missing_required", "wrong_field_mapping"}
    assert [e.passed for e in UnknownToolCheck().evaluate(trace)] == [True]
