"""A project whose datasets were filled the way production fills them, for the export tests.

A small support agent (the real ``openai`` client, instrumented by OpenInference, against the
scripted LLM) runs conversations through ``register()`` with a real flywheel (``build_flywheel``:
checks, routing, the SQLite outbox, the Phoenix sink) into the session's Phoenix. Feedback goes
through ``Flywheel.submit_feedback``, as ``otel_flywheel.feedback()`` and ``POST /v1/feedback``
do. Nothing is uploaded by hand.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig, using_session, using_user
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode, format_trace_id
from phoenix.client import Client

from otel_flywheel import semconv as sc
from otel_flywheel._flywheel import Flywheel
from otel_flywheel.model import Feedback
from otel_flywheel.routing import RoutingStore
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Text, ToolCallReply, ToolCalls
from otel_flywheel.testing.phoenix import wait_for_spans

SYSTEM_PROMPT = "You are Acme's support agent. Look orders up before you answer."
ORDERS: dict[str, dict[str, Any]] = {
    "A-1001": {"status": "shipped", "carrier": "UPS", "eta": "2026-11-24"},
    "A-1002": {"status": "processing", "eta": "2026-11-28"},
    "A-1003": {"status": "delivered", "delivered_on": "2026-11-15"},
    "A-1004": {"status": "cancelled"},
    "A-1005": {"status": "delivered", "delivered_on": "2026-10-02"},
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up an order by its id.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
]


@dataclass(frozen=True)
class Turn:
    """One conversation: the question, the order the model looks up, the answer it gives."""

    key: str
    question: str
    order_id: str
    answer: str
    user_id: str
    consent: bool | None = None


@dataclass
class World:
    project: str
    client: Client
    flywheel: Flywheel
    provider: TracerProvider
    llm: ScriptedLLMServer
    state_dir: Path
    trace_ids: dict[str, str] = field(default_factory=dict)
    spans: int = 0

    @property
    def store(self) -> RoutingStore:
        """The flywheel's own routing store: the redacted traces as the pipeline judged them."""
        return self.flywheel.routing.store

    def dataset(self, route: str) -> str:
        return f"{self.project}/{route}"

    def run(self, *turns: Turn) -> None:
        """Run the turns through the instrumented agent; return once the flywheel routed them."""
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=self.provider)
        try:
            with OpenAI(base_url=self.llm.base_url, api_key="test", max_retries=0) as client:
                tracer = OITracer(self.provider.get_tracer("tests.export"), config=TraceConfig())
                for turn in turns:
                    self.trace_ids[turn.key] = _run_agent(client, tracer, self.llm, turn)
                    self.spans += 4  # agent, 2 LLM calls, 1 tool
        finally:
            instrumentor.uninstrument()
        # Spans queryable in Phoenix before the flywheel annotates and links them: otherwise
        # the sink waits out its not-ingested backoff.
        wait_for_spans(self.client, project=self.project, min_count=self.spans)
        assert self.provider.force_flush(30_000)

    def feedback(self, key: str, **fields: Any) -> None:
        self.flywheel.submit_feedback(Feedback(trace_id=self.trace_ids[key], **fields))

    def wait_for_examples(self, counts: dict[str, int], timeout_seconds: float = 60.0) -> None:
        """Flush the outbox, then poll until each dataset holds its count of examples."""
        self.flywheel.force_flush(30_000)
        deadline = time.monotonic() + timeout_seconds
        seen: dict[str, int] = {}
        while time.monotonic() < deadline:
            seen = {route: self.count(route) for route in counts}
            if seen == counts:
                return
            time.sleep(0.25)
        raise TimeoutError(f"datasets of {self.project}: wanted {counts}, saw {seen}")

    def count(self, route: str) -> int:
        names = {d["name"] for d in self.client.datasets.list()}
        if self.dataset(route) not in names:
            return 0
        return len(self.client.datasets.get_dataset(dataset=self.dataset(route)).examples)


def _run_agent(client: OpenAI, tracer: OITracer, llm: ScriptedLLMServer, turn: Turn) -> str:
    llm.enqueue(
        ToolCalls([ToolCallReply("lookup_order", {"order_id": turn.order_id})]), Text(turn.answer)
    )
    with (
        using_session(f"session-{turn.key}"),
        using_user(turn.user_id),
        tracer.start_as_current_span("support-agent", openinference_span_kind="agent") as span,
    ):
        span.set_input(turn.question)
        if turn.consent is not None:
            span.set_attribute(sc.FLYWHEEL_CONSENT, turn.consent)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": turn.question},
        ]
        while True:
            response = client.chat.completions.create(
                model="acme-support-1",
                messages=messages,  # type: ignore[arg-type]
                tools=TOOLS,  # type: ignore[arg-type]
            )
            message = response.choices[0].message
            if not message.tool_calls:
                break
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                arguments = call.function.arguments  # type: ignore[union-attr]
                with tracer.start_as_current_span(
                    "lookup_order", openinference_span_kind="tool"
                ) as tool:
                    tool.set_tool(
                        name="lookup_order",
                        description="Look up an order by its id.",
                        parameters=TOOLS[0]["function"]["parameters"],
                    )
                    tool.set_input(arguments, mime_type="application/json")
                    order_id = json.loads(arguments)["order_id"]
                    result = json.dumps({"order_id": order_id, **ORDERS[order_id]})
                    tool.set_output(result, mime_type="application/json")
                    tool.set_status(Status(StatusCode.OK))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        span.set_output(message.content or "")
        span.set_status(Status(StatusCode.OK))
        return format_trace_id(span.get_span_context().trace_id)


# What the world holds. Q1-Q3 are one question three ways (Q3 differs from Q1 only in case and
# spacing, Q2 by a greeting); Q5 names a customer a later privacy rule calls personal; Q6 withheld
# consent; Q7 is answered wrongly and corrected.
Q1 = Turn(
    "q1",
    "Where is order A-1001?",
    "A-1001",
    "Order A-1001 shipped with UPS; it should arrive on 2026-11-24.",
    "user-ada",
)
Q2 = Turn("q2", "Hi there, where is order A-1001?", "A-1001", Q1.answer, "user-ada")
Q3 = Turn("q3", "where is order  A-1001 ?", "A-1001", Q1.answer, "user-cy")
Q4 = Turn(
    "q4",
    "What is the status of order A-1002?",
    "A-1002",
    "Order A-1002 is still being prepared; it should ship by 2026-11-28.",
    "user-dan",
    consent=True,
)
Q5 = Turn(
    "q5",
    "Is order A-1004 the one for Globex Corporation?",
    "A-1004",
    "Order A-1004 was cancelled, so nothing will be delivered.",
    "user-erin",
)
Q6 = Turn(
    "q6",
    "Please tell me where order A-1005 went.",
    "A-1005",
    "Order A-1005 was delivered on 2026-10-02.",
    "user-fay",
    consent=False,
)
Q7 = Turn(
    "q7",
    "Can I still return order A-1003?",
    "A-1003",
    "No, order A-1003 cannot be returned.",
    "user-bob",
    consent=True,
)
CORRECTION = (
    "Yes: order A-1003 was delivered on 2026-11-15, so you can return it for a full refund "
    "within 30 days of delivery."
)


@contextmanager
def populated(world: World) -> Iterator[World]:
    world.run(Q1, Q2, Q3, Q4, Q5, Q6, Q7)
    for key in ("q1", "q2", "q3", "q4", "q5", "q6"):
        world.feedback(key, thumbs="up")
    world.feedback("q7", thumbs="down", correction=CORRECTION)
    world.wait_for_examples({"golden": 5, "regression": 1, "preference": 1})
    yield world
