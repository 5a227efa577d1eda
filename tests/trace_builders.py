"""Small traces and verdicts for routing tests: a root agent step and one tool call."""

from __future__ import annotations

import hashlib

from otel_flywheel.model import AgentTrace, Evaluation, Step, StepKind, ToolCall, Verdict


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
