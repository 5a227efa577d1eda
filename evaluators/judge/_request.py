"""Asking for a verdict: the output modes, the request's arguments, and reading the completion.

Output modes, tried in order and remembered for the judge (one endpoint, one model):

1. ``response_format`` with a strict JSON schema (explanation before label);
2. when the endpoint rejects that, a forced call of the ``record_verdict`` tool with the same schema;
3. when it rejects tools too, plain JSON: the schema is described in the prompt.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import openai

from otel_flywheel.model import TokenUsage

__all__ = [
    "PLAIN_JSON_INSTRUCTION",
    "SCHEMA_NAME",
    "TOOL_NAME",
    "ZERO_USAGE",
    "OutputMode",
    "add_usage",
    "completion_usage",
    "describe",
    "rejects",
    "reply_text",
    "request_arguments",
]

TOOL_NAME = "record_verdict"
SCHEMA_NAME = "judge_verdict"
PLAIN_JSON_INSTRUCTION = (
    "Answer with one JSON object and nothing else (no prose, no code fence). "
    "It must match this JSON Schema, with the keys in this order:\n"
)
ZERO_USAGE = TokenUsage(input_tokens=0, output_tokens=0, total_tokens=0)


class OutputMode(enum.IntEnum):
    """How the judge asks for its verdict; a rejected mode falls back to the next one."""

    JSON_SCHEMA = 1
    TOOL_CALL = 2
    PLAIN_JSON = 3


def add_usage(left: TokenUsage, right: TokenUsage) -> TokenUsage:
    def plus(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return TokenUsage(
        input_tokens=plus(left.input_tokens, right.input_tokens),
        output_tokens=plus(left.output_tokens, right.output_tokens),
        total_tokens=plus(left.total_tokens, right.total_tokens),
    )


def request_arguments(
    *,
    model: str,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    mode: OutputMode,
    temperature: float | None,
) -> dict[str, Any]:
    """The chat-completion arguments asking for a verdict in ``mode``."""
    messages = [dict(message) for message in messages]
    arguments: dict[str, Any] = {"model": model}
    if temperature is not None:
        arguments["temperature"] = temperature
    if mode is OutputMode.JSON_SCHEMA:
        arguments["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": True},
        }
    elif mode is OutputMode.TOOL_CALL:
        arguments["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": TOOL_NAME,
                    "description": "Record the verdict: explanation first, then the label.",
                    "parameters": schema,
                },
            }
        ]
        arguments["tool_choice"] = {"type": "function", "function": {"name": TOOL_NAME}}
    else:
        messages.append(
            {"role": "user", "content": PLAIN_JSON_INSTRUCTION + json.dumps(schema, indent=1)}
        )
    arguments["messages"] = messages
    return arguments


def describe(error: BaseException) -> str:
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code} {type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"


def rejects(error: openai.APIStatusError, mode: OutputMode) -> bool:
    """Whether ``error`` says the endpoint does not support ``mode`` (so a fallback may work)."""
    if mode is OutputMode.PLAIN_JSON:
        return False
    if error.status_code == 422:
        return True
    if error.status_code != 400:
        return False
    text = f"{error.message} {json.dumps(error.body, default=str)}".lower()
    if mode is OutputMode.JSON_SCHEMA:
        return any(word in text for word in ("response_format", "json_schema", "structured"))
    return any(word in text for word in ("tool", "function"))


def reply_text(completion: Any, mode: OutputMode) -> str | None:
    """The verdict text in a chat completion: tool arguments or message content."""
    choices = getattr(completion, "choices", None)
    if not choices:
        return None
    message = getattr(choices[0], "message", None)
    if message is None:
        return None
    if mode is OutputMode.TOOL_CALL:
        for call in getattr(message, "tool_calls", None) or []:
            function = getattr(call, "function", None)
            if function is not None and function.name == TOOL_NAME:
                arguments = function.arguments
                return arguments if isinstance(arguments, str) else None
    content = getattr(message, "content", None)
    if content is None:
        refusal = getattr(message, "refusal", None)
        return refusal if isinstance(refusal, str) else None
    return content if isinstance(content, str) else None


def completion_usage(completion: Any) -> TokenUsage:
    usage = getattr(completion, "usage", None)
    if usage is None:
        return ZERO_USAGE
    return TokenUsage(
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        total_tokens=getattr(usage, "total_tokens", None),
    )
