"""What ``FlywheelSpanProcessor`` costs the agent's thread, per span.

Two set-ups are compared in one process, run after run (ABAB...), each run on fresh providers:

- baseline: ``TracerProvider`` + ``BatchSpanProcessor`` around an exporter that does nothing;
- candidate: what ``register()`` adds instead, wired as ``--wiring``. "one-pass" (register()
  today): ``FlywheelSpanProcessor(exporter=...)``, whose worker redacts each span once, hands the
  copy to its own batcher for export and assembles and normalizes every trace into an
  ``AgentTrace`` while the agent's thread keeps creating spans. "separate" (before issue 16): a
  ``BatchSpanProcessor`` around ``RedactingSpanExporter`` beside the flywheel, each redacting.

The agent runs traces of ``--trace-size`` spans: an OpenInference AGENT root around TOOL children
with realistic ``input.value``/``output.value`` JSON, each trace with its own order id, customer
email and dates (identical strings everywhere would let the redactor's cache skip the work). Four
measurements:

1. tight loop: the agent never waits on I/O. The worst case for any in-process worker: every CPU
   microsecond the worker spends is taken from the agent through the GIL. Per span: wall time on
   the agent's thread (what the agent feels), that thread's own CPU time, and the CPU time of all
   other threads meanwhile (the BatchSpanProcessor's and the flywheel's workers).
2. paced: the agent waits ``--io-wait-millis`` (``time.sleep``, which releases the GIL, as a
   socket read does) before each TOOL span, as an agent waits on its LLM and tools. Per trace:
   wall time, mean and tail.
3. ``on_end`` alone on pre-ended spans with the worker asleep: the processor's own share.
4. the capture and export threads alone, both wirings side by side: CPU per span, pre-ended spans
   handed over and flushed while the calling thread waits; the figure the agent pays for,
   whenever it is CPU-bound. The script runs on an otel-flywheel from before the one-pass wiring
   too, and then measures "separate" only.

``--sample-ratio`` is passed to ``FlywheelSpanProcessor(sample_ratio=...)``, which keeps a trace
when the low 64 bits of its id fall under ``round(ratio * 2**64)`` (``TraceIdRatioBased``'s rule).

No assertions on time. Every run checks that every span reached the exporter and every trace the
flywheel kept reached its pipeline (the exporter applies the same rule to know which); if not, the
script says so loudly and exits with status 1.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import itertools
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import version
from typing import TYPE_CHECKING, Literal

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otel_flywheel.capture import FlywheelSpanProcessor
from otel_flywheel.config import CaptureSettings
from otel_flywheel.privacy import RedactingSpanExporter, build_redactor
from otel_flywheel.semconv import OpenInferenceSpanKindValues, SpanAttributes

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from otel_flywheel.model import AgentTrace

SA = SpanAttributes
_ON_END_BLOCK = 500  # below both processors' wake-up threshold (512 spans): the worker sleeps
_ON_END_SPANS = 8000
_WARM_UP_SPANS = 4000
_PACED_TRACES = 300
_FLUSH_TIMEOUT_MILLIS = 60_000
_TRACE_ID_LOW_BITS_MASK = 2**64 - 1
_TRACE_ID_LOW_BITS_RANGE = 2**64
CANDIDATE = "with flywheel"

# --- the agent --------------------------------------------------------------------------------

# Every trace carries its own values (order id, customer, dates), as real traffic does: identical
# strings in every span would let the redactor's per-string cache skip nearly all the work.
_TOOL_INPUT = json.dumps(  # ~200 bytes
    {
        "order_id": "A-%(order)010d",
        "customer_email": "customer.%(order)d@example.com",
        "fields": ["status", "items", "shipping_address", "refund_eligibility"],
        "include_history": True,
        "locale": "en-GB",
    }
)
_TOOL_OUTPUT = json.dumps(  # ~550 bytes
    {
        "order_id": "A-%(order)010d",
        "status": "delivered",
        "delivered_at": "2025-03-%(day)02dT10:%(minute)02d:31Z",
        "items": [
            {"sku": "KB-%(sku)04d", "name": "Mechanical keyboard", "qty": 1, "price": "89.90"},
            {"sku": "MS-2210", "name": "Wireless mouse", "qty": 2, "price": "24.50"},
        ],
        "shipping_address": {"city": "Leeds", "postcode": "LS1 4AP", "country": "GB"},
        "refund_eligibility": {"eligible": True, "until": "2025-04-%(day)02d", "reason": None},
        "history": ["created", "paid", "packed", "shipped", "out_for_delivery", "delivered"],
    }
)
_AGENT_INPUT = json.dumps(
    {"input": "My keyboard from order A-%(order)010d arrived broken, can I get a refund for it?"}
)
_AGENT_OUTPUT = json.dumps(
    {"output": "Yes: order A-%(order)010d is refundable until %(day)d April; I started the refund."}
)
_TOOL_NAMES = ("lookup_order", "check_refund_policy", "create_refund", "send_email")
_AGENT_KIND = OpenInferenceSpanKindValues.AGENT.value
_TOOL_KIND = OpenInferenceSpanKindValues.TOOL.value
_traces_run = itertools.count(1_000_000)


def run_trace(tracer: Tracer, trace_size: int, io_wait_seconds: float) -> None:
    """One agent run: an AGENT root span around ``trace_size - 1`` TOOL spans."""
    order = next(_traces_run)
    values = {"order": order, "day": order % 28 + 1, "minute": order % 60, "sku": order % 9973}
    tool_input, tool_output = _TOOL_INPUT % values, _TOOL_OUTPUT % values
    attributes = {SA.OPENINFERENCE_SPAN_KIND: _AGENT_KIND, SA.INPUT_VALUE: _AGENT_INPUT % values}
    with tracer.start_as_current_span("support_agent", attributes=attributes) as root:
        for i in range(trace_size - 1):
            if io_wait_seconds:
                time.sleep(io_wait_seconds)  # the LLM or tool call the span would wrap
            name = _TOOL_NAMES[i % len(_TOOL_NAMES)]
            attributes = {
                SA.OPENINFERENCE_SPAN_KIND: _TOOL_KIND,
                SA.TOOL_NAME: name,
                SA.INPUT_VALUE: tool_input,
            }
            with tracer.start_as_current_span(name, attributes=attributes) as tool:
                tool.set_attribute(SA.OUTPUT_VALUE, tool_output)
        root.set_attribute(SA.OUTPUT_VALUE, _AGENT_OUTPUT % values)


# --- stand-ins that only count ----------------------------------------------------------------


class CountingExporter(SpanExporter):
    """Exports nowhere and counts spans (called from the BatchSpanProcessor's worker only).

    With ``sample_bound`` below 2**64 it also counts the spans and traces whose trace id passes
    the flywheel's sampling rule: what the flywheel should deliver. Baseline and candidate both
    pay for that count, on BSP's worker; with no sampling it is skipped.
    """

    def __init__(self, sample_bound: int = _TRACE_ID_LOW_BITS_RANGE) -> None:
        self._sample_bound = sample_bound
        self.spans = 0
        self.kept_spans = 0
        self.kept_traces = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        bound = self._sample_bound
        if bound < _TRACE_ID_LOW_BITS_RANGE:
            for span in spans:
                context = span.context
                if context is not None and context.trace_id & _TRACE_ID_LOW_BITS_MASK < bound:
                    self.kept_spans += 1
                    self.kept_traces += span.parent is None
        return SpanExportResult.SUCCESS

    @property
    def sampling(self) -> bool:
        return self._sample_bound < _TRACE_ID_LOW_BITS_RANGE


class CountingPipeline:
    """A ``TracePipeline`` that counts traces and steps (called from the capture worker only)."""

    def __init__(self) -> None:
        self.traces = 0
        self.steps = 0

    def submit(self, trace: AgentTrace) -> None:
        self.traces += 1
        self.steps += len(trace.steps)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # nothing is buffered

    def shutdown(self) -> None:
        return None  # nothing to release


# --- set-ups and runs -------------------------------------------------------------------------


# How register() wires export and capture. "separate" (before issue 16): a BatchSpanProcessor
# around RedactingSpanExporter beside the flywheel, each redacting every span. "one-pass": the
# flywheel's worker redacts once and feeds its own batcher the copy.
Wiring = Literal["one-pass", "separate"]
# The same script measures an otel-flywheel from before the one-pass wiring existed.
ONE_PASS_AVAILABLE = "exporter" in inspect.signature(FlywheelSpanProcessor).parameters
WIRINGS: tuple[Wiring, ...] = ("separate", "one-pass") if ONE_PASS_AVAILABLE else ("separate",)
WIRING_TEXT: dict[Wiring, str] = {
    "separate": "BSP(RedactingSpanExporter) beside the flywheel: two redactions per span",
    "one-pass": "the flywheel's worker redacts once, exports the copy: register() now",
}


@dataclass(frozen=True)
class Options:
    traces: int
    trace_size: int
    repeats: int
    io_wait_seconds: float
    schedule_delay_millis: int | None
    sample_ratio: float | None
    wiring: Wiring

    @property
    def spans(self) -> int:
        return self.traces * self.trace_size

    @cached_property
    def settings(self) -> CaptureSettings:
        """The flywheel's settings as resolved (arguments, then environment, file, defaults)."""
        probe = self.flywheel()
        probe.shutdown()
        return probe.settings

    @property
    def sample_bound(self) -> int:
        return round(self.settings.sample_ratio * _TRACE_ID_LOW_BITS_RANGE)

    def flywheel(
        self, pipeline: CountingPipeline | None = None, exporter: SpanExporter | None = None
    ) -> FlywheelSpanProcessor:
        # trace_grace_millis=0: a trace closes on the worker round after its root ended, so the
        # worker normalizes during the timed loop. The default grace (1 s) only delays that work
        # by a constant; in a loop of a few hundred ms it would push most of it past the timer.
        extra = {} if exporter is None else {"exporter": exporter}
        return FlywheelSpanProcessor(
            pipeline=pipeline if pipeline is not None else CountingPipeline(),
            trace_grace_millis=0,
            schedule_delay_millis=self.schedule_delay_millis,
            sample_ratio=self.sample_ratio,
            **extra,  # type: ignore[arg-type]
        )

    def processors(
        self, wiring: Wiring, exporter: CountingExporter, pipeline: CountingPipeline
    ) -> list[SpanProcessor]:
        """What ``register()`` adds to the provider it creates, wired as ``wiring``."""
        if wiring == "one-pass":
            return [self.flywheel(pipeline, exporter)]
        redactor = build_redactor()
        export = exporter if redactor is None else RedactingSpanExporter(exporter, redactor)
        # The export queue the one-pass wiring has (the SDK's default, 2048, drops spans in
        # section 4, which hands everything over at once).
        queue = max(2048, self.settings.max_queue_size)
        return [BatchSpanProcessor(export, max_queue_size=queue), self.flywheel(pipeline)]


@dataclass
class Setup:
    provider: TracerProvider
    exporter: CountingExporter
    flywheel: FlywheelSpanProcessor | None = None
    pipeline: CountingPipeline | None = None

    @classmethod
    def build(cls, options: Options, *, with_flywheel: bool) -> Setup:
        provider = TracerProvider(resource=Resource.create({"service.name": "hot-path-benchmark"}))
        setup = cls(provider, CountingExporter(options.sample_bound))
        if not with_flywheel:
            provider.add_span_processor(BatchSpanProcessor(setup.exporter))
            return setup
        setup.pipeline = CountingPipeline()
        for processor in options.processors(options.wiring, setup.exporter, setup.pipeline):
            provider.add_span_processor(processor)
            if isinstance(processor, FlywheelSpanProcessor):
                setup.flywheel = processor
        return setup

    def finish(self, traces: int, spans: int) -> Run:
        """Flush, check that everything arrived, shut down."""
        problems = [] if self.provider.force_flush(_FLUSH_TIMEOUT_MILLIS) else ["flush timed out"]
        if self.exporter.spans != spans:
            problems.append(f"the exporter received {self.exporter.spans} of {spans} spans")
        run = Run(problems)
        if self.flywheel is not None and self.pipeline is not None:
            if self.exporter.sampling:
                traces, spans = self.exporter.kept_traces, self.exporter.kept_spans
            pipeline = self.pipeline
            run.expected, run.delivered = traces, pipeline.traces
            run.dropped = dict(self.flywheel.dropped)
            if pipeline.traces != traces or pipeline.steps != spans:
                problems.append(
                    f"flywheel delivered {pipeline.traces} of {traces} traces"
                    f" ({pipeline.steps} of {spans} spans)"
                )
            if run.dropped:
                problems.append(f"flywheel dropped spans: {run.dropped}")
        self.provider.shutdown()
        return run


@dataclass
class Run:
    problems: list[str]
    expected: int = 0  # traces the flywheel should deliver (those its sampling rule keeps)
    delivered: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    wall_us: float = 0.0  # per span, the agent's thread
    agent_cpu_us: float = 0.0  # per span, the agent thread's own CPU time
    others_cpu_us: float = 0.0  # per span, all other threads' CPU time during the loop
    others_after_us: float = 0.0  # per span, other threads' CPU time while flushing afterwards
    trace_wall_us: list[float] = field(default_factory=list)  # paced: one per trace


def tight_run(options: Options, *, with_flywheel: bool, traces: int) -> Run:
    setup = Setup.build(options, with_flywheel=with_flywheel)
    tracer = setup.provider.get_tracer("hot-path-benchmark")
    trace_size = options.trace_size
    gc.collect()
    wall0, agent0, all0 = time.perf_counter_ns(), time.thread_time_ns(), time.process_time_ns()
    for _ in range(traces):
        run_trace(tracer, trace_size, 0.0)
    wall1, agent1, all1 = time.perf_counter_ns(), time.thread_time_ns(), time.process_time_ns()
    setup.provider.force_flush(_FLUSH_TIMEOUT_MILLIS)
    agent2, all2 = time.thread_time_ns(), time.process_time_ns()
    spans = traces * trace_size
    run = setup.finish(traces, spans)
    run.wall_us = (wall1 - wall0) / spans / 1000
    run.agent_cpu_us = (agent1 - agent0) / spans / 1000
    run.others_cpu_us = ((all1 - all0) - (agent1 - agent0)) / spans / 1000
    run.others_after_us = ((all2 - all1) - (agent2 - agent1)) / spans / 1000
    return run


def paced_run(options: Options, *, with_flywheel: bool) -> Run:
    setup = Setup.build(options, with_flywheel=with_flywheel)
    tracer = setup.provider.get_tracer("hot-path-benchmark")
    durations: list[float] = []
    gc.collect()
    for _ in range(_PACED_TRACES):
        start = time.perf_counter_ns()
        run_trace(tracer, options.trace_size, options.io_wait_seconds)
        durations.append((time.perf_counter_ns() - start) / 1000)
    run = setup.finish(_PACED_TRACES, _PACED_TRACES * options.trace_size)
    run.trace_wall_us = durations
    return run


def ended_spans(options: Options) -> list[ReadableSpan]:
    """Real ended SDK spans of the benchmark's shape, kept by a processor that only collects."""
    kept: list[ReadableSpan] = []

    class Keep(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            kept.append(span)

    provider = TracerProvider()
    provider.add_span_processor(Keep())
    tracer = provider.get_tracer("hot-path-benchmark")
    for _ in range(max(1, _ON_END_SPANS // options.trace_size)):
        run_trace(tracer, options.trace_size, 0.0)
    provider.shutdown()
    return kept


def on_end_us(make: Callable[[], SpanProcessor], spans: Sequence[ReadableSpan]) -> float:
    """``on_end`` alone, per span, worker asleep: blocks below the wake-up threshold, each followed
    by an untimed flush. A fresh processor sees each span once."""
    processor = make()
    gc.collect()
    elapsed_ns = 0
    on_end = processor.on_end
    for start in range(0, len(spans), _ON_END_BLOCK):
        block = spans[start : start + _ON_END_BLOCK]
        t0 = time.perf_counter_ns()
        for span in block:
            on_end(span)
        elapsed_ns += time.perf_counter_ns() - t0
        processor.force_flush(_FLUSH_TIMEOUT_MILLIS)
    processor.shutdown()
    return elapsed_ns / len(spans) / 1000


def worker_cpu_us(
    options: Options, spans: Sequence[ReadableSpan], wiring: Wiring
) -> tuple[float, Run]:
    """CPU time of every thread but this one (the capture worker's and the export batcher's)
    while ``spans`` are handed to fresh processors wired as ``wiring`` and flushed, per span."""
    bound = options.sample_bound
    kept = [
        span
        for span in spans
        if span.context is not None and span.context.trace_id & _TRACE_ID_LOW_BITS_MASK < bound
    ]
    pipeline = CountingPipeline()
    exporter = CountingExporter()
    processors = options.processors(wiring, exporter, pipeline)
    gc.collect()
    caller0, all0 = time.thread_time_ns(), time.process_time_ns()
    for span in spans:
        for processor in processors:
            processor.on_end(span)
    flushed = all(processor.force_flush(_FLUSH_TIMEOUT_MILLIS) for processor in processors)
    caller1, all1 = time.thread_time_ns(), time.process_time_ns()
    run = Run([] if flushed else ["flush timed out"], delivered=pipeline.traces)
    if pipeline.steps != len(kept):
        run.problems.append(f"flywheel delivered {pipeline.steps} of {len(kept)} spans")
    if exporter.spans != len(spans):
        run.problems.append(f"the exporter received {exporter.spans} of {len(spans)} spans")
    for processor in processors:
        if isinstance(processor, FlywheelSpanProcessor):
            run.dropped = dict(processor.dropped)
    if run.dropped:
        run.problems.append(f"flywheel dropped spans: {run.dropped}")
    for processor in processors:
        processor.shutdown()
    return ((all1 - all0) - (caller1 - caller0)) / len(spans) / 1000, run


# --- report -----------------------------------------------------------------------------------


def median(runs: Sequence[Run], name: str) -> float:
    return statistics.median(float(getattr(run, name)) for run in runs)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def flywheel_summary(runs: Sequence[Run]) -> str:
    delivered = sum(run.delivered for run in runs)
    expected = sum(run.expected for run in runs)
    dropped: dict[str, int] = {}
    for run in runs:
        for reason, count in run.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + count
    return (
        f"flywheel delivered {delivered} of {expected} traces; dropped spans: {dropped or 'none'}"
    )


def report_tight(options: Options, baseline: Sequence[Run], candidate: Sequence[Run]) -> None:
    print(
        f"\n1. tight loop: {options.repeats} x {options.spans} spans per variant, interleaved"
        f" (per span, median of runs)"
    )
    header = (
        f"{'':<16}{'wall us':>9}{'min-max':>13}{'agent CPU us':>14}{'other threads CPU us':>22}"
    )
    print(header)
    print("-" * len(header))
    for name, runs in (("BSP", baseline), (CANDIDATE, candidate)):
        walls = [run.wall_us for run in runs]
        print(
            f"{name:<16}{median(runs, 'wall_us'):>9.1f}"
            f"{f'{min(walls):.1f}-{max(walls):.1f}':>13}"
            f"{median(runs, 'agent_cpu_us'):>14.1f}{median(runs, 'others_cpu_us'):>22.1f}"
        )
    paired = sorted(c.wall_us / b.wall_us for b, c in zip(baseline, candidate, strict=True))
    ratio = median(candidate, "wall_us") / median(baseline, "wall_us")
    cpu_ratio = median(candidate, "agent_cpu_us") / median(baseline, "agent_cpu_us")
    print(
        f"ratio candidate/baseline: wall {ratio:.2f} (paired runs {paired[0]:.2f}-{paired[-1]:.2f};"
        f" target <= 1.15), agent CPU {cpu_ratio:.2f}"
    )
    after = median(candidate, "others_after_us") - median(baseline, "others_after_us")
    print(f"{flywheel_summary(candidate)}; worker CPU after the loop {after:.1f} us/span")


def report_paced(options: Options, baseline: Sequence[Run], candidate: Sequence[Run]) -> None:
    print(
        f"\n2. paced: {options.io_wait_seconds * 1000:g} ms of I/O wait before each TOOL span,"
        f" {options.repeats} x {_PACED_TRACES} traces per variant, interleaved (per trace)"
    )
    header = f"{'':<16}{'mean us':>9}{'p50 us':>9}{'p99 us':>9}{'max us':>9}"
    print(header)
    print("-" * len(header))
    means: list[float] = []
    p99s: list[float] = []
    for name, runs in (("BSP", baseline), (CANDIDATE, candidate)):
        durations = [d for run in runs for d in run.trace_wall_us]
        means.append(statistics.fmean(durations))
        p99s.append(percentile(durations, 0.99))
        print(
            f"{name:<16}{means[-1]:>9.0f}{percentile(durations, 0.5):>9.0f}{p99s[-1]:>9.0f}"
            f"{max(durations):>9.0f}"
        )
    added = means[1] - means[0]
    print(
        f"flywheel adds {added:.0f} us per trace ({added / options.trace_size:.1f} us per span,"
        f" {means[1] / means[0]:.3f}x) on average, {p99s[1] - p99s[0]:.0f} us at p99"
    )
    print(flywheel_summary(candidate))


def label(runs: Sequence[Run], variant: str) -> None:
    for number, run in enumerate(runs, start=1):
        run.problems = [f"{variant}, run {number}: {problem}" for problem in run.problems]


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description="Per-span cost of FlywheelSpanProcessor on the agent's thread.",
        epilog="example: .venv/bin/python benchmarks/hot_path.py --spans 40000 --repeats 7",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--spans", type=int, default=40_000, help="spans per tight-loop run")
    parser.add_argument("--repeats", type=int, default=7, help="runs per variant and section")
    parser.add_argument(
        "--trace-size", type=int, default=8, help="spans per trace: 1 AGENT + TOOLs"
    )
    parser.add_argument(
        "--io-wait-millis",
        type=float,
        default=0.5,
        help="paced section: I/O wait before each TOOL span; 0 skips the section",
    )
    parser.add_argument(
        "--schedule-delay-millis",
        type=int,
        default=None,
        help="passed to FlywheelSpanProcessor; None: its own default",
    )
    parser.add_argument(
        "--wiring",
        choices=WIRINGS,
        default=WIRINGS[-1],
        help="sections 1-3: how export and capture are wired (section 4 measures both)",
    )
    parser.add_argument(
        "--sample-ratio",
        type=float,
        default=None,
        help="passed to FlywheelSpanProcessor: share of traces it captures, 0-1; None: its default",
    )
    args = parser.parse_args(argv)
    if args.trace_size < 2 or args.spans < args.trace_size or args.repeats < 1:
        parser.error("need --trace-size >= 2, --spans >= --trace-size and --repeats >= 1")
    if args.io_wait_millis < 0 or not (args.sample_ratio is None or 0 <= args.sample_ratio <= 1):
        parser.error("need --io-wait-millis >= 0 and 0 <= --sample-ratio <= 1")
    return Options(
        traces=args.spans // args.trace_size,
        trace_size=args.trace_size,
        repeats=args.repeats,
        io_wait_seconds=args.io_wait_millis / 1000,
        schedule_delay_millis=args.schedule_delay_millis,
        sample_ratio=args.sample_ratio,
        wiring=args.wiring,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    print("otel-flywheel hot-path benchmark")
    print(f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}),"
        f" opentelemetry-sdk {version('opentelemetry-sdk')}, otel-flywheel {version('otel-flywheel')},"
        f" {platform.system()} {platform.machine()}, os.cpu_count()={os.cpu_count()},"
        f" switch interval {sys.getswitchinterval() * 1000:g} ms,"
        f" load average {os.getloadavg()[0]:.2f} at start"
    )
    settings = options.settings
    print(
        f"traces of {options.trace_size} spans (1 AGENT + {options.trace_size - 1} TOOL);"
        f" flywheel: schedule_delay_millis={settings.schedule_delay_millis},"
        f" trace_grace_millis=0, max_queue_size={settings.max_queue_size},"
        f" sample_ratio={settings.sample_ratio:g}; wiring {options.wiring} (sections 1-3)"
    )

    runs: list[Run] = []
    warm_up_traces = max(1, min(options.traces, _WARM_UP_SPANS // options.trace_size))
    for with_flywheel in (False, True):
        tight_run(options, with_flywheel=with_flywheel, traces=warm_up_traces)
    baseline: list[Run] = []
    candidate: list[Run] = []
    for _ in range(options.repeats):
        baseline.append(tight_run(options, with_flywheel=False, traces=options.traces))
        candidate.append(tight_run(options, with_flywheel=True, traces=options.traces))
    report_tight(options, baseline, candidate)
    label(baseline, "tight loop, BSP")
    label(candidate, f"tight loop, {CANDIDATE}")
    runs += baseline + candidate

    if options.io_wait_seconds:
        baseline, candidate = [], []
        for _ in range(options.repeats):
            baseline.append(paced_run(options, with_flywheel=False))
            candidate.append(paced_run(options, with_flywheel=True))
        report_paced(options, baseline, candidate)
        label(baseline, "paced, BSP")
        label(candidate, f"paced, {CANDIDATE}")
        runs += baseline + candidate

    spans = ended_spans(options)
    flywheel_us: list[float] = []
    bsp_us: list[float] = []
    exporting = options.wiring == "one-pass"
    for _ in range(options.repeats):
        bsp_us.append(on_end_us(lambda: BatchSpanProcessor(CountingExporter()), spans))
        flywheel_us.append(
            on_end_us(
                lambda: options.flywheel(exporter=CountingExporter() if exporting else None), spans
            )
        )
    print(
        f"\n3. on_end alone, worker asleep ({len(spans)} pre-ended spans, median of"
        f" {options.repeats}): FlywheelSpanProcessor{' (exporting)' if exporting else ''}"
        f" {statistics.median(flywheel_us):.2f} us, BatchSpanProcessor {statistics.median(bsp_us):.2f} us"
    )
    worker_us: dict[Wiring, list[float]] = {wiring: [] for wiring in WIRINGS}
    for _ in range(options.repeats):
        for wiring in WIRINGS:
            cpu_us, run = worker_cpu_us(options, spans, wiring)
            worker_us[wiring].append(cpu_us)
            label([run], f"worker alone, {wiring}")
            runs.append(run)
    print(
        f"4. capture and export threads alone ({len(spans)} pre-ended spans handed over and"
        f" flushed, median of {options.repeats}), CPU per span:"
    )
    for wiring in WIRINGS:
        print(
            f"   {wiring:<9} {statistics.median(worker_us[wiring]):6.1f} us  ({WIRING_TEXT[wiring]})"
        )
    if len(WIRINGS) == 2:
        ratio = statistics.median(worker_us["one-pass"]) / statistics.median(worker_us["separate"])
        print(f"   one-pass / separate: {ratio:.2f}")
    print(f"load average {os.getloadavg()[0]:.2f} at end")

    problems = [problem for run in runs for problem in run.problems]
    if problems:
        print("\n" + "!" * 78)
        print("!!! NOT EVERY SPAN OR TRACE ARRIVED: the figures above are suspect")
        for problem in problems:
            print(f"!!!   {problem}")
        print("!" * 78)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
