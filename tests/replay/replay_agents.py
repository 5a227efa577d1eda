"""A small order agent for the replay tests: the real ``openai`` client against the scripted model,
tools declared with ``@otel_flywheel.tool`` that count their real calls.

The scripted model answers from the last tool result it was given, so an answer shows whether a
tool's output came from the live tool or from a recording. ``version`` picks how the model
behaves: ``good`` looks orders up by the id in the question, but twice when the customer says
"again" (the production bug the repeated-call check catches); ``fixed`` looks up once; ``bad``
always looks up ``A-0000``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from openai import OpenAI
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from phoenix.client import Client

from otel_flywheel import semconv as sc
from otel_flywheel import tool
from otel_flywheel.capture import InMemoryPipeline
from otel_flywheel.model import AgentTrace
from otel_flywheel.replay import replay_tools
from otel_flywheel.testing.llm_server import (
    Reply,
    ScriptedLLMServer,
    Text,
    ToolCallReply,
    ToolCalls,
)

ORDER_ID = re.compile(r"A-\d{4}")
LIVE_STATUS = {"A-1001": "shipped", "A-1002": "processing", "A-1003": "delivered"}
QUESTIONS = [f"Where is order {order_id}?" for order_id in LIVE_STATUS]
REPEAT_QUESTION = "Is order A-1003 delivered? Please check again."

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up an order by id.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
]

# A task module as a user writes one for `otel-flywheel replay --task orders_task:answer`,
# instrumented through the global provider replay sets. ORDERS_LLM_URL names the scripted model.
TASK_MODULE = """
import os

from openai import OpenAI
from phoenix.client import Client
from openinference.instrumentation.openai import OpenAIInstrumentor

import replay_agents

# The world moved on since the examples were recorded: live lookups now say "lost".
replay_agents.LIVE_STATUS.update({order: "lost" for order in replay_agents.LIVE_STATUS})
OpenAIInstrumentor().instrument()  # the global provider replay sets
agent = replay_agents.OrderAgent(
    OpenAI(base_url=os.environ["ORDERS_LLM_URL"], api_key="test", max_retries=0)
)


def answer(input):
    return agent.answer(input["input"])
"""

_lock = threading.Lock()
REAL_CALLS: Counter[str] = Counter()


@tool
def lookup_order(order_id: str) -> dict[str, Any]:
    """Look up an order by id."""
    with _lock:
        REAL_CALLS["lookup_order"] += 1
    return {"order_id": order_id, "status": LIVE_STATUS.get(order_id, "unknown")}


def responder(version: str) -> Any:
    def respond(request: Mapping[str, Any]) -> Reply:
        messages = request.get("messages") or []
        tool_messages = [m for m in messages if m.get("role") == "tool"]
        if tool_messages:
            result = json.loads(tool_messages[-1]["content"])
            return Text(f"Order {result['order_id']} is {result['status']}.")
        question = next(m["content"] for m in messages if m.get("role") == "user")
        found = ORDER_ID.search(question)
        order_id = found.group(0) if found and version != "bad" else "A-0000"
        times = 2 if version == "good" and "again" in question else 1
        return ToolCalls([ToolCallReply("lookup_order", {"order_id": order_id})] * times)

    return respond


class OrderAgent:
    """``answer`` runs under an AGENT span of ``tracer_provider`` (default: the global one)."""

    def __init__(self, client: OpenAI, *, tracer_provider: TracerProvider | None = None) -> None:
        self._client = client
        self._tracer = trace.get_tracer("tests.replay.orders", tracer_provider=tracer_provider)

    def answer(self, question: str) -> str:
        with self._tracer.start_as_current_span(
            "order-agent",
            attributes={
                sc.SpanAttributes.OPENINFERENCE_SPAN_KIND: "AGENT",
                sc.SpanAttributes.INPUT_VALUE: question,
            },
        ) as span:
            answer = self._loop(question)
            span.set_attribute(sc.SpanAttributes.OUTPUT_VALUE, answer)
            return answer

    def _loop(self, question: str) -> str:
        messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
        for _ in range(4):
            response = self._client.chat.completions.create(
                model="orders-1",
                messages=messages,  # type: ignore[arg-type]
                tools=TOOLS,  # type: ignore[arg-type]
            )
            message = response.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                arguments = json.loads(call.function.arguments)  # type: ignore[union-attr]
                result = lookup_order(**arguments)
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
                )
        return "I could not finish."


def run_source_agent(
    provider: TracerProvider, pipeline: InMemoryPipeline, questions: list[str], *, version: str
) -> list[AgentTrace]:
    """Production before replay: the agent answers ``questions``; ``pipeline`` receives each
    trace as the flywheel captured it (in question order)."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with (
            ScriptedLLMServer(responder=responder(version)) as llm,
            OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
            replay_tools(None, tracer_provider=provider),  # tool spans to this provider
        ):
            agent = OrderAgent(client, tracer_provider=provider)
            for question in questions:
                agent.answer(question)
    finally:
        instrumentor.uninstrument()
    provider.force_flush()
    traces = pipeline.wait_for(len(questions), timeout_seconds=30)
    by_goal = {t.goal: t for t in traces}
    return [by_goal[q] for q in questions]


@contextmanager
def order_agent_task(
    version: str,
) -> Iterator[tuple[Callable[[dict[str, Any]], str], TracerProvider]]:
    """The agent as a replay task, and the provider its instrumentation reports to."""
    provider = TracerProvider()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with (
            ScriptedLLMServer(responder=responder(version)) as llm,
            OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
        ):
            agent = OrderAgent(client, tracer_provider=provider)
            yield (lambda input: agent.answer(input["input"])), provider
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


@contextmanager
def two_agents(
    first: str, second: str
) -> Iterator[
    tuple[Callable[[dict[str, Any]], str], Callable[[dict[str, Any]], str], TracerProvider]
]:
    """Two versions of the order agent as replay tasks, each with its own scripted model, both
    instrumented on one provider (an instrumentor instruments the openai client once)."""
    provider = TracerProvider()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with (
            ScriptedLLMServer(responder=responder(first)) as llm_a,
            ScriptedLLMServer(responder=responder(second)) as llm_b,
            OpenAI(base_url=llm_a.base_url, api_key="t", max_retries=0) as client_a,
            OpenAI(base_url=llm_b.base_url, api_key="t", max_retries=0) as client_b,
        ):
            agent_a = OrderAgent(client_a, tracer_provider=provider)
            agent_b = OrderAgent(client_b, tracer_provider=provider)

            def task_a(input: dict[str, Any]) -> str:
                return agent_a.answer(input["input"])

            def task_b(input: dict[str, Any]) -> str:
                return agent_b.answer(input["input"])

            yield task_a, task_b, provider
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def wait_for_examples(client: Client, dataset: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if len(client.datasets.get_dataset(dataset=dataset).examples) >= count:
                return
        except ValueError:  # not created yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dataset} did not get {count} examples within 60 s")
        time.sleep(0.25)
