"""A trace's conversation as chat messages: what SFT and DPO rows are made of.

The conversation is the last LLM call's context (its input messages) plus its reply. A chat agent
sends the whole history with every call, so that context holds every earlier turn: the user's
request, the assistant's tool calls and the tool results. Where an instrumentation left tool
results out of the context, they are taken from the trace's TOOL steps, matched by tool name in
call order.

The messages are in the *canonical* form every row format starts from (`_formats`): OpenAI's chat
shape, with tool calls as ``{"id", "type": "function", "function": {"name", "arguments"}}`` where
``arguments`` is the JSON object the model produced (a dict, keys in the order the model wrote
them), and tool messages with the ``tool_call_id`` they answer and the ``name`` of that tool. A
format then writes arguments as a JSON string (OpenAI) or keeps the object (Hugging Face). Missing
call ids get stable ``call_<n>`` ids so calls and results still pair up. Keys are present only
when they hold something: no ``None`` values, no empty ``tool_calls``.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from typing import Any

from otel_flywheel.model import AgentTrace, Message, Step, ToolCall, ToolDefinition

__all__ = ["Conversation", "conversation_from_trace", "message_text"]


@dataclass(frozen=True, kw_only=True)
class Conversation:
    """``messages`` and ``tools`` in the canonical form (see the module docstring); ``problem``
    says why the conversation cannot be trained on (``None`` when it can)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    parallel_tool_calls: bool = True  # False: at most one call per assistant turn

    def one_call_per_turn(self) -> Conversation:
        """The conversation with every assistant turn that made several tool calls split into one
        turn per call, each followed by its result, for models that make one call at a time
        (Llama 3.1's template raises on a turn with several). The turn's text stays on its first
        call. A turn whose calls do not all have their results right after it is left whole."""
        if self.problem is not None:
            return self
        return replace(self, messages=_one_call_per_turn(self.messages), parallel_tool_calls=False)

    @property
    def final_answer_index(self) -> int | None:
        """Index of the closing assistant answer (text, no tool calls), if the conversation has one."""
        if not self.messages:
            return None
        last = self.messages[-1]
        if last["role"] == "assistant" and not last.get("tool_calls") and last.get("content"):
            return len(self.messages) - 1
        return None


def conversation_from_trace(trace: AgentTrace) -> Conversation:
    """The trace's conversation; ``problem`` is set when it has none or it is unusable."""
    llm_steps = [
        (index, step)
        for index, step in enumerate(trace.steps)
        if step.llm is not None and (step.llm.messages or step.llm.output_messages or step.output)
    ]
    if not llm_steps:
        return Conversation(problem="no_llm_call")
    _, last = max(llm_steps, key=lambda item: (item[1].start_time_unix_nano, item[0]))
    assert last.llm is not None
    raw = [*last.llm.messages, *_reply(last)]
    if any(call.arguments_malformed for message in raw for call in message.tool_calls):
        # Training on arguments that are not a JSON object teaches the model to produce them.
        return Conversation(problem="malformed_tool_arguments")
    messages = _with_tool_results(_canonical_messages(raw), trace)
    if messages is None:
        return Conversation(problem="tool_call_without_result")
    return Conversation(messages=messages, tools=_tools([step for _, step in llm_steps]))


def message_text(message: dict[str, Any]) -> str:
    """A message's words for length and duplicate checks: content, tool names and arguments."""
    parts = [message.get("content") or ""]
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        parts.append(f"{function.get('name', '')} {arguments}")
    return " ".join(part for part in parts if part)


def _one_call_per_turn(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        calls = message.get("tool_calls") or []
        end = index + 1
        while end < len(messages) and messages[end]["role"] == "tool":
            end += 1
        answers = {m.get("tool_call_id"): m for m in messages[index + 1 : end]}
        if len(calls) < 2 or any(call["id"] not in answers for call in calls):
            result.append(message)
            index += 1
            continue
        for position, call in enumerate(calls):
            turn = {key: value for key, value in message.items() if key != "tool_calls"}
            if position > 0:
                turn.pop("content", None)
            result += [{**turn, "tool_calls": [call]}, answers.pop(call["id"])]
        result += answers.values()  # results of no call in this turn stay, after it
        index = end
    return result


def _reply(step: Step) -> list[Message]:
    assert step.llm is not None
    if step.llm.output_messages:
        return list(step.llm.output_messages)
    if step.llm.tool_calls:
        return [Message(role="assistant", tool_calls=list(step.llm.tool_calls))]
    if step.output:
        return [Message(role="assistant", content=step.output)]
    return []


def _canonical_messages(raw: list[Message]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    unanswered: deque[tuple[str, str]] = deque()  # (call id, tool name) awaiting a tool message
    names: dict[str, str] = {}  # call id -> tool name, to name the tool message that answers it
    counter = 0
    for message in raw:
        data: dict[str, Any] = {"role": message.role}
        if message.content is not None or not message.tool_calls:
            data["content"] = message.content if message.content is not None else ""
        if message.tool_calls:
            calls = []
            for call in message.tool_calls:
                counter += 1
                call_id = call.call_id or f"call_{counter}"
                calls.append(_tool_call(call, call_id))
                unanswered.append((call_id, call.name))
                names[call_id] = call.name
            data["tool_calls"] = calls
        if message.role == "tool":
            answers = message.tool_call_id or _pair(unanswered, message.name)
            if answers is not None:
                data["tool_call_id"] = answers
                _discard(unanswered, answers)
            name = message.name or (names.get(answers) if answers is not None else None)
            if name:
                data["name"] = name
        elif message.name:
            data["name"] = message.name
        messages.append(data)
    return messages


def _tool_call(call: ToolCall, call_id: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": dict(call.arguments)},
    }


def _pair(unanswered: deque[tuple[str, str]], name: str | None) -> str | None:
    """The call a tool message without ``tool_call_id`` answers: the first open call of its tool
    (or the first open call at all)."""
    for call_id, tool in unanswered:
        if name is None or tool == name:
            return call_id
    return None


def _discard(unanswered: deque[tuple[str, str]], call_id: str) -> None:
    for item in list(unanswered):
        if item[0] == call_id:
            unanswered.remove(item)
            return


def _with_tool_results(
    messages: list[dict[str, Any]], trace: AgentTrace
) -> list[dict[str, Any]] | None:
    """``messages`` with a tool message after every tool call that has none, from the TOOL steps.

    ``None`` when a call that the conversation goes on after has no result anywhere: a row with a
    dangling call is rejected by fine-tuning APIs and teaches nothing true.
    """
    executed: defaultdict[str, deque[ToolCall]] = defaultdict(deque)
    for _, call in trace.tool_calls():
        executed[call.name].append(call)
    answered = {m["tool_call_id"] for m in messages if m["role"] == "tool" and "tool_call_id" in m}
    # Results the conversation already holds use up the executions of their tool, in order.
    for message in messages:
        for call in message.get("tool_calls") or ():
            if call["id"] in answered and executed[call["function"]["name"]]:
                executed[call["function"]["name"]].popleft()
    result: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        result.append(message)
        missing = [c for c in message.get("tool_calls") or () if c["id"] not in answered]
        if not missing:
            continue
        for call in missing:
            runs = executed[call["function"]["name"]]
            if not runs:
                if position == len(messages) - 1:
                    break  # the trace ends on this call: it stays a request, the last message
                return None
            run = runs.popleft()
            content = run.result if run.result is not None else (run.error or "")
            result.append(
                {
                    "role": "tool",
                    "tool_call_id": call["id"],
                    "name": call["function"]["name"],
                    "content": content,
                }
            )
    return result


def _tools(steps: list[Step]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for step in steps:
        assert step.llm is not None
        for tool in step.llm.tools:
            seen.setdefault(tool.name, _tool_definition(tool))
    return list(seen.values())


def _tool_definition(tool: ToolDefinition) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    return {"type": "function", "function": function}
