"""The replies a `ScriptedLLMServer` can be scripted with, and the OpenAI-shaped bodies they become.

Replies are plain records so a script reads like the conversation it stands for. Rendering lives
here, apart from the HTTP plumbing, so the wire shapes (which instrumentors and the real ``openai``
client parse) can be read and checked in one place.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "Disconnect",
    "Error",
    "Garbage",
    "RejectResponseFormat",
    "Reply",
    "Responder",
    "Slow",
    "StructuredJSON",
    "Text",
    "ToolCallReply",
    "ToolCalls",
]


@dataclass(frozen=True)
class Text:
    """An assistant message with plain text content.

    `finish_reason="length"` stands in for a completion cut off by `max_tokens`.
    """

    content: str
    _: KW_ONLY
    finish_reason: Literal["stop", "length", "content_filter"] = "stop"


@dataclass(frozen=True)
class ToolCallReply:
    """One function call the model asks for.

    A mapping is JSON-encoded for the wire; a string is sent verbatim, so tests can feed the agent
    arguments that are not JSON or are cut off mid-object, as real models sometimes produce.
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    _: KW_ONLY
    call_id: str | None = None
    """The tool call id; by default a deterministic ``call_<n>_<i>`` from the server's counter."""


@dataclass(frozen=True)
class ToolCalls:
    """An assistant message that calls tools (``finish_reason="tool_calls"``)."""

    calls: Sequence[ToolCallReply]
    _: KW_ONLY
    content: str | None = None
    """Text some models send alongside their tool calls."""


@dataclass(frozen=True)
class StructuredJSON:
    """Content that is ``json.dumps(value)``, as a model answering a ``response_format`` sends."""

    value: Any


@dataclass(frozen=True)
class Error:
    """An OpenAI-shaped error response, so client retry and error handling run for real.

    `error_type` and `code` default to what OpenAI sends for `status`. `retry_after_seconds` sets
    the ``Retry-After`` header that clients honor when backing off.
    """

    status: int = 500
    message: str = "The server had an error while processing your request."
    _: KW_ONLY
    error_type: str | None = None
    code: str | None = None
    retry_after_seconds: float | None = None


@dataclass(frozen=True)
class Slow:
    """Wait `delay_seconds` before answering with `then`: drives client timeouts.

    The wait ends early when the server closes, so a test never waits on a reply nobody reads.
    """

    delay_seconds: float
    _: KW_ONLY
    then: Reply


@dataclass(frozen=True)
class Garbage:
    """A response whose body is not what an OpenAI client can parse (status 200 by default)."""

    body: bytes = b"<html><body>502 Bad Gateway</body></html>"
    _: KW_ONLY
    status: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True)
class RejectResponseFormat:
    """A 400 from an endpoint that does not support ``response_format``.

    Exercises the fallback from structured output to plain prompting. Scripted against a request
    that has no ``response_format``, it answers 500: the script and the code under test disagree.
    """


@dataclass(frozen=True)
class Disconnect:
    """Send the headers and part of the body, then close the connection."""


Reply: TypeAlias = (
    Text | ToolCalls | StructuredJSON | Error | Slow | Garbage | RejectResponseFormat | Disconnect
)
"""Anything the server can answer a chat completion request with."""

Responder: TypeAlias = Callable[[dict[str, Any]], Reply]
"""Picks a reply from the request body; called on the server's thread, so keep it quick."""

REPLY_TYPES: tuple[type, ...] = (
    Text,
    ToolCalls,
    StructuredJSON,
    Error,
    Slow,
    Garbage,
    RejectResponseFormat,
    Disconnect,
)

_DEFAULT_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}

# The shape of a chat completion, before ids and counts are known.
Answer: TypeAlias = Text | ToolCalls | StructuredJSON


def error_body(
    message: str, *, error_type: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """The body OpenAI sends with every error status."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def render_error(error: Error) -> tuple[dict[str, Any], dict[str, str]]:
    """Body and headers for a scripted `Error`."""
    default_type, default_code = _DEFAULT_ERRORS.get(error.status, ("server_error", None))
    body = error_body(
        error.message,
        error_type=error.error_type or default_type,
        code=error.code if error.code is not None else default_code,
    )
    headers = {}
    if error.retry_after_seconds is not None:
        headers["retry-after"] = f"{error.retry_after_seconds:g}"
    return body, headers


def reject_response_format_body(request: Mapping[str, Any]) -> dict[str, Any]:
    """The 400 body an endpoint without structured output support sends."""
    response_format = request.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, Mapping) else response_format
    return error_body(
        f"Invalid parameter: 'response_format' of type '{kind}' is not supported with this model.",
        error_type="invalid_request_error",
        code=None,
        param="response_format",
    )


def count_words(text: str) -> int:
    """Token counts are word counts: plausible, and easy to predict in a test."""
    return len(text.split())


def count_prompt_tokens(request: Mapping[str, Any]) -> int:
    """Words in every message's text and tool call arguments; at least 1, as any prompt costs."""
    total = 0
    messages = request.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, Mapping):
            continue
        content = message.get("content")
        if isinstance(content, str):
            total += count_words(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    total += count_words(part["text"])
        for call in message.get("tool_calls") or []:
            function = call.get("function", {}) if isinstance(call, Mapping) else {}
            total += count_words(f"{function.get('name', '')} {function.get('arguments', '')}")
    return max(total, 1)


def _arguments_text(call: ToolCallReply) -> str:
    if isinstance(call.arguments, str):
        return call.arguments
    return json.dumps(dict(call.arguments))


def _tool_calls(answer: ToolCalls, serial: int) -> list[dict[str, Any]]:
    return [
        {
            "id": call.call_id or f"call_{serial}_{index}",
            "type": "function",
            "function": {"name": call.name, "arguments": _arguments_text(call)},
        }
        for index, call in enumerate(answer.calls)
    ]


def _content(answer: Answer) -> str | None:
    if isinstance(answer, Text):
        return answer.content
    if isinstance(answer, StructuredJSON):
        return json.dumps(answer.value)
    return answer.content


def _finish_reason(answer: Answer) -> str:
    if isinstance(answer, ToolCalls):
        return "tool_calls"
    if isinstance(answer, Text):
        return answer.finish_reason
    return "stop"


def _usage(request: Mapping[str, Any], answer: Answer) -> dict[str, Any]:
    prompt_tokens = count_prompt_tokens(request)
    completion_tokens = count_words(_content(answer) or "")
    if isinstance(answer, ToolCalls):
        completion_tokens += sum(
            count_words(f"{call.name} {_arguments_text(call)}") for call in answer.calls
        )
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _envelope(request: Mapping[str, Any], *, obj: str, serial: int, created: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-scripted-{serial}",
        "object": obj,
        "created": created,
        "model": request.get("model") or "gpt-4o-mini",
        "service_tier": "default",
        "system_fingerprint": "fp_scripted",
    }


def render_completion(
    request: Mapping[str, Any], answer: Answer, *, serial: int, created: int
) -> dict[str, Any]:
    """A ``chat.completion`` body; `serial` numbers the completion and its tool call ids."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": _content(answer),
        "refusal": None,
        "annotations": [],
    }
    if isinstance(answer, ToolCalls):
        message["tool_calls"] = _tool_calls(answer, serial)
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": _finish_reason(answer),
    }
    return {
        **_envelope(request, obj="chat.completion", serial=serial, created=created),
        "choices": [choice],
        "usage": _usage(request, answer),
    }


def render_chunks(
    request: Mapping[str, Any], answer: Answer, *, serial: int, created: int
) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` stream for `answer`, split the way OpenAI splits it.

    Content arrives word by word after a role-only first delta; each tool call opens with its id and
    name, and its arguments follow in pieces. With ``stream_options.include_usage`` every chunk
    carries ``usage: null`` and a last chunk with no choices carries the counts.
    """
    stream_options = request.get("stream_options")
    include_usage = isinstance(stream_options, Mapping) and bool(
        stream_options.get("include_usage")
    )
    envelope = _envelope(request, obj="chat.completion.chunk", serial=serial, created=created)

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**envelope, "choices": [choice], **({"usage": None} if include_usage else {})}

    content = _content(answer)
    is_tool_call = isinstance(answer, ToolCalls)
    yield chunk({"role": "assistant", "content": None if is_tool_call else "", "refusal": None})
    for piece in re.findall(r"\S+\s*|\s+", content or ""):
        yield chunk({"content": piece})
    if isinstance(answer, ToolCalls):
        for index, call in enumerate(_tool_calls(answer, serial)):
            function = call["function"]
            opening = {"name": function["name"], "arguments": ""}
            yield chunk(
                {
                    "tool_calls": [
                        {"index": index, "id": call["id"], "type": "function", "function": opening}
                    ]
                }
            )
            arguments = function["arguments"]
            for start in range(0, len(arguments), 8):
                piece = {"arguments": arguments[start : start + 8]}
                yield chunk({"tool_calls": [{"index": index, "function": piece}]})
    yield chunk({}, _finish_reason(answer))
    if include_usage:
        yield {**envelope, "choices": [], "usage": _usage(request, answer)}


def _embedding_inputs(raw: Any) -> list[str]:
    """Each input as text to hash: a string, a list of strings, or token id lists."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(item, int) for item in raw):
        return [json.dumps(raw)]
    if isinstance(raw, list):
        return [item if isinstance(item, str) else json.dumps(item) for item in raw]
    return [json.dumps(raw)]


def embed(text: str, *, dimensions: int) -> list[float]:
    """A unit vector derived from a hash of `text`: equal inputs embed equally, across runs."""
    digest = hashlib.shake_256(text.encode()).digest(4 * dimensions)
    raw = [(value / 0xFFFFFFFF) * 2 - 1 for value in struct.unpack(f"<{dimensions}I", digest)]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return [value / norm for value in raw]


def render_embeddings(request: Mapping[str, Any], *, default_dimensions: int) -> dict[str, Any]:
    """A ``list`` of embeddings; base64-packed float32 when asked, as the ``openai`` client does."""
    dimensions = request.get("dimensions")
    if not isinstance(dimensions, int) or dimensions <= 0:
        dimensions = default_dimensions
    inputs = _embedding_inputs(request.get("input"))
    data = []
    for index, text in enumerate(inputs):
        vector = embed(text, dimensions=dimensions)
        encoded: list[float] | str = vector
        if request.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = max(sum(count_words(text) for text in inputs), 1)
    return {
        "object": "list",
        "data": data,
        "model": request.get("model") or "text-embedding-3-small",
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
