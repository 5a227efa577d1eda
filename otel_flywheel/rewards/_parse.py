"""The tool calls in a completion, structured or written out as text.

A GRPO completion reaches a reward function as a list of messages (conversational) or as text.
Where the trainer parsed the model's output (TRL with a tokenizer that has a response schema, or
an OpenAI-compatible server), an assistant message carries ``tool_calls``. Otherwise the calls are
in the text, in the shape the model's chat template taught it:

- Hermes / Qwen2.5 / Qwen3: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``, one block
  per call;
- Llama 3.1 / 3.2: a JSON object ``{"name": ..., "parameters": {...}}`` (after ``<|python_tag|>``
  when the template emits it), several separated by ``;``;
- Mistral: ``[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]`` or, with newer tokenizers,
  ``[TOOL_CALLS]name[ARGS]{...}``;
- a bare JSON object, or list of objects, with ``name`` and ``arguments``.

A call that is recognisably a call but cannot be read (a ``<tool_call>`` block cut off mid-JSON,
arguments that are not an object) is kept as a malformed call, with its tool's name when that much
can be read: the checks then report it (``malformed_arguments``, or a call nobody expected), and
it scores 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from otel_flywheel.conventions import messages_from_json
from otel_flywheel.model import Message, ToolCall

__all__ = ["UNREADABLE_TOOL", "completion_messages", "tool_calls_in_text"]

UNREADABLE_TOOL: Final = "<unreadable tool call>"
"""The name a call gets when not even its tool's name can be read."""

_HERMES: Final = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_MISTRAL: Final = "[TOOL_CALLS]"
_MISTRAL_ARGS: Final = re.compile(r"\s*([A-Za-z0-9_.\-]+)\[ARGS\]")
_PYTHON_TAG: Final = "<|python_tag|>"
_NAME: Final = re.compile(r'"name"\s*:\s*"([^"\\]+)"')


def completion_messages(completion: Any) -> list[Message]:
    """The messages of a completion (a list of messages, one message, or text), assistant turns'
    calls read from ``tool_calls`` or, when a turn has none, from its text."""
    if isinstance(completion, str):
        messages = [Message(role="assistant", content=completion)]
    else:
        messages = messages_from_json(
            list(completion) if isinstance(completion, Sequence) else completion,
            default_role="assistant",
        )
    for message in messages:
        if message.role == "assistant" and not message.tool_calls and message.content:
            calls, rest = tool_calls_in_text(message.content)
            if calls:
                message.tool_calls = calls
                message.content = rest or None
    return messages


def tool_calls_in_text(text: str) -> tuple[list[ToolCall], str]:
    """The calls written in ``text`` and the text around them; ``([], text)`` when it holds none."""
    if "<tool_call>" in text:
        calls = [_call_from_json_text(block) for block in _HERMES.findall(text)]
        return calls, _HERMES.sub("", text).strip()
    if _MISTRAL in text:
        head, _, tail = text.partition(_MISTRAL)
        return _mistral(tail), head.strip()
    stripped = text.strip()
    if stripped.startswith(_PYTHON_TAG):
        stripped = stripped[len(_PYTHON_TAG) :].strip()
        return [_call_from_json_text(part) for part in _split_calls(stripped)], ""
    if stripped.startswith(("{", "[")):
        parsed = _loads(stripped)
        if parsed is not None:
            items = parsed if isinstance(parsed, list) else [parsed]
            if items and all(_looks_like_call(item) for item in items):
                return [_call_from_object(item) for item in items], ""
        elif stripped.startswith("{") and _NAME.search(stripped) and '"arguments"' in stripped:
            return [_call_from_json_text(stripped)], ""  # a call cut off mid-JSON
        parts = _split_calls(stripped)
        if len(parts) > 1:
            objects = [_loads(part) for part in parts]
            if all(_looks_like_call(item) for item in objects):
                return [_call_from_object(item) for item in objects], ""
    return [], text


def _mistral(tail: str) -> list[ToolCall]:
    tail = tail.strip()
    if tail.startswith("["):
        parsed = _loads(tail)
        if isinstance(parsed, list):
            return [_call_from_object(item) for item in parsed]
        return [_call_from_json_text(tail)]
    calls = []
    for part in tail.split(_MISTRAL):
        match = _MISTRAL_ARGS.match(part)
        if match is None:
            calls.append(_unreadable(part))
            continue
        calls.append(_with_arguments(match.group(1), part[match.end() :].strip()))
    return calls


def _split_calls(text: str) -> list[str]:
    """Llama writes several calls as JSON objects separated by ``;``."""
    return [part.strip() for part in re.split(r"(?<=})\s*;\s*(?={)", text) if part.strip()]


def _call_from_json_text(text: str) -> ToolCall:
    parsed = _loads(text.strip())
    if _looks_like_call(parsed, marked=True):
        return _call_from_object(parsed)
    return _unreadable(text)


def _call_from_object(item: Any) -> ToolCall:
    if not _looks_like_call(item, marked=True):
        return _unreadable(json.dumps(item, ensure_ascii=False, default=str))
    source = item["function"] if isinstance(item.get("function"), Mapping) else item
    arguments = source.get("arguments", source.get("parameters"))
    call_id = item.get("id")
    return _with_arguments(
        str(source["name"]), arguments, call_id=call_id if isinstance(call_id, str) else None
    )


def _with_arguments(name: str, arguments: Any, *, call_id: str | None = None) -> ToolCall:
    if arguments is None:
        return ToolCall(name=name, call_id=call_id)
    if isinstance(arguments, Mapping):
        return ToolCall(name=name, arguments=dict(arguments), call_id=call_id)
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    parsed = _loads(text) if text.strip() else {}
    if isinstance(parsed, dict):
        return ToolCall(name=name, arguments=parsed, call_id=call_id)
    return ToolCall(name=name, arguments_malformed=True, raw_arguments=text, call_id=call_id)


def _unreadable(text: str) -> ToolCall:
    match = _NAME.search(text)
    return ToolCall(
        name=match.group(1) if match else UNREADABLE_TOOL,
        arguments_malformed=True,
        raw_arguments=text.strip(),
    )


def _looks_like_call(item: Any, *, marked: bool = False) -> bool:
    """A call object: a tool name, and arguments unless markup already says it is a call (a JSON
    answer such as ``{"name": "Ada"}`` is not one)."""
    if not isinstance(item, Mapping):
        return False
    nested = isinstance(item.get("function"), Mapping)
    source = item["function"] if nested else item
    if not (isinstance(source.get("name"), str) and source["name"]):
        return False
    return marked or nested or "arguments" in source or "parameters" in source


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
