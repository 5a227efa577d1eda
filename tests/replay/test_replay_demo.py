"""The demo's replay step (issue 7, item 6): the regression dataset the demo's conversations
produce, replayed against the fixed agent (the gate passes, the cases show as fixed) and against
the original agent (the gate fails, the cases show as regressions)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.openai import OpenAIInstrumentor
from phoenix.client import Client
from replay_agents import wait_for_examples

from otel_flywheel._flywheel import build_flywheel
from otel_flywheel._register import register
from otel_flywheel.capture import InMemoryPipeline
from otel_flywheel.demo import demo_replay
from otel_flywheel.demo._agent import SupportAgent
from otel_flywheel.demo._fixed import FIXED_TURNS
from otel_flywheel.demo._script import SCENARIOS, respond
from otel_flywheel.testing.llm_server import ScriptedLLMServer
from otel_flywheel.testing.phoenix import LocalPhoenix, wait_for_spans

# What the deterministic checks route to the regression dataset from the demo's conversations.
CHECKED_FAILURES = {
    "Status of order A-1003 please",
    "Has A-1001 shipped yet?",
    "Do you price-match competitors?",
    "Refund order A-1003, it was late",
    "Refund A-1002 please, it's late",
}


@pytest.fixture(scope="module")
def demo_project(
    phoenix_server: LocalPhoenix, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The demo's conversations, captured, exported to Phoenix and routed (checks only)."""
    import httpx

    project = f"demo-replay-{uuid.uuid4().hex[:8]}"
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        httpx.Client(base_url=phoenix_server.base_url, timeout=30) as http,
    ):
        monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path_factory.mktemp("demo-state")))
        pipeline = InMemoryPipeline()
        provider = register(
            project=project,
            endpoint=phoenix_server.base_url,
            pipeline=pipeline,
            batch=False,
            set_global=False,
        )
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:
            with (
                ScriptedLLMServer(responder=respond) as llm,
                OpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client,
            ):
                tracer = OITracer(provider.get_tracer("tests.demo"), config=TraceConfig())
                agent = SupportAgent(client=client, tracer=tracer)
                for index, scenario in enumerate(SCENARIOS, start=1):
                    agent.run(scenario.conversation(index))
        finally:
            instrumentor.uninstrument()
            provider.shutdown()
        traces = pipeline.wait_for(len(SCENARIOS), timeout_seconds=30)
        wait_for_spans(
            Client(http_client=http),
            project=project,
            min_count=len(traces),
            trace_ids=[t.trace_id for t in traces],
        )
        flywheel = build_flywheel(project=project, phoenix_url=phoenix_server.base_url, judge=False)
        try:
            for trace in traces:
                flywheel.submit(trace)
            assert flywheel.force_flush(60_000)
        finally:
            flywheel.shutdown()
        wait_for_examples(Client(http_client=http), f"{project}/regression", len(CHECKED_FAILURES))
        yield project


def test_every_planted_failure_has_a_fixed_version() -> None:
    planted = {s.question for s in SCENARIOS if s.failure}
    assert planted <= set(FIXED_TURNS)


def test_the_demo_replays_its_regressions_a_fix_passes_the_gate_and_the_original_fails_it(
    demo_project: str, phoenix_server: LocalPhoenix
) -> None:
    lines: list[str] = []

    result = demo_replay(
        phoenix_url=phoenix_server.base_url, project=demo_project, progress=lines.append
    )

    fixed, original = result.fixed, result.original
    assert result.dataset == f"{demo_project}/regression"
    assert fixed.exit_code == 0, fixed.render()
    assert {o.example.input["input"] for o in fixed.gate.with_change("fix")} == CHECKED_FAILURES
    assert fixed.gate.passes == fixed.gate.scored == 3 * len(CHECKED_FAILURES)
    assert "fixed (5):" in fixed.render()
    assert fixed.info.experiment_id is not None

    assert original.exit_code == 1, original.render()
    assert original.gate.baseline_source == f"experiment {fixed.info.experiment_id}"
    regressed = {o.example.input["input"] for o in original.gate.with_change("regression")}
    assert regressed == CHECKED_FAILURES
    assert original.gate.passes == 0
    rendered = original.render()
    assert "regressed (5):" in rendered
    assert "GATE FAILED (exit 1)" in rendered
    assert sum(line.startswith("[15/15]") for line in lines) == 2  # progress, per replay
