"""OTel GenAI semantic-convention attributes (and content-carrying span events) to model records.

Message content may sit in span attributes (``gen_ai.input.messages``, the latest conventions with
content capture ``span_only``/``span_and_event``) or in span events, as older and some current
instrumentors write it: ``gen_ai.{system,user,assistant,tool}.message`` and ``gen_ai.choice`` (v1.28-
v1.36), ``gen_ai.content.prompt``/``completion`` (before v1.28) and
``gen_ai.client.inference.operation.details`` (v1.37+ events). Attributes win when both are present.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from otel_flywheel import semconv as sc
from otel_flywheel.conventions._messages import (
    message_from_json,
    messages_from_json,
    tool_definitions_from_json,
)
from otel_flywheel.conventions._span_view import SpanEvent
from otel_flywheel.conventions._values import (
    as_dict,
    as_float,
    as_int,
    as_text,
    first_present,
    parse_arguments,
    parse_json,
)
from otel_flywheel.model import (
    Document,
    LLMCall,
    Message,
    Retrieval,
    StepKind,
    TokenUsage,
    ToolCall,
)

__all__ = ["genai_llm", "genai_messages", "genai_retrieval", "genai_span_kind", "genai_tool"]

G = sc.gen_ai

_OPERATIONS = {
    "chat": StepKind.LLM,
    "text_completion": StepKind.LLM,
    "generate_content": StepKind.LLM,
    "completion": StepKind.LLM,
    "execute_tool": StepKind.TOOL,
    "invoke_agent": StepKind.AGENT,
    "create_agent": StepKind.AGENT,
    "invoke_workflow": StepKind.CHAIN,
    "embeddings": StepKind.EMBEDDING,
    "retrieval": StepKind.RETRIEVER,
}

_ROLE_EVENTS = {
    sc.GENAI_EVENT_SYSTEM_MESSAGE: "system",
    sc.GENAI_EVENT_USER_MESSAGE: "user",
    sc.GENAI_EVENT_ASSISTANT_MESSAGE: "assistant",
    sc.GENAI_EVENT_TOOL_MESSAGE: "tool",
}


def genai_span_kind(attributes: Mapping[str, Any]) -> StepKind | None:
    """The kind ``gen_ai.operation.name`` declares; ``OTHER`` for an operation we do not model;
    ``None`` when the span carries no GenAI operation."""
    operation = attributes.get(G.GEN_AI_OPERATION_NAME)
    if operation is None:
        return StepKind.TOOL if attributes.get(G.GEN_AI_TOOL_NAME) else None
    return _OPERATIONS.get(str(operation).strip().lower(), StepKind.OTHER)


def genai_messages(
    attributes: Mapping[str, Any], events: Sequence[SpanEvent]
) -> tuple[list[Message], list[Message]]:
    """(input messages, output messages) from attributes, else from content-carrying events."""
    inputs = messages_from_json(attributes.get(G.GEN_AI_INPUT_MESSAGES))
    outputs = messages_from_json(attributes.get(G.GEN_AI_OUTPUT_MESSAGES), default_role="assistant")
    system = _system_message(attributes.get(G.GEN_AI_SYSTEM_INSTRUCTIONS))
    if not inputs and not outputs:
        inputs, outputs, event_system = _messages_from_events(events)
        system = system or event_system
    if system is not None and not any(m.role == "system" for m in inputs):
        inputs.insert(0, system)
    return inputs, outputs


def genai_llm(attributes: Mapping[str, Any], events: Sequence[SpanEvent]) -> LLMCall:
    inputs, outputs = genai_messages(attributes, events)
    input_tokens = as_int(
        first_present(attributes, (G.GEN_AI_USAGE_INPUT_TOKENS, G.GEN_AI_USAGE_PROMPT_TOKENS))
    )
    output_tokens = as_int(
        first_present(attributes, (G.GEN_AI_USAGE_OUTPUT_TOKENS, G.GEN_AI_USAGE_COMPLETION_TOKENS))
    )
    total = (
        input_tokens + output_tokens
        if input_tokens is not None and output_tokens is not None
        else None
    )
    parameters = {
        key.removeprefix("gen_ai.request."): value
        for key, value in attributes.items()
        if key.startswith("gen_ai.request.") and key != G.GEN_AI_REQUEST_MODEL
    }
    return LLMCall(
        # The response model names the exact version that answered; the request model is the alias.
        model=as_text(first_present(attributes, (G.GEN_AI_RESPONSE_MODEL, G.GEN_AI_REQUEST_MODEL))),
        provider=as_text(first_present(attributes, (G.GEN_AI_PROVIDER_NAME, G.GEN_AI_SYSTEM))),
        messages=inputs,
        output_messages=outputs,
        tool_calls=[call for message in outputs for call in message.tool_calls],
        tools=tool_definitions_from_json(attributes.get(G.GEN_AI_TOOL_DEFINITIONS)),
        usage=TokenUsage(
            input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=total
        ),
        invocation_parameters={k: parse_json(v, default=v) for k, v in parameters.items()},
    )


def genai_tool(attributes: Mapping[str, Any], *, span_name: str) -> ToolCall:
    arguments, malformed, raw = parse_arguments(attributes.get(G.GEN_AI_TOOL_CALL_ARGUMENTS))
    name = as_text(attributes.get(G.GEN_AI_TOOL_NAME))
    if not name:
        # "execute_tool get_weather" is the span name the conventions prescribe.
        name = span_name.removeprefix("execute_tool").strip() or span_name
    return ToolCall(
        name=name,
        arguments=arguments,
        arguments_malformed=malformed,
        raw_arguments=raw,
        call_id=as_text(attributes.get(G.GEN_AI_TOOL_CALL_ID)),
        result=as_text(attributes.get(G.GEN_AI_TOOL_CALL_RESULT)),
        description=as_text(attributes.get(G.GEN_AI_TOOL_DESCRIPTION)),
    )


def genai_retrieval(attributes: Mapping[str, Any]) -> Retrieval:
    raw_documents = parse_json(attributes.get(G.GEN_AI_RETRIEVAL_DOCUMENTS))
    documents = []
    if isinstance(raw_documents, list):
        for item in raw_documents:
            if not isinstance(item, Mapping):
                continue
            documents.append(
                Document(
                    id=as_text(item.get("id")),
                    content=as_text(first_present(item, ("content", "text", "page_content"))),
                    score=as_float(item.get("score")),
                    metadata=as_dict(item.get("metadata")) or {},
                )
            )
    return Retrieval(
        query=as_text(attributes.get(G.GEN_AI_RETRIEVAL_QUERY_TEXT)),
        documents=documents,
    )


def _system_message(value: Any) -> Message | None:
    if value is None:
        return None
    parsed = parse_json(value, default=value)
    if isinstance(parsed, list):  # a list of parts
        parsed = {"role": "system", "parts": parsed}
    message = message_from_json(parsed, default_role="system")
    if message is None or not message.content:
        return None
    message.role = "system"
    return message


def _messages_from_events(
    events: Sequence[SpanEvent],
) -> tuple[list[Message], list[Message], Message | None]:
    inputs: list[Message] = []
    outputs: list[Message] = []
    system: Message | None = None
    for event in events:
        attrs = event.attributes
        if event.name == sc.GENAI_EVENT_OPERATION_DETAILS:
            inputs.extend(messages_from_json(attrs.get(G.GEN_AI_INPUT_MESSAGES)))
            outputs.extend(
                messages_from_json(attrs.get(G.GEN_AI_OUTPUT_MESSAGES), default_role="assistant")
            )
            system = system or _system_message(attrs.get(G.GEN_AI_SYSTEM_INSTRUCTIONS))
        elif event.name in _ROLE_EVENTS:
            message = message_from_json(_event_body(attrs), default_role=_ROLE_EVENTS[event.name])
            if message is not None:
                inputs.append(message)
        elif event.name == sc.GENAI_EVENT_CHOICE:
            message = message_from_json(_event_body(attrs), default_role="assistant")
            if message is not None:
                outputs.append(message)
        elif event.name == sc.GENAI_EVENT_CONTENT_PROMPT:
            inputs.extend(messages_from_json(attrs.get(G.GEN_AI_PROMPT)))
        elif event.name == sc.GENAI_EVENT_CONTENT_COMPLETION:
            outputs.extend(
                messages_from_json(attrs.get(G.GEN_AI_COMPLETION), default_role="assistant")
            )
    return inputs, outputs, system


def _event_body(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Event attributes as a message object: ``message`` (a choice's JSON body) or the flat fields."""
    body = as_dict(attributes.get("message"))
    if body is not None:
        return body
    flat = dict(attributes)
    if "tool_calls" in flat:
        flat["tool_calls"] = parse_json(flat["tool_calls"], default=flat["tool_calls"])
    if "id" in flat and "tool_call_id" not in flat:
        flat["tool_call_id"] = flat.pop("id")
    return flat
