"""The capture worker as the export path: each span redacted once, nothing raw on the wire.

``register()`` hands the OTLP exporter to ``FlywheelSpanProcessor``: its worker redacts each span
once and feeds the exporter the redacted copy and the flywheel its view. These tests export with
the real ``OTLPSpanExporter`` to a local OTLP/HTTP receiver that keeps every request body, and
search those bytes for the raw values, whatever the flywheel side does with the spans: keeps up,
is slow, fails, or never sees them (``sample_ratio``).
"""

from __future__ import annotations

import gzip
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status, StatusCode

from otel_flywheel import register
from otel_flywheel.capture import FlywheelSpanProcessor, InMemoryPipeline
from otel_flywheel.model import AgentTrace
from otel_flywheel.otlp import decode_otlp_protobuf
from otel_flywheel.privacy import RedactionAudit, Redactor, build_redactor

# One value per detector family the capture path must catch, on every surface a span has.
RAW_VALUES = {
    "email": "jane.doe.export@example.org",
    "phone": "+1 415 555 0132",
    "national phone": "(415) 555-0199",
    "card": "4111 1111 1111 1111",
    "api key": "sk-proj-" + "Zx8Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz",
}


class OtlpReceiver:
    """A local OTLP/HTTP traces endpoint that keeps every request body (decompressed).

    ``hold()`` makes requests wait until ``release()``, as a stuck collector would; ``entered`` is
    set once a request is waiting.
    """

    def __init__(self) -> None:
        self.entered = threading.Event()
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()  # guards _bodies (handler threads append)
        self._bodies: list[bytes] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def traces_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"

    @property
    def bodies(self) -> list[bytes]:
        with self._lock:
            return list(self._bodies)

    def span_names(self) -> list[str]:
        return [
            span.name
            for body in self.bodies
            for resource_spans in decode_otlp_protobuf(body).resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]

    def exported_attributes(self) -> dict[str, dict[str, Any]]:
        """Span name -> its scalar attributes, as they arrived."""
        found: dict[str, dict[str, Any]] = {}
        for body in self.bodies:
            for resource_spans in decode_otlp_protobuf(body).resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found[span.name] = {
                            kv.key: getattr(
                                kv.value, kv.value.WhichOneof("value") or "string_value"
                            )
                            for kv in span.attributes
                        }
        return found

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.entered.set()
                receiver._open.wait(30)
                with receiver._lock:
                    receiver._bodies.append(body)
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no access log on stderr

        return Handler


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No config file, no FLYWHEEL_* variables from the machine running the tests."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("FLYWHEEL_"):
            monkeypatch.delenv(name)


class CountingRedactor:
    """Counts the span redactions a ``Redactor`` does, and on which threads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, redactor: Redactor) -> None:
        self.calls = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()
        original = redactor.redact_many

        def redact_many(
            maps: Sequence[Mapping[str, Any]], texts: Sequence[str], audit: RedactionAudit
        ) -> Any:
            if texts:  # a span (its name is a text); resources are redacted once, apart
                with self._lock:
                    self.calls += 1
                    self.threads.add(threading.current_thread().name)
            return original(maps, texts, audit)

        monkeypatch.setattr(redactor, "redact_many", redact_many)


def plant_spans(provider: TracerProvider, traces: int = 3) -> int:
    """``traces`` traces with the raw values on attributes, events, links, names and status.

    Returns the number of spans ended."""
    tracer = provider.get_tracer("tests.capture.export")
    ended = 0
    for index in range(traces):
        with tracer.start_as_current_span(f"agent-{index}") as root:
            root.set_attribute("input.value", f"call {RAW_VALUES['phone']} about the refund")
            for kind, value in RAW_VALUES.items():
                with tracer.start_as_current_span(
                    f"tool-{index}-{kind.replace(' ', '-')}",
                    links=[_link_to(root, value)],
                ) as span:
                    span.set_attribute("tool.output", f"found {value} in the CRM")
                    span.set_attribute("tool.values", [value, "ok"])
                    span.add_event("note", {"text": f"customer wrote {value}"})
                    span.set_status(Status(StatusCode.ERROR, f"rejected {value}"))
                ended += 1
        ended += 1
    return ended


def _link_to(root: Any, value: str) -> Link:
    return Link(root.get_span_context(), {"linked.reason": f"same customer {value}"})


def assert_nothing_raw(bodies: Sequence[bytes]) -> None:
    assert bodies, "nothing was exported"
    wire = b"\n".join(bodies)
    for kind, value in RAW_VALUES.items():
        assert value.encode() not in wire, f"the raw {kind} reached the wire"


def registered(
    receiver: OtlpReceiver, pipeline: Any, **options: Any
) -> tuple[TracerProvider, FlywheelSpanProcessor]:
    provider = register(
        project="export-test",
        endpoint=receiver.traces_endpoint,
        pipeline=pipeline,
        set_global=False,
        **options,
    )
    (processor,) = [
        p
        for p in provider._active_span_processor._span_processors
        if isinstance(p, FlywheelSpanProcessor)
    ]
    return provider, processor


# --- one redaction per span -------------------------------------------------------------------


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "simple"])
def test_register_redacts_each_span_once_for_the_wire_and_the_flywheel(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, batch: bool
) -> None:
    redactor = build_redactor()
    assert redactor is not None
    counting = CountingRedactor(monkeypatch, redactor)
    pipeline = InMemoryPipeline()
    provider, processor = registered(receiver, pipeline, redactor=redactor, batch=batch)
    try:
        spans = plant_spans(provider)
        assert provider.force_flush(10_000)
        traces = pipeline.wait_for(3)
    finally:
        provider.shutdown()

    assert counting.calls == spans  # once per span, not once per path
    assert counting.threads == {"otel-flywheel-capture"}  # never the agent's thread
    assert len(receiver.span_names()) == spans
    assert_nothing_raw(receiver.bodies)
    flywheel = "\n".join(t.to_json() for t in traces)
    for kind, value in RAW_VALUES.items():
        assert value not in flywheel, f"the raw {kind} reached the flywheel"
    # Both paths carry the same redacted text: one result, fed to both.
    exported = receiver.exported_attributes()
    captured = {step.name: step for trace in traces for step in trace.steps}
    email_step = "tool-0-email"
    assert "<EMAIL:" in exported[email_step]["tool.output"]
    assert exported[email_step]["flywheel.redaction.count"] == 5  # marked on the wire too
    assert captured[email_step].attributes["tool.output"] == exported[email_step]["tool.output"]
    assert processor.dropped == {}


def test_on_end_only_enqueues(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    exports: list[str] = []

    class ThreadRecordingExporter(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            exports.append(threading.current_thread().name)
            return SpanExportResult.SUCCESS

    redactor = build_redactor()
    assert redactor is not None
    counting = CountingRedactor(monkeypatch, redactor)
    processor = FlywheelSpanProcessor(
        pipeline=InMemoryPipeline(),
        redactor=redactor,
        exporter=ThreadRecordingExporter(),
        export_batch=False,
        schedule_delay_millis=60_000,  # the worker sleeps: only on_end runs during the trace
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    spans = plant_spans(provider, traces=1)

    assert counting.calls == 0  # ending a span redacted nothing
    assert exports == []  # and exported nothing
    assert processor.force_flush(10_000)
    assert counting.calls == spans
    assert set(exports) == {"otel-flywheel-capture"}
    provider.shutdown()


# --- the wire stays redacted whatever the flywheel does --------------------------------------------


class SlowPipeline(InMemoryPipeline):
    def submit(self, trace: AgentTrace) -> None:
        time.sleep(0.2)
        super().submit(trace)


class FullPipeline(InMemoryPipeline):
    """Refuses every trace, as a flywheel whose queue is full and failing would."""

    def submit(self, trace: AgentTrace) -> None:
        raise RuntimeError("pipeline queue full")


@pytest.mark.parametrize(
    ("pipeline_class", "kept"),
    [(SlowPipeline, 3), (FullPipeline, 0)],
    ids=["slow pipeline", "failing pipeline"],
)
def test_the_wire_gets_every_span_redacted_when_the_flywheel_is_slow_or_failing(
    receiver: OtlpReceiver, pipeline_class: type[InMemoryPipeline], kept: int
) -> None:
    pipeline = pipeline_class()
    provider, processor = registered(receiver, pipeline)
    try:
        spans = plant_spans(provider)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()

    assert len(receiver.span_names()) == spans
    assert_nothing_raw(receiver.bodies)
    assert len(pipeline.traces) == kept
    if not kept:
        assert processor.dropped == {"pipeline_error": spans}


def test_a_full_capture_queue_drops_spans_it_never_exports_raw(receiver: OtlpReceiver) -> None:
    release = threading.Event()

    class BlockingPipeline(InMemoryPipeline):
        def submit(self, trace: AgentTrace) -> None:
            release.wait(10)
            super().submit(trace)

    pipeline = BlockingPipeline()
    processor = FlywheelSpanProcessor(
        pipeline=pipeline,
        exporter=OTLPSpanExporter(endpoint=receiver.traces_endpoint),
        max_queue_size=4,
        trace_grace_millis=0,
        schedule_delay_millis=10,
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    try:
        spans = plant_spans(provider, traces=1)  # the worker blocks on the first closed trace
        deadline = time.monotonic() + 10
        while not processor.dropped and time.monotonic() < deadline:
            spans += plant_spans(provider, traces=1)
        assert processor.dropped.get("queue_full", 0) > 0
    finally:
        release.set()
        assert processor.force_flush(10_000)
        provider.shutdown()

    exported = len(receiver.span_names())
    assert exported == spans - processor.dropped["queue_full"]
    assert_nothing_raw(receiver.bodies)


def test_sampled_out_traces_are_exported_redacted_and_skip_the_flywheel(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYWHEEL_SAMPLE_RATIO", "0")
    pipeline = InMemoryPipeline()
    provider, processor = registered(receiver, pipeline)
    try:
        spans = plant_spans(provider)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()

    assert processor.settings.sample_ratio == 0.0
    assert pipeline.traces == []
    assert len(receiver.span_names()) == spans
    assert_nothing_raw(receiver.bodies)


def test_a_span_whose_redaction_fails_is_never_exported(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    redactor = build_redactor()
    assert redactor is not None
    original = redactor.redact_many

    def failing_on_tool_spans(
        maps: Sequence[Mapping[str, Any]], texts: Sequence[str], audit: RedactionAudit
    ) -> Any:
        if texts and texts[0].startswith("tool-"):
            raise RuntimeError("detector bug")
        return original(maps, texts, audit)

    monkeypatch.setattr(redactor, "redact_many", failing_on_tool_spans)
    provider, processor = registered(receiver, InMemoryPipeline(), redactor=redactor)
    try:
        plant_spans(provider, traces=1)
        with pytest.raises(RuntimeError, match="detector bug"):  # re-raised under pytest
            provider.force_flush(10_000)
    finally:
        provider.shutdown()

    assert receiver.span_names() == ["agent-0"]
    assert processor.dropped["internal_error"] == len(RAW_VALUES)
    assert_nothing_raw(receiver.bodies)


# --- lifecycle ---------------------------------------------------------------------------------


def test_force_flush_exports_what_the_worker_holds_before_it_returns(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")
    pipeline = InMemoryPipeline()
    processor = FlywheelSpanProcessor(
        pipeline=pipeline,
        exporter=OTLPSpanExporter(endpoint=receiver.traces_endpoint),
        schedule_delay_millis=60_000,  # neither the worker nor the batcher wakes on its own
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    spans = plant_spans(provider, traces=1)
    assert receiver.bodies == []

    assert processor.force_flush(10_000)
    assert len(receiver.span_names()) == spans
    assert len(pipeline.traces) == 1
    provider.shutdown()


def test_shutdown_exports_the_rest_and_shuts_the_exporter_down(receiver: OtlpReceiver) -> None:
    shutdowns: list[str] = []

    class Exporter(OTLPSpanExporter):
        def shutdown(self) -> None:
            shutdowns.append("exporter")
            super().shutdown()  # type: ignore[no-untyped-call]

    pipeline = InMemoryPipeline()
    processor = FlywheelSpanProcessor(
        pipeline=pipeline,
        exporter=Exporter(endpoint=receiver.traces_endpoint),
        schedule_delay_millis=60_000,
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    spans = plant_spans(provider, traces=2)

    provider.shutdown()
    assert len(receiver.span_names()) == spans
    assert len(pipeline.traces) == 2
    assert shutdowns == ["exporter"]
    processor.shutdown()  # idempotent: the exporter is not shut down twice
    assert shutdowns == ["exporter"]


def test_a_stuck_collector_does_not_hold_up_the_flywheel(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")  # the batcher sends without waiting
    receiver.hold()
    pipeline = InMemoryPipeline()
    processor = FlywheelSpanProcessor(
        pipeline=pipeline,
        exporter=OTLPSpanExporter(endpoint=receiver.traces_endpoint),
        trace_grace_millis=0,
        schedule_delay_millis=10,
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    spans = plant_spans(provider, traces=1)
    try:
        assert receiver.entered.wait(10)  # the export request is stuck at the collector
        # Batches leave on the batcher's own thread: the worker goes on feeding the flywheel.
        assert len(pipeline.wait_for(1, timeout_seconds=10)[0].steps) == spans
    finally:
        receiver.release()
    provider.shutdown()
    assert len(receiver.span_names()) == spans
    assert_nothing_raw(receiver.bodies)
