"""Tool calls scored against references outside a captured trace: what a reward function needs.

``evaluate`` judges a captured trace's calls with the ``expected_tool_calls`` check. A reward
function for reinforcement learning judges calls a model just wrote: `score_calls` runs the very
same check on a trace built from those calls (``otel_flywheel.rewards`` builds it), and adds the
partial credit of `checks.call_credit` for rewards that grade failures. References come from a
training row (`parse_expected`), in the references format ``evaluate --references`` reads.

The library reaches this module through ``otel_flywheel.evaluation.load_call_scorer``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluation import CallScore
from otel_flywheel.model import AgentTrace, Step, StepKind, ToolCall, ToolDefinition

from .checks import ExpectedToolCallsCheck, ToolCatalog, call_credit, failure_reason
from .references import References, references_from_entry

__all__ = ["parse_expected", "result_failure", "score_calls"]

# Findings about calls the references do not allow, as opposed to required calls not made right.
_BEYOND: Final = frozenset(
    {"unnecessary_call", "repeated_call", "tool_when_none_applies", "bad_plan_order"}
)


def parse_expected(value: Any) -> References:
    """A training row's expected calls: a references object without ``trace_id`` (version 1
    ``{"expected_tool_calls": [...]}`` or version 2 ``{"version": 2, "tool_calls": {...}}``),
    a bare list (version 1's ``expected_tool_calls``), or either as JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"expected_tool_calls: not JSON ({exc})") from None
    if isinstance(value, list):
        value = {"expected_tool_calls": value}
    if not isinstance(value, Mapping):
        raise ConfigError(
            "expected_tool_calls: give a references object ({'expected_tool_calls': [...]} or "
            "{'version': 2, 'tool_calls': {...}}) or a list of expected calls"
        )
    references = references_from_entry(value)
    if references.expected_tool_calls is None:
        raise ConfigError(
            "expected_tool_calls: the references name no tool calls (expected_tool_calls, or "
            "tool_calls with version 2)"
        )
    return references


def score_calls(
    trace: AgentTrace,
    references: References,
    *,
    tools: Sequence[ToolDefinition] = (),
) -> CallScore:
    """The ``expected_tool_calls`` check's verdict on ``trace``, with the credit of its calls.

    ``tools``: the tools offered, whose ``readOnlyHint`` annotations say which calls are free under
    ``others: read_only`` (as a tools file does for ``evaluate``).
    """
    expected = references.expected_tool_calls
    if expected is None:
        raise ConfigError("the references name no tool calls to score")
    catalog = ToolCatalog(read_only=references.read_only, tools={t.name: t for t in tools})
    check = ExpectedToolCallsCheck(expected, matching=references.call_matching, tools=catalog)
    findings = tuple(e for e in check.evaluate(trace) if e.passed is False)
    credit = call_credit(trace, expected)
    return CallScore(
        passed=not findings,
        findings=findings,
        required=credit.required,
        matched=credit.matched,
        near_misses=credit.near_misses,
        beyond=sum(1 for e in findings if e.subcategory in _BEYOND),
    )


def result_failure(name: str, result: str | None) -> str | None:
    """Why a tool's result says the call failed (an error payload, ``Error: ...``, MCP's
    ``isError``), as the checks read a TOOL step's result; ``None`` when it does not."""
    step = Step(
        trace_id="0" * 32,
        span_id="0" * 16,
        parent_id=None,
        kind=StepKind.TOOL,
        name=name,
        tool=ToolCall(name=name, result=result),
    )
    return failure_reason(step)
