"""What redaction costs and what it finds: on realistic agent text, and on labelled agent spans.

0. Agent text (``agent_text``): tool outputs as JSON documents (search results, database rows,
   fetched web pages, source files, shell output, message lists), 2.7 MB by default. Per kind and
   in all: the time of ``Redactor.redact_text`` next to ``json.loads`` of the same text, best of
   ``--repeats`` runs of each, alternating, the redactor's caches (results, phone numbers read)
   cleared before each run (every text and number is new to it); MB/s; the ratio; how far from a
   compiled scanner's ~1 GB/s; and the planted values found. Then the same texts again with the
   cache warm: what a repeat costs.
1. Strings of labelled spans (``span_corpus``): ``Redactor.redact_text`` over every string,
   MB/s of UTF-8 input (median of runs); recall per kind (a planted value counts as found when it
   no longer appears verbatim in the output); false positives (benign strings altered / benign
   strings). With Presidio importable, the same for ``PresidioDetector`` (Presidio's pattern
   recognizers, no NLP model) in the same ``Redactor``, and for both detectors together.
2. Spans: ``redact_readable_span`` per span; and end to end, the CPU time of the export thread per
   span: ``BatchSpanProcessor`` around an exporter that only counts, against the same exporter
   wrapped in ``RedactingSpanExporter``, alternately (ABAB...), median of runs.
3. LLM spans after a tool call (from section 0's texts): the tool's output inside input.value's
   messages and again flattened beside it, as OpenInference writes a request; per span, caches
   cleared before each run: a repeat within one span is what is measured.

No assertions on time. Every end-to-end run checks that every span reached the exporter; if not,
the script says so and exits with status 1. The script uses only the public privacy API, so it
measures an older checkout too (``PYTHONPATH=<checkout> python benchmarks/redaction.py``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from agent_text import KINDS, AgentText, agent_texts
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode
from span_corpus import LABELS, Corpus, SpanSpec, Text, build_corpus, contains

from otel_flywheel import semconv as sc
from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy import (
    BuiltinDetector,
    Detector,
    RedactedResourceCache,
    RedactingSpanExporter,
    RedactionAudit,
    Redactor,
    redact_readable_span,
)

KEY = b"redaction-benchmark-key-0123456789abcdef"
PRESIDIO_LABELS = frozenset(LABELS) - {"secret"}  # Presidio has no secret recognizers
COMPILED_SCANNER_MB_PER_S = 1000  # a compiled multi-pattern scanner (RE2, Hyperscan): ~1 GB/s
_EXPORT_TIMEOUT_SECONDS = 120
_DELAY_MILLIS = 20  # the BatchSpanProcessor's schedule delay in the end-to-end runs

# --- 0. agent text against json.loads ------------------------------------------------------------


@dataclass
class Timing:
    megabytes: float
    loads: list[float] = field(default_factory=list)
    redact: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return min(self.redact) / min(self.loads)


def _clear_cache(redactor: Redactor) -> None:
    """Results cached per string, and phone numbers read per candidate: a timed run sees every
    text and number for the first time, as new traffic does."""
    clear = getattr(redactor, "clear_caches", None)  # results and tokens; older versions had
    cache = getattr(redactor, "cache", None)  # only a result cache, or none
    if clear is not None:
        clear()
    elif cache is not None:
        cache.clear()
    for detector in getattr(redactor, "joinable", ()):
        forget = getattr(detector, "forget_readings", None)
        if forget is not None:
            forget()


def measure_agent_text(
    texts: Sequence[AgentText], redactor: Redactor, repeats: int
) -> dict[str, Timing]:
    """Per kind: best-of wall times of json.loads and of redact_text, runs alternating."""
    by_kind = {kind: [t.text for t in texts if t.kind == kind] for kind in KINDS}
    timings = {
        kind: Timing(sum(len(t.encode()) for t in items) / 1e6) for kind, items in by_kind.items()
    }
    for items in by_kind.values():  # warm-up: compiled patterns, phonenumbers' metadata
        for text in items[:3]:
            redactor.redact_text(text, RedactionAudit())
    for _ in range(repeats):
        for kind, items in by_kind.items():
            gc.collect()
            start = time.perf_counter()
            for text in items:
                json.loads(text)
            timings[kind].loads.append(time.perf_counter() - start)
            _clear_cache(redactor)
            gc.collect()
            start = time.perf_counter()
            for text in items:
                redactor.redact_text(text, RedactionAudit())
            timings[kind].redact.append(time.perf_counter() - start)
    return timings


def warm_seconds(texts: Sequence[AgentText], redactor: Redactor) -> float:
    """All the texts again, once each was redacted: a repeated string within a trace."""
    for text in texts:
        redactor.redact_text(text.text, RedactionAudit())
    start = time.perf_counter()
    for text in texts:
        redactor.redact_text(text.text, RedactionAudit())
    return time.perf_counter() - start


def agent_recall(texts: Sequence[AgentText], redactor: Redactor) -> tuple[int, list[str]]:
    missed = []
    planted = 0
    for text in texts:
        output = str(redactor.redact_text(text.text, RedactionAudit()))
        for label, value in text.planted:
            planted += 1
            if contains(output, value):
                missed.append(f"{label} {value!r}")
    return planted, missed


def report_agent_text(texts: Sequence[AgentText], redactor: Redactor, repeats: int) -> None:
    timings = measure_agent_text(texts, redactor, repeats)
    total_mb = sum(t.megabytes for t in timings.values())
    print(
        f"\n0. agent text: {len(texts)} JSON documents, {total_mb:.2f} MB; best of {repeats}"
        " runs each, json.loads and redact_text alternating, caches cleared"
    )
    header = f"{'':<13}{'MB':>6}{'json.loads MB/s':>17}{'redact MB/s':>13}{'redact/loads':>14}"
    print(header)
    print("-" * len(header))
    for kind, timing in timings.items():
        print(
            f"{kind:<13}{timing.megabytes:>6.2f}{timing.megabytes / min(timing.loads):>17,.0f}"
            f"{timing.megabytes / min(timing.redact):>13.1f}{timing.ratio:>13.1f}x"
        )
    loads = sum(min(t.loads) for t in timings.values())
    redact = sum(min(t.redact) for t in timings.values())
    print(
        f"{'all':<13}{total_mb:>6.2f}{total_mb / loads:>17,.0f}{total_mb / redact:>13.1f}"
        f"{redact / loads:>13.1f}x  (target <= 4.5x)"
    )
    print(
        f"a compiled scanner (~{COMPILED_SCANNER_MB_PER_S:,} MB/s) would be"
        f" {COMPILED_SCANNER_MB_PER_S / (total_mb / redact):.0f}x faster than redact_text here"
    )
    warm = warm_seconds(texts, redactor)
    print(
        f"the same texts again, each already redacted once: {total_mb / warm:,.0f} MB/s"
        f" ({redact / warm:.0f}x faster: a repeat costs a cache lookup)"
    )
    planted, missed = agent_recall(texts, redactor)
    print(f"planted values found: {planted - len(missed)} of {planted}")
    for miss in missed[:10]:
        print(f"  missed: {miss}")


# --- 3. an LLM span that carries a tool's output twice ------------------------------------------


def llm_span_attributes(texts: Sequence[AgentText]) -> list[dict[str, str]]:
    """The LLM request after a tool call, as OpenInference writes it: the tool's output (the
    agent text's longest string: a log, a page, a file) inside input.value's messages and again
    as a flattened message. Seen for the first time, as a new tool output is."""
    spans = []
    for text in texts:
        output = max(_strings(json.loads(text.text)), key=len)
        messages = [
            {"role": "user", "content": "What does the tool's output say?"},
            {"role": "tool", "content": output},
        ]
        attributes = {
            "openinference.span.kind": "LLM",
            "input.value": json.dumps({"model": "gpt-4o-mini", "messages": messages}),
        }
        for index, message in enumerate(messages):
            attributes[f"llm.input_messages.{index}.message.role"] = message["role"]
            attributes[f"llm.input_messages.{index}.message.content"] = message["content"]
        spans.append(attributes)
    return spans


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def report_llm_spans(texts: Sequence[AgentText], redactor: Redactor, repeats: int) -> None:
    spans = llm_span_attributes(texts)
    timings = []
    for _ in range(repeats):
        _clear_cache(redactor)
        gc.collect()
        start = time.perf_counter_ns()
        for attributes in spans:
            redactor.redact_attributes(attributes, RedactionAudit())
        timings.append((time.perf_counter_ns() - start) / len(spans) / 1000)
    print(
        f"\n3. LLM spans carrying a tool's output twice (in input.value and flattened): "
        f"{len(spans)} spans, {statistics.median(timings):.0f} us per span (median of {repeats})"
    )


# --- 1. texts ----------------------------------------------------------------------------------


@dataclass
class Accuracy:
    found: Counter[str] = field(default_factory=Counter)
    planted: Counter[str] = field(default_factory=Counter)
    altered_benign: int = 0
    benign: int = 0

    def add(self, text: Text, found: Sequence[bool], altered: bool) -> None:
        for (label, _), hit in zip(text.planted, found, strict=True):
            self.planted[label] += 1
            self.found[label] += hit
        if not text.planted:
            self.benign += 1
            self.altered_benign += altered

    def recall(self, labels: frozenset[str] | tuple[str, ...] = LABELS) -> float:
        planted = sum(self.planted[label] for label in labels)
        return sum(self.found[label] for label in labels) / planted if planted else float("nan")


@dataclass
class Variant:
    name: str
    redactor: Redactor
    seconds: list[float] = field(default_factory=list)
    accuracy: Accuracy = field(default_factory=Accuracy)

    def redact(self, texts: Sequence[Text]) -> list[str]:
        """The redacted strings, ``""`` for a dropped one; the part that is timed."""
        outputs = [self.redactor.redact_text(text.value, RedactionAudit()) for text in texts]
        return [output if isinstance(output, str) else "" for output in outputs]


def score(texts: Sequence[Text], outputs: Sequence[str]) -> Accuracy:
    accuracy = Accuracy()
    for text, output in zip(texts, outputs, strict=True):
        found = [not contains(output, value) for _, value in text.planted]
        accuracy.add(text, found, output != text.value)
    return accuracy


def measure_texts(variants: Sequence[Variant], texts: Sequence[Text], repeats: int) -> None:
    for variant in variants:  # warm-up: compiled patterns, caches
        variant.redact(texts[:200])
    for _ in range(repeats):
        for variant in variants:
            _clear_cache(variant.redactor)  # each run sees every string for the first time
            gc.collect()
            start = time.perf_counter()
            outputs = variant.redact(texts)
            variant.seconds.append(time.perf_counter() - start)
            variant.accuracy = score(texts, outputs)


def report_texts(corpus: Corpus, variants: Sequence[Variant], repeats: int) -> None:
    texts = corpus.texts
    planted = sum(1 for text in texts if text.planted)
    values = Counter(label for text in texts for label, _ in text.planted)
    print(
        f"\n1. strings: {len(texts)}, {corpus.megabytes:.2f} MB; {planted} carry planted"
        f" values ({planted / len(texts):.1%}); median of {repeats} runs"
    )
    print("   planted values per kind: " + ", ".join(f"{k} {values[k]}" for k in LABELS))
    header = f"{'':<38}{'MB/s':>7}{'recall':>8}" + "".join(f"{k:>7}" for k in LABELS) + f"{'FP':>8}"
    print(header)
    print("-" * len(header))
    for variant in variants:
        accuracy = variant.accuracy
        megabytes_per_second = corpus.megabytes / statistics.median(variant.seconds)
        per_kind = "".join(
            f"{accuracy.found[k] / accuracy.planted[k]:>7.1%}"
            if accuracy.planted[k]
            else f"{'-':>7}"
            for k in LABELS
        )
        fp = accuracy.altered_benign / accuracy.benign if accuracy.benign else float("nan")
        print(
            f"{variant.name:<38}{megabytes_per_second:>7.2f}{accuracy.recall():>8.1%}{per_kind}"
            f"{fp:>8.2%}"
        )
    print("recall: planted values no longer in the output; FP: benign strings altered / benign")
    for variant in variants:
        if variant.name.startswith("presidio"):
            recall = variant.accuracy.recall(PRESIDIO_LABELS)
            print(f"presidio recall on the kinds it covers (all but secret): {recall:.1%}")


# --- 2. spans ----------------------------------------------------------------------------------


class CountingExporter(SpanExporter):
    """Exports nowhere; counts spans, and spans that carry a redaction audit."""

    def __init__(self) -> None:
        self.spans = 0
        self.audited = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        self.audited += sum(
            1
            for span in spans
            if span.attributes and sc.FLYWHEEL_REDACTION_COUNT in span.attributes
        )
        return SpanExportResult.SUCCESS


def ended_spans(specs: Sequence[SpanSpec]) -> list[ReadableSpan]:
    """Real ended SDK spans with the corpus's attributes, events and statuses."""
    kept: list[ReadableSpan] = []

    class Keep(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            kept.append(span)

    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "support-agent", "deployment.environment": "benchmark"}
        )
    )
    provider.add_span_processor(Keep())
    tracer = provider.get_tracer("redaction-benchmark")
    for spec in specs:
        with tracer.start_as_current_span(
            spec.name,
            attributes=spec.attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            for name, attributes in spec.events:
                span.add_event(name, attributes)
            if spec.status_description is not None:
                span.set_status(Status(StatusCode.ERROR, spec.status_description))
    provider.shutdown()
    return kept


def redact_span_us(spans: Sequence[ReadableSpan], redactor: Redactor) -> float:
    """Per span, cache cleared first: strings repeated within the run's traces (a question in
    the AGENT and the LLM span) are reused, as a trace's are."""
    resources = RedactedResourceCache(redactor)
    _clear_cache(redactor)
    gc.collect()
    start = time.perf_counter_ns()
    for span in spans:
        redact_readable_span(span, redactor, resources=resources)
    return (time.perf_counter_ns() - start) / len(spans) / 1000


@dataclass
class ExportRun:
    cpu_us: float  # per span: every thread but the caller's (the BatchSpanProcessor's worker)
    problems: list[str]
    audited: int


def export_run(spans: Sequence[ReadableSpan], redactor: Redactor | None) -> ExportRun:
    """Hands ``spans`` to a BatchSpanProcessor and sleeps until its worker has exported them all.

    No ``force_flush``: it exports on the calling thread. The caller only enqueues, then sleeps,
    so the CPU time of the other threads is the worker's.
    """
    counter = CountingExporter()
    exporter: SpanExporter = (
        counter if redactor is None else RedactingSpanExporter(counter, redactor)
    )
    if redactor is not None:
        _clear_cache(redactor)
    # Room for every span (none is dropped however far the worker falls behind) and a short
    # delay, so that the last partial batch leaves without waiting 5 s.
    processor = BatchSpanProcessor(
        exporter, max_queue_size=max(len(spans), 512), schedule_delay_millis=_DELAY_MILLIS
    )
    gc.collect()
    caller0, all0 = time.thread_time_ns(), time.process_time_ns()
    for span in spans:
        processor.on_end(span)
    deadline = time.monotonic() + _EXPORT_TIMEOUT_SECONDS
    while counter.spans < len(spans) and time.monotonic() < deadline:
        time.sleep(_DELAY_MILLIS / 1000 / 4)
    caller1, all1 = time.thread_time_ns(), time.process_time_ns()
    processor.shutdown()  # type: ignore[no-untyped-call]
    problems = []
    if counter.spans != len(spans):
        problems.append(f"exported {counter.spans} of {len(spans)} spans")
    cpu_us = ((all1 - all0) - (caller1 - caller0)) / len(spans) / 1000
    return ExportRun(cpu_us, problems, counter.audited)


# --- main --------------------------------------------------------------------------------------


def presidio_detector() -> Detector | None:
    from otel_flywheel.privacy._presidio import PresidioDetector

    try:
        return PresidioDetector()
    except ConfigError as error:  # presidio-analyzer is not installed
        print(f"Presidio skipped: {error}")
        return None


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput, per-span cost and recall of redaction on a labelled span corpus.",
        epilog="example: .venv/bin/python benchmarks/redaction.py --traces 200 --repeats 3",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--agent-texts",
        type=int,
        default=120,
        help="agent text documents for section 0 (the six kinds in turn); 0 skips it",
    )
    parser.add_argument("--traces", type=int, default=200, help="traces of 4 spans in the corpus")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant")
    parser.add_argument("--seed", type=int, default=42, help="seed of Faker and random")
    parser.add_argument(
        "--plant-rate",
        type=float,
        default=0.2,
        help="chance that a generated text (message, tool arguments or result, document, exception"
        " message) gets a planted value; messages reappear in several attributes, and 0.2 plants"
        " a value in ~1 string in 10",
    )
    parser.add_argument(
        "--no-presidio", action="store_true", help="skip Presidio even when it is importable"
    )
    args = parser.parse_args(argv)
    if args.traces < 1 or args.repeats < 1 or not 0 <= args.plant_rate <= 1:
        parser.error("need --traces >= 1, --repeats >= 1 and 0 <= --plant-rate <= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_options(argv)
    print("otel-flywheel redaction benchmark")
    print(f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}),"
        f" opentelemetry-sdk {version('opentelemetry-sdk')}, otel-flywheel {version('otel-flywheel')},"
        f" phonenumbers {package_version('phonenumbers')},"
        f" presidio-analyzer {package_version('presidio-analyzer')},"
        f" {platform.system()} {platform.machine()}, os.cpu_count()={os.cpu_count()},"
        f" load average {os.getloadavg()[0]:.2f} at start"
    )
    ours = Redactor(key=KEY, detectors=[BuiltinDetector()])
    texts = agent_texts(args.agent_texts, seed=args.seed) if args.agent_texts else []
    if texts:
        report_agent_text(texts, ours, args.repeats)
    corpus = build_corpus(args.traces, args.seed, args.plant_rate, ours)
    print(
        f"corpus: {args.traces} traces, {len(corpus.spans)} spans (AGENT, LLM, TOOL, RETRIEVER),"
        f" seed {args.seed}, plant rate {args.plant_rate:g}"
    )

    presidio = None if args.no_presidio else presidio_detector()
    variants = [Variant("ours: Redactor(BuiltinDetector)", ours)]
    if presidio is not None:
        variants += [
            Variant(
                "presidio: Redactor(PresidioDetector)", Redactor(key=KEY, detectors=[presidio])
            ),
            Variant(
                "both: Redactor(Builtin + Presidio)",
                Redactor(key=KEY, detectors=[BuiltinDetector(), presidio]),
            ),
        ]
    measure_texts(variants, corpus.texts, args.repeats)
    report_texts(corpus, variants, args.repeats)

    spans = ended_spans(corpus.spans)
    print(f"\n2. spans: {len(spans)} ended SDK spans; median of {args.repeats} runs")
    per_span = [("ours", ours, spans)]
    if presidio is not None:  # slow: a subset is enough
        both = Redactor(key=KEY, detectors=[BuiltinDetector(), presidio])
        per_span.append(("both", both, spans[: min(len(spans), 200)]))
    for name, redactor, subset in per_span:
        redact_span_us(subset[:50], redactor)  # warm-up
        us = statistics.median(redact_span_us(subset, redactor) for _ in range(args.repeats))
        print(f"redact_readable_span, {name}: {us:.1f} us per span ({len(subset)} spans)")

    export_run(spans[:200], None)  # warm-up
    export_run(spans[:200], ours)
    baseline: list[ExportRun] = []
    candidate: list[ExportRun] = []
    for _ in range(args.repeats):
        baseline.append(export_run(spans, None))
        candidate.append(export_run(spans, ours))
    base_us = statistics.median(run.cpu_us for run in baseline)
    redacting_us = statistics.median(run.cpu_us for run in candidate)
    print("export thread CPU per span, ours (BatchSpanProcessor's worker; runs alternate):")
    print(f"  BSP + counting exporter                          {base_us:>7.1f} us")
    print(f"  BSP + RedactingSpanExporter(counting exporter)   {redacting_us:>7.1f} us")
    print(
        f"  redaction adds {redacting_us - base_us:.1f} us per span;"
        f" {candidate[-1].audited} of {len(spans)} spans carry a redaction audit"
    )
    if texts:
        report_llm_spans(texts, ours, args.repeats)
    print(f"load average {os.getloadavg()[0]:.2f} at end")

    problems = [
        f"{variant} run {number}: {problem}"
        for variant, runs in (("baseline", baseline), ("redacting", candidate))
        for number, run in enumerate(runs, start=1)
        for problem in run.problems
    ]
    if problems:
        print("\n!!! NOT EVERY SPAN ARRIVED: the figures above are suspect")
        for problem in problems:
            print(f"!!!   {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
