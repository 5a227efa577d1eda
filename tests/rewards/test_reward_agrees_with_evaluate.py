"""The reward and ``evaluate`` agree: every expected-call case of the suite gets 1.0 from
``tool_call_reward`` exactly when ``evaluate``'s ``expected_tool_calls`` verdict passes.

Three sources of cases:

- the airline agent's runs (tests/airline_scenarios.py), traced for real under both conventions;
  the completion is the conversation after the user's request, as an export builds it, and the
  references are the scenario's line (tools with MCP annotations as the ``tools`` column);
- the hand-built rules of tests/evaluators (counts, free calls, order, failed calls, matchers),
  each as a trace for the check and as a completion for the reward, failed results written the way
  TRL's tool loop writes them (``str({"error": ...})``);
- random expected calls and completions (hypothesis).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from airline_agent import RETRIEVAL_TOOLS, Recording, offered_tools
from airline_scenarios import SCENARIOS, Scenario
from hypothesis import given, settings
from hypothesis import strategies as st
from trace_builders import trace_of_turns

from otel_flywheel.evaluators.checks import (
    CallMatching,
    ExpectedCall,
    ExpectedToolCallsCheck,
    NamePattern,
    ToolCatalog,
)
from otel_flywheel.evaluators.references import read_references
from otel_flywheel.evaluators.rubric import load_taxonomy
from otel_flywheel.evaluators.suite import EvaluatorSuite
from otel_flywheel.evaluators.tools import load_tool_catalog
from otel_flywheel.export import conversation_from_trace
from otel_flywheel.model import AgentTrace
from otel_flywheel.rewards import tool_call_reward

# --- the airline agent's real traces ------------------------------------------------------------


def _split(trace: AgentTrace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(prompt, completion): the conversation up to the user's request, and what came after, as
    an export builds it; a run whose arguments are not JSON has no such conversation (exports
    refuse to train on it), so its turns are read off the steps."""
    conversation = conversation_from_trace(trace)
    if conversation.problem is not None:
        return [{"role": "user", "content": trace.goal or ""}], _turns_of(trace)
    messages = conversation.messages
    first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
    return messages[: first_user + 1], messages[first_user + 1 :]


def _turns_of(trace: AgentTrace) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for step in trace.steps:
        if step.llm is not None and step.llm.tool_calls:
            calls = [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": call.raw_arguments
                        if call.arguments_malformed
                        else call.arguments,
                    },
                }
                for call in step.llm.tool_calls
            ]
            messages.append({"role": "assistant", "content": "", "tool_calls": calls})
        elif step.tool is not None:
            messages.append({"role": "tool", "name": step.tool.name, "content": step.tool.result})
    return messages


@pytest.fixture(scope="module", params=["openinference", "genai"])
def airline(
    request: pytest.FixtureRequest,
    airline_recordings: Callable[[str], Recording],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, AgentTrace], dict[str, Any], EvaluatorSuite]:
    """Each scenario's trace and references, and the suite ``evaluate`` would use on them (raw
    values on both sides: redaction is not what this compares)."""
    recording = airline_recordings(request.param)
    tmp = tmp_path_factory.mktemp(f"agree-{request.param}")
    path = tmp / "refs.jsonl"
    path.write_text(recording.references_lines(), encoding="utf-8")
    references = read_references(path, redactor=None).references
    tools_file = tmp / "tools.json"
    tools_file.write_text(json.dumps({"tools": offered_tools(with_annotations=True)}))
    catalog = load_tool_catalog(tools_file, retrieval=RETRIEVAL_TOOLS)
    traces = recording.traces(None)
    by_key = {key: references[trace.trace_id] for key, trace in traces.items()}
    return traces, by_key, EvaluatorSuite(taxonomy=load_taxonomy(), tools=catalog)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.key)
def test_the_reward_agrees_with_evaluate_on_every_airline_run(
    airline: tuple[dict[str, AgentTrace], dict[str, Any], EvaluatorSuite], scenario: Scenario
) -> None:
    traces, references, suite = airline
    trace = traces[scenario.key]
    expected_calls = [
        e
        for e in suite.check(trace, references[scenario.key])
        if e.evaluator == "expected_tool_calls"
    ]
    verdict = all(e.passed for e in expected_calls)
    _prompt, completion = _split(trace)
    (reward,) = tool_call_reward(
        prompts=[_prompt],
        completions=[completion],
        expected_tool_calls=[dict(scenario.references or {})],
        tools=[offered_tools(with_annotations=True)],
    )
    assert reward == (1.0 if verdict else 0.0), [e.explanation for e in expected_calls]


def test_the_airline_runs_hold_both_verdicts(
    airline: tuple[dict[str, AgentTrace], dict[str, Any], EvaluatorSuite],
) -> None:
    """Agreement means something only if the cases pass and fail: count both."""
    traces, references, suite = airline
    verdicts = [
        all(
            e.passed
            for e in suite.check(traces[s.key], references[s.key])
            if e.evaluator == "expected_tool_calls"
        )
        for s in SCENARIOS
    ]
    assert verdicts.count(True) >= 8
    assert verdicts.count(False) >= 10


# --- the hand-built rules -----------------------------------------------------------------------

TRACE_ID = "0" * 31 + "2"
READ_ONLY_TOOLS = [
    {"type": "function", "function": {"name": name, "annotations": {"readOnlyHint": True}}}
    for name in ("get_user", "search_flights")
] + [
    {"type": "function", "function": {"name": name, "annotations": {"readOnlyHint": False}}}
    for name in ("cancel", "book", "refund", "lookup")
]
READ_ONLY = ToolCatalog.of(read_only=["get_*", "search_*"])

# A turn: the calls one model turn makes: (name, arguments or raw text, result). A result that
# starts with "!" is the tool failing with that message.
Call = tuple[str, dict[str, Any] | str, str]


def ok(name: str, **args: Any) -> Call:
    return (name, args, '{"ok": true}')


def fails(name: str, message: str = "503 unavailable", **args: Any) -> Call:
    return (name, args, f"!{message}")


def raw(name: str, text: str) -> Call:
    return (name, text, '{"ok": true}')


def hand_built(turns: Sequence[Sequence[Call]], *, execute: bool = True) -> AgentTrace:
    """The trace a captured run of these turns gives (as tests/evaluators build them)."""
    return trace_of_turns(turns, execute=execute, trace_id=TRACE_ID)


def as_completion(turns: Sequence[Sequence[Call]], *, execute: bool = True) -> list[dict[str, Any]]:
    """The same turns as a GRPO completion: assistant turns with tool calls, TRL's tool messages."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        calls = [
            {
                "type": "function",
                "function": {"name": name, "arguments": args},
            }
            for name, args, _ in turn
        ]
        messages.append({"role": "assistant", "content": "", "tool_calls": calls})
        if not execute:
            continue
        for name, _args, result in turn:
            content = str({"error": result[1:]}) if result.startswith("!") else result
            messages.append({"role": "tool", "name": name, "content": content})
    messages.append({"role": "assistant", "content": "done"})
    return messages


def reference(expected: Sequence[ExpectedCall], matching: CallMatching) -> dict[str, Any]:
    """The references-format object for ``expected`` under ``matching``."""
    calls = [
        {"name": e.name, "arguments": dict(e.arguments), "min": e.min, "max": e.max}
        for e in expected
    ]
    return {
        "version": 2,
        "tool_calls": {
            "expected": calls,
            "others": matching.others,
            "ordered": matching.ordered,
            "allow": [{"$regex": p.text} if p.regex else p.text for p in matching.allow],
        },
    }


CANCEL = ExpectedCall("cancel", {"id": "R1"})
BOOK = ExpectedCall("book", {"id": "F1"})
CASES: list[tuple[str, list[list[Call]], list[ExpectedCall], dict[str, Any], bool]] = [
    (
        "free_lookups",
        [[ok("get_user", id="u1")], [ok("search_flights", day="mon")], [ok("cancel", id="R1")]],
        [CANCEL],
        {"others": "read_only"},
        True,
    ),
    (
        "lookups_forbidden",
        [[ok("get_user", id="u1")], [ok("search_flights", day="mon")], [ok("cancel", id="R1")]],
        [CANCEL],
        {"others": "forbidden"},
        True,
    ),
    (
        "extra_write",
        [[ok("cancel", id="R1")], [ok("refund", id="R1")]],
        [CANCEL],
        {"others": "read_only"},
        True,
    ),
    (
        "extra_write_allowed",
        [[ok("cancel", id="R1")], [ok("refund", id="R1")]],
        [CANCEL],
        {"others": "allowed"},
        True,
    ),
    (
        "extra_write_glob",
        [[ok("cancel", id="R1")], [ok("refund", id="R1")]],
        [CANCEL],
        {"others": "read_only", "allow": ["ref*"]},
        True,
    ),
    (
        "extra_write_regex",
        [[ok("cancel", id="R1")], [ok("refund", id="R1")]],
        [CANCEL],
        {"others": "read_only", "allow": [{"$regex": "re(fund|bate)"}]},
        True,
    ),
    (
        "none_expected",
        [[ok("get_user", id="u1")], [ok("cancel", id="R1")]],
        [],
        {"others": "read_only"},
        True,
    ),
    (
        "twice_at_least",
        [[ok("get_user", id="u1")], [ok("get_user", id="u1")], [ok("cancel", id="R1")]],
        [ExpectedCall("get_user", {"id": "u1"}, min=2, max=None), CANCEL],
        {"others": "forbidden"},
        True,
    ),
    (
        "thrice_needed",
        [[ok("get_user", id="u1")], [ok("get_user", id="u1")], [ok("cancel", id="R1")]],
        [ExpectedCall("get_user", {"id": "u1"}, min=3, max=None), CANCEL],
        {"others": "forbidden"},
        True,
    ),
    (
        "at_most_once",
        [[ok("get_user", id="u1")], [ok("get_user", id="u1")], [ok("cancel", id="R1")]],
        [ExpectedCall("get_user", {"id": "u1"}), CANCEL],
        {"others": "read_only"},
        True,
    ),
    (
        "optional_absent",
        [[ok("get_user", id="u1")], [ok("cancel", id="R1")]],
        [ExpectedCall("refund", {"id": {"$any": True}}, min=0, max=1), CANCEL],
        {"others": "read_only"},
        True,
    ),
    (
        "must_not_happen",
        [[ok("cancel", id="R1")], [ok("refund", id="R1")]],
        [ExpectedCall("refund", {"id": {"$any": True}}, min=0, max=0), CANCEL],
        {"others": "allowed"},
        True,
    ),
    (
        "overlapping_matchers",
        [[ok("lookup", id="A-1"), ok("lookup", id="A-2")]],
        [ExpectedCall("lookup", {"id": {"$any": True}}), ExpectedCall("lookup", {"id": "A-1"})],
        {},
        True,
    ),
    ("retried_write", [[fails("cancel", id="R1")], [ok("cancel", id="R1")]], [CANCEL], {}, True),
    (
        "write_failed_always",
        [[fails("cancel", "409 locked", id="R1")], [fails("cancel", "409 locked", id="R1")]],
        [CANCEL],
        {},
        True,
    ),
    ("failed_extra", [[ok("cancel", id="R1")], [fails("refund", id="R1")]], [CANCEL], {}, True),
    (
        "failed_other_arguments",
        [[fails("cancel", "404 no such reservation", id="R9")]],
        [CANCEL],
        {},
        True,
    ),
    ("requests_only", [[ok("cancel", id="R1"), ok("get_user", id="u1")]], [CANCEL], {}, False),
    ("requests_only_exact", [[ok("cancel", id="R1")]], [CANCEL], {}, False),
    (
        "in_order",
        [[ok("cancel", id="R1")], [ok("book", id="F1")]],
        [CANCEL, BOOK],
        {"ordered": True, "others": "read_only"},
        True,
    ),
    (
        "out_of_order",
        [[ok("book", id="F1")], [ok("cancel", id="R1")]],
        [CANCEL, BOOK],
        {"ordered": True, "others": "read_only"},
        True,
    ),
    (
        "simultaneous",
        [[ok("book", id="F1"), ok("cancel", id="R1")]],
        [CANCEL, BOOK],
        {"ordered": True, "others": "read_only"},
        True,
    ),
    (
        "order_with_lookup",
        [[ok("get_user", id="u")], [ok("cancel", id="R1")], [ok("book", id="F1")]],
        [CANCEL, BOOK],
        {"ordered": True, "others": "read_only"},
        True,
    ),
    ("wrong_value", [[ok("cancel", id="R2")]], [CANCEL], {}, True),
    ("malformed", [[raw("cancel", '{"id": "R')]], [CANCEL], {}, False),
    (
        "missing_and_unexpected",
        [[ok("search_flights", day="x")]],
        [ExpectedCall("lookup", {"id": "A-1"})],
        {},
        True,
    ),
    (
        "parallel_any_order",
        [[ok("search_flights", day="x"), ok("lookup", id="A-1")]],
        [ExpectedCall("lookup", {"id": "A-1"}), ExpectedCall("search_flights", {"day": "x"})],
        {},
        True,
    ),
]
MATCHERS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"order_id": {"$any_of": ["A-1", "A-2"]}}, {"order_id": "A-2"}),
    ({"order_id": {"$any_of": ["A-1", "A-2"]}}, {"order_id": "A-3"}),
    ({"order_id": {"$any_of": ["A-1", "A-2"]}}, {"order_id": 3}),
    ({"order_id": "A-1", "verbose": {"$optional": True}}, {"order_id": "A-1"}),
    ({"order_id": "A-1", "verbose": {"$optional": True}}, {"order_id": "A-1", "verbose": True}),
    ({"order_id": "A-1", "verbose": {"$optional": True}}, {"order_id": "A-1", "verbose": False}),
    ({"order_id": {"$regex": r"A-\d{4}"}}, {"order_id": "A-1001"}),
    ({"order_id": {"$regex": r"A-\d{4}"}}, {"order_id": "A-1001x"}),
    ({"order_id": {"$regex": r"A-\d{4}"}}, {"order_id": 1001}),
    ({"order_id": {"$any": True}}, {"order_id": 7}),
    ({"order_id": {"$any": True}}, {}),
    ({"order_id": "A-1"}, {"order": "A-1"}),
    ({"order_id": "A-1"}, {"order_id": "A-1", "verbose": True}),
    ({"amount": 1}, {"amount": True}),
    ({"amount": 1}, {"amount": "1"}),
    ({"amount": 45.5}, {"amount": 45.5}),
    ({"amount": 45.5}, {"amount": 45}),
    ({"amount": 1}, {"amount": 1.0}),
    ({"filter": {"$literal": {"$gt": 5}}}, {"filter": {"$gt": 5}}),
    ({"filter": {"$literal": {"$gt": 5}}}, {"filter": {"$gt": 6}}),
]
for number, (expected_args, actual_args) in enumerate(MATCHERS):
    CASES.append(
        (
            f"matcher_{number}",
            [[ok("lookup", **actual_args)]],
            [ExpectedCall("lookup", expected_args)],
            {},
            False,
        )
    )


def _matching(options: dict[str, Any]) -> CallMatching:
    options = dict(options)
    if "allow" in options:
        options["allow"] = tuple(NamePattern.parse(p) for p in options["allow"])
    return CallMatching(**options)


def check_passes(
    trace: AgentTrace, expected: Sequence[ExpectedCall], matching: CallMatching
) -> bool:
    evaluations = ExpectedToolCallsCheck(expected, matching=matching, tools=READ_ONLY).evaluate(
        trace
    )
    return all(e.passed for e in evaluations)


@pytest.mark.parametrize(
    ("turns", "expected", "options", "execute"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_reward_agrees_with_the_check_on_every_rule(
    turns: list[list[Call]], expected: list[ExpectedCall], options: dict[str, Any], execute: bool
) -> None:
    matching = _matching(options)
    verdict = check_passes(hand_built(turns, execute=execute), expected, matching)
    (reward,) = tool_call_reward(
        prompts=[[{"role": "user", "content": "question"}]],
        completions=[as_completion(turns, execute=execute)],
        expected_tool_calls=[reference(expected, matching)],
        tools=[READ_ONLY_TOOLS],
    )
    assert reward == (1.0 if verdict else 0.0)


def test_the_rules_hold_both_verdicts() -> None:
    verdicts = [
        check_passes(hand_built(turns, execute=execute), expected, _matching(options))
        for _key, turns, expected, options, execute in CASES
    ]
    assert verdicts.count(True) >= 15
    assert verdicts.count(False) >= 15


# --- random calls ---------------------------------------------------------------------------------

NAMES = ("lookup", "cancel", "get_user")
values = st.one_of(
    st.sampled_from(["A-1", "A-2", "R1", ""]), st.integers(-2, 2), st.booleans(), st.none()
)
matchers = st.one_of(
    values,
    st.builds(lambda v: {"$optional": v}, values),
    st.builds(lambda vs: {"$any_of": vs}, st.lists(values, min_size=1, max_size=3)),
    st.just({"$any": True}),
    st.just({"$regex": "A-[0-9]"}),
)
argument_keys = st.sampled_from(["id", "order_id", "verbose"])
expected_calls = st.lists(
    st.builds(
        lambda name, args, low, extra: ExpectedCall(name, args, min=low, max=low + extra),
        st.sampled_from(NAMES),
        st.dictionaries(argument_keys, matchers, max_size=2),
        st.integers(0, 2),
        st.integers(0, 1),
    ),
    max_size=3,
)
made_calls = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(NAMES),
            st.dictionaries(argument_keys, values, max_size=2),
            st.sampled_from(['{"ok": true}', "!503 unavailable"]),
        ),
        min_size=1,
        max_size=2,
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(
    expected=expected_calls,
    turns=made_calls,
    others=st.sampled_from(["forbidden", "read_only", "allowed"]),
    ordered=st.booleans(),
    execute=st.booleans(),
)
def test_the_reward_agrees_with_the_check_on_random_calls(
    expected: list[ExpectedCall],
    turns: list[list[Call]],
    others: str,
    ordered: bool,
    execute: bool,
) -> None:
    matching = CallMatching(others=others, ordered=ordered)  # type: ignore[arg-type]
    verdict = check_passes(hand_built(turns, execute=execute), expected, matching)
    (reward,) = tool_call_reward(
        completions=[as_completion(copy.deepcopy(turns), execute=execute)],
        expected_tool_calls=[reference(expected, matching)],
        tools=[READ_ONLY_TOOLS],
    )
    assert reward == (1.0 if verdict else 0.0)


def test_a_path_policy_in_a_row_is_read_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row is a references line: what a line may hold, a row may (a policy file included)."""
    (tmp_path / "policy.md").write_text("Refunds over $500 need approval.")
    monkeypatch.chdir(tmp_path)
    row = {
        "expected_tool_calls": [{"name": "cancel", "arguments": {"id": "R1"}}],
        "policy": {"path": "policy.md"},
    }
    assert tool_call_reward(
        completions=[as_completion([[ok("cancel", id="R1")]])], expected_tool_calls=[row]
    ) == [1.0]
