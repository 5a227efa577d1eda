"""Chat messages, tool calls and tool definitions from their JSON shapes.

Two shapes are in the wild and both conventions can carry either:
- GenAI semconv parts: ``{"role", "parts": [{"type": "text", "content"}, {"type": "tool_call", "id",
  "name", "arguments"}, {"type": "tool_call_response", "id", "response"}]}``;
- OpenAI chat style (OpenInference tool schemas, older GenAI events, ``gen_ai.prompt``):
  ``{"role", "content": str | [{"type": "text", "text"}], "tool_calls": [{"id", "function": {"name",
  "arguments"}}], "tool_call_id"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_flywheel.conventions._values import (
    as_dict,
    as_text,
    first_present,
    parse_arguments,
    parse_json,
)
from otel_flywheel.model import Message, ToolCall, ToolDefinition

__all__ = [
    "message_from_json",
    "messages_from_json",
    "tool_call_from_json",
    "tool_definition_from_json",
    "tool_definitions_from_json",
]

# Content parts that are not text are kept as a marker, so a judge knows something was there.
_NON_TEXT_PART_TYPES = {"blob", "file", "uri", "image", "image_url", "input_audio", "audio"}


def messages_from_json(value: Any, *, default_role: str = "user") -> list[Message]:
    """A list of messages from a JSON string, a list, a single message object or plain text."""
    parsed = parse_json(value, default=value)
    if isinstance(parsed, Mapping):
        parsed = [parsed]
    if isinstance(parsed, str):
        return [Message(role=default_role, content=parsed)] if parsed else []
    if not isinstance(parsed, list):
        return []
    messages = []
    for item in parsed:
        message = message_from_json(item, default_role=default_role)
        if message is not None:
            messages.append(message)
    return messages


def message_from_json(obj: Any, *, default_role: str = "user") -> Message | None:
    if isinstance(obj, str):
        return Message(role=default_role, content=obj)
    if not isinstance(obj, Mapping):
        return None
    # OpenAI "choice" objects wrap the message.
    if isinstance(obj.get("message"), Mapping):
        obj = obj["message"]
    role = as_text(obj.get("role")) or default_role
    texts: list[str] = []
    tool_calls: list[ToolCall] = []
    tool_call_id = as_text(obj.get("tool_call_id"))

    parts = obj.get("parts")
    if isinstance(parts, list):
        for part in parts:
            if not isinstance(part, Mapping):
                continue
            kind = part.get("type")
            if kind == "text":
                _append(texts, part.get("content"))
            elif kind == "tool_call":
                call = tool_call_from_json(part)
                if call is not None:
                    tool_calls.append(call)
            elif kind == "tool_call_response":
                tool_call_id = tool_call_id or as_text(part.get("id"))
                _append(texts, part.get("response"))
            elif kind in _NON_TEXT_PART_TYPES:
                texts.append(f"[{kind}]")

    content = obj.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping):
                kind = part.get("type")
                if kind in _NON_TEXT_PART_TYPES:
                    texts.append(f"[{kind}]")
                else:
                    _append(texts, part.get("text", part.get("content")))
            else:
                _append(texts, part)
    else:
        _append(texts, content)

    raw_calls = obj.get("tool_calls")
    if isinstance(raw_calls, str):
        raw_calls = parse_json(raw_calls)
    if isinstance(raw_calls, list):
        for raw in raw_calls:
            call = tool_call_from_json(raw)
            if call is not None:
                tool_calls.append(call)

    return Message(
        role=role,
        content="\n".join(texts) if texts else None,
        tool_calls=tool_calls,
        tool_call_id=tool_call_id,
        name=as_text(obj.get("name")),
    )


def tool_call_from_json(obj: Any) -> ToolCall | None:
    """``{"id", "name", "arguments"}`` or ``{"id", "function": {"name", "arguments"}}``."""
    if not isinstance(obj, Mapping):
        return None
    source = _function_fields(obj)
    name = as_text(source.get("name"))
    if not name:
        return None
    arguments, malformed, raw = parse_arguments(source.get("arguments"))
    return ToolCall(
        name=name,
        arguments=arguments,
        arguments_malformed=malformed,
        raw_arguments=raw,
        call_id=as_text(obj.get("id")),
    )


def tool_definitions_from_json(value: Any) -> list[ToolDefinition]:
    parsed = parse_json(value)
    if isinstance(parsed, Mapping):
        parsed = [parsed]
    if not isinstance(parsed, list):
        return []
    definitions = (tool_definition_from_json(item) for item in parsed)
    return [d for d in definitions if d is not None]


def tool_definition_from_json(value: Any) -> ToolDefinition | None:
    """OpenAI ``{"type": "function", "function": {...}}``, flat ``{"name", "parameters"}``,
    Anthropic ``{"name", "input_schema"}`` or MCP ``{"name", "inputSchema", "annotations"}``.

    MCP's behaviour hints (``annotations``, e.g. ``readOnlyHint``) are kept wherever the
    definition carries them: beside ``function`` or inside it.
    """
    obj = as_dict(value)
    if obj is None:
        return None
    source = _function_fields(obj)
    name = as_text(source.get("name"))
    if not name:
        return None
    parameters = first_present(source, ("parameters", "input_schema", "inputSchema"))
    annotations = as_dict(source.get("annotations")) or as_dict(obj.get("annotations"))
    return ToolDefinition(
        name=name,
        description=as_text(source.get("description")),
        parameters=as_dict(parameters),
        annotations=annotations or None,
    )


def _function_fields(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """OpenAI nests a call's or a tool's fields under ``function``; other shapes keep them flat."""
    function = obj.get("function")
    return function if isinstance(function, Mapping) else obj


def _append(texts: list[str], value: Any) -> None:
    text = as_text(value)
    if text:
        texts.append(text)
