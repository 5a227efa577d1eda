"""How fast ``otel-flywheel serve`` accepts spans durably, beside a raw decode and Phoenix's own
end-to-end ingest of the same payload, in one run.

The payload: OTLP/HTTP protobuf requests of 512 spans (``BatchSpanProcessor``'s batch), encoded
from real SDK spans of a support agent. Each trace has 7 spans: an OpenInference AGENT root, two
LLM calls (flattened messages, token counts, raw request JSON), a RETRIEVER (three documents) and
three TOOL calls (JSON arguments and results), with an email and a phone number to redact. Every
run sends traces of its own (fresh ids): a trace id seen before would be dropped as a late span.

1. ``decode_otlp_protobuf`` alone over every request: the floor under any receiver in Python.
2. ``otel-flywheel serve`` as a subprocess pinned to one core (``--serve-cpu``; the senders run on
   the others), with a fresh spool, ``--pipeline`` (by default ``LoggingPipeline``: what is
   measured is serve's delivery, not the flywheel's evaluation), redaction on and
   ``FLYWHEEL_TRACE_GRACE_MILLIS`` from ``--trace-grace-millis``, fed by ``--senders`` threads
   over keep-alive connections, ``--repeats`` times:
   - *accepted*: spans / seconds from the first request to the last 200. A 200 means the
     request's spans were committed to the SQLite spool (WAL, ``synchronous=FULL``).
   - *delivered*: spans / seconds from the first request until ``/metrics`` shows every trace
     submitted to the pipeline and the spool empty: decoded again, assembled, redacted,
     normalized and handed over. It includes the last traces' grace.
   - *serve CPU*: the serve process's CPU time per span (accepting and delivering), from
     ``/proc``; its inverse is what one core sustains.
3. Delivery alone: ``IngestWorker`` in this process, pinned to one core, on a spool filled
   beforehand with the same requests (grace 0: every span is there already), to a pipeline that
   counts: spool -> decode -> assemble -> redact -> normalize -> submit -> release, per second.
4. Phoenix (``LocalPhoenix``, SQLite) fed the first ``--phoenix-spans`` spans by the same
   senders: *accepted* (its 200s), and *queryable* (until ``wait_for_spans`` sees them all).

The ratio compares serve's accepted rate with Phoenix's end-to-end rate (target >= 100x). No
timing is asserted; the script exits 1 with a ``!!!`` banner if a request was not answered 200
or a count does not add up.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import itertools
import json
import os
import platform
import queue
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.types import AttributeValue
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from otel_flywheel.config import CaptureSettings
from otel_flywheel.model import AgentTrace
from otel_flywheel.otlp import decode_otlp_protobuf
from otel_flywheel.privacy import build_redactor
from otel_flywheel.semconv import OpenInferenceSpanKindValues, SpanAttributes
from otel_flywheel.server import IngestWorker, LoggingFeedbackSink, ServerMetrics, Spool
from otel_flywheel.testing.phoenix import (
    LocalPhoenix,
    find_free_port,
    find_phoenix_binary,
    wait_for_spans,
)

SA = SpanAttributes
KIND = OpenInferenceSpanKindValues
_BATCH_SPANS = 512
_TRACE_SPANS = 7
_TIMEOUT_SECONDS = 600.0
_POLL_SECONDS = 0.05
_REDACTION_KEY = "benchmark-key-0123456789"
_LOGGING_PIPELINE = "otel_flywheel.capture:LoggingPipeline"

# --- the agent ----------------------------------------------------------------------------------

# Every trace has its own customer, order and dates, as real traffic does: the redactor caches
# results per string, and identical text in every trace would measure that cache, not the work.
_QUESTION = (
    "My keyboard arrived broken. I'm %(name)s@example.com, +44 20 7946 %(phone)04d; order "
    "A-%(order)010d. Refund?"
)
_SYSTEM = "You are a support agent for an electronics shop. Use the tools; never invent orders."
_TOOLS = ("lookup_order", "check_refund_policy", "create_refund")
_TOOL_INPUT = json.dumps(
    {
        "order_id": "A-%(order)010d",
        "customer_email": "%(name)s@example.com",
        "include_history": True,
    }
)
_TOOL_OUTPUT = json.dumps(
    {
        "order_id": "A-%(order)010d",
        "status": "delivered",
        "items": [
            {"sku": "KB-%(sku)04d", "name": "Mechanical keyboard", "qty": 1, "price": "89.90"}
        ],
        "refund_eligibility": {"eligible": True, "until": "2025-04-%(day)02d"},
        "history": ["created", "paid", "packed", "shipped", "delivered"],
    }
)
_ANSWER = "Yes: order A-%(order)010d is refundable until %(day)d April; I started the refund."
_DOCUMENT = (
    "Refunds: items reported damaged within 30 days of delivery are refunded in full to the "
    "original payment method once the customer confirms the order number. "
)
_NAMES = ("jane.doe", "raj.patel", "li.wei", "ana.souza", "tom.meyer", "aiko.sato")
_traces_made = itertools.count(1)


def _llm_attributes(question: str, answer: str) -> dict[str, AttributeValue]:
    request = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": question},
        ],
        "tools": [{"type": "function", "function": {"name": name}} for name in _TOOLS],
    }
    return {
        SA.OPENINFERENCE_SPAN_KIND: KIND.LLM.value,
        SA.LLM_MODEL_NAME: "gpt-4o-mini",
        SA.INPUT_VALUE: json.dumps(request),
        SA.OUTPUT_VALUE: json.dumps({"choices": [{"message": {"content": answer}}]}),
        f"{SA.LLM_INPUT_MESSAGES}.0.message.role": "system",
        f"{SA.LLM_INPUT_MESSAGES}.0.message.content": _SYSTEM,
        f"{SA.LLM_INPUT_MESSAGES}.1.message.role": "user",
        f"{SA.LLM_INPUT_MESSAGES}.1.message.content": question,
        f"{SA.LLM_OUTPUT_MESSAGES}.0.message.role": "assistant",
        f"{SA.LLM_OUTPUT_MESSAGES}.0.message.content": answer,
        SA.LLM_TOKEN_COUNT_PROMPT: 412,
        SA.LLM_TOKEN_COUNT_COMPLETION: 38,
        SA.LLM_TOKEN_COUNT_TOTAL: 450,
    }


def agent_spans(traces: int, project: str) -> list[ReadableSpan]:
    """``traces`` runs of the agent, as the SDK ends them (children before their parent)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "ingest-benchmark", "openinference.project.name": project}
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("ingest-benchmark")
    for _ in range(traces):
        number = next(_traces_made)
        values = {
            "name": f"{_NAMES[number % len(_NAMES)]}.{number}",
            "phone": number % 10_000,
            "order": 1_000_000_000 + number,
            "sku": number % 9973,
            "day": number % 28 + 1,
        }
        question, answer = _QUESTION % values, _ANSWER % values
        tool_input, tool_output = _TOOL_INPUT % values, _TOOL_OUTPUT % values
        with tracer.start_as_current_span(
            "support_agent",
            attributes={SA.OPENINFERENCE_SPAN_KIND: KIND.AGENT.value, SA.INPUT_VALUE: question},
        ) as root:
            with tracer.start_as_current_span(
                "ChatCompletion", attributes=_llm_attributes(question, "")
            ):
                pass
            with tracer.start_as_current_span(
                "kb_search",
                attributes={
                    SA.OPENINFERENCE_SPAN_KIND: KIND.RETRIEVER.value,
                    SA.INPUT_VALUE: "refund damaged keyboard",
                    **{
                        f"{SA.RETRIEVAL_DOCUMENTS}.{i}.document.content": _DOCUMENT * 2
                        for i in range(3)
                    },
                },
            ):
                pass
            for name in _TOOLS:
                with tracer.start_as_current_span(
                    name,
                    attributes={
                        SA.OPENINFERENCE_SPAN_KIND: KIND.TOOL.value,
                        SA.TOOL_NAME: name,
                        SA.INPUT_VALUE: tool_input,
                        SA.OUTPUT_VALUE: tool_output,
                    },
                ):
                    pass
            with tracer.start_as_current_span(
                "ChatCompletion", attributes=_llm_attributes(question, answer)
            ):
                pass
            root.set_attribute(SA.OUTPUT_VALUE, answer)
    provider.shutdown()
    return list(exporter.get_finished_spans())


def payload(spans: Sequence[ReadableSpan]) -> list[tuple[bytes, int]]:
    """Requests of ``_BATCH_SPANS`` spans, as the exporter serializes them, with their counts."""
    return [
        (encode_spans(spans[i : i + _BATCH_SPANS]).SerializeToString(), len(spans[i : i + _BATCH_SPANS]))
        for i in range(0, len(spans), _BATCH_SPANS)
    ]  # fmt: skip


# --- sending ------------------------------------------------------------------------------------


@dataclass
class Sent:
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    retries: int = 0


def send_all(port: int, requests: Sequence[tuple[bytes, int]], senders: int) -> Sent:
    """POST every request to ``/v1/traces`` from ``senders`` threads, each on one keep-alive
    connection; a 429/503 is retried after its ``Retry-After``, as the OTLP exporters do."""
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body, _ in requests:
        work.put(body)
    sent = Sent(0.0)
    lock = threading.Lock()  # guards sent.statuses and sent.retries

    def sender() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=_TIMEOUT_SECONDS)
        headers = {"Content-Type": "application/x-protobuf"}
        try:
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                while True:
                    connection.request("POST", "/v1/traces", body, headers)
                    response = connection.getresponse()
                    response.read()
                    if response.status not in (429, 503):
                        break
                    with lock:
                        sent.retries += 1
                    time.sleep(float(response.getheader("Retry-After") or 1))
                with lock:
                    sent.statuses[response.status] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent.seconds = time.perf_counter() - start
    return sent


def metrics(port: int) -> dict[str, float]:
    """Serve's ``/metrics``, each sample name summed over its labels."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    values: dict[str, float] = {}  # each sample name summed over its label sets
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + _TIMEOUT_SECONDS
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(_POLL_SECONDS)


# --- the three measurements ---------------------------------------------------------------------


def decode_rate(requests: Sequence[tuple[bytes, int]], repeats: int) -> float:
    spans = sum(count for _, count in requests)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for body, _ in requests:
            decode_otlp_protobuf(body)
        rates.append(spans / (time.perf_counter() - start))
    return statistics.median(rates)


@dataclass
class ServeRun:
    accepted_per_second: float
    delivered_per_second: float
    cpu_us_per_span: float  # the serve process's, accepting and delivering; 0 if unknown
    sent: Sent


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far, from ``/proc`` (0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin_command(command: list[str], cpu: int | None) -> list[str]:
    """``command`` run on ``cpu`` only (``taskset``), when asked and possible."""
    if cpu is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "--cpu-list", str(cpu), *command]


def serve_runs(
    warm_up: Sequence[tuple[bytes, int]],
    payloads: Sequence[Sequence[tuple[bytes, int]]],
    options: argparse.Namespace,
    workdir: Path,
) -> tuple[list[ServeRun], list[str]]:
    spans = sum(count for _, count in payloads[0])
    port = find_free_port()
    command = [
        str(Path(sys.executable).with_name("otel-flywheel")),
        "serve",
        "--port",
        str(port),
        "--spool",
        str(workdir / "spool.sqlite"),
        "--max-spool-spans",
        str(spans * 2),
    ]
    if options.pipeline:
        command += ["--pipeline", options.pipeline]
    command = pin_command(command, options.serve_cpu)
    env = {
        **os.environ,
        "FLYWHEEL_STATE_DIR": str(workdir),
        "FLYWHEEL_REDACTION_KEY": os.environ.get("FLYWHEEL_REDACTION_KEY", _REDACTION_KEY),
        "FLYWHEEL_TRACE_GRACE_MILLIS": str(options.trace_grace_millis),
    }
    problems: list[str] = []
    runs: list[ServeRun] = []
    with (workdir / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _healthy(port) or process.poll() is not None, "serve to start")
        if process.poll() is not None:
            raise RuntimeError(f"serve exited; see {workdir / 'serve.log'}")
        # Warm-up, not measured: imports, first connections, SQLite's first pages.
        send_all(port, warm_up, options.senders)
        wait_for(lambda: metrics(port)["flywheel_server_spool_spans"] == 0, "the warm-up")
        warm_up_spans = sum(count for _, count in warm_up)
        traces = warm_up_spans // _TRACE_SPANS
        for number, requests in enumerate(payloads, start=1):
            cpu = process_cpu_seconds(process.pid)
            start = time.perf_counter()
            sent = send_all(port, requests, options.senders)
            traces += spans // _TRACE_SPANS
            # Rows leave the spool only once their trace was submitted (or dropped, counted).
            wait_for(
                lambda: metrics(port)["flywheel_server_spool_spans"] == 0,
                "serve to deliver every trace",
            )
            seconds = time.perf_counter() - start
            cpu_us = (process_cpu_seconds(process.pid) - cpu) / spans * 1e6
            runs.append(ServeRun(spans / sent.seconds, spans / seconds, cpu_us, sent))
            if sent.statuses != Counter({200: len(requests)}):
                problems.append(f"serve run {number}: answers {dict(sent.statuses)}")
        values = metrics(port)
        expected = {
            "flywheel_server_spans_received_total": spans * len(payloads) + warm_up_spans,
            "flywheel_server_traces_submitted_total": traces,
            "flywheel_server_spans_dropped_total": 0,
        }
        for name, value in expected.items():
            if values.get(name, 0) != value:
                problems.append(f"serve: {name} is {values.get(name, 0):g}, expected {value}")
    finally:
        process.terminate()
        process.wait(timeout=120)
    return runs, problems


class CountingPipeline:
    """A ``TracePipeline`` that counts what it is handed; ``done`` once ``expected`` traces came."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.traces = 0
        self.spans = 0
        self.done = threading.Event()

    def submit(self, trace: AgentTrace) -> None:
        self.traces += 1
        self.spans += len(trace.steps)
        if self.traces >= self.expected:
            self.done.set()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # nothing is buffered

    def shutdown(self) -> None:
        return None  # nothing to release


@dataclass
class DeliveryRun:
    delivered_per_second: float
    cpu_us_per_span: float
    problems: list[str]


def delivery_alone(
    requests: Sequence[tuple[bytes, int]], workdir: Path, cpu: int | None
) -> DeliveryRun:
    """``IngestWorker`` on a spool filled beforehand, to a counting pipeline, on one core."""
    spans = sum(count for _, count in requests)
    spool = Spool(workdir / "delivery.sqlite", max_spans=spans * 2)
    traces: set[str] = set()
    for body, _ in requests:
        counts = span_counts(body)
        traces.update(counts)
        spool.append_request(body, counts)
    pipeline = CountingPipeline(len(traces))
    metrics = ServerMetrics(
        CollectorRegistry(),
        spool_spans=lambda: spool.depth_spans,
        spool_feedback=lambda: 0,
        held_feedback=lambda: 0,
        open_traces=lambda: 0,
        awaiting_ack=lambda: 0,
        requests_in_flight=lambda: 0,
    )
    worker = IngestWorker(
        spool,
        pipeline,
        feedback_sink=LoggingFeedbackSink(),
        metrics=metrics,
        redactor=build_redactor(key=_REDACTION_KEY.encode()),
        # Every span is in the spool before the worker starts: no trace waits for a late one.
        capture_settings=CaptureSettings.model_validate({"trace_grace_millis": 0}),
    )
    # The worker thread inherits this thread's CPU mask: pinned to one core, then restored.
    mask = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if cpu is not None and mask is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        gc.collect()
        gc.freeze()  # as serve does before it serves: see cli/_serve.py
        start, cpu0 = time.perf_counter(), time.process_time()
        worker.start()
        finished = pipeline.done.wait(_TIMEOUT_SECONDS)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu0
    finally:
        if cpu is not None and mask is not None:
            os.sched_setaffinity(0, mask)
        worker.shutdown()
        spool.close()
        gc.unfreeze()
    problems = [] if finished else ["delivery alone: timed out"]
    if pipeline.spans != spans:
        problems.append(f"delivery alone: {pipeline.spans} of {spans} spans delivered")
    return DeliveryRun(spans / seconds, cpu_seconds / spans * 1e6, problems)


def span_counts(body: bytes) -> dict[str, int]:
    """Trace id (hex) -> the request's spans in it, as serve's traces endpoint counts them."""
    counts: Counter[str] = Counter()
    for resource_spans in decode_otlp_protobuf(body).resource_spans:
        for scope_spans in resource_spans.scope_spans:
            counts.update(span.trace_id.hex() for span in scope_spans.spans)
    return dict(counts)


def _core(cpu: int | None) -> str:
    return "not pinned" if cpu is None else f"on core {cpu}"


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


@dataclass
class PhoenixRun:
    spans: int
    accepted_per_second: float
    queryable_per_second: float
    sent: Sent


def phoenix_run(
    requests: Sequence[tuple[bytes, int]], options: argparse.Namespace, workdir: Path, project: str
) -> PhoenixRun:
    import httpx
    from phoenix.client import Client

    spans = sum(count for _, count in requests)
    with LocalPhoenix(binary=find_phoenix_binary(), working_dir=workdir / "phoenix") as phoenix:
        start = time.perf_counter()
        sent = send_all(phoenix.port, requests, options.senders)
        with httpx.Client(base_url=phoenix.base_url, timeout=httpx.Timeout(120.0)) as http:
            wait_for_spans(
                Client(http_client=http),
                project=project,
                min_count=spans,
                timeout_seconds=_TIMEOUT_SECONDS,
                poll_interval_seconds=1.0,
            )
        seconds = time.perf_counter() - start
    return PhoenixRun(spans, spans / sent.seconds, spans / seconds, sent)


# --- report -------------------------------------------------------------------------------------


def phoenix_version(binary: Path) -> str:
    found = sorted(
        binary.resolve().parent.parent.glob("lib/python*/site-packages/arize_phoenix-*.dist-info")
    )
    return found[0].name.removeprefix("arize_phoenix-").removesuffix(".dist-info") if found else "?"


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Spans/s that otel-flywheel serve accepts durably, beside a raw decode and "
        "Phoenix's end-to-end ingest of the same payload.",
        epilog="example: .venv/bin/python benchmarks/ingest.py --spans 51200 --repeats 3",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--spans", type=int, default=51_200, help="spans per serve run")
    parser.add_argument(
        "--phoenix-spans", type=int, default=5_120, help="spans sent to Phoenix (0: skip it)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="serve runs (and decode passes)")
    parser.add_argument("--senders", type=int, default=4, help="concurrent sending connections")
    parser.add_argument(
        "--pipeline",
        default=_LOGGING_PIPELINE,
        help="serve's --pipeline; '' runs serve's default (the whole flywheel: checks, judge, "
        "routing), which measures the evaluation too",
    )
    parser.add_argument(
        "--serve-cpu",
        type=int,
        default=max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        help="the core serve and the delivery-alone worker run on (the senders use the others); "
        "-1: not pinned",
    )
    parser.add_argument(
        "--trace-grace-millis",
        type=int,
        default=1000,
        help="serve's FLYWHEEL_TRACE_GRACE_MILLIS; shorter ones drop spans of traces split "
        "over requests that arrive out of order (late_span)",
    )
    options = parser.parse_args(argv)
    if options.serve_cpu is not None and options.serve_cpu < 0:
        options.serve_cpu = None
    if options.spans < _BATCH_SPANS or options.repeats < 1 or options.senders < 1:
        parser.error(f"need --spans >= {_BATCH_SPANS}, --repeats >= 1 and --senders >= 1")
    if options.phoenix_spans > options.spans:
        parser.error("--phoenix-spans must not exceed --spans (it is a prefix of the payload)")
    return options


def report_serve(runs: Sequence[ServeRun], options: argparse.Namespace, spans: int) -> None:
    accepted = [run.accepted_per_second for run in runs]
    delivered = [run.delivered_per_second for run in runs]
    print(
        f"2. otel-flywheel serve, pipeline {options.pipeline or '(the flywheel)'},"
        f" {_core(options.serve_cpu)}, {options.senders} senders, {options.repeats} runs of"
        f" {spans} spans (median, min-max):"
    )
    print(
        f"   accepted  (200 = committed to the spool, synchronous=FULL):"
        f" {statistics.median(accepted):>9,.0f} spans/s ({min(accepted):,.0f}-{max(accepted):,.0f});"
        f" {sum(run.sent.retries for run in runs)} retries"
    )
    print(
        f"   delivered (assembled, redacted, normalized, submitted):    "
        f" {statistics.median(delivered):>9,.0f} spans/s ({min(delivered):,.0f}-{max(delivered):,.0f})"
    )
    cpu_us = statistics.median(run.cpu_us_per_span for run in runs)
    if cpu_us:
        print(
            f"   serve CPU, accepting and delivering: {cpu_us:.1f} us/span,"
            f" {1e6 / cpu_us:,.0f} spans per CPU-second"
        )


def report_delivery(
    payloads: Sequence[Sequence[tuple[bytes, int]]],
    options: argparse.Namespace,
    workdir: Path,
    spans: int,
) -> list[str]:
    problems: list[str] = []
    deliveries = []
    for requests in payloads:
        deliveries.append(delivery_alone(requests, workdir, options.serve_cpu))
        (workdir / "delivery.sqlite").unlink()
        problems += deliveries[-1].problems
    rates = [run.delivered_per_second for run in deliveries]
    print(
        f"3. delivery alone, {len(deliveries)} runs of {spans} spans from a filled spool,"
        f" {_core(options.serve_cpu)} (median, min-max):"
    )
    print(
        f"   delivered (spool -> pipeline): {statistics.median(rates):>9,.0f} spans/s"
        f" ({min(rates):,.0f}-{max(rates):,.0f});"
        f" {statistics.median(run.cpu_us_per_span for run in deliveries):.1f} us CPU per span"
    )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    binary = find_phoenix_binary() if options.phoenix_spans else None
    print("otel-flywheel ingest benchmark")
    print(f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}),"
        f" opentelemetry-proto {version('opentelemetry-proto')}, protobuf {version('protobuf')},"
        f" uvicorn {version('uvicorn')}, otel-flywheel {version('otel-flywheel')},"
        f" arize-phoenix {phoenix_version(binary) if binary else '-'},"
        f" {platform.system()} {platform.machine()}, os.cpu_count()={os.cpu_count()},"
        f" load average {os.getloadavg()[0]:.2f} at start"
    )
    project = f"ingest-benchmark-{os.getpid()}"
    # One payload per run: fresh trace ids each time (a trace id seen before is a late span).
    # Encoded up front, and the SDK's spans let go: a process that holds 150 000 of them spends
    # ~13 us per delivered span in full garbage collections that serve's process never makes.
    payloads = [
        payload(agent_spans(options.spans // _TRACE_SPANS, project)) for _ in range(options.repeats)
    ]
    requests = payloads[0]
    span_count = sum(count for _, count in requests)
    phoenix_subset = (
        payload(
            agent_spans(options.phoenix_spans // _TRACE_SPANS + 1, project)[: options.phoenix_spans]
        )
        if options.phoenix_spans
        else []
    )
    gc.collect()
    size = sum(len(body) for body, _ in requests)
    print(
        f"payload: {span_count} spans in {len(requests)} OTLP/HTTP protobuf requests of up to"
        f" {_BATCH_SPANS} spans, {size / span_count:.0f} bytes/span; traces of {_TRACE_SPANS}"
        " spans (AGENT, 2 LLM, RETRIEVER, 3 TOOL)"
    )

    decoded = decode_rate(requests, options.repeats)
    print(f"\n1. decode_otlp_protobuf alone (median of {options.repeats}): {decoded:,.0f} spans/s")

    if options.serve_cpu is not None and len(os.sched_getaffinity(0)) > 1:
        # The senders (threads started from here) and Phoenix keep off serve's core.
        os.sched_setaffinity(0, os.sched_getaffinity(0) - {options.serve_cpu})
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="flywheel-ingest-") as tmp:
        warm_up = payload(agent_spans(2 * _BATCH_SPANS // _TRACE_SPANS, project))
        runs, serve_problems = serve_runs(warm_up, payloads, options, Path(tmp))
        problems += serve_problems
        report_serve(runs, options, span_count)
        problems += report_delivery(payloads, options, Path(tmp), span_count)
        accepted = [run.accepted_per_second for run in runs]
        delivered = [run.delivered_per_second for run in runs]
        if options.phoenix_spans:
            subset = phoenix_subset
            phoenix = phoenix_run(subset, options, Path(tmp), project)
            if phoenix.sent.statuses != Counter({200: len(subset)}):
                problems.append(f"Phoenix answers {dict(phoenix.sent.statuses)}")
            print(
                f"4. Phoenix {phoenix_version(binary) if binary else ''} (SQLite),"
                f" {options.senders} senders, {phoenix.spans} spans:"
            )
            print(
                f"   accepted  (its 200s):                {phoenix.accepted_per_second:>9,.0f} spans/s"
            )
            print(
                f"   queryable (end to end):              {phoenix.queryable_per_second:>9,.0f} spans/s"
            )
            ratio = statistics.median(accepted) / phoenix.queryable_per_second
            print(
                f"ratio: serve accepted / Phoenix end to end = {ratio:,.0f}x (target >= 100x);"
                f" serve delivered / Phoenix end to end ="
                f" {statistics.median(delivered) / phoenix.queryable_per_second:,.0f}x"
            )
    print(f"load average {os.getloadavg()[0]:.2f} at end")

    if problems:
        print("\n" + "!" * 78)
        print("!!! NOT EVERY REQUEST WAS ACCEPTED OR COUNTED: the figures above are suspect")
        for problem in problems:
            print(f"!!!   {problem}")
        print("!" * 78)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
