"""Conversations of the shapes training data must survive, captured the way production captures them.

A small tool-using agent (the real ``openai`` client, instrumented by OpenInference, against the
scripted LLM) runs each scenario under a real `FlywheelSpanProcessor`; the assembled, normalized
traces land in an `InMemoryPipeline`. The scenarios cover what a serious user hits: one call,
several calls in one assistant turn, text and calls in one turn, several user turns, tools whose
parameter schemas differ in shape (strings, integers, enums, nested objects, arrays), a tool result
that is plain text, non-ASCII arguments, and a conversation without tools.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode, format_trace_id

from otel_flywheel.capture import FlywheelSpanProcessor, InMemoryPipeline
from otel_flywheel.datasets import DatasetExample, LoadedDataset
from otel_flywheel.export import ExportResult, TraceLookup, export_dpo, export_grpo, export_sft
from otel_flywheel.model import AgentTrace
from otel_flywheel.routing import RoutingStore
from otel_flywheel.testing.llm_server import (
    Reply,
    ScriptedLLMServer,
    Text,
    ToolCallReply,
    ToolCalls,
)

SYSTEM_PROMPT = "You are Acme's support agent. Use the tools; never guess."


def _tool(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


LOOKUP_ORDER = _tool(
    "lookup_order",
    "Look up an order by its id.",
    {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
)
GET_WEATHER = _tool(
    "get_weather",
    "The forecast for a city.",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "units": {"type": "string", "enum": ["metric", "imperial"]},
        },
        "required": ["city"],
    },
)
CREATE_TICKET = _tool(
    "create_ticket",
    "Open a support ticket.",
    {
        "type": "object",
        "properties": {
            "customer": {
                "type": "object",
                "properties": {"tier": {"type": "string"}, "since": {"type": "integer"}},
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "priority": {"type": "integer"},
            "escalate": {"type": "boolean"},
        },
        "required": ["tags"],
    },
)
TOOLS = [LOOKUP_ORDER, GET_WEATHER, CREATE_TICKET]

RESULTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "lookup_order": lambda a: json.dumps({"order_id": a["order_id"], "status": "shipped"}),
    "get_weather": lambda a: f"Sunny in {a['city']}, 21 degrees.",  # plain text, not JSON
    "create_ticket": lambda a: json.dumps({"ticket": "T-77", "tags": a["tags"]}),
    "orders.lookup": lambda a: json.dumps({"order_id": a["order_id"], "status": "shipped"}),
}


@dataclass(frozen=True)
class Scenario:
    """A conversation: the user's turns, and the model's replies in the order it gives them."""

    key: str
    user_turns: Sequence[str]
    replies: Sequence[Reply]
    tools: Sequence[dict[str, Any]] = field(default_factory=lambda: TOOLS)


SCENARIOS = [
    Scenario(
        "single_call",
        ["Where is order A-1001?"],
        [
            ToolCalls([ToolCallReply("lookup_order", {"order_id": "A-1001"})]),
            Text("Order A-1001 has shipped."),
        ],
    ),
    Scenario(
        "parallel_calls",
        ["Will order A-1002 reach Zürich before the weekend, and what is the weather there?"],
        [
            ToolCalls(
                [
                    ToolCallReply("lookup_order", {"order_id": "A-1002"}),
                    ToolCallReply("get_weather", {"city": "Zürich", "days": 3, "units": "metric"}),
                ]
            ),
            Text("A-1002 has shipped; Zürich stays sunny at 21 degrees."),
        ],
    ),
    Scenario(
        "text_and_call",
        ["My parcel A-1003 arrived broken, please open a ticket."],
        [
            ToolCalls(
                [
                    ToolCallReply(
                        "create_ticket",
                        {
                            "customer": {"tier": "gold", "since": 2019},
                            "tags": ["damaged", "A-1003"],
                            "priority": 2,
                            "escalate": True,
                        },
                    )
                ],
                content="I am sorry to hear that. Opening a ticket now.",
            ),
            Text("Ticket T-77 is open; we will send a replacement."),
        ],
    ),
    Scenario(
        "multi_turn",
        ["Where is order A-1004?", "And what will the weather be in Lyon tomorrow?"],
        [
            ToolCalls([ToolCallReply("lookup_order", {"order_id": "A-1004"})]),
            Text("Order A-1004 has shipped."),
            ToolCalls([ToolCallReply("get_weather", {"city": "Lyon", "days": 1})]),
            Text("Tomorrow Lyon is sunny, 21 degrees."),
        ],
    ),
    Scenario(
        "no_tools",
        ["What are your opening hours?"],
        [Text("We answer every day from 8:00 to 20:00.")],
        tools=(),
    ),
]


def capture_scenarios(
    llm: ScriptedLLMServer, scenarios: Sequence[Scenario] = SCENARIOS
) -> dict[str, AgentTrace]:
    """Run every scenario through the instrumented agent; scenario key -> its captured trace."""
    pipeline = InMemoryPipeline()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(FlywheelSpanProcessor(pipeline=pipeline, schedule_delay_millis=10))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    trace_ids: dict[str, str] = {}
    try:
        with OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client:
            tracer = OITracer(provider.get_tracer("tests.export.zoo"), config=TraceConfig())
            for scenario in scenarios:
                trace_ids[scenario.key] = _run(client, tracer, llm, scenario)
        assert provider.force_flush(30_000)
        traces = pipeline.wait_for(len(scenarios), timeout_seconds=30.0)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    by_id = {trace.trace_id: trace for trace in traces}
    return {key: by_id[trace_id] for key, trace_id in trace_ids.items()}


def _run(client: OpenAI, tracer: OITracer, llm: ScriptedLLMServer, scenario: Scenario) -> str:
    llm.enqueue(*scenario.replies)
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
    with tracer.start_as_current_span("support-agent", openinference_span_kind="agent") as span:
        span.set_input(scenario.user_turns[0])
        answer = ""
        for turn in scenario.user_turns:
            messages.append({"role": "user", "content": turn})
            while True:
                options: dict[str, Any] = {"tools": list(scenario.tools)} if scenario.tools else {}
                response = client.chat.completions.create(
                    model="acme-support-1",
                    messages=messages,  # type: ignore[arg-type]
                    **options,
                )
                message = response.choices[0].message
                messages.append(message.model_dump(exclude_none=True))
                if not message.tool_calls:
                    answer = message.content or ""
                    break
                for call in message.tool_calls:
                    name = call.function.name  # type: ignore[union-attr]
                    arguments = call.function.arguments  # type: ignore[union-attr]
                    with tracer.start_as_current_span(name, openinference_span_kind="tool") as tool:
                        tool.set_tool(name=name, parameters=_parameters(scenario, name))
                        tool.set_input(arguments, mime_type="application/json")
                        result = RESULTS[name](json.loads(arguments))
                        tool.set_output(result)
                        tool.set_status(Status(StatusCode.OK))
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        span.set_output(answer)
        span.set_status(Status(StatusCode.OK))
        return format_trace_id(span.get_span_context().trace_id)


def _parameters(scenario: Scenario, name: str) -> dict[str, Any]:
    return next(
        t["function"]["parameters"] for t in scenario.tools if t["function"]["name"] == name
    )


# --- the zoo as export input ------------------------------------------------------------------

PROJECT = "zoo"
REJECTED = "I cannot help with that."


@dataclass
class Zoo:
    """The captured traces in a routing store, and a golden and a preference example for each."""

    traces: dict[str, AgentTrace]
    store: RoutingStore
    golden: LoadedDataset
    preference: LoadedDataset

    @classmethod
    def build(cls, traces: dict[str, AgentTrace], store: RoutingStore) -> Zoo:
        golden, preference = [], []
        for key, trace in traces.items():
            store.put_trace(trace, None)
            metadata = {"source_trace_id": trace.trace_id, "project": PROJECT, "category": key}
            golden.append(
                DatasetExample(
                    example_id=f"golden-{key}",
                    dataset=f"{PROJECT}/golden",
                    input={"input": trace.goal},
                    output={"output": trace.final_output},
                    metadata={**metadata, "route": "golden"},
                )
            )
            preference.append(
                DatasetExample(
                    example_id=f"preference-{key}",
                    dataset=f"{PROJECT}/preference",
                    input={"input": trace.goal},
                    output={"chosen": trace.final_output, "rejected": REJECTED},
                    metadata={**metadata, "route": "preference"},
                )
            )
        return cls(
            traces=traces,
            store=store,
            golden=LoadedDataset(name=f"{PROJECT}/golden", examples=golden, origin="zoo"),
            preference=LoadedDataset(
                name=f"{PROJECT}/preference", examples=preference, origin="zoo"
            ),
        )

    def sft(self, out: Path, **options: Any) -> ExportResult:
        return export_sft([self.golden], out=out, traces=self.lookup(), **options)

    def dpo(self, out: Path, **options: Any) -> ExportResult:
        return export_dpo([self.preference], out=out, traces=self.lookup(), **options)

    def grpo(self, out: Path, **options: Any) -> ExportResult:
        return export_grpo([self.golden], out=out, traces=self.lookup(), **options)

    def lookup(self) -> TraceLookup:
        return TraceLookup(store=self.store)
