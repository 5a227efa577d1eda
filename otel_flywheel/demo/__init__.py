"""The bundled demo: a scripted support agent, instrumented like a user's agent, fed to the flywheel.

``run_demo`` runs every scenario against a running Phoenix and returns what the flywheel captured;
``otel-flywheel demo`` (and ``make demo``) wraps it with a local Phoenix and prints the results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.openai import OpenAIInstrumentor

from otel_flywheel._register import register
from otel_flywheel.capture import InMemoryPipeline
from otel_flywheel.demo._agent import SupportAgent
from otel_flywheel.demo._script import SCENARIOS, Scenario, respond
from otel_flywheel.evaluation import TraceEvaluator, load_trace_evaluator
from otel_flywheel.model import AgentTrace, Verdict
from otel_flywheel.testing.llm_server import ScriptedLLMServer

__all__ = ["SCENARIOS", "DemoResult", "Scenario", "run_demo"]

DEMO_PROJECT = "support-agent-demo"


@dataclass(frozen=True)
class DemoRun:
    scenario: Scenario
    answer: str
    trace: AgentTrace
    verdict: Verdict


@dataclass(frozen=True)
class DemoResult:
    project: str
    runs: list[DemoRun]
    judged: bool = False


def run_demo(
    *,
    phoenix_url: str,
    project: str = DEMO_PROJECT,
    progress: Callable[[str], None] = lambda _message: None,
    evaluator: TraceEvaluator | None = None,
) -> DemoResult:
    """Run every scenario through the instrumented agent; traces go to Phoenix and the flywheel."""
    pipeline = InMemoryPipeline()
    provider = register(
        project=project, endpoint=phoenix_url, pipeline=pipeline, batch=True, set_global=False
    )
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with (
            ScriptedLLMServer(responder=respond) as llm,
            OpenAI(base_url=llm.base_url, api_key="demo", max_retries=0) as client,
        ):
            tracer = OITracer(provider.get_tracer("otel_flywheel.demo"), config=TraceConfig())
            agent = SupportAgent(client=client, tracer=tracer)
            answers = []
            for index, scenario in enumerate(SCENARIOS, start=1):
                progress(f"[{index:2d}/{len(SCENARIOS)}] {scenario.question}")
                answers.append(agent.run(scenario.conversation(index)))
        provider.force_flush()
        traces = pipeline.wait_for(len(SCENARIOS), timeout_seconds=30)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    # Joined on the session id: goals that held an email or a card number arrive redacted.
    by_session = {trace.session_id: trace for trace in traces}
    traces_in_order = [by_session[s.conversation(i).session_id] for i, s in enumerate(SCENARIOS, 1)]
    judged = evaluator is not None and evaluator.judge_model is not None
    verdicts = evaluate_traces(traces_in_order, evaluator=evaluator)
    runs = [
        DemoRun(scenario=s, answer=a, trace=t, verdict=v)
        for s, a, t, v in zip(SCENARIOS, answers, traces_in_order, verdicts, strict=True)
    ]
    return DemoResult(project=project, runs=runs, judged=judged)


def evaluate_traces(
    traces: list[AgentTrace], *, evaluator: TraceEvaluator | None = None
) -> list[Verdict]:
    """Verdicts from the deterministic checks, plus the rubric judge when ``evaluator`` has one.

    The demo has no reference answers or policy file: rubrics that need them are left out.
    """
    from otel_flywheel.cli._evaluate import evaluate_all

    return asyncio.run(evaluate_all(evaluator or load_trace_evaluator(judge=False), traces))
