"""``run_demo``: the sample agent's conversations through the whole flywheel into a Phoenix.

The loop, as a user's agent runs it: ``register(pipeline=flywheel)`` captures each conversation
(redacted) -> the flywheel judges it (checks, and the rubric judge when one is configured) ->
routing writes annotations and dataset examples into the durable outbox -> the outbox worker
delivers them to Phoenix. Customers then give feedback through ``otel_flywheel.feedback(...,
sink=flywheel)``, which takes the same route. Finally the demo reads back what Phoenix holds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.openai import OpenAIInstrumentor

from otel_flywheel import _env
from otel_flywheel import semconv as sc
from otel_flywheel._feedback import ImplicitSignalDetector, feedback
from otel_flywheel._flywheel import Flywheel
from otel_flywheel._register import register, resolve_otlp_traces_endpoint
from otel_flywheel.config import RoutingSettings, resolve_settings
from otel_flywheel.demo._agent import TENANT_ATTRIBUTE, AgentReply, SupportAgent
from otel_flywheel.demo._history import AGENT_SERVICE, VERSIONS, HistoryRun, run_history
from otel_flywheel.demo._reviewers import ReviewLabel, label_review_items
from otel_flywheel.demo._script import ALL_SCENARIOS, FOLLOW_UPS, SCENARIOS, Scenario, respond
from otel_flywheel.evaluation import TraceEvaluator, load_trace_evaluator
from otel_flywheel.model import AgentTrace, Feedback, Verdict
from otel_flywheel.outbox import Outbox, OutboxStats, OutboxWorker
from otel_flywheel.phoenix import (
    PhoenixContents,
    PhoenixSink,
    phoenix_client,
    read_contents,
    span_url,
)
from otel_flywheel.pipeline import EvaluationPipeline
from otel_flywheel.privacy import Redactor, build_redactor
from otel_flywheel.routing import ROUTING_STORE_FILE, RoutingSink, RoutingStore
from otel_flywheel.testing.llm_server import ScriptedLLMServer

__all__ = ["DEMO_PROJECT", "ROUTES", "Delivery", "DemoResult", "DemoRun", "run_demo"]

DEMO_PROJECT = "support-agent-demo"
ROUTES = ("golden", "regression", "review", "preference")
OUTBOX_FILE = "outbox.sqlite"


@dataclass(frozen=True)
class DemoRun:
    """One conversation: what the customer got, what the flywheel saw, and what the customer said
    (``feedback`` as the flywheel stored it: redacted)."""

    scenario: Scenario
    answer: str
    trace: AgentTrace
    verdict: Verdict
    feedback: Feedback | None = None


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """How the outbox did: ``flushed`` when no write was left pending at the deadline."""

    flushed: bool
    outbox: OutboxStats
    writes_put: int
    # Examples written again under the same key (a person's feedback replacing an inferred
    # example): Phoenix patches them, so it holds this many fewer writes than were put.
    examples_upgraded: int = 0


@dataclass(frozen=True, kw_only=True)
class DemoResult:
    project: str
    phoenix_url: str
    runs: list[DemoRun]
    judged: bool
    datasets: dict[str, str]  # route -> dataset name
    delivery: Delivery
    phoenix: PhoenixContents
    history: list[HistoryRun] = field(default_factory=list)
    # Every trace and verdict, the history's included (``runs`` are the live conversations).
    traces: dict[str, AgentTrace] = field(default_factory=dict)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    conflict_trace_id: str | None = None  # a thumbs up on a trace the checks failed
    reviews: list[ReviewLabel] = field(default_factory=list)

    def failing_run(self) -> DemoRun | None:
        """The first conversation whose verdict failed with a culprit span, in run order."""
        return next(
            (r for r in self.runs if r.verdict.passed is False and r.verdict.culprit_span_id),
            None,
        )

    def culprit_url(self, run: DemoRun) -> str:
        """Where to click: the Phoenix UI page of ``run``'s trace, its culprit span selected."""
        root = run.trace.root
        span_id = run.verdict.culprit_span_id or (root.span_id if root else "")
        return span_url(self.phoenix_url, span_id)


def run_demo(
    *,
    phoenix_url: str,
    state_dir: str | os.PathLike[str],
    project: str = DEMO_PROJECT,
    progress: Callable[[str], None] = lambda _message: None,
    evaluator: TraceEvaluator | None = None,
    timeout_seconds: float = 120.0,
) -> DemoResult:
    """Run every conversation through the flywheel into the Phoenix at ``phoenix_url``.

    ``state_dir`` holds the demo's outbox and routing store. Use a fresh one per Phoenix: routing
    remembers the examples it routed there and does not route them again. ``evaluator``: the
    deterministic checks by default; pass one with a judge to add the rubric LLM judge.
    ``timeout_seconds`` bounds each wait (judging, delivery, Phoenix ingest); a wait that runs
    out raises ``TimeoutError`` naming what was missing.
    """
    phoenix_url = phoenix_url.rstrip("/")
    resolve_otlp_traces_endpoint(phoenix_url)  # a bad URL fails here, before anything starts
    evaluator = (
        evaluator
        if evaluator is not None
        else load_trace_evaluator(judge=False, cohort_attributes=(TENANT_ATTRIBUTE,))
    )
    redactor = build_redactor()
    settings = resolve_settings(RoutingSettings, {"project": project})
    api_key = os.environ.get(_env.PHOENIX_API_KEY)
    collector = _VerdictCollector()
    flywheel = _build_flywheel(
        Path(state_dir),
        phoenix_url=phoenix_url,
        api_key=api_key,
        settings=settings,
        evaluator=evaluator,
        redactor=redactor,
        collector=collector,
    )
    llm = ScriptedLLMServer(responder=respond).start()
    try:
        # Two weeks of simulated history first: two agent versions, two tenants, one drift.
        progress(
            "the agent's last two weeks, simulated (versions 1.0.0 and 1.1.0, tenants acme and globex)"
        )
        history = run_history(
            llm_base_url=llm.base_url,
            traces_endpoint=resolve_otlp_traces_endpoint(phoenix_url),
            project=project,
            pipeline=flywheel,
            redactor=redactor,
            headers={"authorization": f"Bearer {api_key}"} if api_key else None,
            progress=progress,
        )
        collector.wait_for([r.reply.trace_id for r in history], timeout_seconds=timeout_seconds)
        provider = register(
            project=project,
            endpoint=phoenix_url,
            pipeline=flywheel,
            redactor=redactor,
            batch=True,
            set_global=False,
            resource={sc.SERVICE_NAME: AGENT_SERVICE, sc.SERVICE_VERSION: VERSIONS[-1]},
        )
    except BaseException:
        llm.close()
        flywheel.shutdown()
        raise
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    wait_millis = int(timeout_seconds * 1000)
    try:
        with OpenAI(base_url=llm.base_url, api_key="demo", max_retries=0) as client:
            tracer = OITracer(provider.get_tracer("otel_flywheel.demo"), config=TraceConfig())
            agent = SupportAgent(client=client, tracer=tracer)
            total = len(ALL_SCENARIOS)
            replies = _converse(agent, SCENARIOS, start=1, total=total, progress=progress)
            # The follow-ups come back to earlier sessions: the flywheel has seen those turns.
            collector.wait_for([r.trace_id for r in replies], timeout_seconds=timeout_seconds)
            replies += _converse(
                agent, FOLLOW_UPS, start=len(SCENARIOS) + 1, total=total, progress=progress
            )
        # Customers react to answers the flywheel has already judged, as in a real app.
        collector.wait_for([r.trace_id for r in replies], timeout_seconds=timeout_seconds)
        progress("customers give feedback on some answers (otel_flywheel.feedback)")
        given = _give_feedback(flywheel, replies)
        conflict = _conflicting_thumbs_up(flywheel, history, collector)
        progress("waiting for Phoenix to ingest the spans and the outbox to deliver")
        # Exports the last spans, then waits for verdicts (a judge re-judges a trace after
        # negative feedback) and for the outbox, whose annotations wait until Phoenix has
        # ingested their spans.
        flushed = provider.force_flush(timeout_millis=wait_millis)
        delivery = Delivery(
            flushed=flushed,
            outbox=flywheel.outbox.stats(),
            writes_put=flywheel.routing.counts().get("writes", 0),
            examples_upgraded=flywheel.routing.counts().get("examples_upgraded", 0),
        )
        judged_traces = collector.wait_for(
            [r.trace_id for r in replies] + [r.reply.trace_id for r in history],
            timeout_seconds=timeout_seconds,
        )
    finally:
        instrumentor.uninstrument()
        llm.close()
        provider.shutdown()  # shuts the flywheel down too: pipeline, routing, outbox
    runs = [
        DemoRun(
            scenario=scenario,
            answer=reply.answer,
            trace=judged_traces[reply.trace_id][0],
            verdict=judged_traces[reply.trace_id][1],
            feedback=given.get(reply.trace_id),
        )
        for scenario, reply in zip(ALL_SCENARIOS, replies, strict=True)
    ]
    datasets = {route: settings.dataset(route) for route in ROUTES}
    verdicts = {trace_id: verdict for trace_id, (_, verdict) in judged_traces.items()}
    traces = {trace_id: trace for trace_id, (trace, _) in judged_traces.items()}
    contents = read_contents(
        phoenix_url,
        project=project,
        trace_steps={trace_id: len(trace.steps) for trace_id, (trace, _) in judged_traces.items()},
        datasets=list(datasets.values()),
        api_key=api_key,
        timeout_seconds=timeout_seconds,
    )
    progress("two reviewers label part of the review dataset in Phoenix")
    reviews = _review(phoenix_url, api_key, datasets["review"], verdicts)
    return DemoResult(
        project=project,
        phoenix_url=phoenix_url,
        runs=runs,
        judged=evaluator.judge_model is not None,
        datasets=datasets,
        delivery=delivery,
        phoenix=contents,
        history=history,
        traces=traces,
        verdicts=verdicts,
        conflict_trace_id=conflict,
        reviews=reviews,
    )


def _conflicting_thumbs_up(
    flywheel: Flywheel, history: Sequence[HistoryRun], collector: _VerdictCollector
) -> str | None:
    """A customer happy with an answer the checks failed: routing must send it to review with
    both signals, never to golden."""
    verdicts = collector.wait_for([], timeout_seconds=0)
    for run in history:
        verdict = verdicts.get(run.reply.trace_id, (None, None))[1]
        if verdict is not None and verdict.category == "tool_selection":
            feedback(trace_id=run.reply.trace_id, thumbs="up", sink=flywheel)
            return run.reply.trace_id
    return None


def _review(
    phoenix_url: str, api_key: str | None, review_dataset: str, verdicts: dict[str, Verdict]
) -> list[ReviewLabel]:
    with phoenix_client(phoenix_url, api_key=api_key) as (client, _):
        return label_review_items(client, review_dataset=review_dataset, verdicts=verdicts)


def _converse(
    agent: SupportAgent,
    scenarios: Sequence[Scenario],
    *,
    start: int,
    total: int,
    progress: Callable[[str], None],
) -> list[AgentReply]:
    replies = []
    for index, scenario in enumerate(scenarios, start=start):
        conversation = scenario.conversation(index)
        later = f"(back in {conversation.session_id}) " if scenario.session_id else ""
        progress(f"[{index:2d}/{total}] {later}{scenario.question}")
        replies.append(agent.run(conversation))
    return replies


def _give_feedback(flywheel: Flywheel, replies: Iterable[AgentReply]) -> dict[str, Feedback]:
    """What the customers click, keyed to each answer's trace, as a support widget would send it."""
    given: dict[str, Feedback] = {}
    for scenario, reply in zip(ALL_SCENARIOS, replies, strict=True):
        said = scenario.feedback
        if said is None:
            continue
        given[reply.trace_id] = feedback(
            trace_id=reply.trace_id,
            thumbs=said.thumbs,
            correction=said.correction,
            chosen=said.chosen,
            rejected=said.rejected,
            reason=said.reason,
            sink=flywheel,
        )
    return given


def _build_flywheel(
    state_dir: Path,
    *,
    phoenix_url: str,
    api_key: str | None,
    settings: RoutingSettings,
    evaluator: TraceEvaluator,
    redactor: Redactor | None,
    collector: _VerdictCollector,
) -> Flywheel:
    """``build_flywheel``'s loop, with its state in ``state_dir``.

    Built from the parts because the demo's outbox must not be the application's: writes left
    in ``.flywheel/outbox.sqlite`` would later be delivered to whatever Phoenix the next
    flywheel there points at (``build_flywheel`` opens the outbox from ``FLYWHEEL_STATE_DIR``).
    """
    outbox = Outbox(state_dir / OUTBOX_FILE)
    phoenix = PhoenixSink(base_url=phoenix_url, api_key=api_key)
    worker = OutboxWorker(outbox, phoenix)
    routing = RoutingSink(
        outbox,
        store=RoutingStore(state_dir / ROUTING_STORE_FILE),
        settings=settings,
        worker=worker,
        redactor=redactor,
        signals=ImplicitSignalDetector(),
    )
    pipeline = EvaluationPipeline(evaluator, sinks=[routing, collector])
    routing.on_feedback = pipeline.notify_feedback
    worker.start()
    return Flywheel(
        pipeline=pipeline, routing=routing, outbox=outbox, worker=worker, phoenix=phoenix
    )


class _VerdictCollector:
    """A ``VerdictSink`` keeping each trace's latest verdict (a trace judged again after negative
    feedback gets a second one), for the demo to print."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _verdicts
        self._arrived = threading.Condition(self._lock)
        self._verdicts: dict[str, tuple[AgentTrace, Verdict]] = {}

    def submit_verdict(self, trace: AgentTrace, verdict: Verdict) -> None:
        with self._arrived:
            self._verdicts[trace.trace_id] = (trace, verdict)
            self._arrived.notify_all()

    def wait_for(
        self, trace_ids: Sequence[str], *, timeout_seconds: float
    ) -> dict[str, tuple[AgentTrace, Verdict]]:
        """Block until every one of ``trace_ids`` has a verdict; ``TimeoutError`` names the rest."""
        with self._arrived:
            if not self._arrived.wait_for(
                lambda: all(t in self._verdicts for t in trace_ids), timeout_seconds
            ):
                missing = [t for t in trace_ids if t not in self._verdicts]
                raise TimeoutError(
                    f"the flywheel judged {len(trace_ids) - len(missing)} of {len(trace_ids)} "
                    f"traces within {timeout_seconds:g} s; still waiting for {missing}. A slow "
                    "judge endpoint (FLYWHEEL_JUDGE_BASE_URL) is the usual cause"
                )
            return dict(self._verdicts)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # verdicts are kept as they arrive

    def shutdown(self) -> None:
        return None  # nothing to release
