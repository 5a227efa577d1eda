"""EvaluationPipeline with the real evaluators, the real judge client and the scripted judge server:
sampling policy, feedback, judge outages, bounds, lifecycle, and no tracing of its own requests."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_flywheel.capture import FlywheelSpanProcessor
from otel_flywheel.evaluation import TraceEvaluator, load_trace_evaluator
from otel_flywheel.model import AgentTrace, Feedback
from otel_flywheel.pipeline import EvaluationPipeline, JudgeSamplingPolicy, VerdictFile
from otel_flywheel.testing.llm_server import Error, ScriptedLLMServer, Slow, StructuredJSON

JUDGE_MODEL = "judge-model"


def judge_reply(label: str = "correct") -> StructuredJSON:
    failing = label == "incorrect"
    return StructuredJSON(
        {
            "explanation": f"The agent's tool choice was {label}.",
            "label": label,
            "category": "tool_selection" if failing else None,
            "subcategory": "missing_tool_call" if failing else None,
            "culprit_step": 2 if failing else None,
            "confidence": 0.9,
        }
    )


def make_evaluator(llm: ScriptedLLMServer | None) -> TraceEvaluator:
    if llm is None:
        return load_trace_evaluator(judge=False)
    return load_trace_evaluator(
        judge=True,
        rubric_ids=["tool_selection"],
        judge_options={
            "model": JUDGE_MODEL,
            "base_url": llm.base_url,
            "api_key": "test",
            "cache_path": None,
            "max_retries": 1,
            "backoff_base_seconds": 0.01,
            "backoff_max_seconds": 0.02,
            "timeout_seconds": 10.0,
            "environ": {},
        },
    )


def read_verdicts(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def verdict_file(tmp_path: Path) -> Iterator[VerdictFile]:
    sink = VerdictFile(tmp_path / "verdicts.jsonl")
    yield sink
    sink.shutdown()


@pytest.fixture
def pipeline_factory(
    verdict_file: VerdictFile,
) -> Iterator[Callable[..., EvaluationPipeline]]:
    made: list[EvaluationPipeline] = []

    def make(llm: ScriptedLLMServer | None = None, **options: Any) -> EvaluationPipeline:
        pipeline = EvaluationPipeline(make_evaluator(llm), sinks=[verdict_file], **options)
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        pipeline.shutdown(timeout_millis=10_000)


def failing_and_passing(
    demo_traces: dict[str, AgentTrace],
) -> tuple[list[AgentTrace], list[AgentTrace]]:
    checks = load_trace_evaluator(judge=False)
    failing, passing = [], []
    for trace in demo_traces.values():
        evaluations = checks.check(trace)
        (failing if any(e.passed is False for e in evaluations) else passing).append(trace)
    assert failing
    assert passing
    return failing, passing


# --- verdicts --------------------------------------------------------------------------------


def test_every_submitted_trace_gets_one_verdict_in_the_sinks(
    pipeline_factory: Callable[..., EvaluationPipeline],
    verdict_file: VerdictFile,
    demo_traces: dict[str, AgentTrace],
) -> None:
    pipeline = pipeline_factory()
    for trace in demo_traces.values():
        pipeline.submit(trace)
    assert pipeline.force_flush(timeout_millis=20_000)

    verdicts = read_verdicts(verdict_file.path)
    assert sorted(v["trace_id"] for v in verdicts) == sorted(
        t.trace_id for t in demo_traces.values()
    )
    stats = pipeline.stats()
    assert stats.received == stats.evaluated == len(demo_traces)
    assert stats.pending == 0
    assert stats.dropped == {}
    assert stats.judge_decisions == {"no_judge": len(demo_traces)}
    failed = [v for v in verdicts if v["passed"] is False]
    assert stats.failed == len(failed) > 0
    assert all(v["category"] and v["culprit_span_id"] for v in failed)


def test_failed_checks_are_always_judged_and_passing_traces_by_share(
    pipeline_factory: Callable[..., EvaluationPipeline],
    llm_server: ScriptedLLMServer,
    verdict_file: VerdictFile,
    demo_traces: dict[str, AgentTrace],
) -> None:
    llm_server.responder = lambda _body: judge_reply("correct")
    failing, passing = failing_and_passing(demo_traces)
    pipeline = pipeline_factory(llm_server, judge_sample_ratio=0.0)
    for trace in [*failing, *passing]:
        pipeline.submit(trace)
    assert pipeline.force_flush(timeout_millis=20_000)

    stats = pipeline.stats()
    assert stats.judge_decisions == {"check_failed": len(failing), "not_sampled": len(passing)}
    assert stats.judged == len(failing)
    assert len(llm_server.requests) == len(failing)  # one rubric, one sample each
    judged_ids = {
        v["trace_id"]
        for v in read_verdicts(verdict_file.path)
        if any(e["rubric_id"] == "tool_selection" for e in v["evaluations"])
    }
    assert judged_ids == {t.trace_id for t in failing}


def test_judge_share_is_decided_per_trace_id_and_stable() -> None:
    policy = JudgeSamplingPolicy(0.5)
    traces = [AgentTrace(trace_id=f"{index:032x}") for index in range(2000)]
    first = [policy.decide(t, []).judge for t in traces]
    assert first == [policy.decide(t, []).judge for t in traces]
    assert 0.45 < sum(first) / len(first) < 0.55
    assert JudgeSamplingPolicy(0.0).decide(traces[0], []).reason == "not_sampled"
    assert JudgeSamplingPolicy(1.0).decide(traces[0], []).reason == "sampled"


def test_negative_feedback_sends_a_trace_evaluated_without_the_judge_to_the_judge(
    pipeline_factory: Callable[..., EvaluationPipeline],
    llm_server: ScriptedLLMServer,
    verdict_file: VerdictFile,
    demo_traces: dict[str, AgentTrace],
) -> None:
    llm_server.responder = lambda _body: judge_reply("incorrect")
    _, passing = failing_and_passing(demo_traces)
    trace = passing[0]
    pipeline = pipeline_factory(llm_server, judge_sample_ratio=0.0)
    pipeline.submit(trace)
    assert pipeline.force_flush(timeout_millis=20_000)
    assert llm_server.requests == []

    # Feedback names a span of the trace, as a UI that only knows the answer's span would.
    pipeline.notify_feedback(Feedback(span_id=trace.steps[-1].span_id, thumbs="down"))
    pipeline.notify_feedback(Feedback(trace_id=trace.trace_id, correction="the right answer"))
    assert pipeline.force_flush(timeout_millis=20_000)

    first, second = read_verdicts(verdict_file.path)
    assert first["passed"] is True
    assert second["trace_id"] == trace.trace_id
    assert second["passed"] is False
    assert second["category"] == "tool_selection"
    assert len(llm_server.requests) == 1  # judged once, however much feedback came in
    assert pipeline.stats().judge_decisions["negative_feedback"] == 1


def test_negative_feedback_before_the_trace_arrives_gets_it_judged(
    pipeline_factory: Callable[..., EvaluationPipeline],
    llm_server: ScriptedLLMServer,
    demo_traces: dict[str, AgentTrace],
) -> None:
    llm_server.responder = lambda _body: judge_reply("correct")
    _, passing = failing_and_passing(demo_traces)
    pipeline = pipeline_factory(llm_server, judge_sample_ratio=0.0)
    pipeline.notify_feedback(Feedback(trace_id=passing[0].trace_id, thumbs="down"))
    pipeline.submit(passing[0])
    pipeline.notify_feedback(Feedback(trace_id=passing[1].trace_id, thumbs="up"))  # not negative
    pipeline.submit(passing[1])
    assert pipeline.force_flush(timeout_millis=20_000)
    assert pipeline.stats().judge_decisions == {"negative_feedback": 1, "not_sampled": 1}


# --- judge faults --------------------------------------------------------------------------------


def test_judge_outage_delays_the_verdict_and_the_trace_is_judged_again(
    pipeline_factory: Callable[..., EvaluationPipeline],
    llm_server: ScriptedLLMServer,
    verdict_file: VerdictFile,
    demo_traces: dict[str, AgentTrace],
) -> None:
    failing, _ = failing_and_passing(demo_traces)
    # max_retries=1: two 500s exhaust the judge client's own retries for the first attempt.
    llm_server.enqueue(Error(500), Error(500))
    llm_server.responder = lambda _body: judge_reply("correct")
    pipeline = pipeline_factory(llm_server, judge_retry_delays_seconds=[0.2])
    pipeline.submit(failing[0])
    assert pipeline.force_flush(timeout_millis=20_000)

    (verdict,) = read_verdicts(verdict_file.path)
    judged = [e for e in verdict["evaluations"] if e["rubric_id"] == "tool_selection"]
    assert [e["passed"] for e in judged] == [True]  # the retry's scored judgment, no unscored one
    assert pipeline.stats().judge_retries == 1
    assert len(llm_server.requests) == 3


def test_shutdown_during_a_judge_outage_emits_unscored_never_a_pass(
    pipeline_factory: Callable[..., EvaluationPipeline],
    llm_server: ScriptedLLMServer,
    verdict_file: VerdictFile,
    demo_traces: dict[str, AgentTrace],
) -> None:
    _, passing = failing_and_passing(demo_traces)
    llm_server.responder = lambda _body: Error(503)
    pipeline = pipeline_factory(llm_server, judge_retry_delays_seconds=[3600])
    pipeline.submit(passing[0])
    assert pipeline.force_flush(timeout_millis=500) is False  # waiting an hour to retry
    assert pipeline.stats().pending == 1

    pipeline.shutdown(timeout_millis=10_000)
    (verdict,) = read_verdicts(verdict_file.path)
    assert verdict["passed"] is None  # unscored: neither pass nor fail
    (judged,) = [e for e in verdict["evaluations"] if e["rubric_id"] == "tool_selection"]
    assert judged["passed"] is None
    assert "503" in judged["explanation"]


# --- bounds and lifecycle ---------------------------------------------------------------------


def test_queue_full_drops_and_counts_without_blocking(
    pipeline_factory: Callable[..., EvaluationPipeline],
    llm_server: ScriptedLLMServer,
    demo_traces: dict[str, AgentTrace],
) -> None:
    llm_server.responder = lambda _body: Slow(0.5, then=judge_reply("correct"))
    traces = list(demo_traces.values())
    pipeline = pipeline_factory(llm_server, max_queue_size=2, concurrency=1)
    for trace in traces:
        pipeline.submit(trace)
    stats = pipeline.stats()
    assert stats.dropped == {"queue_full": len(traces) - 2}
    assert pipeline.force_flush(timeout_millis=20_000)
    assert pipeline.stats().evaluated == 2


def test_shutdown_is_idempotent_and_later_traces_are_counted_as_dropped(
    pipeline_factory: Callable[..., EvaluationPipeline], demo_traces: dict[str, AgentTrace]
) -> None:
    pipeline = pipeline_factory()
    trace = next(iter(demo_traces.values()))
    pipeline.submit(trace)
    pipeline.shutdown()
    pipeline.shutdown()
    pipeline.submit(trace)
    stats = pipeline.stats()
    assert stats.evaluated == 1
    assert stats.dropped == {"shutdown": 1}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:.*use of fork\\(\\) may lead to deadlocks:DeprecationWarning")
def test_forked_child_evaluates_with_its_own_worker(
    pipeline_factory: Callable[..., EvaluationPipeline],
    verdict_file: VerdictFile,
    demo_traces: dict[str, AgentTrace],
) -> None:
    traces = list(demo_traces.values())
    pipeline = pipeline_factory()
    pipeline.submit(traces[0])
    assert pipeline.force_flush()  # the worker is idle when we fork

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reports through the pipe
        code = 1
        try:
            os.close(read_end)
            pipeline.submit(traces[1])
            report = {"flushed": pipeline.force_flush(timeout_millis=10_000)}
            report["evaluated"] = pipeline.stats().evaluated
            os.write(write_end, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        report = json.loads(pipe.read() or "{}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report == {"flushed": True, "evaluated": 1}  # the child's own counters, its own worker
    assert pipeline.stats().evaluated == 1


# --- in the span processor ---------------------------------------------------------------------


def test_processor_to_verdicts_and_the_judge_is_not_traced(
    llm_server: ScriptedLLMServer,
    verdict_file: VerdictFile,
    demo_spans: list[ReadableSpan],
    demo_traces: dict[str, AgentTrace],
) -> None:
    """Spans end, the processor assembles and redacts, the pipeline checks and judges. With the
    OpenAI instrumentor active on the same provider, the judge's own requests make no spans."""
    llm_server.responder = lambda _body: judge_reply("correct")
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    pipeline = EvaluationPipeline(
        make_evaluator(llm_server), sinks=[verdict_file], judge_sample_ratio=1.0
    )
    processor = FlywheelSpanProcessor(
        pipeline=pipeline, trace_grace_millis=0, trace_idle_timeout_millis=60_000
    )
    provider.add_span_processor(processor)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        for span in demo_spans:
            processor.on_end(span)
        assert processor.force_flush(timeout_millis=20_000)
        assert pipeline.force_flush(timeout_millis=30_000)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
        pipeline.shutdown()

    verdicts = read_verdicts(verdict_file.path)
    assert len(verdicts) == len(demo_traces)
    assert len(llm_server.requests) == len(demo_traces)
    assert exporter.get_finished_spans() == ()  # no span from the judge's own openai calls
    # What the judge saw was redacted at capture.
    prompts = json.dumps(llm_server.requests)
    assert "@example.com" not in prompts
