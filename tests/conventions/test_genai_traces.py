"""Agent traces in the OTel GenAI conventions, emitted by OTel's own util-genai handler, normalize
like OpenInference ones; content carried in span events is read too."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.util.genai.handler import TelemetryHandler
from opentelemetry.util.genai.types import (
    FunctionToolDefinition,
    InputMessage,
    OutputMessage,
    Text,
    ToolCallRequest,
    ToolCallResponse,
)

from otel_flywheel.model import AgentTrace, StepKind


@pytest.fixture
def handler(tracer_provider: TracerProvider, monkeypatch: pytest.MonkeyPatch) -> TelemetryHandler:
    # The handler reads the capture mode when it is built.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
    return TelemetryHandler(tracer_provider=tracer_provider)


def test_genai_agent_with_chat_tool_and_retrieval(
    handler: TelemetryHandler, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    question = "Cancel order B-77 please"
    with handler.invoke_local_agent(agent_name="support", request_model="gpt-4o") as agent:
        agent.conversation_id = "conv-9"
        agent.input_messages = [InputMessage(role="user", parts=[Text(content=question)])]
        with handler.retrieval(data_source_id="kb") as retrieval:
            retrieval.query_text = "cancellation policy"
            retrieval.documents = [
                {"id": "doc-3", "score": 0.77, "content": "Cancel free until shipped."}
            ]
        with handler.inference("openai", request_model="gpt-4o") as chat:
            chat.input_messages = [InputMessage(role="user", parts=[Text(content=question)])]
            chat.tool_definitions = [
                FunctionToolDefinition(
                    name="cancel_order",
                    description="Cancel an order",
                    parameters={"type": "object", "properties": {"order_id": {"type": "string"}}},
                )
            ]
            chat.output_messages = [
                OutputMessage(
                    role="assistant",
                    parts=[
                        ToolCallRequest(
                            id="call_9", name="cancel_order", arguments={"order_id": "B-77"}
                        )
                    ],
                    finish_reason="tool_calls",
                )
            ]
            chat.response_model_name = "gpt-4o-2024-08-06"
            chat.input_tokens = 30
            chat.output_tokens = 12
        with handler.tool("cancel_order") as tool:
            tool.tool_call_id = "call_9"
            tool.arguments = {"order_id": "B-77"}
            tool.tool_result = {"cancelled": True}
        with handler.inference("openai", request_model="gpt-4o") as chat:
            chat.input_messages = [
                InputMessage(role="user", parts=[Text(content=question)]),
                InputMessage(
                    role="tool", parts=[ToolCallResponse(id="call_9", response={"cancelled": True})]
                ),
            ]
            chat.output_messages = [
                OutputMessage(
                    role="assistant",
                    parts=[Text(content="Order B-77 is cancelled.")],
                    finish_reason="stop",
                )
            ]
        agent.output_messages = [
            OutputMessage(
                role="assistant",
                parts=[Text(content="Order B-77 is cancelled.")],
                finish_reason="stop",
            )
        ]

    [trace] = finished_traces()
    assert [s.kind for s in trace.steps] == [
        StepKind.AGENT,
        StepKind.RETRIEVER,
        StepKind.LLM,
        StepKind.TOOL,
        StepKind.LLM,
    ]
    _, retriever, first_chat, tool_step, last_chat = trace.steps
    assert retriever.retrieval is not None
    assert retriever.retrieval.query == "cancellation policy"
    assert [(d.id, d.score, d.content) for d in retriever.retrieval.documents] == [
        ("doc-3", 0.77, "Cancel free until shipped.")
    ]

    assert first_chat.llm is not None
    assert first_chat.llm.model == "gpt-4o-2024-08-06"
    assert [(c.name, c.arguments, c.call_id) for c in first_chat.llm.tool_calls] == [
        ("cancel_order", {"order_id": "B-77"}, "call_9")
    ]
    assert [t.name for t in first_chat.llm.tools] == ["cancel_order"]
    assert (first_chat.llm.usage.input_tokens, first_chat.llm.usage.output_tokens) == (30, 12)
    assert first_chat.llm.usage.total_tokens == 42

    assert tool_step.tool is not None
    assert tool_step.tool.name == "cancel_order"
    assert tool_step.tool.call_id == "call_9"
    assert tool_step.tool.arguments == {"order_id": "B-77"}
    assert json.loads(tool_step.tool.result or "") == {"cancelled": True}

    assert last_chat.llm is not None
    [_, tool_message] = last_chat.llm.messages
    assert (tool_message.role, tool_message.tool_call_id) == ("tool", "call_9")

    assert trace.goal == question
    assert trace.final_output == "Order B-77 is cancelled."
    assert trace.session_id == "conv-9"


def test_failed_genai_tool_keeps_arguments_and_error(
    handler: TelemetryHandler, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    def call_tool() -> None:
        with handler.tool("lookup_order") as tool:
            tool.arguments = '{"order_id": 12'  # malformed: truncated JSON
            raise TimeoutError("orders API timed out")

    with pytest.raises(TimeoutError):
        call_tool()

    [trace] = finished_traces()
    step = trace.steps[0]
    assert step.kind is StepKind.TOOL
    assert step.status == "error"
    assert step.tool is not None
    assert step.tool.arguments_malformed
    assert step.tool.raw_arguments == '{"order_id": 12'
    assert step.tool.error is not None
    assert "TimeoutError" in step.tool.error


def test_message_content_in_span_events_is_read(
    tracer_provider: TracerProvider, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    """Instrumentors on GenAI semconv v1.28-v1.36 put messages in span events."""
    tracer = tracer_provider.get_tracer("legacy-instrumentor")
    with tracer.start_as_current_span(
        "chat gpt-4", attributes={"gen_ai.operation.name": "chat"}
    ) as span:
        span.set_attribute("gen_ai.request.model", "gpt-4")
        span.add_event("gen_ai.system.message", {"content": "Be brief."})
        span.add_event("gen_ai.user.message", {"content": "Weather in Paris?"})
        span.add_event(
            "gen_ai.choice",
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": json.dumps(
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                            }
                        ],
                    }
                ),
            },
        )

    [trace] = finished_traces()
    llm = trace.steps[0].llm
    assert llm is not None
    assert [(m.role, m.content) for m in llm.messages] == [
        ("system", "Be brief."),
        ("user", "Weather in Paris?"),
    ]
    assert [(c.name, c.arguments) for c in llm.tool_calls] == [("weather", {"city": "Paris"})]
    assert trace.goal == "Weather in Paris?"


def test_pre_1_28_prompt_and_completion_events_are_read(
    tracer_provider: TracerProvider, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    tracer = tracer_provider.get_tracer("older-instrumentor")
    with tracer.start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat"}) as span:
        span.add_event(
            "gen_ai.content.prompt",
            {"gen_ai.prompt": json.dumps([{"role": "user", "content": "Hi there"}])},
        )
        span.add_event(
            "gen_ai.content.completion",
            {"gen_ai.completion": json.dumps([{"role": "assistant", "content": "Hello!"}])},
        )

    [trace] = finished_traces()
    assert trace.goal == "Hi there"
    assert trace.final_output == "Hello!"


def test_chat_without_captured_content_warns_how_to_enable_it(
    tracer_provider: TracerProvider, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    tracer = tracer_provider.get_tracer("default-instrumentor")
    with tracer.start_as_current_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat"}):
        pass

    [trace] = finished_traces()
    assert trace.steps[0].kind is StepKind.LLM
    assert any("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" in w for w in trace.warnings)
