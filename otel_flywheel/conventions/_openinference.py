"""OpenInference attributes to model records.

Note the trap: ``tool.parameters`` on a TOOL span is the tool's JSON *schema*; the call's arguments are
the span's ``input.value`` (and, on the LLM span that asked for the call,
``llm.output_messages.N.message.tool_calls.M.tool_call.function.arguments``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_flywheel import semconv as sc
from otel_flywheel.conventions._messages import tool_definition_from_json
from otel_flywheel.conventions._values import (
    as_dict,
    as_float,
    as_int,
    as_text,
    first_present,
    parse_arguments,
    unflatten_list,
)
from otel_flywheel.model import (
    Document,
    LLMCall,
    Message,
    Retrieval,
    StepKind,
    TokenUsage,
    ToolCall,
    ToolDefinition,
)

__all__ = ["oi_llm", "oi_retrieval", "oi_span_kind", "oi_tool"]

SA = sc.SpanAttributes
MA = sc.MessageAttributes
TCA = sc.ToolCallAttributes
DA = sc.DocumentAttributes

_KINDS = {
    "AGENT": StepKind.AGENT,
    "CHAIN": StepKind.CHAIN,
    "LLM": StepKind.LLM,
    "TOOL": StepKind.TOOL,
    "RETRIEVER": StepKind.RETRIEVER,
    "RERANKER": StepKind.RERANKER,
    "EMBEDDING": StepKind.EMBEDDING,
    "GUARDRAIL": StepKind.GUARDRAIL,
    "EVALUATOR": StepKind.EVALUATOR,
}


def oi_span_kind(attributes: Mapping[str, Any]) -> StepKind | None:
    """The step kind OpenInference declares; ``OTHER`` for a declared kind we do not model
    (``PROMPT``, ``UNKNOWN``, typos); ``None`` when the span is not OpenInference at all."""
    raw = attributes.get(SA.OPENINFERENCE_SPAN_KIND)
    if raw is None:
        return None
    return _KINDS.get(str(raw).strip().upper(), StepKind.OTHER)


def oi_llm(attributes: Mapping[str, Any]) -> LLMCall:
    output_messages = _messages(attributes, sc.OI_OUTPUT_MESSAGES_PREFIX)
    tools = [
        definition
        for entry in unflatten_list(attributes, sc.OI_TOOLS_PREFIX)
        if (definition := tool_definition_from_json(entry.get(sc.ToolAttributes.TOOL_JSON_SCHEMA)))
    ]
    return LLMCall(
        model=as_text(
            first_present(
                attributes,
                (SA.LLM_MODEL_NAME, SA.LLM_RESPONSE_MODEL_NAME, SA.LLM_REQUEST_MODEL_NAME),
            )
        ),
        provider=as_text(first_present(attributes, (SA.LLM_PROVIDER, SA.LLM_SYSTEM))),
        messages=_messages(attributes, sc.OI_INPUT_MESSAGES_PREFIX),
        output_messages=output_messages,
        tool_calls=[call for message in output_messages for call in message.tool_calls],
        tools=tools,
        usage=TokenUsage(
            input_tokens=as_int(attributes.get(SA.LLM_TOKEN_COUNT_PROMPT)),
            output_tokens=as_int(attributes.get(SA.LLM_TOKEN_COUNT_COMPLETION)),
            total_tokens=as_int(attributes.get(SA.LLM_TOKEN_COUNT_TOTAL)),
        ),
        invocation_parameters=as_dict(attributes.get(SA.LLM_INVOCATION_PARAMETERS)) or {},
    )


def oi_tool(attributes: Mapping[str, Any], *, span_name: str) -> ToolCall:
    arguments, malformed, raw = parse_arguments(attributes.get(SA.INPUT_VALUE))
    return ToolCall(
        name=as_text(attributes.get(SA.TOOL_NAME)) or span_name,
        arguments=arguments,
        arguments_malformed=malformed,
        raw_arguments=raw,
        call_id=as_text(first_present(attributes, (SA.TOOL_ID, TCA.TOOL_CALL_ID))),
        result=as_text(attributes.get(SA.OUTPUT_VALUE)),
        schema=_schema(attributes.get(SA.TOOL_PARAMETERS)),
        description=as_text(attributes.get(SA.TOOL_DESCRIPTION)),
        annotations=_annotations(attributes.get(SA.TOOL_PARAMETERS)),
    )


def oi_retrieval(attributes: Mapping[str, Any], *, kind: StepKind) -> Retrieval:
    if kind is StepKind.RERANKER:
        return Retrieval(
            query=as_text(attributes.get(sc.OI_RERANKER_QUERY)),
            documents=_documents(attributes, sc.OI_RERANKER_OUTPUT_PREFIX),
        )
    return Retrieval(
        query=_query_text(attributes.get(SA.INPUT_VALUE)),
        documents=_documents(attributes, sc.OI_DOCUMENTS_PREFIX),
    )


def _messages(attributes: Mapping[str, Any], prefix: str) -> list[Message]:
    messages = []
    for entry in unflatten_list(attributes, prefix):
        texts = [as_text(entry.get(MA.MESSAGE_CONTENT))]
        for part in unflatten_list(entry, sc.OI_MESSAGE_CONTENTS_PREFIX):
            texts.append(as_text(part.get(sc.MessageContentAttributes.MESSAGE_CONTENT_TEXT)))
        tool_calls = [
            ToolCall(
                name=as_text(call.get(TCA.TOOL_CALL_FUNCTION_NAME)) or "",
                call_id=as_text(call.get(TCA.TOOL_CALL_ID)),
                **_argument_fields(call.get(TCA.TOOL_CALL_FUNCTION_ARGUMENTS_JSON)),
            )
            for call in unflatten_list(entry, sc.OI_MESSAGE_TOOL_CALLS_PREFIX)
        ]
        # Legacy single function call (OpenAI `function_call`).
        if function_name := as_text(entry.get(MA.MESSAGE_FUNCTION_CALL_NAME)):
            tool_calls.append(
                ToolCall(
                    name=function_name,
                    **_argument_fields(entry.get(MA.MESSAGE_FUNCTION_CALL_ARGUMENTS_JSON)),
                )
            )
        present = [t for t in texts if t]
        messages.append(
            Message(
                role=as_text(entry.get(MA.MESSAGE_ROLE)) or "unknown",
                content="\n".join(present) if present else None,
                tool_calls=[call for call in tool_calls if call.name],
                tool_call_id=as_text(entry.get(MA.MESSAGE_TOOL_CALL_ID)),
                name=as_text(entry.get(MA.MESSAGE_NAME)),
            )
        )
    return messages


def _argument_fields(value: Any) -> dict[str, Any]:
    arguments, malformed, raw = parse_arguments(value)
    return {"arguments": arguments, "arguments_malformed": malformed, "raw_arguments": raw}


def _documents(attributes: Mapping[str, Any], prefix: str) -> list[Document]:
    return [
        Document(
            id=as_text(entry.get(DA.DOCUMENT_ID)),
            content=as_text(entry.get(DA.DOCUMENT_CONTENT)),
            score=as_float(entry.get(DA.DOCUMENT_SCORE)),
            metadata=as_dict(entry.get(DA.DOCUMENT_METADATA)) or {},
        )
        for entry in unflatten_list(attributes, prefix)
    ]


def _schema(value: Any) -> dict[str, Any] | None:
    """``tool.parameters`` is usually the arguments schema, sometimes a whole tool object (OpenAI's
    ``{"type": "function", "function": ...}`` or MCP's ``{"name", "inputSchema", ...}``)."""
    schema = as_dict(value)
    if schema is None:
        return None
    definition = _whole_tool(schema)
    if definition is not None:
        return definition.parameters
    return schema


def _annotations(value: Any) -> dict[str, Any] | None:
    """MCP behaviour hints (``readOnlyHint`` ...) when ``tool.parameters`` is a whole tool object."""
    schema = as_dict(value)
    definition = _whole_tool(schema) if schema is not None else None
    return definition.annotations if definition is not None else None


def _whole_tool(schema: dict[str, Any]) -> ToolDefinition | None:
    if "function" in schema or "inputSchema" in schema:
        return tool_definition_from_json(schema)
    return None


_QUERY_KEYS = ("query", "question", "input", "text", "q")


def _query_text(value: Any) -> str | None:
    """A retriever's ``input.value`` is the query string, or a JSON object holding it."""
    parsed = as_dict(value)
    if parsed is not None:
        found = first_present(parsed, _QUERY_KEYS)
        if found is not None:
            return as_text(found)
    return as_text(value)
