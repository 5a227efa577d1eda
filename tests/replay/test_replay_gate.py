"""The gate, decided over real runs: each case replays examples through `run_replay` (captured
with the flywheel processor, evaluated by the shipped evaluators) and checks what the gate says."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_flywheel import tool
from otel_flywheel.datasets import DatasetExample
from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluation import load_trace_evaluator
from otel_flywheel.replay import GateSettings, run_replay, write_summary
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Text

DATASET = "gate-tests/golden"


@tool
def lookup(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "status": "shipped"}


def golden(index: int, *, route: str = "golden") -> DatasetExample:
    """A golden example as routing writes one: the approved answer and its tool calls."""
    order = f"A-{1000 + index}"
    return DatasetExample(
        example_id=f"golden-{index:03d}",
        dataset=DATASET,
        input={"input": f"Where is order {order}?", "session_id": f"s-{index}"},
        output={
            "output": "shipped",
            "expected_tool_calls": [{"name": "lookup", "arguments": {"order_id": order}}],
        },
        metadata={"route": route},
    )


def order_of(input: dict[str, Any]) -> str:
    return str(input["input"]).split()[-1].rstrip("?")


def good_task(input: dict[str, Any]) -> str:
    return lookup(order_of(input))["status"]


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    yield tracer_provider
    tracer_provider.shutdown()


def replay(
    provider: TracerProvider, examples: list[DatasetExample], task: Any, **options: Any
) -> Any:
    return run_replay(
        DATASET, task, examples=examples, judge=False, tracer_provider=provider, **options
    )


def test_every_example_passing_on_enough_runs_passes_the_gate(provider: TracerProvider) -> None:
    examples = [golden(i) for i in range(20)]

    report = replay(provider, examples, good_task, gate=GateSettings(min_pass_rate=0.8))

    gate = report.gate
    assert gate.exit_code == 0
    assert gate.passes == 20
    assert gate.scored == 20
    assert gate.interval[0] == pytest.approx(20 / (20 + 1.959964**2))
    assert all(run.trace_id and run.verdict is not None for run in report.runs)
    assert "GATE PASSED (exit 0)" in report.render()


def test_a_pass_rate_above_the_minimum_whose_interval_straddles_it_fails_the_gate(
    provider: TracerProvider,
) -> None:
    # Corrected regressions rather than golden examples: the case is the rate, not regressions.
    examples = [golden(i, route="regression") for i in range(20)]
    wrong = {"golden-003", "golden-011", "golden-017"}

    def sometimes_wrong(example: DatasetExample) -> str:
        order = order_of(dict(example.input))
        return lookup("A-0000" if example.example_id in wrong else order)["status"]

    report = replay(provider, examples, sometimes_wrong, gate=GateSettings(min_pass_rate=0.8))

    gate = report.gate
    assert gate.pass_rate == pytest.approx(0.85)  # above the 0.8 minimum...
    lower, upper = gate.interval
    assert lower < 0.8 < upper  # ...but the judge-noise interval straddles it
    assert gate.golden_regressions == []
    assert len(gate.with_change("fix")) == 17  # they failed at their origin
    assert gate.exit_code == 1
    (failure,) = gate.failures
    assert "Wilson lower bound" in failure


def test_a_golden_example_that_passed_in_the_baseline_and_fails_now_fails_the_gate_by_name(
    provider: TracerProvider, tmp_path: Path
) -> None:
    examples = [golden(i) for i in range(40)]
    first = replay(provider, examples, good_task)
    write_summary(tmp_path / "last.json", first.gate, first.info)
    broken = examples[7]

    def one_regression(example: DatasetExample) -> str:
        if example.example_id == broken.example_id:
            return lookup("A-9999")["status"]
        return lookup(order_of(dict(example.input)))["status"]

    report = replay(
        provider,
        examples,
        one_regression,
        gate=GateSettings(min_pass_rate=0.8),
        baseline=tmp_path / "last.json",
    )

    gate = report.gate
    assert gate.interval[0] >= 0.8  # 39/40 clears the rate...
    assert [o.example.example_id for o in gate.golden_regressions] == [broken.example_id]
    assert gate.exit_code == 1  # ...but a golden regression fails the gate
    assert gate.baseline_source == f"file {tmp_path / 'last.json'}"
    (failure,) = gate.failures
    assert "Where is order A-1007?" in failure
    rendered = report.render()
    assert "regressed (1):" in rendered
    assert "A-9999" in rendered  # the expected-call check's explanation names the wrong call


def test_golden_examples_passed_at_their_origin_so_a_failure_without_a_baseline_regresses(
    provider: TracerProvider,
) -> None:
    report = replay(provider, [golden(1)], lambda input: lookup("A-0000")["status"])

    (outcome,) = report.gate.outcomes
    assert outcome.baseline_from == "origin"
    assert outcome.change == "regression"
    assert report.gate.exit_code == 1


def test_examples_that_flip_between_repetitions_are_flaky_not_regressions(
    provider: TracerProvider,
) -> None:
    examples = [golden(i) for i in range(12)]
    flaky = examples[4]
    flips = itertools.cycle([True, False])
    lock = threading.Lock()

    def flaky_task(example: DatasetExample) -> str:
        order = order_of(dict(example.input))
        if example.example_id == flaky.example_id:
            with lock:
                wrong = next(flips)
            order = "A-0000" if wrong else order
        return lookup(order)["status"]

    report = replay(
        provider,
        examples,
        flaky_task,
        repetitions=3,
        concurrency=1,
        gate=GateSettings(min_pass_rate=0.8),
    )

    gate = report.gate
    assert [o.example.example_id for o in gate.with_change("flaky")] == [flaky.example_id]
    (outcome,) = gate.with_change("flaky")
    assert outcome.status == "flaky"
    assert (outcome.passes, outcome.scored) == (1, 3)
    assert gate.golden_regressions == []
    assert gate.with_change("regression") == []
    assert gate.scored == 36
    assert gate.passes == 34
    assert gate.exit_code == 0
    assert "flaky (1):" in report.render()


def test_an_unscored_judgment_counts_as_an_error_never_as_a_pass(
    provider: TracerProvider,
) -> None:
    example = golden(1)
    # The judge endpoint answers, but not with a verdict it can parse.
    with ScriptedLLMServer(responder=lambda request: Text("hard to say, really")) as judge_llm:
        evaluator = load_trace_evaluator(
            judge=True,
            judge_options={
                "model": "judge-1",
                "base_url": judge_llm.base_url,
                "api_key": "test",
                "cache_path": None,
                "max_retries": 0,
                "timeout_seconds": 10.0,
                "environ": {},
            },
        )
        report = run_replay(
            DATASET,
            good_task,
            examples=[example, golden(2)],
            evaluator=evaluator,
            tracer_provider=provider,
        )
        assert judge_llm.requests  # answer_correctness was asked for each expected output

    gate = report.gate
    assert gate.errors == 2
    assert gate.passes == 0
    assert gate.scored == 0
    assert gate.exit_code == 2
    (run, _) = report.runs
    assert run.status == "error"
    assert run.error is not None
    assert run.error.startswith("unscored: answer_correctness")
    assert "GATE ERROR (exit 2)" in report.render()


def test_tolerated_errors_are_reported_but_never_counted_as_passes(
    provider: TracerProvider,
) -> None:
    examples = [golden(i) for i in range(20)]

    def crashes_once(example: DatasetExample) -> str:
        if example.example_id == "golden-005":
            raise RuntimeError("the agent crashed")
        return lookup(order_of(dict(example.input)))["status"]

    strict = replay(provider, examples, crashes_once, gate=GateSettings(min_pass_rate=0.5))
    tolerant = replay(
        provider, examples, crashes_once, gate=GateSettings(min_pass_rate=0.5, max_errors=1)
    )

    assert strict.gate.exit_code == 2
    assert tolerant.gate.exit_code == 0
    assert (tolerant.gate.passes, tolerant.gate.scored, tolerant.gate.errors) == (19, 19, 1)
    (errored,) = [r for r in tolerant.runs if r.status == "error"]
    assert errored.error == "the task raised RuntimeError: the agent crashed"
    assert errored.trace_id is not None  # the crash is in its trace, too


def test_a_task_past_its_timeout_is_an_error_and_the_replay_moves_on(
    provider: TracerProvider,
) -> None:
    async def hangs(input: dict[str, Any]) -> str:
        await asyncio.sleep(30)
        return "late"

    report = replay(provider, [golden(1)], hangs, timeout_seconds=0.2)

    (run,) = report.runs
    assert run.status == "error"
    assert run.error == "the task did not return within 0.2 s"
    assert report.gate.exit_code == 2


def test_a_provider_that_samples_the_run_out_is_an_error_naming_the_fix() -> None:
    unsampled = TracerProvider(sampler=ALWAYS_OFF)
    try:
        report = replay(unsampled, [golden(1)], good_task)
    finally:
        unsampled.shutdown()

    (run,) = report.runs
    assert run.status == "error"
    assert run.error is not None
    assert "sampler dropped the run's root span" in run.error
    assert run.output is None  # the task was not run for nothing


def test_the_gate_can_correct_for_the_judges_measured_error(provider: TracerProvider) -> None:
    # 20 of 20 pass: Wilson lower bound 20 / (20 + z²) = 0.839. A judge that passes 5 % of what
    # people fail (specificity 0.95) and everything they pass (sensitivity 1.0) inflates that:
    # Rogan-Gladen (0.839 + 0.95 - 1) / (1.0 + 0.95 - 1) = 0.831, still above 0.8 ...
    examples = [golden(i, route="regression") for i in range(20)]
    report = replay(
        provider,
        examples,
        good_task,
        gate=GateSettings(min_pass_rate=0.8, judge_error=(1.0, 0.95)),
    )
    assert report.gate.exit_code == 0
    assert any("corrected for the judge's measured error" in note for note in report.gate.notes)
    # ... while a judge that passes 30 % of real failures cannot vouch for 0.8: (0.839 - 0.3) / 0.7
    strict = replay(
        provider,
        examples,
        good_task,
        gate=GateSettings(min_pass_rate=0.8, judge_error=(1.0, 0.7)),
    )
    assert strict.gate.exit_code == 1
    (failure,) = strict.gate.failures
    assert "corrected for the judge's error, 77.0%" in failure


def test_a_judge_no_better_than_chance_cannot_gate() -> None:
    with pytest.raises(ConfigError, match="no better than chance"):
        GateSettings(judge_error=(0.5, 0.5))
