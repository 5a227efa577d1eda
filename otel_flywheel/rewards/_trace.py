"""A completion as the trace the checks read: the model's turns as LLM steps, tool results as TOOL steps.

The checks judge an `AgentTrace`, so a completion becomes one, with nothing a captured trace would
not have: each assistant turn is an LLM step requesting its calls (offered the row's tools), and
each tool message that follows (TRL's tool loop appends them) is a TOOL step executing the call it
answers, its content the result. A result that reports an error (``{"error": ...}``, ``Error:``,
MCP's ``isError``) makes that call a failed one, which changed nothing, exactly as in a captured
trace. TRL's tool loop writes a result with ``str()``, so a tool's dict (its ``{"error": ...}`` for a
tool that raised) arrives as Python's repr; it is read back as the JSON it stands for. A completion without tool messages is a trace of requests only: single-turn function
calling, judged on what the model asked for.

Only the completion is the model's doing: calls in the prompt (earlier turns of a conversation
given as context) are not part of the trace.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from typing import Final

from otel_flywheel.model import (
    AgentTrace,
    LLMCall,
    Message,
    Step,
    StepKind,
    ToolCall,
    ToolDefinition,
)

__all__ = ["trace_from_completion"]

_TRACE_ID: Final = "0" * 31 + "1"


def trace_from_completion(
    messages: Sequence[Message], *, tools: Sequence[ToolDefinition] = ()
) -> AgentTrace:
    steps: list[Step] = []

    def add(kind: StepKind, name: str, **fields: object) -> Step:
        index = len(steps) + 1
        step = Step(
            trace_id=_TRACE_ID,
            span_id=f"{index:016x}",
            parent_id=None if not steps else steps[0].span_id,
            kind=kind,
            name=name,
            start_time_unix_nano=index,
            end_time_unix_nano=index,
            **fields,  # type: ignore[arg-type]
        )
        steps.append(step)
        return step

    add(StepKind.AGENT, "completion")
    requested: list[ToolCall] = []  # calls not answered by a tool message yet, in order
    for message in messages:
        if message.role == "assistant":
            llm = LLMCall(
                tool_calls=list(message.tool_calls),
                tools=list(tools),
                output_messages=[message],
            )
            add(StepKind.LLM, "model", llm=llm, output=message.content)
            requested += message.tool_calls
        elif message.role == "tool":
            request = _answered(requested, message)
            name = request.name if request is not None else (message.name or "unknown tool")
            executed = ToolCall(
                name=name,
                arguments=dict(request.arguments) if request is not None else {},
                arguments_malformed=request.arguments_malformed if request else False,
                raw_arguments=request.raw_arguments if request else None,
                call_id=request.call_id if request is not None else message.tool_call_id,
                result=_as_json(message.content),
            )
            add(StepKind.TOOL, name, tool=executed, output=executed.result)
    return AgentTrace(trace_id=_TRACE_ID, steps=steps)


def _answered(requested: list[ToolCall], message: Message) -> ToolCall | None:
    """The open call a tool message answers: by call id, else the first open call of its tool
    (or the first open call at all)."""
    for predicate in (
        lambda c: message.tool_call_id is not None and c.call_id == message.tool_call_id,
        lambda c: message.name is not None and c.name == message.name,
        lambda c: message.tool_call_id is None and message.name is None,
    ):
        for call in requested:
            if predicate(call):
                requested.remove(call)
                return call
    return None


def _as_json(content: str | None) -> str | None:
    """A result that is Python's repr of a dict or list (``str(result)``) as JSON; else as is."""
    if content is None or not content.lstrip().startswith(("{", "[")):
        return content
    try:
        json.loads(content)
        return content
    except ValueError:
        pass
    try:
        value = ast.literal_eval(content)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return content
    if not isinstance(value, dict | list):
        return content
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return content
