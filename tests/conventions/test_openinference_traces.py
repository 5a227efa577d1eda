"""Agent traces built with OpenInference's own tracer helpers normalize into the right steps."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from openinference.instrumentation import (
    OITracer,
    TraceConfig,
    get_llm_attributes,
    get_retriever_attributes,
    using_metadata,
    using_session,
    using_user,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

from otel_flywheel.model import AgentTrace, StepKind

ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
}
LOOKUP_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "description": "Find an order",
        "parameters": ORDER_SCHEMA,
    },
}


@pytest.fixture
def tracer(tracer_provider: TracerProvider) -> OITracer:
    return OITracer(tracer_provider.get_tracer("support-agent"), config=TraceConfig())


def run_support_agent(tracer: OITracer, question: str) -> str:
    """A small agent: retrieve, ask the LLM, call the tool it chose, answer."""

    @tracer.tool(name="lookup_order", description="Find an order", parameters=ORDER_SCHEMA)
    def lookup_order(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, "status": "shipped"}

    @tracer.agent(name="support-agent")
    def agent(question: str) -> str:
        with tracer.start_as_current_span("kb.search", openinference_span_kind="retriever") as span:
            span.set_input(question)
            span.set_attributes(
                get_retriever_attributes(
                    documents=[
                        {
                            "id": "kb-7",
                            "content": "Orders ship within 2 days.",
                            "score": 0.91,
                            "metadata": {"source": "shipping-policy"},
                        },
                        {"id": "kb-9", "content": "Refunds take 5 days.", "score": 0.4},
                    ]
                )
            )
            span.set_output("2 documents")
        with tracer.start_as_current_span("ChatCompletion", openinference_span_kind="llm") as span:
            span.set_attributes(
                get_llm_attributes(
                    provider="openai",
                    model_name="gpt-4o-mini-2024-07-18",
                    input_messages=[
                        {"role": "system", "content": "You are a support agent."},
                        {"role": "user", "content": question},
                    ],
                    output_messages=[
                        {
                            "role": "assistant",
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "function": {
                                        "name": "lookup_order",
                                        "arguments": json.dumps({"order_id": "A-1001"}),
                                    },
                                }
                            ],
                        }
                    ],
                    tools=[{"json_schema": LOOKUP_TOOL}],
                    token_count={"prompt": 42, "completion": 9, "total": 51},
                )
            )
        order = lookup_order(order_id="A-1001")
        return f"Your order {order['order_id']} has {order['status']}."

    with (
        using_session("session-42"),
        using_user("user-7"),
        using_metadata({"channel": "chat", "agent_version": "1.3.0"}),
    ):
        return agent(question)


def test_tool_retrieval_and_llm_steps_come_out_typed(
    tracer: OITracer, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    answer = run_support_agent(tracer, "Where is my order A-1001?")

    [trace] = finished_traces()
    assert [s.kind for s in trace.steps] == [
        StepKind.AGENT,
        StepKind.RETRIEVER,
        StepKind.LLM,
        StepKind.TOOL,
    ]
    agent, retriever, llm, tool = trace.steps
    assert agent.parent_id is None
    assert {retriever.parent_id, llm.parent_id, tool.parent_id} == {agent.span_id}

    assert tool.tool is not None
    assert tool.tool.name == "lookup_order"
    assert tool.tool.arguments == {"order_id": "A-1001"}
    assert not tool.tool.arguments_malformed
    assert tool.tool.schema == ORDER_SCHEMA
    assert tool.tool.description == "Find an order"
    assert json.loads(tool.tool.result or "") == {"order_id": "A-1001", "status": "shipped"}

    assert retriever.retrieval is not None
    assert retriever.retrieval.query == "Where is my order A-1001?"
    assert [(d.id, d.content, d.score) for d in retriever.retrieval.documents] == [
        ("kb-7", "Orders ship within 2 days.", 0.91),
        ("kb-9", "Refunds take 5 days.", 0.4),
    ]
    assert retriever.retrieval.documents[0].metadata == {"source": "shipping-policy"}

    assert llm.llm is not None
    assert llm.llm.model == "gpt-4o-mini-2024-07-18"
    assert [m.role for m in llm.llm.messages] == ["system", "user"]
    assert [(c.name, c.arguments, c.call_id) for c in llm.llm.tool_calls] == [
        ("lookup_order", {"order_id": "A-1001"}, "call_1")
    ]
    assert [t.name for t in llm.llm.tools] == ["lookup_order"]
    assert llm.llm.tools[0].parameters == ORDER_SCHEMA
    assert (llm.llm.usage.input_tokens, llm.llm.usage.output_tokens) == (42, 9)

    assert trace.goal == "Where is my order A-1001?"
    assert trace.final_output == answer
    assert trace.session_id == "session-42"
    assert trace.user_id == "user-7"
    assert trace.metadata == {"channel": "chat", "agent_version": "1.3.0"}
    assert trace.project == "flywheel-tests"
    assert trace.models == ["gpt-4o-mini-2024-07-18"]
    assert trace.warnings == []


def test_trace_survives_a_json_round_trip(
    tracer: OITracer, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    run_support_agent(tracer, "Where is my order A-1001?")
    [trace] = finished_traces()

    restored = AgentTrace.from_json(trace.to_json())

    assert restored == trace
    assert AgentTrace.from_dict(json.loads(trace.to_json())) == trace


def test_failing_tool_records_error_from_status_and_exception(
    tracer: OITracer, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    @tracer.tool(name="refund", parameters={"type": "object"})
    def refund(order_id: str, amount: float) -> str:
        raise PermissionError("refund above limit needs approval")

    with tracer.start_as_current_span("agent", openinference_span_kind="agent") as span:
        span.set_input("refund my order")
        with pytest.raises(PermissionError):
            refund(order_id="A-1", amount=900.0)

    [trace] = finished_traces()
    tool_step = trace.steps_of_kind(StepKind.TOOL)[0]
    assert tool_step.status == "error"
    assert tool_step.tool is not None
    assert tool_step.tool.arguments == {"order_id": "A-1", "amount": 900.0}
    assert tool_step.tool.error is not None
    assert "refund above limit needs approval" in tool_step.tool.error


def test_non_json_tool_input_is_kept_verbatim_with_a_flag(
    tracer: OITracer, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    with tracer.start_as_current_span("search", openinference_span_kind="tool") as span:
        span.set_tool(name="search", parameters={"type": "object"})
        span.set_input('{"query": "refund pol')  # truncated by an attribute length limit
        span.set_status(Status(StatusCode.OK))

    [trace] = finished_traces()
    tool = trace.steps[0].tool
    assert tool is not None
    assert tool.arguments == {}
    assert tool.arguments_malformed
    assert tool.raw_arguments == '{"query": "refund pol'


def test_malformed_tool_call_arguments_on_llm_span_are_flagged(
    tracer: OITracer, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    with tracer.start_as_current_span("llm", openinference_span_kind="llm") as span:
        span.set_attributes(
            get_llm_attributes(
                output_messages=[
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c1", "function": {"name": "lookup_order", "arguments": "A-1"}}
                        ],
                    }
                ]
            )
        )

    [trace] = finished_traces()
    assert trace.steps[0].llm is not None
    [call] = trace.steps[0].llm.tool_calls
    assert (call.name, call.arguments, call.arguments_malformed, call.raw_arguments) == (
        "lookup_order",
        {},
        True,
        "A-1",
    )


def test_consent_false_on_any_span_withholds_consent(
    tracer: OITracer, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    with tracer.start_as_current_span("agent", openinference_span_kind="agent") as root:
        root.set_attribute("flywheel.consent", True)
        with tracer.start_as_current_span("step", openinference_span_kind="chain") as child:
            child.set_attribute("flywheel.consent", "false")

    [trace] = finished_traces()
    assert trace.consent is False


def test_mcp_annotations_of_tools_offered_and_executed_are_kept(
    tracer: OITracer, finished_traces: Callable[[], list[AgentTrace]]
) -> None:
    """MCP's behaviour hints (readOnlyHint) reach the model's tool list and TOOL spans in either
    shape a gateway may pass them: beside ``inputSchema``, or inside OpenAI's ``function``."""
    mcp_tool = {
        "name": "get_user",
        "inputSchema": ORDER_SCHEMA,
        "annotations": {"readOnlyHint": True},
    }
    openai_tool = {
        "type": "function",
        "function": {
            "name": "cancel",
            "parameters": ORDER_SCHEMA,
            "annotations": {"readOnlyHint": False, "destructiveHint": True},
        },
    }
    with tracer.start_as_current_span("agent", openinference_span_kind="agent"):
        with tracer.start_as_current_span("chat", openinference_span_kind="llm") as span:
            span.set_attributes(
                get_llm_attributes(tools=[{"json_schema": mcp_tool}, {"json_schema": openai_tool}])
            )
        with tracer.start_as_current_span("get_user", openinference_span_kind="tool") as span:
            span.set_tool(name="get_user", parameters=mcp_tool)
            span.set_input(json.dumps({"order_id": "A-1"}), mime_type="application/json")

    [trace] = finished_traces()
    _, llm, tool = trace.steps
    assert llm.llm is not None
    assert [(t.name, t.parameters, t.annotations) for t in llm.llm.tools] == [
        ("get_user", ORDER_SCHEMA, {"readOnlyHint": True}),
        ("cancel", ORDER_SCHEMA, {"readOnlyHint": False, "destructiveHint": True}),
    ]
    assert tool.tool is not None
    assert (tool.tool.schema, tool.tool.annotations) == (ORDER_SCHEMA, {"readOnlyHint": True})
