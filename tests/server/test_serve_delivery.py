"""From the spool to the pipeline: resuming at start, retrying a refusing pipeline, late spans,
and what a clean shutdown hands over."""

from __future__ import annotations

import threading

import httpx
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_harness import RunningServer, wait_until
from slow_judge import slow_judge_pipeline

from otel_flywheel.capture import InMemoryPipeline
from otel_flywheel.config import CaptureSettings
from otel_flywheel.model import AgentTrace
from otel_flywheel.server import Spool


class FlakyPipeline(InMemoryPipeline):
    """Refuses its first ``failures`` submits, as a pipeline whose queue is full would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.failures = failures
        self.shut_down = False

    def submit(self, trace: AgentTrace) -> None:
        with self._lock:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("pipeline queue full")
        super().submit(trace)

    def shutdown(self) -> None:
        self.shut_down = True


def one_trace(recorded_provider, children: int = 2) -> list:
    provider, recorded = recorded_provider
    recorded.clear()
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"):
        for index in range(children):
            with tracer.start_as_current_span(f"child-{index}"):
                pass
    return list(recorded.get_finished_spans())


def span_ids(trace: AgentTrace) -> set[str]:
    return {step.span_id for step in trace.steps}


def test_the_worker_resumes_what_the_spool_held_at_start(serve, recorded_provider, tmp_path):
    path = tmp_path / "left-over.sqlite"
    spans = one_trace(recorded_provider)
    trace_id = f"{spans[0].context.trace_id:032x}"
    with Spool(path, max_spans=100) as spool:  # what a killed server left behind
        spool.append_request(encode_spans(spans[:1]).SerializeToString(), {trace_id: 1})
        spool.append_request(encode_spans(spans[1:]).SerializeToString(), {trace_id: 2})

    server: RunningServer = serve(spool_path=path)

    [trace] = server.pipeline.wait_for(1, timeout_seconds=30)
    assert span_ids(trace) == {f"{span.context.span_id:016x}" for span in spans}
    wait_until(lambda: server.spool.depth_spans == 0, "the spool to drain")


def test_a_trace_the_pipeline_refuses_stays_spooled_and_is_offered_again(serve, recorded_provider):
    pipeline = FlakyPipeline(failures=2)
    server: RunningServer = serve(pipeline=pipeline)
    exporter = OTLPSpanExporter(endpoint=server.traces_url)

    assert exporter.export(one_trace(recorded_provider)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    wait_until(lambda: server.metric("flywheel_server_pipeline_errors_total") >= 1, "a refusal")
    assert server.spool.depth_spans == 3

    [trace] = pipeline.wait_for(1, timeout_seconds=30)
    assert len(trace.steps) == 3
    wait_until(lambda: server.spool.depth_spans == 0, "the spool to release it")
    assert server.metric("flywheel_server_pipeline_errors_total") == 2
    assert server.metric("flywheel_server_traces_submitted_total") == 1


def test_a_late_span_of_a_delivered_trace_is_released_and_counted(serve, recorded_provider):
    server: RunningServer = serve()
    provider, recorded = recorded_provider
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("early"):
            pass
        late_span = tracer.start_span("late")  # still running when the root ends
    exporter = OTLPSpanExporter(endpoint=server.traces_url)
    assert exporter.export(recorded.get_finished_spans()) is SpanExportResult.SUCCESS
    server.pipeline.wait_for(1, timeout_seconds=30)

    late_span.end()
    late = [s for s in recorded.get_finished_spans() if s.name == "late"]
    assert exporter.export(late) is SpanExportResult.SUCCESS
    exporter.shutdown()

    wait_until(
        lambda: server.metric("flywheel_server_spans_dropped_total", {"reason": "late_span"}) == 1,
        "the late span to be counted",
    )
    wait_until(lambda: server.spool.depth_spans == 0, "the late span's rows to be released")
    [trace] = server.pipeline.traces
    assert trace.trace_id == f"{root.get_span_context().trace_id:032x}"
    assert len(trace.steps) == 2


def test_stopping_hands_over_open_traces_and_shuts_the_pipeline_down(serve, recorded_provider):
    pipeline = FlakyPipeline(failures=0)
    patient = CaptureSettings(trace_grace_millis=600_000, trace_idle_timeout_millis=600_000)
    server: RunningServer = serve(pipeline=pipeline, capture_settings=patient)
    spans = one_trace(recorded_provider)
    exporter = OTLPSpanExporter(endpoint=server.traces_url)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()
    wait_until(lambda: server.metric("flywheel_server_open_traces") == 1, "the trace to be open")
    assert pipeline.traces == []

    server.stop()

    [trace] = pipeline.traces
    assert trace.complete
    assert len(trace.steps) == 3
    assert pipeline.shut_down
    with Spool(server.spool.path, max_spans=10) as reopened:
        assert reopened.depth_spans == 0


def test_a_request_sent_twice_gives_one_trace_without_duplicate_steps(serve, recorded_provider):
    patient = CaptureSettings(trace_grace_millis=600_000, trace_idle_timeout_millis=600_000)
    server: RunningServer = serve(capture_settings=patient)
    body = encode_spans(one_trace(recorded_provider)).SerializeToString()
    headers = {"Content-Type": "application/x-protobuf"}

    for _ in range(2):  # a sender retrying a request whose answer it never got
        assert httpx.post(server.traces_url, content=body, headers=headers).status_code == 200
    wait_until(
        lambda: (
            server.metric("flywheel_server_spans_dropped_total", {"reason": "duplicate_span"}) == 3
        ),
        "the second copy to be dropped",
    )
    # The copy's rows are released right after the count (not in the same step: wait for it).
    wait_until(lambda: server.spool.depth_spans == 3, "the copy's rows to be released")
    server.stop()

    [trace] = server.pipeline.traces
    assert len(trace.steps) == 3
    assert len({step.span_id for step in trace.steps}) == 3
    with Spool(server.spool.path, max_spans=10) as reopened:
        assert reopened.depth_spans == 0


def test_traces_the_flywheel_cannot_take_yet_wait_in_the_spool_and_none_is_dropped(
    serve, recorded_provider, tmp_path
):
    with slow_judge_pipeline(tmp_path, max_queue_size=2, judge_seconds=0.5) as (pipeline, verdicts):
        server: RunningServer = serve(pipeline=pipeline)
        exporter = OTLPSpanExporter(endpoint=server.traces_url)
        trace_ids = set()
        for _ in range(6):
            spans = one_trace(recorded_provider, children=1)
            trace_ids.add(f"{spans[0].context.trace_id:032x}")
            assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()

        wait_until(
            lambda: server.metric("flywheel_server_traces_acknowledged_total") == 6,
            "a durable verdict for all six traces",
        )
        assert pipeline.stats().refused > 0  # it was full: the spool kept the others meanwhile
        assert pipeline.stats().dropped == {}
        assert {line["trace_id"] for line in verdicts()} == trace_ids
        wait_until(lambda: server.spool.depth_spans == 0, "the spool to release them")
        server.stop()
