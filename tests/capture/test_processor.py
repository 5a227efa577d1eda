"""FlywheelSpanProcessor on a real TracerProvider with real spans: delivery, lifecycle, fork."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision, StaticSampler
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otel_flywheel import _env
from otel_flywheel.capture import FlywheelSpanProcessor, InMemoryPipeline, LoggingPipeline
from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Text

LONG_MILLIS = 60_000  # a grace or idle timeout that never passes during a test


class Capture:
    """A TracerProvider with one FlywheelSpanProcessor and an in-memory exporter beside it."""

    def __init__(self, pipeline: Any = None, sampler: Any = None, **options: Any) -> None:
        self.pipeline = InMemoryPipeline() if pipeline is None else pipeline
        options.setdefault("schedule_delay_millis", 10)
        self.processor = FlywheelSpanProcessor(pipeline=self.pipeline, **options)
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(sampler=sampler, shutdown_on_exit=False)
        self.provider.add_span_processor(self.processor)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("test")

    def run_trace(self, name: str = "agent", children: int = 2) -> str:
        """One root span with ``children`` child spans; returns the trace id as hex."""
        with self.tracer.start_as_current_span(name) as root:
            for index in range(children):
                with self.tracer.start_as_current_span(f"{name}-step-{index}"):
                    pass
        return f"{root.get_span_context().trace_id:032x}"

    def child_without_root(self) -> str:
        """A span whose parent (the root) has not ended yet; returns the trace id."""
        root = self.tracer.start_span("still-running")
        with self.tracer.start_as_current_span("child", context=trace.set_span_in_context(root)):
            pass
        return f"{root.get_span_context().trace_id:032x}"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No config file, no FLYWHEEL_* variables from the machine running the tests."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("FLYWHEEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def capture() -> Iterator[Callable[..., Capture]]:
    made: list[Capture] = []

    def make(**options: Any) -> Capture:
        made.append(Capture(**options))
        return made[-1]

    yield make
    for each in made:
        each.provider.shutdown()


class BlockingPipeline(InMemoryPipeline):
    """Blocks in submit until ``release`` is set; ``entered`` is set once it is blocked."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def submit(self, trace: AgentTrace) -> None:
        self.entered.set()
        self.release.wait(10)
        super().submit(trace)


class SlowFlushPipeline(InMemoryPipeline):
    """Needs ``flush_millis`` to flush; gives up when the timeout it is passed is shorter."""

    def __init__(self, flush_millis: int) -> None:
        super().__init__()
        self.flush_millis = flush_millis
        self.flush_timeouts: list[int] = []

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.flush_timeouts.append(timeout_millis)
        time.sleep(min(timeout_millis, self.flush_millis) / 1000)
        return timeout_millis >= self.flush_millis


class CountingPipeline(InMemoryPipeline):
    def __init__(self) -> None:
        super().__init__()
        self.shutdowns = 0

    def shutdown(self) -> None:
        self.shutdowns += 1


class FailingOncePipeline(InMemoryPipeline):
    """Raises in submit for the first trace, accepts the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def submit(self, trace: AgentTrace) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("sink unavailable")
        super().submit(trace)


# --- delivery ----------------------------------------------------------------------------------


def test_spans_of_one_trace_arrive_as_one_agent_trace(capture: Callable[..., Capture]) -> None:
    cap = capture(trace_grace_millis=20)

    trace_id = cap.run_trace(children=2)
    (agent_trace,) = cap.pipeline.wait_for(1)

    assert agent_trace.trace_id == trace_id
    assert [s.name for s in agent_trace.steps] == ["agent", "agent-step-0", "agent-step-1"]
    assert agent_trace.complete
    assert not agent_trace.truncated
    assert cap.processor.traces_emitted == 1
    assert cap.processor.dropped == {}


def test_spans_of_concurrent_traces_are_kept_apart(capture: Callable[..., Capture]) -> None:
    cap = capture(trace_grace_millis=0)
    threads = [
        threading.Thread(target=cap.run_trace, kwargs={"name": f"agent-{n}"}) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    traces = cap.pipeline.wait_for(8)

    assert sorted(t.steps[0].name for t in traces) == [f"agent-{n}" for n in range(8)]
    assert all(len(t.steps) == 3 for t in traces)


def test_unsampled_spans_are_ignored(capture: Callable[..., Capture]) -> None:
    cap = capture(sampler=StaticSampler(Decision.RECORD_ONLY))

    cap.run_trace()

    assert cap.processor.force_flush()
    assert cap.pipeline.traces == []
    assert cap.processor.dropped == {}


def test_span_with_a_remote_parent_is_the_root_of_this_process_part(
    capture: Callable[..., Capture],
) -> None:
    cap = capture(trace_grace_millis=0, trace_idle_timeout_millis=LONG_MILLIS)
    incoming = SpanContext(
        trace_id=0x1234, span_id=0x99, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )

    with cap.tracer.start_as_current_span(
        "handle-request", context=trace.set_span_in_context(NonRecordingSpan(incoming))
    ):
        pass
    (agent_trace,) = cap.pipeline.wait_for(1)  # no idle timeout: the root ended

    assert agent_trace.trace_id == f"{0x1234:032x}"
    assert agent_trace.complete


# --- force_flush -------------------------------------------------------------------------------


def test_force_flush_returns_true_and_delivers_open_traces(capture: Callable[..., Capture]) -> None:
    cap = capture(trace_grace_millis=LONG_MILLIS, trace_idle_timeout_millis=LONG_MILLIS)
    in_grace = cap.run_trace("in-grace", children=1)
    rootless = cap.child_without_root()

    assert cap.processor.force_flush()

    by_id = {t.trace_id: t for t in cap.pipeline.traces}
    assert set(by_id) == {in_grace, rootless}
    assert by_id[in_grace].complete
    assert not by_id[rootless].complete
    assert cap.processor.traces_emitted == 2


def test_force_flush_passes_the_remaining_time_down_and_fails_past_its_deadline(
    capture: Callable[..., Capture],
) -> None:
    pipeline = SlowFlushPipeline(flush_millis=5_000)
    cap = capture(pipeline=pipeline)
    cap.run_trace()

    started = time.monotonic()
    flushed = cap.processor.force_flush(timeout_millis=200)
    elapsed = time.monotonic() - started

    assert not flushed
    assert elapsed < 1.0
    (passed_down,) = pipeline.flush_timeouts
    assert 0 < passed_down <= 200
    assert len(pipeline.traces) == 1  # the trace itself was handed over before the pipeline flush


def test_force_flush_returns_false_at_its_deadline_while_the_worker_is_busy(
    capture: Callable[..., Capture],
) -> None:
    pipeline = BlockingPipeline()
    cap = capture(pipeline=pipeline, trace_grace_millis=0)
    cap.run_trace()
    assert pipeline.entered.wait(5)

    started = time.monotonic()
    flushed = cap.processor.force_flush(timeout_millis=50)

    assert not flushed
    assert time.monotonic() - started < 1.0
    pipeline.release.set()
    assert cap.processor.force_flush()


# --- shutdown ----------------------------------------------------------------------------------


def test_shutdown_flushes_open_traces_and_shuts_the_pipeline_down_once(
    capture: Callable[..., Capture],
) -> None:
    def capture_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "otel-flywheel-capture"}

    before = capture_threads()  # another test's processor may still be alive: not ours to judge
    pipeline = CountingPipeline()
    cap = capture(pipeline=pipeline, trace_idle_timeout_millis=LONG_MILLIS)
    trace_id = cap.child_without_root()
    assert capture_threads() - before  # this processor's worker runs

    cap.processor.shutdown()
    cap.processor.shutdown()  # a no-op, without error

    (agent_trace,) = pipeline.traces
    assert agent_trace.trace_id == trace_id
    assert not agent_trace.complete
    assert pipeline.shutdowns == 1
    assert capture_threads() - before == set()


def test_on_end_after_shutdown_drops_and_counts_shutdown(capture: Callable[..., Capture]) -> None:
    cap = capture()
    cap.processor.shutdown()

    cap.run_trace(children=1)

    assert cap.processor.dropped == {"shutdown": 2}
    assert cap.processor.force_flush() is False
    assert cap.pipeline.traces == []


# --- bounded queue -----------------------------------------------------------------------------


def test_queue_full_drops_and_counts(
    capture: Callable[..., Capture], caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = BlockingPipeline()
    cap = capture(pipeline=pipeline, max_queue_size=2, trace_grace_millis=0)
    cap.run_trace("first", children=0)
    assert pipeline.entered.wait(5)  # the worker is stuck in submit; nothing drains the queue

    cap.run_trace("second", children=2)  # three spans, room for two

    assert cap.processor.dropped == {"queue_full": 1}
    pipeline.release.set()
    assert cap.processor.force_flush()
    second = next(t for t in pipeline.traces if t.trace_id != pipeline.traces[0].trace_id)
    assert [s.name for s in second.steps] == ["second-step-0", "second-step-1"]
    assert not second.complete  # its root was the span dropped
    # The loss is also said once, with the fix, not only counted.
    [warning] = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert "queue_full=1" in warning.getMessage()
    assert "FLYWHEEL_SAMPLE_RATIO" in warning.getMessage()


# --- configuration -----------------------------------------------------------------------------


def test_constructible_with_no_arguments() -> None:
    processor = FlywheelSpanProcessor()
    try:
        assert isinstance(processor.pipeline, LoggingPipeline)
        assert processor.settings.max_queue_size == 8192
    finally:
        processor.shutdown()


def test_environment_sets_unspecified_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_env.FLYWHEEL_MAX_QUEUE_SIZE, "3")
    processor = FlywheelSpanProcessor()
    try:
        assert processor.settings.max_queue_size == 3
    finally:
        processor.shutdown()


def test_bad_environment_value_warns_and_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(_env.FLYWHEEL_MAX_QUEUE_SIZE, "lots")
    with caplog.at_level(logging.WARNING):
        processor = FlywheelSpanProcessor()
    try:
        assert processor.settings.max_queue_size == 8192
        assert _env.FLYWHEEL_MAX_QUEUE_SIZE in caplog.text
    finally:
        processor.shutdown()


def test_explicit_bad_value_raises_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="max_queue_size"):
        FlywheelSpanProcessor(max_queue_size=0)


# --- errors ------------------------------------------------------------------------------------


def test_pipeline_error_is_logged_and_the_worker_keeps_going(
    capture: Callable[..., Capture], caplog: pytest.LogCaptureFixture
) -> None:
    cap = capture(pipeline=FailingOncePipeline(), trace_grace_millis=0)

    with caplog.at_level(logging.ERROR, logger="otel_flywheel"):
        cap.run_trace("rejected", children=1)
        assert cap.processor.force_flush()
        cap.run_trace("accepted", children=1)
        (accepted,) = cap.pipeline.wait_for(1)

    assert accepted.steps[0].name == "accepted"
    assert "sink unavailable" in caplog.text
    assert cap.processor.dropped == {"pipeline_error": 2}
    assert cap.processor.traces_emitted == 1


def test_internal_worker_error_is_reraised_under_pytest_and_spares_the_worker(
    capture: Callable[..., Capture], caplog: pytest.LogCaptureFixture
) -> None:
    failures = iter([True])

    def flaky_clock() -> int:
        if next(failures, False):
            raise ArithmeticError("clock broke")
        return time.monotonic_ns()

    cap = capture(clock=flaky_clock)

    with caplog.at_level(logging.ERROR, logger="otel_flywheel"):
        cap.run_trace("first")
        with pytest.raises(ArithmeticError, match="clock broke"):
            cap.processor.force_flush()
    assert "internal error in otel-flywheel" in caplog.text

    cap.run_trace("second")
    assert cap.processor.force_flush()
    assert {t.steps[0].name for t in cap.pipeline.traces} == {"first", "second"}


# --- instrumentation suppressed on the worker --------------------------------------------------


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


class ChatCallingPipeline(InMemoryPipeline):
    """Calls an LLM for every trace, as a judging pipeline does, through an instrumented client."""

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.client = client

    def submit(self, trace: AgentTrace) -> None:
        self.client.chat.completions.create(
            model="test-model", messages=[{"role": "user", "content": "judge this"}]
        )
        super().submit(trace)


def test_pipeline_calls_are_not_traced(
    capture: Callable[..., Capture], llm: ScriptedLLMServer
) -> None:
    llm.enqueue(Text("hello"), Text("verdict: fine"))
    client = openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=0)
    instrumentor = OpenAIInstrumentor()
    cap = capture(pipeline=ChatCallingPipeline(client), trace_grace_millis=0)
    instrumentor.instrument(tracer_provider=cap.provider)
    try:
        with cap.tracer.start_as_current_span("agent"):
            client.chat.completions.create(
                model="test-model", messages=[{"role": "user", "content": "hi"}]
            )
        (agent_trace,) = cap.pipeline.wait_for(1)
        assert cap.processor.force_flush()
    finally:
        instrumentor.uninstrument()
        client.close()

    assert len(llm.requests) == 2  # the agent's call and the pipeline's
    # The agent's call is traced (the instrumentor works); the pipeline's call is not.
    assert [s.name for s in agent_trace.steps] == ["agent", "ChatCompletion"]
    assert sorted(s.name for s in cap.exporter.get_finished_spans()) == ["ChatCompletion", "agent"]


# --- fork --------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:.*use of fork\\(\\) may lead to deadlocks:DeprecationWarning")
def test_forked_child_captures_traces_with_its_own_worker(capture: Callable[..., Capture]) -> None:
    cap = capture(trace_grace_millis=0, trace_idle_timeout_millis=LONG_MILLIS)
    parent_trace = cap.run_trace("in-parent")
    assert cap.processor.force_flush()  # the worker is idle when we fork
    cap.child_without_root()  # open in the parent; the child must not deliver it

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reports through the pipe
        code = 1
        try:
            os.close(read_end)
            cap.pipeline.clear()
            child_trace = cap.run_trace("in-child")
            flushed = cap.processor.force_flush(timeout_millis=5_000)
            report = {
                "flushed": flushed,
                "expected": child_trace,
                "traces": [t.trace_id for t in cap.pipeline.traces],
            }
            os.write(write_end, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)

    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert report["flushed"]
    assert report["traces"] == [report["expected"]]
    assert [t.trace_id for t in cap.pipeline.traces] == [parent_trace]


class LowBitsIdGenerator(RandomIdGenerator):
    """Trace ids whose low 64 bits alternate between the bottom and the top of the range."""

    def __init__(self) -> None:
        self._count = 0

    def generate_trace_id(self) -> int:
        self._count += 1
        low = 0 if self._count % 2 else (1 << 64) - 1
        return (self._count << 64) | low


def test_sample_ratio_keeps_or_skips_whole_traces_by_trace_id() -> None:
    pipeline = InMemoryPipeline()
    processor = FlywheelSpanProcessor(pipeline=pipeline, sample_ratio=0.5, schedule_delay_millis=10)
    provider = TracerProvider(id_generator=LowBitsIdGenerator(), shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    kept, skipped = [], []
    for index in range(6):
        with tracer.start_as_current_span("agent") as root, tracer.start_as_current_span("tool"):
            pass
        (kept if index % 2 == 0 else skipped).append(f"{root.get_span_context().trace_id:032x}")

    assert processor.force_flush(5_000)
    traces = pipeline.traces
    assert sorted(t.trace_id for t in traces) == sorted(kept)
    assert all(len(t.steps) == 2 and t.complete for t in traces)
    assert processor.dropped == {}  # sampled out is a choice, not a loss
    provider.shutdown()


@pytest.mark.parametrize(("ratio", "expected"), [(0.0, 0), (1.0, 4)])
def test_sample_ratio_bounds_capture_nothing_or_everything(ratio: float, expected: int) -> None:
    capture = Capture(sample_ratio=ratio)
    for _ in range(4):
        capture.run_trace()

    assert capture.processor.force_flush(5_000)
    assert len(capture.pipeline.traces) == expected
    capture.provider.shutdown()


def test_sample_ratio_out_of_range_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="sample_ratio"):
        FlywheelSpanProcessor(sample_ratio=1.5)
