"""expected_tool_calls semantics on small hand-built traces: counts, free calls, order, failed
calls, requests without executions. The airline agent's real traces exercise the same rules in
test_agent_scenarios.py; these pin each rule on its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from trace_builders import trace_of_turns

from otel_flywheel.evaluators.checks import (
    CallMatching,
    ExpectedCall,
    ExpectedToolCallsCheck,
    NamePattern,
    ToolCatalog,
)
from otel_flywheel.model import AgentTrace, Evaluation

TRACE_ID = "0" * 31 + "2"
READ_ONLY = ToolCatalog.of(read_only=["get_*", "search_*"])

# A turn: the calls one LLM step requests, each (name, arguments, result); a result starting with
# "!" makes the TOOL step fail with that message.
Turn = Sequence[tuple[str, dict[str, Any], str]]


def run(*turns: Turn, execute: bool = True) -> AgentTrace:
    return trace_of_turns(turns, execute=execute, trace_id=TRACE_ID)


def ok(name: str, **args: Any) -> tuple[str, dict[str, Any], str]:
    return (name, args, '{"ok": true}')


def fails(
    name: str, message: str = "503 unavailable", **args: Any
) -> tuple[str, dict[str, Any], str]:
    return (name, args, f"!{message}")


def check(
    trace: AgentTrace,
    *expected: ExpectedCall,
    tools: ToolCatalog = READ_ONLY,
    **matching: Any,
) -> list[Evaluation]:
    if "allow" in matching:
        matching["allow"] = tuple(NamePattern.parse(p) for p in matching["allow"])
    return ExpectedToolCallsCheck(
        expected, matching=CallMatching(**matching), tools=tools
    ).evaluate(trace)


def findings(evaluations: list[Evaluation]) -> list[tuple[str | None, str | None]]:
    return sorted(((e.subcategory, e.effect) for e in evaluations if e.passed is False), key=str)


CANCEL = ExpectedCall("cancel", {"id": "R1"})


def test_read_only_calls_are_free_when_others_is_read_only() -> None:
    trace = run(
        [ok("get_user", id="u1")], [ok("search_flights", day="mon")], [ok("cancel", id="R1")]
    )
    assert findings(check(trace, CANCEL, others="read_only")) == []
    assert findings(check(trace, CANCEL, others="forbidden")) == [
        ("unnecessary_call", "read_only"),
        ("unnecessary_call", "read_only"),
    ]


def test_a_state_changing_call_beyond_the_expected_ones_is_unnecessary() -> None:
    trace = run([ok("cancel", id="R1")], [ok("refund", id="R1")])
    assert findings(check(trace, CANCEL, others="read_only")) == [
        ("unnecessary_call", "state_changing")
    ]
    assert findings(check(trace, CANCEL, others="allowed")) == []
    assert findings(check(trace, CANCEL, others="read_only", allow=["ref*"])) == []
    assert (
        findings(check(trace, CANCEL, others="read_only", allow=[{"$regex": "re(fund|bate)"}]))
        == []
    )


def test_no_expected_call_at_all_makes_any_other_call_a_tool_when_none_applies() -> None:
    trace = run([ok("get_user", id="u1")], [ok("cancel", id="R1")])
    assert findings(check(trace, others="read_only")) == [
        ("tool_when_none_applies", "state_changing")
    ]


def test_counts_min_and_max() -> None:
    trace = run([ok("get_user", id="u1")], [ok("get_user", id="u1")], [ok("cancel", id="R1")])
    twice = ExpectedCall("get_user", {"id": "u1"}, min=2, max=None)
    assert findings(check(trace, twice, CANCEL, others="forbidden")) == []
    thrice = ExpectedCall("get_user", {"id": "u1"}, min=3, max=None)
    (missing,) = [e for e in check(trace, thrice, CANCEL, others="forbidden") if e.passed is False]
    assert missing.subcategory == "missing_tool_call"
    assert "needed 3 times, missing 1" in missing.explanation
    once = ExpectedCall("get_user", {"id": "u1"}, min=1, max=1)
    assert findings(check(trace, once, CANCEL, others="read_only")) == [
        ("repeated_call", "read_only")
    ]
    optional = ExpectedCall("refund", {"id": {"$any": True}}, min=0, max=1)
    assert findings(check(trace, optional, CANCEL, others="read_only")) == []


def test_a_call_with_max_0_must_not_happen() -> None:
    trace = run([ok("cancel", id="R1")], [ok("refund", id="R1")])
    forbidden = ExpectedCall("refund", {"id": {"$any": True}}, min=0, max=0)
    (finding,) = [e for e in check(trace, forbidden, CANCEL, others="allowed") if e.passed is False]
    assert finding.subcategory == "unnecessary_call"
    assert "must not be" in finding.explanation


def test_overlapping_matchers_find_the_pairing_that_satisfies_both() -> None:
    """Greedy pairing would give A-1 to the first expectation and leave the second unmet."""
    trace = run([ok("lookup", id="A-1"), ok("lookup", id="A-2")])
    anything = ExpectedCall("lookup", {"id": {"$any": True}})
    exactly = ExpectedCall("lookup", {"id": "A-1"})
    assert findings(check(trace, anything, exactly)) == []


def test_a_failed_call_changed_nothing() -> None:
    retried = run([fails("cancel", id="R1")], [ok("cancel", id="R1")])
    (passed,) = check(retried, CANCEL)
    assert passed.passed is True
    assert "1 failed call(s) not compared" in passed.explanation

    never = run([fails("cancel", "409 locked", id="R1")], [fails("cancel", "409 locked", id="R1")])
    (missing,) = check(never, CANCEL)
    assert (missing.subcategory, missing.effect) == ("missing_tool_call", "state_changing")
    assert "2 attempt(s) failed" in missing.explanation
    assert "409 locked" in missing.explanation

    failed_extra = run([ok("cancel", id="R1")], [fails("refund", id="R1")])
    assert findings(check(failed_extra, CANCEL)) == []


def test_a_failed_attempt_with_other_arguments_still_leaves_the_write_missing() -> None:
    trace = run([fails("cancel", "404 no such reservation", id="R9")])
    (missing,) = check(trace, CANCEL)
    assert missing.subcategory == "missing_tool_call"
    assert "cancel(id='R9')" in missing.explanation


def test_requests_without_executions_are_the_calls_of_single_turn_function_calling() -> None:
    trace = run([ok("cancel", id="R1"), ok("get_user", id="u1")], execute=False)
    assert findings(check(trace, CANCEL, tools=ToolCatalog())) == [("unnecessary_call", None)]


@pytest.mark.parametrize(
    ("turns", "violation"),
    [
        ([[ok("cancel", id="R1")], [ok("book", id="F1")]], None),
        ([[ok("book", id="F1")], [ok("cancel", id="R1")]], "book"),
        ([[ok("book", id="F1"), ok("cancel", id="R1")]], None),  # one turn: simultaneous
        ([[ok("get_user", id="u")], [ok("cancel", id="R1")], [ok("book", id="F1")]], None),
    ],
)
def test_ordered_expected_calls_must_first_happen_in_the_listed_order(
    turns: list[Turn], violation: str | None
) -> None:
    trace = run(*turns)
    book = ExpectedCall("book", {"id": "F1"})
    found = [
        e for e in check(trace, CANCEL, book, ordered=True, others="read_only") if e.passed is False
    ]
    if violation is None:
        assert found == []
    else:
        (finding,) = found
        assert (finding.category, finding.subcategory) == ("task_decomposition", "bad_plan_order")
        assert "references expect 'cancel' before 'book'" in finding.explanation
    assert [
        e
        for e in check(trace, CANCEL, book, ordered=False, others="read_only")
        if e.passed is False
    ] == []


def test_findings_carry_no_effect_when_nothing_is_known_about_the_tools() -> None:
    trace = run([ok("cancel", id="R2")])
    (wrong,) = check(trace, CANCEL, tools=ToolCatalog())
    assert (wrong.subcategory, wrong.effect) == ("wrong_value", None)
