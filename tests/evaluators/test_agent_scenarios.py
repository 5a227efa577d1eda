"""The deterministic checks on a real multi-turn agent: the airline agent (tests/airline_agent.py)
run through the real openai client, traced by OpenInference and by OTel's openai-v2 instrumentor,
evaluated against a references file read as ``evaluate --references`` reads it.

Every scenario plants one outcome: a run that succeeds with many lookups, failed calls, retries and
PII in its arguments must pass; a run with a wrong, missing, unexpected, repeated or misordered
write must fail with that write as the verdict's primary finding.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airline_agent import RETRIEVAL_TOOLS, Recording, mcp_tools_list
from airline_scenarios import CARD, MIA_NEW_EMAIL, MIA_NEW_PHONE, SCENARIOS, Scenario

from otel_flywheel.evaluators.checks import ToolCatalog
from otel_flywheel.evaluators.references import (
    ReferencesFile,
    read_references,
)
from otel_flywheel.evaluators.rubric import load_taxonomy
from otel_flywheel.evaluators.suite import EvaluatorSuite
from otel_flywheel.evaluators.tools import load_tool_catalog
from otel_flywheel.model import AgentTrace, Evaluation, StepKind, Verdict
from otel_flywheel.privacy import build_redactor

CONVENTIONS = ("openinference", "genai")
BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}


def catalog_for(convention: str, tmp_path: Path) -> ToolCatalog:
    """OpenInference traces carry the tools' MCP annotations; openai-v2 records no tools, so the
    user gives them as an MCP tools/list file."""
    if convention == "openinference":
        return ToolCatalog.of(retrieval=RETRIEVAL_TOOLS)
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(mcp_tools_list()), encoding="utf-8")
    return load_tool_catalog(path, retrieval=RETRIEVAL_TOOLS)


class Evaluated:
    """One recording evaluated as ``evaluate --references`` does: traces and references redacted
    with the same redactor, the checks, the roll-up."""

    def __init__(self, recording: Recording, tools: ToolCatalog, tmp_path: Path) -> None:
        redactor = build_redactor()
        self.traces = recording.traces(redactor)
        path = tmp_path / f"refs-{recording.convention}.jsonl"
        path.write_text(recording.references_lines(), encoding="utf-8")
        self.file: ReferencesFile = read_references(path, redactor=redactor)
        self.suite = EvaluatorSuite(taxonomy=load_taxonomy(), tools=tools)
        self.tools = tools
        self.verdicts: dict[str, Verdict] = {}
        for key, trace in self.traces.items():
            evaluations = self.suite.check(trace, self.file.references.get(trace.trace_id))
            self.verdicts[key] = self.suite.roll_up(trace, evaluations)

    def failures(self, key: str) -> list[Evaluation]:
        return [e for e in self.verdicts[key].evaluations if e.passed is False]


@pytest.fixture(scope="module", params=CONVENTIONS)
def evaluated(
    request: pytest.FixtureRequest,
    airline_recordings: Callable[[str], Recording],
    tmp_path_factory: pytest.TempPathFactory,
) -> Evaluated:
    tmp_path = tmp_path_factory.mktemp(request.param)
    return Evaluated(
        airline_recordings(request.param), catalog_for(request.param, tmp_path), tmp_path
    )


def describe(verdict: Verdict) -> list[tuple[Any, ...]]:
    return [
        (e.evaluator, e.category, e.subcategory, e.effect, e.explanation)
        for e in verdict.evaluations
        if e.passed is False
    ]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.key)
def test_every_scenario_gets_the_verdict_it_plants(
    evaluated: Evaluated, scenario: Scenario
) -> None:
    verdict = evaluated.verdicts[scenario.key]
    if scenario.passes:
        assert verdict.passed is True, describe(verdict)
    else:
        assert verdict.passed is False
        assert (verdict.category, verdict.subcategory) == scenario.primary, describe(verdict)
        assert verdict.culprit_span_id is not None


def test_the_references_file_has_nothing_to_warn_about(evaluated: Evaluated) -> None:
    assert evaluated.file.warnings == []
    traces = list(evaluated.traces.values())
    assert evaluated.file.check_against(traces, tools=evaluated.tools) == []


@pytest.mark.parametrize(
    "key",
    [
        "wrong_reservation_cancelled",
        "write_never_made",
        "write_nobody_asked_for",
        "booking_fails_every_time",
        "bad_lookup_then_wrong_write",
        "booked_twice",
    ],
)
def test_a_state_changing_finding_leads_and_is_high_severity(
    evaluated: Evaluated, key: str
) -> None:
    verdict = evaluated.verdicts[key]
    primary = next(
        e
        for e in verdict.evaluations
        if e.passed is False and (e.category, e.subcategory) == BY_KEY[key].primary
    )
    assert primary.effect == "state_changing"
    assert verdict.severity == "high"


def test_a_read_only_finding_earlier_in_the_run_does_not_lead(evaluated: Evaluated) -> None:
    trace = evaluated.traces["bad_lookup_then_wrong_write"]
    verdict = evaluated.verdicts["bad_lookup_then_wrong_write"]
    order = {step.span_id: index for index, step in enumerate(trace.steps)}
    (lookup,) = [
        e for e in evaluated.failures("bad_lookup_then_wrong_write") if e.effect == "read_only"
    ]
    assert (lookup.category, lookup.subcategory) == ("parameter", "unexpected_argument")
    assert "verbose" in lookup.explanation
    assert order[lookup.culprit_span_id or ""] < order[verdict.culprit_span_id or ""]
    culprit = trace.step(verdict.culprit_span_id or "")
    assert culprit is not None
    assert culprit.llm is not None
    assert [c.name for c in culprit.llm.tool_calls] == ["cancel_reservation"]


def test_a_write_that_failed_every_time_is_the_missing_write_with_its_attempts(
    evaluated: Evaluated,
) -> None:
    failures = evaluated.failures("booking_fails_every_time")
    (missing,) = [e for e in failures if e.evaluator == "expected_tool_calls"]
    assert missing.subcategory == "missing_tool_call"
    assert "2 attempt(s) failed" in missing.explanation
    assert "HAT999 is full" in missing.explanation
    # Each failure is reported on its own, as an observation without a badcase category.
    errors = [e for e in failures if e.evaluator == "tool_error"]
    assert [(e.label, e.category) for e in errors] == [("tool_error", None)] * 2
    assert not [e for e in failures if e.category == "parameter"]


@pytest.mark.parametrize(
    "key", ["contact_update_retried_after_a_503", "booking_retried_with_the_right_card"]
)
def test_a_failed_write_retried_successfully_is_one_write(evaluated: Evaluated, key: str) -> None:
    verdict = evaluated.verdicts[key]
    (matched,) = [e for e in verdict.evaluations if e.evaluator == "expected_tool_calls"]
    assert matched.passed is True
    assert "1 failed call(s) not compared" in matched.explanation
    (error,) = evaluated.failures(key)
    assert (error.evaluator, error.label, error.category) == ("tool_error", "tool_error", None)


def test_a_write_whose_backend_is_down_reports_the_mcp_error_result(evaluated: Evaluated) -> None:
    (missing,) = [
        e
        for e in evaluated.failures("contact_update_backend_down")
        if e.evaluator == "expected_tool_calls"
    ]
    assert "never took effect" in missing.explanation
    assert "2 attempt(s) failed" in missing.explanation
    assert "backend unavailable" in missing.explanation


@pytest.mark.parametrize(
    "key", ["contact_update_retried_after_a_503", "card_added", "fc_pii_exact"]
)
def test_personal_data_in_expected_arguments_matches_the_traces_pseudonyms(
    evaluated: Evaluated, key: str
) -> None:
    trace = evaluated.traces[key]
    references = evaluated.file.references[trace.trace_id]
    assert references.redacted
    ((expected,),) = [references.expected_tool_calls]
    actual = [
        call.arguments
        for step in trace.steps
        if step.llm is not None
        for call in step.llm.tool_calls
        if call.name == expected.name
    ]
    assert dict(expected.arguments) == actual[-1]
    assert any(str(value).startswith(("<EMAIL:", "<CARD:")) for value in actual[-1].values())
    text = json.dumps([e.explanation for e in evaluated.verdicts[key].evaluations])
    for raw in (MIA_NEW_EMAIL, MIA_NEW_PHONE, CARD):
        assert raw not in text


def test_a_wrong_email_is_a_wrong_value_named_by_pseudonyms_only(evaluated: Evaluated) -> None:
    (wrong,) = [
        e for e in evaluated.failures("wrong_email_written") if e.evaluator == "expected_tool_calls"
    ]
    assert wrong.subcategory == "wrong_value"
    assert "'email'" in wrong.explanation
    # the call, the expected call, the actual and the expected value
    assert wrong.explanation.count("<EMAIL:") == 4
    assert "@" not in wrong.explanation


def test_a_search_that_correctly_finds_nothing_is_not_an_empty_retrieval(
    evaluated: Evaluated,
) -> None:
    trace = evaluated.traces["book_after_an_empty_search"]
    results = [c.result for _, c in trace.tool_calls() if c.name == "search_direct_flight"]
    assert results[0] == "[]"
    assert evaluated.verdicts["book_after_an_empty_search"].passed is True


def test_a_declared_retrieval_tool_that_finds_nothing_is_an_empty_retrieval(
    evaluated: Evaluated,
) -> None:
    (empty,) = evaluated.failures("help_center_finds_nothing")
    assert (empty.category, empty.subcategory) == ("knowledge_context", "empty_retrieval")
    trace = evaluated.traces["help_center_finds_nothing"]
    culprit = trace.step(empty.culprit_span_id or "")
    assert culprit is not None
    assert culprit.kind is StepKind.TOOL


def test_a_reread_after_a_write_is_not_a_repeated_call(evaluated: Evaluated) -> None:
    (repeated,) = [
        e
        for e in evaluated.verdicts["bags_then_read_again"].evaluations
        if e.evaluator == "repeated_call"
    ]
    assert repeated.passed is True


# --- what happens when nothing says which tools only read -------------------------------------


@pytest.fixture(scope="module")
def genai_traces(airline_recordings: Callable[[str], Recording]) -> dict[str, AgentTrace]:
    return airline_recordings("genai").traces(build_redactor())


def write_line(tmp_path: Path, trace: AgentTrace, **references: Any) -> Path:
    path = tmp_path / "refs.jsonl"
    path.write_text(json.dumps({"trace_id": trace.trace_id, **references}) + "\n", "utf-8")
    return path


def test_without_read_only_knowledge_lookups_are_findings_and_the_file_says_why(
    genai_traces: dict[str, AgentTrace], tmp_path: Path
) -> None:
    trace = genai_traces["cancel_after_lookups"]
    path = write_line(tmp_path, trace, **dict(BY_KEY["cancel_after_lookups"].references or {}))
    file = read_references(path)
    suite = EvaluatorSuite(taxonomy=load_taxonomy())
    verdict = suite.roll_up(trace, suite.check(trace, file.references[trace.trace_id]))
    assert (verdict.category, verdict.subcategory) == ("tool_selection", "unnecessary_call")
    (warning,) = file.check_against([trace])
    assert warning.line == 1
    assert "nothing says which tools" in warning.message
    assert "read-only" in warning.message


def test_read_only_tools_declared_on_the_line_are_free(
    genai_traces: dict[str, AgentTrace], tmp_path: Path
) -> None:
    trace = genai_traces["cancel_after_lookups"]
    spec = BY_KEY["cancel_after_lookups"].references or {}
    tool_calls = {
        **spec["tool_calls"],
        "read_only": ["get_user_*", {"$regex": "get_reservation_.*"}],
    }
    path = write_line(tmp_path, trace, version=2, tool_calls=tool_calls)
    file = read_references(path)
    suite = EvaluatorSuite(taxonomy=load_taxonomy())
    verdict = suite.roll_up(trace, suite.check(trace, file.references[trace.trace_id]))
    assert verdict.passed is True, describe(verdict)
    assert file.check_against([trace]) == []


def test_the_same_run_fails_under_the_exact_set(
    genai_traces: dict[str, AgentTrace], tmp_path: Path
) -> None:
    """Version 1's exact set still means what it meant: every lookup is an extra call."""
    trace = genai_traces["cancel_after_lookups"]
    expected = [
        {
            "name": "cancel_reservation",
            "arguments": {"reservation_id": "NO6JO3", "reason": "change_of_plan"},
        }
    ]
    path = write_line(tmp_path, trace, expected_tool_calls=expected)
    suite = EvaluatorSuite(taxonomy=load_taxonomy(), tools=catalog_for("genai", tmp_path))
    evaluations = suite.check(trace, read_references(path).references[trace.trace_id])
    unnecessary = [e for e in evaluations if e.subcategory == "unnecessary_call"]
    assert len(unnecessary) == 3
    assert {e.effect for e in unnecessary} == {"read_only"}


def test_every_finding_is_filed_under_a_category_and_subcategory_of_the_taxonomy(
    evaluated: Evaluated,
) -> None:
    taxonomy = load_taxonomy()
    filed = {
        (e.category, e.subcategory)
        for verdict in evaluated.verdicts.values()
        for e in verdict.evaluations
        if e.passed is False and e.category is not None
    }
    assert len(filed) >= 10
    for category, subcategory in filed:
        assert category in taxonomy.categories
        assert subcategory in taxonomy.categories[category].subcategories, (category, subcategory)
