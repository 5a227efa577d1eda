"""The demo's support agent: a tool-calling loop on the real ``openai`` client.

It is instrumented the way a user's agent would be: OpenInference's OpenAI instrumentor records the LLM
calls, and OpenInference spans record the agent, its tools and the knowledge-base retrieval. The tools
record the arguments exactly as the model produced them, malformed JSON included, because those are
what the flywheel must judge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openai import OpenAI
from openinference.instrumentation import (
    OITracer,
    get_retriever_attributes,
    using_session,
    using_user,
)
from opentelemetry.trace import Status, StatusCode, format_span_id, format_trace_id

from otel_flywheel import semconv as sc

if TYPE_CHECKING:
    from otel_flywheel.fewshot import FewShotLibrary

__all__ = [
    "KNOWLEDGE_BASE",
    "ORDERS",
    "SYSTEM_PROMPT",
    "TENANT_ATTRIBUTE",
    "TOOLS",
    "AgentReply",
    "Conversation",
    "SupportAgent",
]

TENANT_ATTRIBUTE = "tenant"

SYSTEM_PROMPT = (
    "You are Acme's customer support agent. Use the tools to look up orders, search the knowledge "
    "base and issue refunds. Refunds over $500 need a supervisor's approval: never issue them "
    "yourself. Answer only from tool results and knowledge-base articles."
)

ORDERS: dict[str, dict[str, Any]] = {
    "A-1001": {"status": "shipped", "carrier": "UPS", "eta": "2026-11-24", "total": 89.0},
    "A-1002": {"status": "processing", "eta": "2026-11-28", "total": 1240.0},
    "A-1003": {"status": "delivered", "delivered_on": "2026-11-15", "total": 45.5},
    "A-1004": {"status": "cancelled", "total": 310.0},
    "A-1005": {"status": "delivered", "delivered_on": "2026-10-02", "total": 720.0},
}

KNOWLEDGE_BASE: list[dict[str, str]] = [
    {
        "id": "kb-returns",
        "title": "Returns and refunds",
        "content": "Items can be returned within 30 days of delivery for a full refund. "
        "Refunds over $500 require supervisor approval.",
    },
    {
        "id": "kb-shipping",
        "title": "Shipping times",
        "content": "Standard shipping takes 3-5 business days; express takes 1-2 business days.",
    },
    {
        "id": "kb-warranty",
        "title": "Warranty",
        "content": "Electronics carry a 1-year limited warranty covering manufacturing defects.",
    },
    {
        "id": "kb-cancel",
        "title": "Cancellations",
        "content": "Orders can be cancelled free of charge until they ship.",
    },
]

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up an order's status by its id (e.g. A-1001).",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string", "pattern": "^A-[0-9]{4}$"}},
                "required": ["order_id"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_kb",
            "description": "Search the help-center knowledge base.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "issue_refund",
            "description": "Refund an order. Amounts over $500 need supervisor approval.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string"},
                    "amount": {"type": "number", "exclusiveMinimum": 0},
                    "reason": {"type": "string", "enum": ["damaged", "late", "unwanted", "other"]},
                },
                "required": ["order_id", "amount", "reason"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "cancel_order",
            "description": "Cancel an order that has not shipped yet.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
                "additionalProperties": False,
            },
        },
    },
]

_SCHEMAS = {tool["function"]["name"]: tool["function"] for tool in TOOLS}
MAX_TURNS = 6


class ToolFailedError(Exception):
    """A tool rejected its call; the agent reports the message back to the model."""


@dataclass(frozen=True)
class Conversation:
    session_id: str
    user_id: str
    question: str
    # The customer's data-use choice, as an application records it on the run: ``False`` keeps
    # the run out of every dataset (``flywheel.consent``); ``None`` says nothing.
    consent: bool | None = None
    # Who the run was for, as an application records it on the run: the cohort the flywheel's
    # report cuts by (FLYWHEEL_COHORT_ATTRIBUTES=tenant).
    tenant: str | None = None


@dataclass(frozen=True)
class AgentReply:
    """The answer, and the ids a feedback button needs (as an app would hand them to its UI)."""

    answer: str
    trace_id: str
    root_span_id: str


class SupportAgent:
    """Answers one question per ``run``: model -> tools -> model, at most ``MAX_TURNS`` times.

    ``run`` returns the answer with the run's trace id, which feedback is keyed to. With
    ``fewshot``, the golden examples most like the question go between the system prompt and the
    question (never the customer's own: the library leaves out their user and session).
    """

    def __init__(
        self,
        *,
        client: OpenAI,
        tracer: OITracer,
        model: str = "acme-support-1",
        fewshot: FewShotLibrary | None = None,
    ) -> None:
        self._client = client
        self._tracer = tracer
        self._model = model
        self._fewshot = fewshot

    def run(self, conversation: Conversation) -> AgentReply:
        tracer = self._tracer
        with (
            using_session(conversation.session_id),
            using_user(conversation.user_id),
            tracer.start_as_current_span("support-agent", openinference_span_kind="agent") as span,
        ):
            span.set_input(conversation.question)
            if conversation.consent is not None:
                span.set_attribute(sc.FLYWHEEL_CONSENT, conversation.consent)
            if conversation.tenant is not None:
                span.set_attribute(TENANT_ATTRIBUTE, conversation.tenant)
            context = span.get_span_context()
            shots = (
                self._fewshot.select(
                    conversation.question,
                    user_id=conversation.user_id,
                    session_id=conversation.session_id,
                ).messages
                if self._fewshot is not None
                else []
            )
            messages: list[dict[str, Any]] = [
                {"role": "system", "content": SYSTEM_PROMPT},
                *shots,
                {"role": "user", "content": conversation.question},
            ]
            answer = "Sorry, I could not finish that request."
            for _ in range(MAX_TURNS):
                response = self._client.chat.completions.create(
                    model=self._model,
                    messages=messages,  # type: ignore[arg-type]
                    tools=TOOLS,  # type: ignore[arg-type]
                )
                message = response.choices[0].message
                if not message.tool_calls:
                    answer = message.content or ""
                    break
                messages.append(message.model_dump(exclude_none=True))
                for call in message.tool_calls:
                    function = call.function  # type: ignore[union-attr]
                    result = self._call_tool(function.name, function.arguments)
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
            span.set_output(answer)
            span.set_status(Status(StatusCode.OK))
            return AgentReply(
                answer=answer,
                trace_id=format_trace_id(context.trace_id),
                root_span_id=format_span_id(context.span_id),
            )

    def _call_tool(self, name: str, raw_arguments: str) -> str:
        schema = _SCHEMAS.get(name)
        with self._tracer.start_as_current_span(name, openinference_span_kind="tool") as span:
            span.set_tool(
                name=name,
                description=schema["description"] if schema else None,
                parameters=schema["parameters"] if schema else {},
            )
            # The arguments exactly as the model wrote them: malformed JSON must reach the judge.
            span.set_input(raw_arguments, mime_type="application/json")
            try:
                arguments = json.loads(raw_arguments)
                if not isinstance(arguments, dict):
                    raise ToolFailedError("arguments must be a JSON object")
                result = self._execute(name, arguments)
            except (ToolFailedError, json.JSONDecodeError, KeyError, TypeError) as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                error = json.dumps({"error": str(exc)})
                span.set_output(error)
                return error
            output = json.dumps(result)
            span.set_output(output, mime_type="application/json")
            span.set_status(Status(StatusCode.OK))
            return output

    def _execute(self, name: str, arguments: dict[str, Any]) -> Any:
        if name == "lookup_order":
            order_id = arguments["order_id"]
            if order_id not in ORDERS:
                raise ToolFailedError(f"404: no order {order_id}")
            return {"order_id": order_id, **ORDERS[order_id]}
        if name == "search_kb":
            return self._search_kb(str(arguments["query"]))
        if name == "issue_refund":
            order_id = arguments["order_id"]
            if order_id not in ORDERS:
                raise ToolFailedError(f"404: no order {order_id}")
            # The tool trusts its caller: the $500 approval rule lives in the prompt, as it often
            # does in production. Breaking it is a business-rule failure the flywheel must catch.
            return {"refund_id": f"R-{order_id[2:]}", "amount": float(arguments["amount"])}
        if name == "cancel_order":
            order = ORDERS.get(arguments["order_id"])
            if order is None:
                raise ToolFailedError(f"404: no order {arguments['order_id']}")
            if order["status"] != "processing":
                raise ToolFailedError(f"409: order is {order['status']}, cannot cancel")
            return {"order_id": arguments["order_id"], "status": "cancelled"}
        raise ToolFailedError(f"unknown tool {name!r}")

    def _search_kb(self, query: str) -> list[dict[str, str]]:
        with self._tracer.start_as_current_span(
            "kb.search", openinference_span_kind="retriever"
        ) as span:
            span.set_input(query)
            words = {w.strip("?.,!").lower() for w in query.split() if len(w) > 3}
            scored = []
            for article in KNOWLEDGE_BASE:
                text = f"{article['title']} {article['content']}".lower()
                hits = sum(1 for w in words if w in text)
                if hits:
                    scored.append((hits / max(len(words), 1), article))
            scored.sort(key=lambda pair: pair[0], reverse=True)
            top = scored[:2]
            span.set_attributes(
                get_retriever_attributes(
                    documents=[
                        {"id": a["id"], "content": a["content"], "score": round(s, 3)}
                        for s, a in top
                    ]
                )
            )
            return [{"id": a["id"], "content": a["content"]} for _, a in top]
