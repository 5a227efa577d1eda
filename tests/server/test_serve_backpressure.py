"""Past its limits the server pushes back with a retryable status and ``Retry-After`` rather than
accepting and dropping; the OTLP exporter's own retry then gets through."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_harness import FEEDBACK_AUTH, RunningServer, wait_until

from otel_flywheel.capture import InMemoryPipeline
from otel_flywheel.model import AgentTrace

PROTOBUF = {"Content-Type": "application/x-protobuf"}


class GatedPipeline(InMemoryPipeline):
    """Holds every ``submit`` until the gate opens: a pipeline that has fallen behind."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def submit(self, trace: AgentTrace) -> None:
        self.gate.wait(60)
        super().submit(trace)

    def shutdown(self) -> None:
        self.gate.set()


def make_trace(recorded_provider, name: str, children: int = 2) -> list:
    provider, recorded = recorded_provider
    recorded.clear()
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span(name):
        for index in range(children):
            with tracer.start_as_current_span(f"{name}-{index}"):
                pass
    return list(recorded.get_finished_spans())


def test_a_full_spool_answers_503_with_retry_after_and_the_exporters_retry_succeeds(
    serve, recorded_provider
):
    pipeline = GatedPipeline()
    server: RunningServer = serve(pipeline=pipeline, max_spool_spans=3, retry_after_seconds=1)
    exporter = OTLPSpanExporter(endpoint=server.traces_url, timeout=30)
    assert exporter.export(make_trace(recorded_provider, "first")) is SpanExportResult.SUCCESS
    assert server.spool.depth_spans == 3  # held: the pipeline has not accepted it yet

    second = make_trace(recorded_provider, "second")
    results: list[SpanExportResult] = []
    sender = threading.Thread(target=lambda: results.append(exporter.export(second)))
    sender.start()
    wait_until(
        lambda: (
            server.metric("flywheel_server_requests_total", {"path": "/v1/traces", "status": "503"})
            >= 1
        ),
        "a 503",
    )
    direct = httpx.post(
        server.traces_url, content=encode_spans(second).SerializeToString(), headers=PROTOBUF
    )
    assert direct.status_code == 503
    assert direct.headers["retry-after"] == "1"
    assert "retry later" in Status.FromString(direct.content).message
    assert httpx.get(f"{server.base_url}/readyz").status_code == 503

    pipeline.gate.set()  # the pipeline catches up, the spool drains, the retry gets through
    sender.join(60)
    exporter.shutdown()

    assert results == [SpanExportResult.SUCCESS]
    traces = pipeline.wait_for(2, timeout_seconds=30)
    assert sorted(len(trace.steps) for trace in traces) == [3, 3]
    assert httpx.get(f"{server.base_url}/readyz").status_code == 200


def slow_body(sent: threading.Event, release: threading.Event) -> Iterator[bytes]:
    yield b"\x0a"  # the start of a request whose rest is still on its way
    sent.set()
    release.wait(60)
    yield b"\x00"


def test_too_many_requests_in_flight_answers_429_with_retry_after(serve, recorded_provider):
    server: RunningServer = serve(max_concurrent_requests=1, retry_after_seconds=2)
    sent, release = threading.Event(), threading.Event()
    answers: list[int] = []

    def send_slowly() -> None:
        response = httpx.post(
            server.traces_url, content=slow_body(sent, release), headers=PROTOBUF, timeout=60
        )
        answers.append(response.status_code)

    slow = threading.Thread(target=send_slowly)
    slow.start()
    wait_until(lambda: server.metric("flywheel_server_requests_in_flight") == 1, "one in flight")

    body = encode_spans(make_trace(recorded_provider, "t")).SerializeToString()
    refused = httpx.post(server.traces_url, content=body, headers=PROTOBUF)
    feedback = httpx.post(
        f"{server.base_url}/v1/feedback",
        json={"trace_id": "ab" * 16, "thumbs": "up"},
        headers=FEEDBACK_AUTH,
    )
    release.set()
    slow.join(60)

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"
    assert feedback.status_code == 429
    assert answers == [200]  # b"\x0a\x00": an empty ResourceSpans, a valid request
    assert httpx.post(server.traces_url, content=body, headers=PROTOBUF).status_code == 200
