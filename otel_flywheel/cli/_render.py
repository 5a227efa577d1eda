"""Human-readable rendering of an ``AgentTrace`` as a tree: what the flywheel saw, at a glance."""

from __future__ import annotations

import json
from typing import Any

from otel_flywheel.model import AgentTrace, Step, ToolCall

__all__ = ["render_tree", "trace_summary_dict"]

_TEXT_WIDTH = 100


def render_tree(trace: AgentTrace, *, width: int = _TEXT_WIDTH) -> str:
    lines = [_header(trace)]
    if trace.goal is not None:
        lines.append(f"  goal:   {_clip(trace.goal, width)}")
    if trace.final_output is not None:
        lines.append(f"  output: {_clip(trace.final_output, width)}")
    depth = _depths(trace)
    for step in trace.steps:
        indent = "  " + "   " * depth[step.span_id]
        lines.append(f"{indent}{_step_line(step, width)}")
        for detail in _step_details(step, width):
            lines.append(f"{indent}     {detail}")
    lines.extend(f"  ! {warning}" for warning in trace.warnings)
    return "\n".join(lines)


def trace_summary_dict(trace: AgentTrace, *, attributes: bool = False) -> dict[str, Any]:
    """The trace as JSON-ready data; raw span attributes only when asked for (they are large)."""
    data = trace.to_dict()
    if not attributes:
        for step in data["steps"]:
            step.pop("attributes", None)
    return data


def _header(trace: AgentTrace) -> str:
    facts = [f"trace {trace.trace_id}"]
    for label, value in (
        ("project", trace.project),
        ("session", trace.session_id),
        ("user", trace.user_id),
    ):
        if value:
            facts.append(f"{label}={value}")
    if trace.consent is False:
        facts.append("consent=false")
    if not trace.complete:
        facts.append("INCOMPLETE")
    if trace.truncated:
        facts.append("TRUNCATED")
    return "  ".join(facts)


def _step_line(step: Step, width: int) -> str:
    status = {"error": " [ERROR]", "ok": "", "unset": ""}[step.status]
    line = f"{step.kind.value} {step.name}{status}  {step.duration_millis:.1f} ms"
    if step.llm is not None and step.llm.model:
        line += f"  model={step.llm.model}"
    return line


def _step_details(step: Step, width: int) -> list[str]:
    details: list[str] = []
    if step.tool is not None:
        details.append(f"call   {_call(step.tool, width)}")
        if step.tool.result is not None:
            details.append(f"result {_clip(step.tool.result, width)}")
    if step.retrieval is not None:
        if step.retrieval.query is not None:
            details.append(f"query  {_clip(step.retrieval.query, width)}")
        for doc in step.retrieval.documents:
            score = f" ({doc.score:.2f})" if doc.score is not None else ""
            details.append(f"doc    {doc.id or '-'}{score}: {_clip(doc.content or '', width)}")
    if step.llm is not None:
        details.extend(f"asks   {_call(call, width)}" for call in step.llm.tool_calls)
        if not step.llm.tool_calls and step.output:
            details.append(f"says   {_clip(step.output, width)}")
    if step.error:
        details.append(f"error  {_clip(step.error, width)}")
    return details


def _call(call: ToolCall, width: int) -> str:
    if call.arguments_malformed:
        arguments = f"<malformed arguments: {call.raw_arguments!r}>"
    else:
        arguments = json.dumps(call.arguments, ensure_ascii=False)
    return _clip(f"{call.name}({arguments})", width)


def _depths(trace: AgentTrace) -> dict[str, int]:
    depth: dict[str, int] = {}
    for step in trace.steps:  # tree order: a parent always comes before its children
        depth[step.span_id] = depth.get(step.parent_id or "", -1) + 1
    return depth


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
