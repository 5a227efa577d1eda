"""The bundled demo: a scripted support agent, instrumented like a user's agent, fed to the flywheel.

``run_demo`` runs every scenario against a running Phoenix and returns what the flywheel captured;
``otel-flywheel demo`` (and ``make demo``) wraps it with a local Phoenix and prints the results.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.openai import OpenAIInstrumentor

from otel_flywheel._register import register
from otel_flywheel.capture import InMemoryPipeline
from otel_flywheel.demo._agent import SupportAgent
from otel_flywheel.demo._script import SCENARIOS, Scenario, respond
from otel_flywheel.model import AgentTrace, Evaluation, Verdict
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
    judge: Any | None = None,
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
    verdicts = evaluate_traces(traces_in_order, judge=judge)
    runs = [
        DemoRun(scenario=s, answer=a, trace=t, verdict=v)
        for s, a, t, v in zip(SCENARIOS, answers, traces_in_order, verdicts, strict=True)
    ]
    return DemoResult(project=project, runs=runs, judged=judge is not None)


def evaluate_traces(traces: list[AgentTrace], *, judge: Any | None = None) -> list[Verdict]:
    """Verdicts from the deterministic checks, plus the rubric judge when one is given."""
    # Evaluators ship in evaluators/ (package-dir mapping): reached at run time (docs/decisions.md).
    checks = importlib.import_module("otel_flywheel.evaluators.checks")
    verdict_module = importlib.import_module("otel_flywheel.evaluators.verdict")
    rubric_module = importlib.import_module("otel_flywheel.evaluators.rubric")
    taxonomy = rubric_module.load_taxonomy()
    owners = {cid: c.root_cause_owner for cid, c in taxonomy.categories.items()}
    judged: list[list[Evaluation]] = [[] for _ in traces]
    if judge is not None:
        rubrics = [
            r
            for r in rubric_module.load_rubrics(taxonomy=taxonomy).values()
            if not r.required_references  # the demo has no reference answers or policy file
        ]
        items = [(trace, r) for trace in traces for r in rubrics]
        results = judge.judge_many_sync(items)
        for index, evaluation in enumerate(results):
            judged[index // len(rubrics)].append(evaluation)
    verdicts = []
    for trace, extra in zip(traces, judged, strict=True):
        evaluations = [e for check in checks.default_checks() for e in check.evaluate(trace)]
        verdicts.append(
            verdict_module.roll_up(trace, evaluations + extra, root_cause_owners=owners)
        )
    return verdicts
