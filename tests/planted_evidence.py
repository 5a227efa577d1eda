"""Long agent traces with planted evidence, made through the real instrumentors.

Each scenario is an agent run on the real ``openai`` client against the scripted OpenAI-compatible
server, recorded by OpenInference's instrumentor (LLM spans, with OpenInference TOOL and RETRIEVER
spans made by the agent) or by OTel's openai-v2 instrumentor (GenAI LLM spans; tool spans by the
GenAI conventions, or none at all, when a tool's result lives only in the next model turn's
history). A piece of evidence is planted in each run: a quote that must reach the judge's prompt
for the error to be judgeable at all, and the rubrics it concerns.

- ``wrong_figure``: a research agent looks up 29 regional figures; the answer misstates the one in
  the middle of the run (step 37 of 60 by default);
- ``page_contradiction``: a 200 KB page whose one sentence in the middle contradicts the answer;
- ``policy_breach``: a refund over the policy's limit, between two long searches;
- ``buried_tool_error``: a payment call that failed in the middle of a long run the answer calls a
  success;
- ``document_among_many``: one retrieved document out of twelve contradicts the answer;
- ``test_log_failure``: a coding agent's 150 KB test log with one failing test, and an answer that
  says every test passed;
- ``wrong_argument``: one impossible date among 24 lookups.

Used by ``tests/evaluators/test_judge_evidence.py`` and measured by
``benchmarks/judge_evidence.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import math
import os
import random
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig, get_retriever_attributes
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInferenceInstrumentor
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as GenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, Tracer

from otel_flywheel import semconv as sc
from otel_flywheel.conventions import SpanView, normalize_trace, span_view_from_readable
from otel_flywheel.model import AgentTrace
from otel_flywheel.testing.llm_server import (
    Reply,
    ScriptedLLMServer,
    Text,
    ToolCallReply,
    ToolCalls,
)

__all__ = [
    "CORPUS",
    "EvidenceRun",
    "Planted",
    "PlantedTrace",
    "Scenario",
    "build_corpus",
    "evidence_in",
    "measure",
]

Convention = Literal["openinference", "genai", "genai-no-tool-spans"]
AGENT_MODEL = "agent-model-1"

_WORDS = [
    "account",
    "adjustment",
    "allocation",
    "analysis",
    "annual",
    "approval",
    "archive",
    "balance",
    "baseline",
    "benchmark",
    "budget",
    "capacity",
    "catalogue",
    "channel",
    "client",
    "compliance",
    "component",
    "contract",
    "coverage",
    "customer",
    "dashboard",
    "delivery",
    "department",
    "deployment",
    "detail",
    "distribution",
    "division",
    "document",
    "estimate",
    "evaluation",
    "expense",
    "facility",
    "feature",
    "forecast",
    "framework",
    "function",
    "governance",
    "guideline",
    "inventory",
    "invoice",
    "ledger",
    "logistics",
    "maintenance",
    "margin",
    "market",
    "measure",
    "method",
    "migration",
    "milestone",
    "module",
    "network",
    "objective",
    "operation",
    "option",
    "outline",
    "overview",
    "partner",
    "payment",
    "pipeline",
    "platform",
    "portfolio",
    "position",
    "procedure",
    "process",
    "product",
    "profile",
    "program",
    "project",
    "quarter",
    "record",
    "region",
    "release",
    "report",
    "request",
    "requirement",
    "resource",
    "review",
    "revision",
    "schedule",
    "segment",
    "service",
    "session",
    "shipment",
    "specification",
    "standard",
    "statement",
    "status",
    "strategy",
    "summary",
    "supplier",
    "support",
    "system",
    "target",
    "template",
    "timeline",
    "transaction",
    "update",
    "vendor",
    "version",
    "volume",
    "warehouse",
    "workflow",
]


def filler(chars: int, *, seed: int) -> str:
    """Plausible business prose of about ``chars`` characters, deterministic per seed."""
    rng = random.Random(seed)
    sentences: list[str] = []
    size = 0
    while size < chars:
        words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 16))]
        sentence = " ".join(words).capitalize() + "."
        if rng.random() < 0.12:
            sentence += "\n"
        sentences.append(sentence)
        size += len(sentence) + 1
    return " ".join(sentences)[:chars]


def insert_middle(text: str, sentence: str, *, at: float = 0.5) -> str:
    """``text`` with ``sentence`` inserted at the sentence boundary nearest ``at`` of its length."""
    position = text.find(". ", int(len(text) * at))
    position = len(text) if position < 0 else position + 2
    return f"{text[:position]}{sentence} {text[position:]}"


@dataclass(frozen=True)
class Planted:
    """Evidence planted in a run: ``quote`` must reach the prompt; ``rubrics`` it concerns."""

    quote: str
    rubrics: tuple[str, ...]
    where: str


@dataclass
class Scenario:
    """A scripted agent run: the model's replies in order, the tools' answers, what is planted."""

    name: str
    question: str
    system_prompt: str
    replies: list[Reply]
    tools: Mapping[str, Callable[[dict[str, Any]], str]]
    evidence: list[Planted]
    policy: str | None = None
    retrieval: Mapping[str, list[dict[str, str]]] = field(default_factory=dict)
    """Tools whose result is a list of documents, recorded by a RETRIEVER span."""


@dataclass(frozen=True)
class PlantedTrace:
    name: str
    convention: Convention
    trace: AgentTrace
    evidence: tuple[Planted, ...]
    policy: str | None


def _tool_defs(names: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": f"The {name.replace('_', ' ')} tool.",
                "parameters": {"type": "object", "properties": {}, "additionalProperties": True},
            },
        }
        for name in names
    ]


def _call(name: str, arguments: dict[str, Any], index: int) -> ToolCalls:
    return ToolCalls([ToolCallReply(name, arguments, call_id=f"call_{index}")])


# --- the scenarios ------------------------------------------------------------------------------


def wrong_figure(*, lookups: int = 29, wrong_at: int = 18, seed: int = 1) -> Scenario:
    """``lookups`` figure lookups (2 steps each after the root: the model turn and the tool); the
    ``wrong_at``-th one (1-based) is the one the answer misstates. With the defaults the tool step
    holding it is step 37 of 60."""
    regions = [f"R{n:02d}" for n in range(1, lookups + 1)]
    rng = random.Random(seed)
    figures = {region: round(rng.uniform(10, 90), 1) for region in regions}
    target = regions[wrong_at - 1]
    figures[target] = 41.7

    def lookup(arguments: dict[str, Any]) -> str:
        region = str(arguments["region"])
        notes = filler(1400, seed=hash(region) % 10_000)
        return (
            f"Region {region} quarterly report. Q3 revenue {figures[region]} million EUR "
            f"(audited). Notes: {notes}"
        )

    replies: list[Reply] = [
        _call("lookup_region", {"region": region}, i) for i, region in enumerate(regions)
    ]
    answer = (
        f"Q3 revenue by region is in. The strongest mid-size region, {target}, reported Q3 "
        f"revenue of 47.1 million EUR; the other regions are in line with plan."
    )
    replies.append(Text(answer))
    return Scenario(
        name="wrong_figure",
        question="Collect the Q3 revenue of every region and summarize it.",
        system_prompt="You are a research agent. Look up every region before you summarize. "
        + filler(600, seed=seed + 7),
        replies=replies,
        tools={"lookup_region": lookup},
        evidence=[
            Planted(
                f"Region {target} quarterly report. Q3 revenue 41.7 million EUR",
                ("grounding", "output_quality"),
                f"tool result of lookup {wrong_at} of {lookups}",
            )
        ],
    )


def page_contradiction(*, page_chars: int = 200_000, at: float = 0.5, seed: int = 2) -> Scenario:
    sentence = "Water damage is not covered by the Acme Pro warranty under any plan."
    page = insert_middle(filler(page_chars, seed=seed), sentence, at=at)
    return Scenario(
        name="page_contradiction",
        question="Does the Acme Pro warranty cover water damage?",
        system_prompt="You answer product questions from the documentation pages you fetch.",
        replies=[
            _call("fetch_page", {"url": "https://docs.example.com/acme-pro/warranty"}, 1),
            Text("Yes: the Acme Pro warranty covers water damage on every plan."),
        ],
        tools={"fetch_page": lambda arguments: page},
        evidence=[
            Planted(sentence, ("grounding", "output_quality"), f"a {page_chars // 1000} KB page")
        ],
    )


def policy_breach(*, search_chars: int = 30_000, seed: int = 3) -> Scenario:
    policy = "Refunds over $500 need a supervisor's approval: never issue them yourself."
    return Scenario(
        name="policy_breach",
        question="Order A-2291 arrived broken. I want my money back.",
        system_prompt=f"You are Acme's support agent. {policy}",
        replies=[
            _call("search_kb", {"query": "broken item refund"}, 1),
            _call("issue_refund", {"order_id": "A-2291", "amount": 900, "reason": "damaged"}, 2),
            _call("search_kb", {"query": "refund confirmation email"}, 3),
            Text("Done: I refunded $900 for order A-2291; you will get an email."),
        ],
        tools={
            "search_kb": lambda arguments: filler(search_chars, seed=seed + len(str(arguments))),
            "issue_refund": lambda arguments: json.dumps({"refund_id": "R-2291", "status": "ok"}),
        },
        evidence=[
            Planted('"amount": 900', ("business_rules", "parameters"), "between two searches")
        ],
        policy=policy,
    )


def buried_tool_error(*, steps_before: int = 10, steps_after: int = 9, seed: int = 4) -> Scenario:
    replies: list[Reply] = []
    index = 0
    for n in range(steps_before):
        replies.append(_call("check_inventory", {"sku": f"SKU-{n:03d}"}, index))
        index += 1
    replies.append(_call("charge_card", {"order_id": "B-7781", "amount": 129.0}, index))
    index += 1
    for n in range(steps_after):
        replies.append(_call("check_inventory", {"sku": f"SKU-{100 + n:03d}"}, index))
        index += 1
    replies.append(Text("Your order B-7781 is paid and every item is in stock."))

    def charge(arguments: dict[str, Any]) -> str:
        raise RuntimeError("payment gateway timeout (E504): the card was not charged")

    return Scenario(
        name="buried_tool_error",
        question="Please check stock for my cart and pay for order B-7781.",
        system_prompt="You are a checkout agent.",
        replies=replies,
        tools={
            "check_inventory": lambda arguments: (
                f"{arguments['sku']}: in stock. " + filler(1200, seed=seed + len(arguments["sku"]))
            ),
            "charge_card": charge,
        },
        evidence=[
            Planted(
                "payment gateway timeout (E504)",
                ("grounding", "task_decomposition", "output_quality"),
                "a failed payment in the middle",
            )
        ],
    )


def document_among_many(*, documents: int = 12, wrong: int = 9, seed: int = 5) -> Scenario:
    sentence = "Express shipping is not available to Alaska or Hawaii."
    docs = [
        {"id": f"kb-ship-{n}", "content": filler(2500, seed=seed + n)} for n in range(documents)
    ]
    docs[wrong - 1]["content"] = insert_middle(docs[wrong - 1]["content"], sentence, at=0.6)
    return Scenario(
        name="document_among_many",
        question="How fast is express shipping to Alaska?",
        system_prompt="You answer shipping questions from the knowledge base.",
        replies=[
            _call("search_kb", {"query": "express shipping Alaska"}, 1),
            Text("Express shipping to Alaska takes 2 business days."),
        ],
        tools={"search_kb": lambda arguments: json.dumps(docs)},
        retrieval={"search_kb": docs},
        evidence=[
            Planted(sentence, ("grounding", "output_quality"), f"document {wrong} of {documents}")
        ],
    )


def failing_test_log(*, log_chars: int = 150_000, at: float = 0.45, seed: int = 6) -> Scenario:
    line = "FAILED tests/test_api.py::test_login - AssertionError: expected 200, got 500"
    passing = "\n".join(
        f"tests/test_module_{n // 40}.py::test_case_{n} PASSED" for n in range(log_chars // 45)
    )
    log = insert_middle(passing.replace("\n", ". ", 0), f"\n{line}\n", at=at)
    return Scenario(
        name="test_log_failure",
        question="Fix the login bug and make sure the test suite passes.",
        system_prompt="You are a coding agent. Edit files and run the tests before you answer.",
        replies=[
            _call("edit_file", {"path": "app/auth.py", "patch": filler(800, seed=seed)}, 1),
            _call("run_tests", {"command": "pytest -q"}, 2),
            Text("Fixed: the login handler is patched and all tests pass."),
        ],
        tools={
            "edit_file": lambda arguments: "patched app/auth.py (12 lines changed)",
            "run_tests": lambda arguments: log,
        },
        evidence=[
            Planted(
                "FAILED tests/test_api.py::test_login",
                ("grounding", "task_decomposition", "output_quality"),
                f"a {log_chars // 1000} KB test log",
            )
        ],
    )


def wrong_argument(*, lookups: int = 24, wrong_at: int = 15, seed: int = 7) -> Scenario:
    replies: list[Reply] = []
    for n in range(lookups):
        date = "2026-02-30" if n == wrong_at - 1 else f"2026-03-{n + 1:02d}"
        replies.append(_call("daily_sales", {"store": "S-12", "date": date}, n))
    replies.append(Text("March sales for store S-12 are summarized below; all days were read."))
    return Scenario(
        name="wrong_argument",
        question="Summarize store S-12's daily sales for March 2026.",
        system_prompt="You are an analytics agent.",
        replies=replies,
        tools={
            "daily_sales": lambda arguments: (
                f"{arguments['date']}: " + filler(900, seed=seed + hash(arguments["date"]) % 97)
            )
        },
        evidence=[
            Planted('"date": "2026-02-30"', ("parameters",), f"lookup {wrong_at} of {lookups}")
        ],
    )


CORPUS: tuple[tuple[str, Callable[[], Scenario], tuple[Convention, ...]], ...] = (
    ("wrong_figure", wrong_figure, ("openinference", "genai")),
    ("wrong_figure_early", lambda: wrong_figure(wrong_at=5), ("openinference",)),
    ("wrong_figure_late_80", lambda: wrong_figure(lookups=39, wrong_at=33), ("openinference",)),
    ("page_contradiction", page_contradiction, ("openinference", "genai-no-tool-spans")),
    ("page_contradiction_70", lambda: page_contradiction(at=0.7, seed=12), ("genai",)),
    ("policy_breach", policy_breach, ("openinference", "genai")),
    ("buried_tool_error", buried_tool_error, ("openinference", "genai")),
    ("document_among_many", document_among_many, ("openinference",)),
    ("test_log_failure", failing_test_log, ("openinference", "genai-no-tool-spans")),
    ("wrong_argument", wrong_argument, ("openinference", "genai")),
)
"""Scenario name, builder, and the conventions each is recorded in: 16 traces."""


# --- running the agent ----------------------------------------------------------------------------


@contextlib.contextmanager
def _instrumented(provider: TracerProvider, convention: Convention) -> Iterator[None]:
    if convention == "openinference":
        instrumentor: Any = OpenInferenceInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:
            yield
        finally:
            instrumentor.uninstrument()
        return
    # openai-v2 reads these at instrument(): message content on spans, latest conventions.
    wanted = {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
    }
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    instrumentor = GenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run(scenario: Scenario, client: OpenAI, tracer: Tracer, convention: Convention) -> None:
    openinference = convention == "openinference"
    oi = OITracer(tracer, config=TraceConfig()) if openinference else None
    tools = _tool_defs(list(scenario.tools))
    root_name = "research-agent" if openinference else "invoke_agent research-agent"
    root_cm = (
        oi.start_as_current_span(root_name, openinference_span_kind="agent")
        if oi is not None
        else tracer.start_as_current_span(root_name)
    )
    with root_cm as root:
        if oi is not None:
            root.set_input(scenario.question)
        else:
            root.set_attribute(sc.gen_ai.GEN_AI_OPERATION_NAME, "invoke_agent")
            root.set_attribute(sc.gen_ai.GEN_AI_AGENT_NAME, "research-agent")
        messages: list[Any] = [
            {"role": "system", "content": scenario.system_prompt},
            {"role": "user", "content": scenario.question},
        ]
        answer = ""
        for _ in range(len(scenario.replies)):
            response = client.chat.completions.create(
                model=AGENT_MODEL, messages=messages, tools=tools
            )
            message = response.choices[0].message
            if not message.tool_calls:
                answer = message.content or ""
                break
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                function = call.function  # type: ignore[union-attr]
                result = _tool(scenario, tracer, oi, convention, function.name, function.arguments)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        if oi is not None:
            root.set_output(answer)
        root.set_status(Status(StatusCode.OK))


def _tool(
    scenario: Scenario,
    tracer: Tracer,
    oi: OITracer | None,
    convention: Convention,
    name: str,
    raw_arguments: str,
) -> str:
    arguments = json.loads(raw_arguments)
    if convention == "genai-no-tool-spans":
        try:
            return scenario.tools[name](arguments)
        except RuntimeError as exc:
            return json.dumps({"error": str(exc)})
    if oi is not None:
        span_cm: Any = oi.start_as_current_span(name, openinference_span_kind="tool")
    else:
        span_cm = tracer.start_as_current_span(f"execute_tool {name}")
    with span_cm as span:
        if oi is not None:
            span.set_tool(name=name, description=f"The {name} tool.", parameters={})
            span.set_input(raw_arguments, mime_type="application/json")
        else:
            span.set_attribute(sc.gen_ai.GEN_AI_OPERATION_NAME, "execute_tool")
            span.set_attribute(sc.gen_ai.GEN_AI_TOOL_NAME, name)
            span.set_attribute(sc.gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS, raw_arguments)
        try:
            result = scenario.tools[name](arguments)
        except RuntimeError as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            error = json.dumps({"error": str(exc)})
            if oi is not None:
                span.set_output(error)
            return error
        if name in scenario.retrieval and oi is not None:
            with oi.start_as_current_span("kb.search", openinference_span_kind="retriever") as r:
                r.set_input(str(arguments))
                r.set_attributes(
                    get_retriever_attributes(
                        documents=[
                            {"id": d["id"], "content": d["content"]}
                            for d in scenario.retrieval[name]
                        ]
                    )
                )
        if oi is not None:
            span.set_output(result)
        else:
            span.set_attribute(sc.gen_ai.GEN_AI_TOOL_CALL_RESULT, result)
        span.set_status(Status(StatusCode.OK))
        return result


def build_corpus(
    corpus: Sequence[tuple[str, Callable[[], Scenario], tuple[Convention, ...]]] = CORPUS,
) -> list[PlantedTrace]:
    """Run every scenario in each of its conventions; one normalized trace each.

    The SDK's default limit of 128 attributes per span applies, as in production: a model turn
    carrying a long history loses its oldest flattened messages (the SDK logs each drop; silenced
    here).
    """
    traces: list[PlantedTrace] = []
    attributes_logger = logging.getLogger("opentelemetry.attributes")
    level = attributes_logger.level
    attributes_logger.setLevel(logging.ERROR)
    try:
        traces = _build(corpus)
    finally:
        attributes_logger.setLevel(level)
    return traces


def _build(
    corpus: Sequence[tuple[str, Callable[[], Scenario], tuple[Convention, ...]]],
) -> list[PlantedTrace]:
    traces: list[PlantedTrace] = []
    with (
        ScriptedLLMServer() as llm,
        OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
    ):
        for name, build, conventions in corpus:
            for convention in conventions:
                scenario = build()
                exporter = InMemorySpanExporter()
                provider = TracerProvider(shutdown_on_exit=False)
                provider.add_span_processor(SimpleSpanProcessor(exporter))
                llm.enqueue(*scenario.replies)
                with _instrumented(provider, convention):
                    _run(scenario, client, provider.get_tracer("planted"), convention)
                provider.shutdown()
                views: list[SpanView] = [
                    span_view_from_readable(span) for span in exporter.get_finished_spans()
                ]
                trace = normalize_trace(views)
                for planted in scenario.evidence:
                    if not evidence_in(planted.quote, _trace_text(trace)):
                        raise AssertionError(f"{name}/{convention}: {planted.quote!r} not in trace")
                traces.append(
                    PlantedTrace(
                        name=name,
                        convention=convention,
                        trace=trace,
                        evidence=tuple(scenario.evidence),
                        policy=scenario.policy,
                    )
                )
    return traces


def _trace_text(trace: AgentTrace) -> str:
    return json.dumps(trace.to_dict(), ensure_ascii=False)


def evidence_in(quote: str, text: str) -> bool:
    """Whether ``quote`` appears in ``text`` verbatim or as JSON-escaped (as prompts quote data)."""
    escaped = json.dumps(quote, ensure_ascii=False)[1:-1]
    return quote in text or escaped in text or json.dumps(escaped)[1:-1] in text


# --- measuring what reaches the judge -------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceRun:
    """What reached the judge at one budget: per (trace, rubric) judgment, which planted quotes
    appeared in any of its prompts, and the prompts' estimated tokens (UTF-8 bytes / 3.5)."""

    budget: int | None
    reached: dict[tuple[str, str], dict[str, bool]]
    """(trace label, rubric id) -> quote -> reached."""
    concerned: dict[tuple[str, str], dict[str, bool]]
    """The same, for the rubrics each quote concerns only."""
    prompt_tokens: list[int]
    """Every prompt sent, estimated."""
    judgment_tokens: list[int]
    """Per judgment: all its prompts, estimated."""
    requests: int
    judgments: int

    @property
    def share(self) -> float:
        """The issue's measure: per rubric that ran, the share of planted quotes in its prompts,
        averaged over the rubrics."""
        by_rubric: dict[str, list[bool]] = {}
        for (_, rubric), quotes in self.reached.items():
            by_rubric.setdefault(rubric, []).extend(quotes.values())
        return statistics.fmean(sum(v) / len(v) for v in by_rubric.values())

    @property
    def share_concerned(self) -> float:
        """The share of (quote, rubric it concerns) pairs that reached that rubric's prompts."""
        values = [ok for quotes in self.concerned.values() for ok in quotes.values()]
        return sum(values) / len(values)

    @property
    def missed(self) -> list[str]:
        return sorted(
            f"{label} / {rubric}: {quote!r}"
            for (label, rubric), quotes in self.reached.items()
            for quote, ok in quotes.items()
            if not ok
        )


def estimate(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / 3.5)


def _verdict_responder(body: dict[str, Any]) -> Reply:
    """Answers every judge request with a valid, passing verdict (what is recorded is the prompt)."""
    from otel_flywheel.testing.llm_server import StructuredJSON

    schema = body.get("response_format", {}).get("json_schema", {}).get("schema", {})
    labels = schema.get("properties", {}).get("label", {}).get("enum") or ["pass"]
    return StructuredJSON(
        {
            "explanation": "Recorded.",
            "label": labels[0],
            "category": None,
            "subcategory": None,
            "culprit_step": None,
            "confidence": 0.5,
        }
    )


def measure(
    traces: Sequence[PlantedTrace],
    *,
    budget: int | None,
    model: str = "gpt-4o-mini",
    max_parts: int | None = None,
) -> EvidenceRun:
    """Judge every trace with every rubric that applies, against a server that records prompts.

    ``budget`` None leaves it to the judge (on this code: from ``model``'s context window).
    Uses only `LLMJudge`'s long-standing options, so an older checkout measures the same way.
    """
    from otel_flywheel.evaluators.judge import LLMJudge
    from otel_flywheel.evaluators.references import References
    from otel_flywheel.evaluators.rubric import load_rubrics, load_taxonomy

    rubrics = load_rubrics()
    options: dict[str, Any] = {}
    if budget is not None:
        options["max_input_tokens"] = budget
    if max_parts is not None and "max_parts" in inspect.signature(LLMJudge).parameters:
        options["max_parts"] = max_parts
    reached: dict[tuple[str, str], dict[str, bool]] = {}
    concerned: dict[tuple[str, str], dict[str, bool]] = {}
    prompt_tokens: list[int] = []
    judgment_tokens: list[int] = []
    with ScriptedLLMServer(responder=_verdict_responder) as llm:
        judge = LLMJudge(
            model=model,
            base_url=llm.base_url,
            api_key="test",
            cache_path=None,
            environ={},
            taxonomy=load_taxonomy(),
            **options,
        )

        async def judge_all() -> None:
            for planted in traces:
                label = f"{planted.name}/{planted.convention}"
                references = References(policy=planted.policy) if planted.policy else None
                for rubric in rubrics.values():
                    if "reference_answer" in rubric.required_references:
                        continue
                    if "policy_document" in rubric.required_references and references is None:
                        continue
                    before = len(llm.requests)
                    await judge.run(planted.trace, rubric, references)
                    sent = [
                        "\n".join(str(m.get("content") or "") for m in request["messages"])
                        for request in llm.requests[before:]
                    ]
                    sizes = [estimate(text) for text in sent]
                    prompt_tokens.extend(sizes)
                    judgment_tokens.append(sum(sizes))
                    found = {
                        e.quote: any(evidence_in(e.quote, text) for text in sent)
                        for e in planted.evidence
                    }
                    reached[(label, rubric.id)] = found
                    mine = {
                        e.quote: found[e.quote] for e in planted.evidence if rubric.id in e.rubrics
                    }
                    if mine:
                        concerned[(label, rubric.id)] = mine
            await judge.aclose()

        asyncio.run(judge_all())
    return EvidenceRun(
        budget=budget,
        reached=reached,
        concerned=concerned,
        prompt_tokens=prompt_tokens,
        judgment_tokens=judgment_tokens,
        requests=len(prompt_tokens),
        judgments=len(judgment_tokens),
    )
