"""The demo's replay step (issue 7, item 6): the regression dataset the demo's conversations
produce, replayed against the fixed agent (the gate passes, the cases show as fixed) and against
the original agent (the gate fails, the cases show as regressions)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

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
from otel_flywheel.model import Feedback
from otel_flywheel.testing.llm_server import ScriptedLLMServer
from otel_flywheel.testing.phoenix import LocalPhoenix, wait_for_spans

THUMBS_UP = (
    "How long does standard shipping take?",
    "What does the warranty cover?",
    "Track A-1004",
)
# What the deterministic checks route to the regression dataset from the demo's conversations.
CHECKED_FAILURES = {
    "Status of order A-1003 please",
    "Has A-1001 shipped yet?",
    "Do you price-match competitors?",
    "Refund order A-1003, it was late",
    "Refund A-1002 please, it's late",
}


@pytest.fixture(scope="module")
def demo_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-state")


@pytest.fixture(scope="module")
def demo_project(phoenix_server: LocalPhoenix, demo_state_dir: Path) -> Iterator[str]:
    """The demo's conversations, captured, exported to Phoenix and routed (checks only), with
    the customers' thumbs up (the golden dataset)."""
    import httpx

    project = f"demo-replay-{uuid.uuid4().hex[:8]}"
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        httpx.Client(base_url=phoenix_server.base_url, timeout=30) as http,
    ):
        monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(demo_state_dir))
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
            by_goal = {trace.goal: trace for trace in traces}
            for scenario in SCENARIOS:
                if scenario.feedback is not None and scenario.feedback.thumbs == "up":
                    trace_id = by_goal[scenario.question].trace_id
                    flywheel.submit_feedback(Feedback(trace_id=trace_id, thumbs="up"))
            assert flywheel.force_flush(60_000)
        finally:
            flywheel.shutdown()
        wait_for_examples(Client(http_client=http), f"{project}/regression", len(CHECKED_FAILURES))
        wait_for_examples(Client(http_client=http), f"{project}/golden", len(THUMBS_UP))
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


def test_the_few_shot_variant_is_replayed_beside_the_original_and_the_difference_is_reported(
    demo_project: str, demo_state_dir: Path, phoenix_server: LocalPhoenix
) -> None:
    """The golden examples as few-shot: the question whose fix a retrieved example demonstrates
    (a lookup, shown by "Track A-1004") is fixed; the others are not; the pair goes to the
    preference dataset."""
    from otel_flywheel.demo import demo_fewshot_comparison

    report = demo_fewshot_comparison(
        phoenix_url=phoenix_server.base_url,
        project=demo_project,
        routing_store=demo_state_dir / "routing.sqlite",
    )

    comparison = report.comparison
    better = {pair.a.example.input["input"] for pair in comparison.with_difference("better")}
    assert better == {"Status of order A-1003 please"}
    assert comparison.with_difference("worse") == []
    assert comparison.verdict == "no significant difference"  # one of five says little
    assert report.exit_code == 0
    rendered = report.render()
    assert "fewshot - original over the 5 examples both scored: +20.0%" in rendered
    assert "better with fewshot (fewshot passes, original fails): 1" in rendered
    assert report.preferences is not None
    assert (report.preferences.pairs, report.preferences.delivered) == (1, True)
    assert report.preferences.dataset == f"{demo_project}/preference"
    # The few-shot runs recorded which golden examples they were shown.
    fixed_run = next(
        run
        for pair in comparison.with_difference("better")
        for run in pair.b.runs
        if run.status == "pass"
    )
    assert fixed_run.trace is not None
    (shown,) = [
        step.attributes["flywheel.fewshot.example_ids"]
        for step in fixed_run.trace.steps
        if "flywheel.fewshot.example_ids" in step.attributes  # the agent's span
    ]
    assert len(shown) == 1  # only "Track A-1004" shares a word ("order") with the question
