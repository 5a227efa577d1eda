"""``submit_acknowledged``: what ``otel-flywheel serve`` waits for before it releases a trace. A trace
is settled durable only once every sink took its verdict; refused (not dropped) when the queue is
full; settled not durable when a sink fails or the pipeline stops while the judge is down; and
recorded unscored, with the reason, when evaluating it fails in our own code."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_pipeline import judge_reply, make_evaluator

from otel_flywheel.evaluation import TraceEvaluator
from otel_flywheel.model import AgentTrace, Verdict
from otel_flywheel.pipeline import (
    PIPELINE_EVALUATOR,
    AcknowledgingPipeline,
    EvaluationPipeline,
    TraceSettlement,
)
from otel_flywheel.testing.llm_server import Error, ScriptedLLMServer, Slow


class Settlements:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards received
        self._arrived = threading.Condition(self._lock)
        self.received: list[TraceSettlement] = []

    def __call__(self, settlement: TraceSettlement) -> None:
        with self._arrived:
            self.received.append(settlement)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout_seconds: float = 30.0) -> list[TraceSettlement]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.received) >= count, timeout_seconds)
            return list(self.received)


class RecordingSink:
    """A VerdictSink that records, and fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []
        self.failing = False
        self.sink_taken = threading.Event()

    def submit_verdict(self, trace: AgentTrace, verdict: Verdict) -> None:
        if self.failing:
            raise OSError("disk full")
        self.verdicts.append(verdict)
        self.sink_taken.set()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        return None


class BrokenChecks:
    """Our own evaluator code failing on a trace (a bug), wrapped around the real evaluator."""

    def __init__(self, inner: TraceEvaluator) -> None:
        self._inner = inner
        self.judge_model = inner.judge_model

    def check(self, trace: AgentTrace, references: Any = None) -> Any:
        raise KeyError("tool.parameters")

    async def judge(self, *args: Any, **kwargs: Any) -> Any:
        return await self._inner.judge(*args, **kwargs)

    def roll_up(self, trace: AgentTrace, evaluations: Any) -> Verdict:
        return self._inner.roll_up(trace, evaluations)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def pipelines() -> Iterator[list[EvaluationPipeline]]:
    made: list[EvaluationPipeline] = []
    yield made
    for pipeline in made:
        pipeline.shutdown(timeout_millis=10_000)


def test_the_flywheel_pipeline_is_an_acknowledging_pipeline() -> None:
    pipeline = EvaluationPipeline(make_evaluator(None))
    assert isinstance(pipeline, AcknowledgingPipeline)
    pipeline.shutdown()


def test_a_trace_is_settled_durable_only_after_every_sink_took_its_verdict(
    pipelines: list[EvaluationPipeline], sink: RecordingSink, demo_traces: dict[str, AgentTrace]
) -> None:
    with ScriptedLLMServer(responder=lambda request: Slow(0.5, then=judge_reply())) as llm:
        pipeline = EvaluationPipeline(make_evaluator(llm), sinks=[sink])
        pipelines.append(pipeline)
        settled = Settlements()
        trace = next(iter(demo_traces.values()))

        assert pipeline.submit_acknowledged(trace, settled)
        assert settled.received == []  # the judge is still thinking: nothing is durable yet
        [settlement] = settled.wait_for(1)

    assert settlement == TraceSettlement(trace_id=trace.trace_id, durable=True)
    assert [verdict.trace_id for verdict in sink.verdicts] == [trace.trace_id]


def test_a_full_queue_refuses_instead_of_dropping(
    pipelines: list[EvaluationPipeline], sink: RecordingSink, demo_traces: dict[str, AgentTrace]
) -> None:
    with ScriptedLLMServer(responder=lambda request: Slow(1.0, then=judge_reply())) as llm:
        pipeline = EvaluationPipeline(make_evaluator(llm), sinks=[sink], max_queue_size=2)
        pipelines.append(pipeline)
        settled = Settlements()
        traces = list(demo_traces.values())[:3]

        taken = [pipeline.submit_acknowledged(trace, settled) for trace in traces]

        assert taken == [True, True, False]
        stats = pipeline.stats()
        assert (stats.refused, stats.dropped) == (1, {})
        settled.wait_for(2)
        assert pipeline.submit_acknowledged(traces[2], settled)  # room again: taken now
        settled.wait_for(3)
    assert all(settlement.durable for settlement in settled.received)


def test_a_sink_that_fails_settles_the_trace_not_durable_naming_it(
    pipelines: list[EvaluationPipeline], sink: RecordingSink, demo_traces: dict[str, AgentTrace]
) -> None:
    sink.failing = True
    pipeline = EvaluationPipeline(make_evaluator(None), sinks=[sink])
    pipelines.append(pipeline)
    settled = Settlements()
    trace = next(iter(demo_traces.values()))

    assert pipeline.submit_acknowledged(trace, settled)

    [settlement] = settled.wait_for(1)
    assert not settlement.durable
    assert settlement.reason == "verdict sink RecordingSink failed"


def test_while_the_judge_is_down_nothing_is_settled_and_shutdown_hands_the_trace_back(
    sink: RecordingSink, demo_traces: dict[str, AgentTrace]
) -> None:
    with ScriptedLLMServer(responder=lambda request: Error(503, "down")) as llm:
        pipeline = EvaluationPipeline(
            make_evaluator(llm), sinks=[sink], judge_retry_delays_seconds=(600.0,)
        )
        settled = Settlements()
        trace = next(iter(demo_traces.values()))
        assert pipeline.submit_acknowledged(trace, settled)
        deadline = time.monotonic() + 30
        while pipeline.stats().judge_retries == 0:  # then it waits 10 minutes for the judge
            assert time.monotonic() < deadline, "the judge was never retried"
            time.sleep(0.01)
        llm_calls = len(llm.requests)

        pipeline.shutdown(timeout_millis=10_000)

    [settlement] = settled.received
    assert not settlement.durable
    assert "shut down while the trace waited for the judge" in settlement.reason
    assert sink.verdicts == []  # no unscored verdict went out: the caller judges it again
    assert llm_calls >= 1


def test_an_evaluation_that_fails_in_our_code_is_recorded_unscored_with_the_reason(
    sink: RecordingSink, demo_traces: dict[str, AgentTrace]
) -> None:
    pipeline = EvaluationPipeline(BrokenChecks(make_evaluator(None)), sinks=[sink])  # type: ignore[arg-type]
    settled = Settlements()
    trace = next(iter(demo_traces.values()))

    assert pipeline.submit_acknowledged(trace, settled)
    [settlement] = settled.wait_for(1)
    with pytest.raises(KeyError):  # under pytest our own errors are re-raised, loudly
        pipeline.shutdown()

    assert settlement.durable
    [verdict] = sink.verdicts
    assert verdict.passed is None  # unscored: never a pass
    [recorded] = verdict.evaluations
    assert recorded.evaluator == PIPELINE_EVALUATOR
    assert recorded.passed is None
    assert "KeyError" in recorded.explanation
    assert "tool.parameters" not in recorded.explanation  # the type only, never content


def test_submit_without_an_acknowledgement_keeps_its_drop_semantics(
    pipelines: list[EvaluationPipeline], sink: RecordingSink, demo_traces: dict[str, AgentTrace]
) -> None:
    with ScriptedLLMServer(responder=lambda request: Slow(1.0, then=judge_reply())) as llm:
        pipeline = EvaluationPipeline(make_evaluator(llm), sinks=[sink], max_queue_size=1)
        pipelines.append(pipeline)
        for trace in list(demo_traces.values())[:3]:
            pipeline.submit(trace)  # the in-process processor's hand-over: never blocks

        stats = pipeline.stats()
        assert (stats.received, stats.dropped, stats.refused) == (3, {"queue_full": 2}, 0)
