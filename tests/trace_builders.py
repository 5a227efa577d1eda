"""Small traces and verdicts for routing tests: a root agent step and one tool call."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from otel_flywheel.model import (
    AgentTrace,
    Evaluation,
    LLMCall,
    Message,
    Step,
    StepKind,
    ToolCall,
    Verdict,
)


def ids(seed: str) -> tuple[str, str, str]:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return digest[:32], digest[32:48], digest[48:64]


def build_trace(
    goal: str = "Where is order A-1001?",
    answer: str = "It shipped yesterday.",
    *,
    seed: str | None = None,
    session_id: str | None = "session-1",
    user_id: str | None = "<USER:0a1b2c3d>",
    consent: bool | None = None,
    tool: str = "lookup_order",
) -> AgentTrace:
    trace_id, root_id, tool_id = ids(seed or goal)
    return AgentTrace(
        trace_id=trace_id,
        session_id=session_id,
        user_id=user_id,
        consent=consent,
        goal=goal,
        final_output=answer,
        project="support",
        steps=[
            Step(
                trace_id=trace_id,
                span_id=root_id,
                parent_id=None,
                kind=StepKind.AGENT,
                name="agent",
                input=goal,
                output=answer,
            ),
            Step(
                trace_id=trace_id,
                span_id=tool_id,
                parent_id=root_id,
                kind=StepKind.TOOL,
                name=tool,
                tool=ToolCall(name=tool, arguments={"order_id": "A-1001"}, result='{"ok": true}'),
            ),
        ],
    )


def check_failure(trace: AgentTrace) -> Evaluation:
    return Evaluation(
        evaluator="argument_schema",
        label="fail",
        passed=False,
        score=0.0,
        category="parameter",
        subcategory="invalid_type",
        culprit_span_id=trace.steps[1].span_id,
        explanation="order_id must be an integer",
    )


def judged(
    trace: AgentTrace,
    *,
    passed: bool | None,
    confidence: float | None = 0.9,
    category: str | None = "tool_selection",
) -> Evaluation:
    return Evaluation(
        evaluator="tool_selection",
        label="incorrect" if passed is False else ("correct" if passed else "unscored"),
        passed=passed,
        score=None if passed is None else float(passed),
        category=category if passed is False else None,
        subcategory="wrong_tool" if passed is False else None,
        culprit_span_id=trace.steps[1].span_id if passed is False else None,
        explanation="judged",
        rubric_id="tool_selection",
        rubric_version="abc123",
        confidence=confidence,
        judge_model="judge-model",
    )


def verdict_of(trace: AgentTrace, *evaluations: Evaluation) -> Verdict:
    failed = [e for e in evaluations if e.passed is False and e.category]
    primary = failed[0] if failed else None
    unscored = any(e.passed is None for e in evaluations)
    return Verdict(
        trace_id=trace.trace_id,
        passed=False if failed else (None if unscored else True),
        category=primary.category if primary else None,
        subcategory=primary.subcategory if primary else None,
        culprit_span_id=primary.culprit_span_id if primary else None,
        severity="medium" if primary else None,
        evaluations=list(evaluations),
    )


# A turn: the calls one LLM step requests, each (name, arguments, result). Arguments given as a
# string are malformed (not JSON); a result starting with "!" makes the TOOL step fail with it.
TurnCall = tuple[str, "dict[str, Any] | str", str]


def trace_of_turns(
    turns: Sequence[Sequence[TurnCall]],
    *,
    execute: bool = True,
    trace_id: str = "0" * 31 + "2",
) -> AgentTrace:
    """The trace a captured run of these turns gives: an AGENT root, an LLM step per turn that
    requests its calls, the TOOL steps that ran them (unless ``execute`` is False), and a last
    LLM step that answers "done"."""
    ids = iter(range(1, 1000))

    def step(kind: StepKind, name: str, **fields: Any) -> Step:
        return Step(
            trace_id=trace_id,
            span_id=f"{next(ids):016x}",
            parent_id=None if kind is StepKind.AGENT else "0" * 15 + "1",
            kind=kind,
            name=name,
            **fields,
        )

    def tool_call(name: str, args: dict[str, Any] | str, result: str | None = None) -> ToolCall:
        if isinstance(args, str):
            return ToolCall(name=name, arguments_malformed=True, raw_arguments=args, result=result)
        return ToolCall(name=name, arguments=dict(args), result=result)

    steps = [step(StepKind.AGENT, "agent")]
    for turn in [*turns, []]:
        calls = [tool_call(name, args) for name, args, _ in turn]
        answer = None if turn else "done"
        llm = LLMCall(tool_calls=calls, output_messages=[Message(role="assistant", content=answer)])
        steps.append(step(StepKind.LLM, "chat", llm=llm))
        if not execute:
            continue
        for name, args, result in turn:
            failed = result.startswith("!")
            steps.append(
                step(
                    StepKind.TOOL,
                    name,
                    status="error" if failed else "ok",
                    error=f"ToolError: {result[1:]}" if failed else None,
                    tool=tool_call(name, args, result),
                )
            )
    return AgentTrace(trace_id=trace_id, steps=steps)
