"""``--format openai``: JSON lines as OpenAI fine-tuning reads them, checked against its rules.

- SFT: ``{"messages": [...], "tools": [...]}``, the supervised format: tool-call ``arguments`` are
  JSON *strings*; tool messages carry ``tool_call_id`` and nothing else.
- DPO: ``{"input": {"messages": [...], "tools": [...]}, "preferred_output": [...],
  "non_preferred_output": [...]}``, OpenAI's preference format; each output is assistant
  messages.

`problems` checks a row against the rules OpenAI documents for these files (the fine-tuning
guides, the ``FineTuneChatRequestInput`` / ``FineTunePreferenceRequestInput`` schemas of its API
reference, and the chat-format rules a file is validated with on upload): only defined keys, known
roles, text content, at least one assistant message to learn from, function names of at most 64
letters, digits, ``_`` or ``-``, arguments as JSON text, and tool calls and tool results that pair
up. Token limits depend on the model and are left to OpenAI.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Final

from otel_flywheel.export._format_base import (
    FormatProblem,
    PreferenceRecord,
    RowFormat,
    SFTRecord,
    TrainingKind,
)
from otel_flywheel.export._write import FileFormat

__all__ = ["OpenAIFormat"]

_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool"})
_MESSAGE_KEYS: Final = {
    "system": frozenset({"role", "content", "name"}),
    "developer": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset({"role", "content", "name", "tool_calls", "weight", "refusal"}),
    "tool": frozenset({"role", "content", "tool_call_id"}),
}
_CHAT_KEYS: Final = frozenset({"messages", "tools", "parallel_tool_calls"})
_PREFERENCE_KEYS: Final = frozenset({"input", "preferred_output", "non_preferred_output"})


class OpenAIFormat(RowFormat):
    name: ClassVar[str] = "openai"
    reader: ClassVar[str] = "OpenAI fine-tuning"
    file_formats: ClassVar[frozenset[FileFormat]] = frozenset({"jsonl"})

    def sft_row(self, record: SFTRecord) -> dict[str, Any]:
        row = {"messages": _messages(record.messages), "tools": list(record.tools)}
        return _parallel(row, record.parallel_tool_calls)

    def dpo_row(self, record: PreferenceRecord) -> dict[str, Any]:
        given = {"messages": _messages(record.prompt), "tools": list(record.tools)}
        return {
            "input": _parallel(given, record.parallel_tool_calls),
            "preferred_output": _messages(record.chosen),
            "non_preferred_output": _messages(record.rejected),
        }

    def problems(self, kind: TrainingKind, row: dict[str, Any]) -> list[FormatProblem]:
        check = _Check()
        if not isinstance(row, dict):
            check.add("", "not_an_object", "each line must be a JSON object")
        elif kind == "sft":
            check.chat(row, "", needs_assistant=True)
        else:
            check.preference(row)
        return check.found


def _parallel(chat: dict[str, Any], parallel_tool_calls: bool) -> dict[str, Any]:
    """OpenAI's default is parallel calls; say so only when the rows were made without them."""
    return chat if parallel_tool_calls else {**chat, "parallel_tool_calls": False}


def _messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_message(message) for message in messages]


def _message(message: dict[str, Any]) -> dict[str, Any]:
    role = message["role"]
    out: dict[str, Any] = {"role": role}
    calls = message.get("tool_calls")
    content = message.get("content")
    if content is not None and (content or not calls):
        out["content"] = content
    if calls:
        out["tool_calls"] = [
            {
                "id": call["id"],
                "type": "function",
                "function": {
                    "name": call["function"]["name"],
                    "arguments": json.dumps(call["function"]["arguments"], ensure_ascii=False),
                },
            }
            for call in calls
        ]
    if role == "tool":
        if "tool_call_id" in message:
            out["tool_call_id"] = message["tool_call_id"]
    elif message.get("name"):
        out["name"] = message["name"]
    return out


class _Check:
    """Walks one row and collects every rule it breaks, with the path to where."""

    def __init__(self) -> None:
        self.found: list[FormatProblem] = []

    def add(self, path: str, rule: str, explanation: str) -> None:
        self.found.append(FormatProblem(field=path or "(row)", rule=rule, explanation=explanation))

    def unknown_keys(self, node: dict[str, Any], allowed: frozenset[str], path: str) -> None:
        for key in node:
            if key not in allowed:
                self.add(_join(path, key), "unknown_key", "OpenAI's format defines no such key")

    # --- rows -------------------------------------------------------------------------------

    def chat(self, node: dict[str, Any], path: str, *, needs_assistant: bool) -> None:
        """A ``{"messages", "tools", "parallel_tool_calls"}`` object (an SFT row, a DPO input)."""
        self.unknown_keys(node, _CHAT_KEYS, path)
        parallel = node.get("parallel_tool_calls", True)
        if not isinstance(parallel, bool):
            self.add(_join(path, "parallel_tool_calls"), "not_a_boolean", "must be true or false")
        self.tools(node.get("tools"), _join(path, "tools"))
        messages = node.get("messages")
        if not isinstance(messages, list) or not messages:
            self.add(_join(path, "messages"), "missing_messages", "a non-empty list is required")
            return
        self.conversation(messages, _join(path, "messages"), parallel=parallel is not False)
        if needs_assistant and not any(_role(m) == "assistant" for m in messages):
            self.add(
                _join(path, "messages"),
                "no_assistant_message",
                "an example needs at least one assistant message to learn from",
            )

    def preference(self, row: dict[str, Any]) -> None:
        self.unknown_keys(row, _PREFERENCE_KEYS, "")
        given = row.get("input")
        if not isinstance(given, dict):
            self.add("input", "missing_input", "an object with the prompt's messages is required")
            given = {}
        else:
            self.chat(given, "input", needs_assistant=False)
        parallel = given.get("parallel_tool_calls", True) is not False
        for key in ("preferred_output", "non_preferred_output"):
            output = row.get(key)
            if not isinstance(output, list) or not output:
                self.add(key, "missing_output", "a non-empty list of assistant messages")
                continue
            for index, message in enumerate(output):
                if _role(message) != "assistant":
                    self.add(f"{key}[{index}].role", "output_not_assistant", "must be assistant")
            prompt = given.get("messages")
            context = prompt if isinstance(prompt, list) else []
            self.messages(output, key, parallel=parallel)
            # An output continues its prompt: its tool results may answer the prompt's calls.
            paths = [f"input.messages[{i}]" for i in range(len(context))]
            paths += [f"{key}[{i}]" for i in range(len(output))]
            self.pairing([*context, *output], paths, report_from=len(context))

    # --- parts --------------------------------------------------------------------------------

    def conversation(self, messages: list[Any], path: str, *, parallel: bool) -> None:
        self.messages(messages, path, parallel=parallel)
        self.pairing(messages, [f"{path}[{i}]" for i in range(len(messages))], report_from=0)

    def messages(self, messages: list[Any], path: str, *, parallel: bool) -> None:
        for index, message in enumerate(messages):
            self.message(message, f"{path}[{index}]", parallel=parallel)

    def pairing(self, messages: list[Any], paths: list[str], *, report_from: int) -> None:
        """Tool calls and tool results pair up: each tool message answers an open call, and
        every call is answered before the conversation goes on (a final call may stay open: the
        example then teaches making it). Problems are reported from ``report_from`` on."""
        open_calls: list[tuple[str, str]] = []  # (call id, path of the call), unanswered
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            reported = index >= report_from
            if message.get("role") == "tool":
                call_id = message.get("tool_call_id")
                matching = [item for item in open_calls if item[0] == call_id]
                if matching:
                    open_calls.remove(matching[0])
                elif reported and isinstance(call_id, str):
                    self.add(
                        f"{paths[index]}.tool_call_id",
                        "tool_result_unpaired",
                        "answers no open tool call before it",
                    )
                continue
            if reported:
                for _, where in open_calls:
                    self.add(
                        where,
                        "tool_call_unanswered",
                        "the conversation goes on before a tool message answers this call",
                    )
            calls = message.get("tool_calls")
            open_calls = [
                (call["id"], f"{paths[index]}.tool_calls[{n}]")
                for n, call in enumerate(calls if isinstance(calls, list) else ())
                if isinstance(call, dict) and isinstance(call.get("id"), str)
            ]

    def message(self, message: Any, path: str, *, parallel: bool) -> None:
        if not isinstance(message, dict):
            self.add(path, "not_an_object", "a message must be a JSON object")
            return
        role = message.get("role")
        if role not in _ROLES:
            self.add(_join(path, "role"), "unknown_role", f"one of {', '.join(sorted(_ROLES))}")
            return
        self.unknown_keys(message, _MESSAGE_KEYS[role], path)
        calls = message.get("tool_calls")
        content = message.get("content")
        if content is None and not (role == "assistant" and calls):
            self.add(_join(path, "content"), "missing_content", "text content is required")
        elif content is not None and not _is_text(content):
            self.add(_join(path, "content"), "content_not_text", "a string or text parts")
        if role == "tool" and not _nonempty_str(message.get("tool_call_id")):
            self.add(_join(path, "tool_call_id"), "missing_tool_call_id", "names the call answered")
        if "weight" in message and message["weight"] not in (0, 1):
            self.add(_join(path, "weight"), "weight_value", "0 or 1")
        if calls is not None:
            self.tool_calls(calls, _join(path, "tool_calls"), parallel=parallel)

    def tool_calls(self, calls: Any, path: str, *, parallel: bool) -> None:
        if not isinstance(calls, list) or not calls:
            self.add(path, "empty_tool_calls", "leave the key out when there are no calls")
            return
        if len(calls) > 1 and not parallel:
            self.add(path, "parallel_tool_calls_disabled", "one call per message")
        for index, call in enumerate(calls):
            where = f"{path}[{index}]"
            function = call.get("function") if isinstance(call, dict) else None
            if not (
                isinstance(call, dict)
                and _nonempty_str(call.get("id"))
                and call.get("type") == "function"
                and isinstance(function, dict)
            ):
                self.add(where, "tool_call_shape", '{"id", "type": "function", "function"}')
                continue
            if not (isinstance(function.get("name"), str) and _NAME.match(function["name"])):
                self.add(f"{where}.function.name", "tool_name_pattern", _NAME_RULE)
            if not _json_object_text(function.get("arguments")):
                self.add(
                    f"{where}.function.arguments",
                    "arguments_not_json_text",
                    "a string holding a JSON object",
                )

    def tools(self, tools: Any, path: str) -> None:
        if tools is None:
            return
        if not isinstance(tools, list):
            self.add(path, "tool_definition_shape", "a list of function tools")
            return
        for index, tool in enumerate(tools):
            where = f"{path}[{index}]"
            function = tool.get("function") if isinstance(tool, dict) else None
            if not (isinstance(tool, dict) and tool.get("type") == "function"):
                self.add(where, "tool_definition_shape", '{"type": "function", "function": {...}}')
                continue
            if not isinstance(function, dict):
                self.add(f"{where}.function", "tool_definition_shape", "an object")
                continue
            if not (isinstance(function.get("name"), str) and _NAME.match(function["name"])):
                self.add(f"{where}.function.name", "tool_name_pattern", _NAME_RULE)
            if "parameters" in function and not isinstance(function["parameters"], dict):
                self.add(f"{where}.function.parameters", "tool_definition_shape", "a JSON schema")


_NAME_RULE: Final = "1-64 characters from a-z, A-Z, 0-9, _ and -"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, dict) else None


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_text(content: Any) -> bool:
    if isinstance(content, str):
        return True
    return (
        isinstance(content, list)
        and bool(content)
        and all(
            isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
            for part in content
        )
    )


def _json_object_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return isinstance(json.loads(value), dict)
    except ValueError:
        return False
