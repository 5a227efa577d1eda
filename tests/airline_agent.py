"""An airline customer-service agent for the evaluator tests, run as a real agent is.

The agent reads records (read-only tools: get the user, get a reservation, search flights, search
the help center) and changes them (state-changing tools: cancel, book, update baggage or contact
details, add a payment card, transfer to a human). Its backend is an in-memory database that
answers like a real one: lookups that find nothing (``[]`` for a day without flights), errors that
go away on retry (a 503), writes that fail every time (a full flight), and customers' emails,
phone numbers and card numbers in the arguments.

The model is the scripted OpenAI-compatible server; the agent talks to it through the real
``openai`` client, instrumented by OpenInference or by OTel's ``openai-v2`` (GenAI conventions).
Its own spans follow the same convention: OpenInference AGENT/TOOL spans, or GenAI
``invoke_agent``/``execute_tool`` spans. With OpenInference the tools offered to the model carry
MCP's ``annotations`` (``readOnlyHint``), as a gateway that bridges MCP tools passes them on;
openai-v2 records no tools, so there the read-only tools come from an MCP ``tools/list`` file.

Each ``Scenario`` scripts the model's turns and says what the evaluators must conclude: the
references line for its trace (``references``, without ``trace_id``), whether the run passes, and
the verdict's primary (category, subcategory) when it fails.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from airline_scenarios import MIA_EMAIL, SCENARIOS, Scenario, references_line, respond
from openai import OpenAI
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInferenceInstrumentor
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as GenAIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, Tracer

from otel_flywheel import semconv as sc
from otel_flywheel.conventions import SpanView, normalize_trace, span_view_from_readable
from otel_flywheel.model import AgentTrace
from otel_flywheel.otlp import encode_otlp_json
from otel_flywheel.privacy import Redactor, redact_span_view
from otel_flywheel.testing.llm_server import ScriptedLLMServer

Convention = Literal["openinference", "genai"]

SYSTEM_PROMPT = (
    "You are Sky Air's customer service agent. Look up the user and their reservations before "
    "changing anything; confirm what you changed."
)

_STRING = {"type": "string"}


def _tool(
    name: str, description: str, properties: dict[str, Any], *required: str
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(required),
                "additionalProperties": False,
            },
        },
    }


TOOLS: list[dict[str, Any]] = [
    _tool("get_user_details", "Get a user's profile.", {"user_id": _STRING}, "user_id"),
    _tool(
        "get_reservation_details",
        "Get a reservation.",
        {"reservation_id": _STRING},
        "reservation_id",
    ),
    _tool(
        "search_direct_flight",
        "Direct flights between two airports on a date (YYYY-MM-DD).",
        {"origin": _STRING, "destination": _STRING, "date": _STRING},
        "origin",
        "destination",
        "date",
    ),
    _tool("search_help_center", "Search the help-center articles.", {"query": _STRING}, "query"),
    _tool(
        "cancel_reservation",
        "Cancel a reservation.",
        {
            "reservation_id": _STRING,
            "reason": {"enum": ["change_of_plan", "airline_cancelled", "other"]},
        },
        "reservation_id",
        "reason",
    ),
    _tool(
        "book_reservation",
        "Book a flight for a user.",
        {
            "user_id": _STRING,
            "flight_number": _STRING,
            "date": _STRING,
            "cabin": {"enum": ["basic_economy", "economy", "business"]},
            "payment_id": _STRING,
        },
        "user_id",
        "flight_number",
        "date",
        "cabin",
        "payment_id",
    ),
    _tool(
        "update_reservation_baggages",
        "Set the number of checked bags of a reservation.",
        {"reservation_id": _STRING, "total_baggages": {"type": "integer", "minimum": 0}},
        "reservation_id",
        "total_baggages",
    ),
    _tool(
        "update_contact_info",
        "Change a user's email and phone number.",
        {"user_id": _STRING, "email": _STRING, "phone": _STRING},
        "user_id",
        "email",
        "phone",
    ),
    _tool(
        "add_payment_card",
        "Add a credit card to a user's payment methods.",
        {"user_id": _STRING, "card_number": _STRING, "expiry": _STRING},
        "user_id",
        "card_number",
        "expiry",
    ),
    _tool(
        "transfer_to_human_agents",
        "Hand the conversation to a human agent.",
        {"summary": _STRING},
        "summary",
    ),
]
RETRIEVAL_TOOLS = ("search_help_center",)
READ_ONLY_TOOLS = (
    "get_user_details",
    "get_reservation_details",
    "search_direct_flight",
    "search_help_center",
)


def annotations_of(name: str) -> dict[str, Any]:
    """MCP behaviour hints: lookups only read; everything else changes state."""
    if name in READ_ONLY_TOOLS:
        return {"readOnlyHint": True, "openWorldHint": False}
    return {"readOnlyHint": False, "destructiveHint": name == "cancel_reservation"}


def offered_tools(*, with_annotations: bool) -> list[dict[str, Any]]:
    tools = copy.deepcopy(TOOLS)
    if with_annotations:
        for tool in tools:
            tool["function"]["annotations"] = annotations_of(tool["function"]["name"])
    return tools


def mcp_tools_list() -> dict[str, Any]:
    """The tools as an MCP server's ``tools/list`` result describes them."""
    return {
        "tools": [
            {
                "name": tool["function"]["name"],
                "description": tool["function"]["description"],
                "inputSchema": tool["function"]["parameters"],
                "annotations": annotations_of(tool["function"]["name"]),
            }
            for tool in TOOLS
        ]
    }


class ToolFailedError(Exception):
    """The backend refused the call; ``result`` is what the tool hands back to the model."""

    def __init__(self, message: str, result: str | None = None) -> None:
        super().__init__(message)
        self.result = result if result is not None else f"Error: {message}"


@dataclass
class Backend:
    """Sky Air's records, and the faults a scenario injects."""

    flaky: dict[str, int] = field(default_factory=dict)  # tool -> failures before it works
    broken: frozenset[str] = frozenset()  # tools that fail every time (MCP isError results)
    users: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "mia_li_3668": {
                "name": "Mia Li",
                "email": MIA_EMAIL,
                "phone": "+44 20 7946 0123",
                "payment_methods": ["credit_card_4421", "gift_card_7219"],
                "reservations": ["NO6JO3", "AIXC49"],
            },
            "omar_davis_3817": {
                "name": "Omar Davis",
                "email": "omar.davis@example.com",
                "phone": "+44 20 7946 0456",
                "payment_methods": ["credit_card_2929"],
                "reservations": ["JG7FMM"],
            },
        }
    )
    reservations: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "NO6JO3": {"user_id": "mia_li_3668", "flight": "HAT136", "baggages": 1},
            "AIXC49": {"user_id": "mia_li_3668", "flight": "HAT041", "baggages": 0},
            "JG7FMM": {"user_id": "omar_davis_3817", "flight": "HAT222", "baggages": 1},
        }
    )
    flights: dict[tuple[str, str, str], list[dict[str, Any]]] = field(
        default_factory=lambda: {
            ("JFK", "SFO", "2024-05-21"): [{"flight_number": "HAT170", "seats_left": 3}],
            ("JFK", "SFO", "2024-05-22"): [{"flight_number": "HAT999", "seats_left": 0}],
        }
    )

    def execute(self, name: str, arguments: dict[str, Any]) -> Any:
        if name in self.broken:
            raise ToolFailedError(
                "backend unavailable",
                json.dumps({"isError": True, "content": [{"type": "text", "text": "unavailable"}]}),
            )
        if self.flaky.get(name, 0) > 0:
            self.flaky[name] -= 1
            raise ToolFailedError("503 Service Unavailable", "503: service unavailable, retry")
        handler: Callable[[dict[str, Any]], Any] = getattr(self, f"_{name}")
        return handler(arguments)

    def _get_user_details(self, a: dict[str, Any]) -> Any:
        return {"user_id": a["user_id"], **self._user(a["user_id"])}

    def _get_reservation_details(self, a: dict[str, Any]) -> Any:
        return {"reservation_id": a["reservation_id"], **self._reservation(a["reservation_id"])}

    def _search_direct_flight(self, a: dict[str, Any]) -> Any:
        return self.flights.get((a["origin"], a["destination"], a["date"]), [])

    def _search_help_center(self, a: dict[str, Any]) -> Any:
        return [] if "pet" in a["query"] else [{"id": "kb-bags", "text": "One free checked bag."}]

    def _cancel_reservation(self, a: dict[str, Any]) -> Any:
        self._reservation(a["reservation_id"])["status"] = "cancelled"
        return {"reservation_id": a["reservation_id"], "status": "cancelled"}

    def _book_reservation(self, a: dict[str, Any]) -> Any:
        user = self._user(a["user_id"])
        if a["payment_id"] not in user["payment_methods"]:
            raise ToolFailedError(f"payment method {a['payment_id']} not found")
        found = [
            f
            for fs in self.flights.values()
            for f in fs
            if f["flight_number"] == a["flight_number"]
        ]
        if not found or found[0]["seats_left"] == 0:
            raise ToolFailedError(f"flight {a['flight_number']} is full")
        return {"reservation_id": "HATNEW", "flight": a["flight_number"], "date": a["date"]}

    def _update_reservation_baggages(self, a: dict[str, Any]) -> Any:
        self._reservation(a["reservation_id"])["baggages"] = a["total_baggages"]
        return {"reservation_id": a["reservation_id"], "baggages": a["total_baggages"]}

    def _update_contact_info(self, a: dict[str, Any]) -> Any:
        self._user(a["user_id"]).update(email=a["email"], phone=a["phone"])
        return {"user_id": a["user_id"], "updated": True}

    def _add_payment_card(self, a: dict[str, Any]) -> Any:
        self._user(a["user_id"])["payment_methods"].append("credit_card_9001")
        return {"payment_id": "credit_card_9001"}

    def _transfer_to_human_agents(self, a: dict[str, Any]) -> Any:
        return "Transfer successful"

    def _user(self, user_id: str) -> dict[str, Any]:
        if user_id not in self.users:
            raise ToolFailedError(f"user {user_id} not found")
        return self.users[user_id]

    def _reservation(self, reservation_id: str) -> dict[str, Any]:
        if reservation_id not in self.reservations:
            raise ToolFailedError(f"reservation {reservation_id} not found")
        return self.reservations[reservation_id]


class AirlineAgent:
    """Runs one scenario: model -> tools -> model, traced in ``convention``."""

    def __init__(self, *, client: OpenAI, tracer: Tracer, convention: Convention) -> None:
        self._client = client
        self._tracer = tracer
        self._convention = convention
        self._tools = offered_tools(with_annotations=convention == "openinference")

    def run(self, scenario: Scenario, *, session_id: str) -> str:
        """The run's trace id."""
        backend = Backend(flaky=dict(scenario.flaky), broken=scenario.broken)
        with self._tracer.start_as_current_span(
            "airline-agent" if self._convention == "openinference" else "invoke_agent airline"
        ) as root:
            if self._convention == "openinference":
                root.set_attributes(
                    {
                        sc.SpanAttributes.OPENINFERENCE_SPAN_KIND: "AGENT",
                        sc.SpanAttributes.INPUT_VALUE: scenario.question,
                        sc.SpanAttributes.SESSION_ID: session_id,
                    }
                )
            else:
                root.set_attributes(
                    {
                        sc.gen_ai.GEN_AI_OPERATION_NAME: "invoke_agent",
                        sc.gen_ai.GEN_AI_CONVERSATION_ID: session_id,
                    }
                )
            messages: list[dict[str, Any]] = [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": scenario.question},
            ]
            answer = ""
            for _ in range(len(scenario.turns)):
                response = self._client.chat.completions.create(
                    model="sky-agent-1",
                    messages=messages,  # type: ignore[arg-type]
                    tools=self._tools,  # type: ignore[arg-type]
                )
                message = response.choices[0].message
                if not message.tool_calls:
                    answer = message.content or ""
                    break
                if not scenario.executes:
                    break  # single-turn function calling: the calls are the output
                messages.append(message.model_dump(exclude_none=True))
                for call in message.tool_calls:
                    function = call.function  # type: ignore[union-attr]
                    result = self._call_tool(backend, call.id, function.name, function.arguments)
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
            if self._convention == "openinference":
                root.set_attribute(sc.SpanAttributes.OUTPUT_VALUE, answer)
            root.set_status(Status(StatusCode.OK))
            return f"{root.get_span_context().trace_id:032x}"

    def _call_tool(self, backend: Backend, call_id: str, name: str, raw_arguments: str) -> str:
        genai = self._convention == "genai"
        with self._tracer.start_as_current_span(f"execute_tool {name}" if genai else name) as span:
            if genai:
                span.set_attributes(
                    {
                        sc.gen_ai.GEN_AI_OPERATION_NAME: "execute_tool",
                        sc.gen_ai.GEN_AI_TOOL_NAME: name,
                        sc.gen_ai.GEN_AI_TOOL_CALL_ID: call_id,
                        sc.gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS: raw_arguments,
                    }
                )
            else:
                span.set_attributes(
                    {
                        sc.SpanAttributes.OPENINFERENCE_SPAN_KIND: "TOOL",
                        sc.SpanAttributes.TOOL_NAME: name,
                        sc.SpanAttributes.INPUT_VALUE: raw_arguments,
                        sc.SpanAttributes.INPUT_MIME_TYPE: "application/json",
                    }
                )
            try:
                result = json.dumps(backend.execute(name, json.loads(raw_arguments)))
            except ToolFailedError as exc:
                result = exc.result
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                if genai:
                    span.set_attribute(sc.ERROR_TYPE, type(exc).__name__)
            if genai:
                span.set_attribute(sc.gen_ai.GEN_AI_TOOL_CALL_RESULT, result)
            else:
                span.set_attribute(sc.SpanAttributes.OUTPUT_VALUE, result)
            return result


@dataclass
class Recording:
    """Every scenario run once under one convention: the finished spans, and each run's trace."""

    convention: Convention
    spans: list[ReadableSpan]
    trace_ids: dict[str, str]  # scenario key -> trace id

    def otlp_json(self) -> str:
        """The spans as one OTLP/JSON line, as a Collector's file exporter writes them."""
        return encode_otlp_json(encode_spans(self.spans))

    def traces(self, redactor: Redactor | None) -> dict[str, AgentTrace]:
        """Scenario key -> the run's trace, redacted as the flywheel sees it."""
        grouped: dict[str, list[SpanView]] = {}
        for span in self.spans:
            view = span_view_from_readable(span)
            if redactor is not None:
                view = redact_span_view(view, redactor)
            grouped.setdefault(view.trace_id, []).append(view)
        by_id = {trace_id: normalize_trace(views) for trace_id, views in grouped.items()}
        return {key: by_id[trace_id] for key, trace_id in self.trace_ids.items()}

    def references_lines(self, keys: Sequence[str] | None = None) -> str:
        chosen = [s for s in SCENARIOS if keys is None or s.key in keys]
        return "".join(references_line(s, self.trace_ids[s.key]) + "\n" for s in chosen)


def record(convention: Convention) -> Recording:
    """Run every scenario through the real openai client, instrumented as ``convention`` says."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "sky-agent", "service.version": "1.4.0"}),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with pytest.MonkeyPatch.context() as env:
        if convention == "genai":
            # Message content on spans needs these, read when instrumenting.
            env.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
            env.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
            instrumentor: Any = GenAIInstrumentor()
        else:
            instrumentor = OpenInferenceInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        trace_ids: dict[str, str] = {}
        try:
            with (
                ScriptedLLMServer(responder=respond) as llm,
                OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
            ):
                agent = AirlineAgent(
                    client=client, tracer=provider.get_tracer("sky-agent"), convention=convention
                )
                for index, scenario in enumerate(SCENARIOS):
                    trace_ids[scenario.key] = agent.run(scenario, session_id=f"session-{index}")
        finally:
            instrumentor.uninstrument()
            provider.shutdown()
    return Recording(convention, list(exporter.get_finished_spans()), trace_ids)
