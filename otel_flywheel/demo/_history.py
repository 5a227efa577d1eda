"""Two weeks of simulated history before the demo's live conversations, so the report has a past.

The same support agent, the same scripted model and the same instrumentation run the history's
conversations now, and a span processor moves each finished span back to its simulated day before
the exporter and the flywheel see it. The history covers:

- two agent versions (``service.version`` on the resource): 1.0.0 for the first week, 1.1.0 for
  the second (and for the live conversations that follow);
- two cohorts (``tenant`` on the root span): ``acme`` and ``globex``;
- one planted drift: with 1.1.0, globex's customers hit the bad-arguments failure
  (``parameter/missing_required``) four times as often as before, and start asking a question
  nobody asked in the first week (a new cluster of goals that no golden example covers).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_flywheel import semconv as sc
from otel_flywheel.capture import FlywheelSpanProcessor, TracePipeline
from otel_flywheel.demo._agent import AgentReply, Conversation, SupportAgent
from otel_flywheel.demo._script import NEW_QUESTION
from otel_flywheel.model import AgentTrace
from otel_flywheel.privacy import RedactingSpanExporter, Redactor

__all__ = [
    "AGENT_SERVICE",
    "HISTORY_DAYS",
    "HISTORY_QUESTIONS",
    "NEW_QUESTION",
    "PLANTED_DRIFT",
    "VERSIONS",
    "HistoryRun",
    "run_history",
]

AGENT_SERVICE: Final = "support-agent"
VERSIONS: Final = ("1.0.0", "1.1.0")
TENANTS: Final = ("acme", "globex")
HISTORY_DAYS: Final = 14
CONVERSATIONS_PER_TENANT_PER_DAY: Final = 6
_NANOS_PER_DAY: Final = 86_400 * 1_000_000_000

BAD_ARGUMENTS: Final = "Status of order A-1003 please"  # parameter/missing_required (scripted)
REPEATED: Final = "Has A-1001 shipped yet?"  # tool_selection/repeated_call
CLEAN: Final = (
    "How long does standard shipping take?",
    "What does the warranty cover?",
    "Track A-1004",
    "Is express shipping faster?",
    "Where is order A-9999?",
    "When will A-1002 arrive and can I still change it?",
)
HISTORY_QUESTIONS: Final = (*CLEAN, BAD_ARGUMENTS, REPEATED, NEW_QUESTION)
# (category, tenant, version): what the report must find.
PLANTED_DRIFT: Final = ("parameter", "globex", "1.1.0")


@dataclass(frozen=True)
class HistoryRun:
    """One simulated conversation: when, for whom, on which version, and its reply."""

    days_ago: int
    version: str
    tenant: str
    question: str
    reply: AgentReply


def plan_history(seed: int = 20261121) -> list[tuple[int, str, str, str]]:
    """(days_ago, version, tenant, question) for every simulated conversation, oldest first."""
    rng = random.Random(seed)
    plan = []
    for days_ago in range(HISTORY_DAYS - 1, 0, -1):
        version = VERSIONS[0] if days_ago >= HISTORY_DAYS // 2 else VERSIONS[1]
        drifting = version == VERSIONS[1]
        for tenant in TENANTS:
            hit = drifting and tenant == "globex"
            bad = 0.4 if hit else 0.1  # four times as often for globex on the new version
            for _ in range(CONVERSATIONS_PER_TENANT_PER_DAY):
                draw = rng.random()
                if draw < bad:
                    question = BAD_ARGUMENTS
                elif draw < bad + 0.05:
                    question = REPEATED
                elif hit and draw < bad + 0.2:
                    question = NEW_QUESTION
                else:
                    question = rng.choice(CLEAN)
                plan.append((days_ago, version, tenant, question))
    return plan


def run_history(
    *,
    llm_base_url: str,
    traces_endpoint: str,
    project: str,
    pipeline: TracePipeline,
    redactor: Redactor | None,
    headers: dict[str, str] | None,
    progress: Callable[[str], None],
) -> list[HistoryRun]:
    """Run the history's conversations through ``pipeline`` and into Phoenix at the endpoint."""
    plan = plan_history()
    runs: list[HistoryRun] = []
    for version in VERSIONS:
        todo = [item for item in plan if item[1] == version]
        progress(f"{len(todo)} conversations of agent {version} over simulated days")
        runs += _run_version(
            version,
            todo,
            llm_base_url=llm_base_url,
            traces_endpoint=traces_endpoint,
            project=project,
            pipeline=pipeline,
            redactor=redactor,
            headers=headers,
        )
    return runs


def _run_version(
    version: str,
    todo: Sequence[tuple[int, str, str, str]],
    *,
    llm_base_url: str,
    traces_endpoint: str,
    project: str,
    pipeline: TracePipeline,
    redactor: Redactor | None,
    headers: dict[str, str] | None,
) -> list[HistoryRun]:
    exporter = OTLPSpanExporter(endpoint=traces_endpoint, headers=headers)
    shift = TimeShift(
        [
            BatchSpanProcessor(
                RedactingSpanExporter(exporter, redactor) if redactor is not None else exporter
            ),
            FlywheelSpanProcessor(pipeline=_Shared(pipeline), redactor=redactor or False),
        ]
    )
    provider = TracerProvider(
        resource=Resource.create(
            {
                sc.ResourceAttributes.PROJECT_NAME: project,
                sc.SERVICE_NAME: AGENT_SERVICE,
                sc.SERVICE_VERSION: version,
            }
        ),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(shift)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    runs = []
    try:
        with OpenAI(base_url=llm_base_url, api_key="demo", max_retries=0) as client:
            agent = SupportAgent(
                client=client,
                tracer=OITracer(provider.get_tracer("otel_flywheel.demo"), config=TraceConfig()),
            )
            for index, (days_ago, _, tenant, question) in enumerate(todo):
                shift.offset_nanos = days_ago * _NANOS_PER_DAY
                conversation = Conversation(
                    session_id=f"history-{version}-{index:03d}",
                    user_id=f"user-{tenant}-{index % 5}",
                    question=question,
                    tenant=tenant,
                )
                runs.append(
                    HistoryRun(days_ago, version, tenant, question, agent.run(conversation))
                )
    finally:
        instrumentor.uninstrument()
        provider.force_flush()
        provider.shutdown()
    return runs


class _Shared:
    """The flywheel, lent to one version's processor: its shutdown leaves the flywheel running
    for the next version and the live conversations."""

    def __init__(self, pipeline: TracePipeline) -> None:
        self._pipeline = pipeline

    def submit(self, trace: AgentTrace) -> None:
        self._pipeline.submit(trace)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # the demo waits for the verdicts themselves; delivery is flushed at the end

    def shutdown(self) -> None:
        return None  # the owner shuts the flywheel down


class TimeShift(SpanProcessor):
    """Hands the wrapped processors each ended span moved ``offset_nanos`` into the past."""

    def __init__(self, processors: Sequence[SpanProcessor]) -> None:
        self._processors = list(processors)
        self.offset_nanos = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None  # the wrapped processors only act on ended spans

    def on_end(self, span: ReadableSpan) -> None:
        offset = self.offset_nanos
        shifted = ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=span.attributes,
            events=[
                Event(event.name, event.attributes, event.timestamp - offset)
                for event in span.events
            ],
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=(span.start_time or 0) - offset,
            end_time=(span.end_time or 0) - offset,
            instrumentation_scope=span.instrumentation_scope,
        )
        for processor in self._processors:
            processor.on_end(shifted)

    def shutdown(self) -> None:
        for processor in self._processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self._processors)
