"""Throughput of the rubric LLM judge (`LLMJudge`) against an endpoint with a fixed latency, next to
phoenix-evals on the same traces and the same endpoint, and what the judge's cache saves.

The endpoint is a `ScriptedLLMServer` in a child process, as a real endpoint is remote: in this
process it would compete with the judge for the GIL. It answers every chat completion with a valid
structured verdict after ``--latency-millis``, and records when each request arrived. The verdict's
label follows from a hash of the judged text, so every contender must return, for each trace, the
label the server chose: a check that the results are real and in order.

The traces are real: the demo's support agent runs its 20 scenarios in turn (``--traces`` runs) on
the real ``openai`` client, instrumented by OpenInference; the spans are normalized into
``AgentTrace`` records. Each is judged against one rubric, ``tool_selection``. The traces are not
redacted: redaction does not change what judging costs.

1. Throughput. At each concurrency C of ``--sweep``, the same number of rounds:
   ``rounds = ceil(--traces / --concurrency)`` (8 by default), so ``rounds x C`` judgments (the
   traces in turn) and an ideal time of ``rounds x latency`` everywhere. Three contenders, one after
   the other, each warmed up once beforehand:
   - *endpoint*: the bare ``openai.AsyncOpenAI`` client sending the judge's own requests under an
     ``asyncio.Semaphore(C)``: the ceiling of any judge built on that client, and the check that
     the server serves C requests at once;
   - *ours*: ``LLMJudge(concurrency=C, cache_path=None).run_many(...)``;
   - *phoenix-evals*: ``create_classifier`` with the rubric's labels, run by
     ``async_evaluate_dataframe(concurrency=C)`` on the same two messages ours sends (system
     message and fenced trace, rendered into two dataframe columns); its adaptive rate limiter is
     started at 100 x C / latency requests/s so that it is not what limits it.
   Throughput is judgments per second of wall time; "of ideal" divides it by ``C / latency``.
   "peak in flight" is the most requests the server held at once (from their arrival times).
2. The cache: the ``--traces`` traces judged at ``--concurrency`` with the cache on (a SQLite file
   in a temporary directory), then judged again, unchanged, by a fresh `LLMJudge` on the same file.
   The second pass must make 0 requests.

Targets: ours >= 0.9 of ideal, and ours / phoenix-evals >= 1.0, at every C. A miss is reported;
with ``--check`` it also exits with status 2. A run whose judgments failed, whose request count at
the server is off, or whose labels are wrong prints a ``!!!`` banner and exits with status 1: its
figures are suspect. No assertions on time.

    .venv/bin/python benchmarks/judge.py                  # defaults, ~30 s
    .venv/bin/python benchmarks/judge.py --traces 32 --sweep 16 --latency-millis 100 --check
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

import openai
from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_flywheel.conventions import SpanView, normalize_trace, span_view_from_readable
from otel_flywheel.demo._agent import SupportAgent
from otel_flywheel.demo._script import SCENARIOS, respond
from otel_flywheel.evaluators.judge import (
    JudgeCache,
    JudgePrompt,
    JudgeRun,
    LLMJudge,
    build_prompt,
    reply_schema,
)
from otel_flywheel.evaluators.rubric import Rubric, Taxonomy, load_rubrics, load_taxonomy
from otel_flywheel.model import AgentTrace
from otel_flywheel.testing.llm_server import (
    Reply,
    ScriptedLLMServer,
    Slow,
    StructuredJSON,
    Text,
    ToolCallReply,
    ToolCalls,
)

RUBRIC_ID = "tool_selection"
# A gpt-* name, so that phoenix-evals sends the system message with role "system", as ours does
# (for a model name it does not know it sends "developer").
JUDGE_MODEL = "gpt-4o-mini"
API_KEY = "benchmark"
TARGET_OF_IDEAL = 0.9
TARGET_RATIO = 1.0
_START_TIMEOUT_SECONDS = 60.0
_STOP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Options:
    traces: int
    concurrency: int
    sweep: tuple[int, ...]
    latency_seconds: float
    repeats: int
    phoenix_evals: bool
    check: bool

    @property
    def rounds(self) -> int:
        return math.ceil(self.traces / self.concurrency)


@dataclass
class Run:
    """One contender's run at one concurrency."""

    name: str
    concurrency: int
    items: int
    wall_seconds: float = 0.0
    client_cpu_seconds: float = 0.0  # this process: the contender, its HTTP client, the loop
    server_cpu_seconds: float = 0.0  # the endpoint's process
    requests: int = 0  # counted at the server
    peak_in_flight: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.items / self.wall_seconds if self.wall_seconds else 0.0

    def of_ideal(self, latency_seconds: float) -> float:
        return self.throughput * latency_seconds / self.concurrency


# --- the endpoint (runs in a child process) ---------------------------------------------------


def scripted_label(rubric: Rubric, judged_text: str) -> str:
    """The label the endpoint gives ``judged_text`` (the request's last message)."""
    labels = list(rubric.choices)
    return labels[hashlib.sha256(judged_text.encode()).digest()[0] % len(labels)]


class VerdictResponder:
    """Answers every judge request, after a fixed latency, with a valid verdict in the shape the
    request asks for; records each request's arrival time."""

    def __init__(self, rubric: Rubric, taxonomy: Taxonomy, *, latency_seconds: float) -> None:
        self.rubric = rubric
        self.latency_seconds = latency_seconds
        category = rubric.categories[0]
        self._failing = {
            "category": category,
            "subcategory": next(iter(taxonomy.categories[category].subcategories)),
            "culprit_step": 1,
        }
        # Appended on the server's thread; list.append is atomic under the GIL.
        self.arrivals: list[float] = []

    def __call__(self, body: dict[str, Any]) -> Reply:
        self.arrivals.append(time.monotonic())
        messages = body.get("messages") or [{}]
        label = scripted_label(self.rubric, str(messages[-1].get("content")))
        verdict: dict[str, Any] = {
            "explanation": f"Step 1 decides it: {label}.",
            "label": label,
            "category": None,
            "subcategory": None,
            "culprit_step": None,
            "confidence": 0.9,
        }
        if not self.rubric.passes(label):
            verdict.update(self._failing)
        # Only the fields the request's schema names: phoenix-evals asks for two of them.
        response_format = body.get("response_format") or {}
        tools = body.get("tools") or []
        if response_format.get("type") == "json_schema":
            properties = response_format["json_schema"]["schema"].get("properties", {})
        elif tools:
            properties = tools[0]["function"]["parameters"].get("properties", {})
        else:
            properties = verdict
        value = {key: verdict[key] for key in properties if key in verdict}
        answer: StructuredJSON | ToolCalls | Text
        if response_format:
            answer = StructuredJSON(value)
        elif tools:
            answer = ToolCalls([ToolCallReply(tools[0]["function"]["name"], value)])
        else:
            answer = Text(json.dumps(value))
        return Slow(self.latency_seconds, then=answer)


def serve_endpoint(connection: Connection, latency_seconds: float) -> None:
    """The child process: serve until told to stop. Asked for ``since``, it answers with the
    arrival times after the first ``since`` requests and its CPU seconds so far."""
    taxonomy = load_taxonomy()
    responder = VerdictResponder(
        load_rubrics(taxonomy=taxonomy)[RUBRIC_ID], taxonomy, latency_seconds=latency_seconds
    )
    with ScriptedLLMServer(responder=responder) as server:
        connection.send(server.base_url)
        while True:
            try:
                since = connection.recv()
            except EOFError:  # the benchmark is gone
                return
            if since is None:
                return
            connection.send((responder.arrivals[since:], time.process_time()))


class EndpointProcess:
    """The endpoint in a child process (spawned: forking a process that runs threads is unsafe)."""

    def __init__(self, latency_seconds: float) -> None:
        self.latency_seconds = latency_seconds
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=serve_endpoint, args=(child, latency_seconds), daemon=True
        )
        self.base_url = ""
        self.requests = 0  # as of the last `poll`

    def __enter__(self) -> EndpointProcess:
        self._process.start()
        if not self._connection.poll(_START_TIMEOUT_SECONDS):
            self._process.kill()
            raise RuntimeError("the endpoint process did not start; its stderr says why")
        self.base_url = self._connection.recv()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._connection.send(None)
        self._process.join(_STOP_TIMEOUT_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def poll(self, since: int) -> tuple[list[float], float]:
        """Arrival times of the requests after the first ``since``; the server's CPU seconds."""
        self._connection.send(since)
        arrivals, cpu_seconds = self._connection.recv()
        self.requests = since + len(arrivals)
        return arrivals, cpu_seconds


def peak_in_flight(arrivals: Sequence[float], latency_seconds: float) -> int:
    """Each request is held for the latency, so: the most arrivals within one latency."""
    peak = start = 0
    for end, arrived in enumerate(arrivals):
        while arrived - arrivals[start] >= latency_seconds:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


# --- the traces -------------------------------------------------------------------------------


def demo_traces(count: int) -> list[AgentTrace]:
    """``count`` runs of the demo agent (its scenarios in turn), normalized, in run order."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with (
            ScriptedLLMServer(responder=respond) as llm,
            openai.OpenAI(base_url=llm.base_url, api_key=API_KEY, max_retries=0) as client,
        ):
            tracer = OITracer(provider.get_tracer("benchmarks.judge"), config=TraceConfig())
            agent = SupportAgent(client=client, tracer=tracer)
            for index in range(count):
                agent.run(SCENARIOS[index % len(SCENARIOS)].conversation(index + 1))
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    grouped: dict[str, list[SpanView]] = {}
    for span in exporter.get_finished_spans():
        view = span_view_from_readable(span)
        grouped.setdefault(view.trace_id, []).append(view)
    by_session = {trace.session_id: trace for trace in map(normalize_trace, grouped.values())}
    return [
        by_session[SCENARIOS[index % len(SCENARIOS)].conversation(index + 1).session_id]
        for index in range(count)
    ]


# --- the contenders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    rubric: Rubric
    taxonomy: Taxonomy
    traces: Sequence[AgentTrace]
    prompts: Sequence[JudgePrompt]
    base_url: str

    def expected(self) -> list[str]:
        return [scripted_label(self.rubric, p.messages[-1]["content"]) for p in self.prompts]


Prepared = tuple[Callable[[], Coroutine[Any, Any, Any]], Callable[[Any], list[str | None]]]
"""What a contender prepares, untimed: the coroutine function to time, and how to read the labels
(None for a failed judgment) out of its result."""

Contender = Callable[[Workload, int], Prepared]


def bare_client(workload: Workload, concurrency: int) -> Prepared:
    """The judge's requests (same messages, same strict JSON schema), sent by the bare client."""
    schema = reply_schema(workload.rubric, workload.taxonomy)
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "judge_verdict", "schema": schema, "strict": True},
    }
    requests = [
        {"model": JUDGE_MODEL, "messages": p.messages, "response_format": response_format}
        for p in workload.prompts
    ]

    async def run() -> list[str | None]:
        semaphore = asyncio.Semaphore(concurrency)
        async with openai.AsyncOpenAI(
            base_url=workload.base_url, api_key=API_KEY, max_retries=0
        ) as client:

            async def one(request: dict[str, Any]) -> str | None:
                async with semaphore:
                    completion = await client.chat.completions.create(**request)
                label = json.loads(completion.choices[0].message.content or "{}").get("label")
                return label if isinstance(label, str) else None

            return list(await asyncio.gather(*(one(request) for request in requests)))

    return run, list


def ours(workload: Workload, concurrency: int, *, cache_path: str | None = None) -> Prepared:
    judge = LLMJudge(
        model=JUDGE_MODEL,
        base_url=workload.base_url,
        api_key=API_KEY,
        concurrency=concurrency,
        cache_path=cache_path,
        taxonomy=workload.taxonomy,
        environ={},  # FLYWHEEL_JUDGE_* in the caller's environment must not change the benchmark
    )

    async def run() -> list[JudgeRun]:
        async with judge:
            return await judge.run_many((trace, workload.rubric) for trace in workload.traces)

    def labels(results: list[JudgeRun]) -> list[str | None]:
        return [r.evaluation.label if r.status in ("scored", "cached") else None for r in results]

    return run, labels


def phoenix_evals(workload: Workload, concurrency: int, *, latency_seconds: float) -> Prepared:
    import pandas as pd
    from phoenix.evals import LLM, async_evaluate_dataframe, create_classifier

    # Our own HTTP client, so that it is closed inside the event loop that used it.
    http_client = openai.DefaultAsyncHttpxClient()
    llm = LLM(
        provider="openai",
        model=JUDGE_MODEL,
        base_url=workload.base_url,
        api_key=API_KEY,
        # Its adaptive limiter starts at 5 requests/s: start it far above what C requests reach.
        initial_per_second_request_rate=100 * concurrency / latency_seconds,
        async_client_kwargs={"http_client": http_client},
    )
    name = workload.rubric.id
    classifier = create_classifier(
        name=name,
        # The two messages ours sends; the values are inserted verbatim, braces and all.
        prompt_template=[  # typed str, but any PromptLike works
            {"role": "system", "content": "{system}"},
            {"role": "user", "content": "{trace}"},
        ],
        llm=llm,
        choices=dict(workload.rubric.choices),
    )
    dataframe = pd.DataFrame(
        {
            "system": [p.messages[0]["content"] for p in workload.prompts],
            "trace": [p.messages[1]["content"] for p in workload.prompts],
        }
    )

    async def run() -> Any:
        try:
            return await async_evaluate_dataframe(
                dataframe=dataframe,
                evaluators=[classifier],
                concurrency=concurrency,
                hide_tqdm_bar=True,
                exit_on_error=False,
            )
        finally:
            await http_client.aclose()

    def labels(frame: Any) -> list[str | None]:
        completed = [d["status"] == "COMPLETED" for d in frame[f"{name}_execution_details"]]
        scores = frame[f"{name}_score"]
        return [
            score["label"] if ok and isinstance(score, dict) else None
            for ok, score in zip(completed, scores, strict=True)
        ]

    return run, labels


def measure(
    endpoint: EndpointProcess,
    name: str,
    contender: Contender,
    workload: Workload,
    concurrency: int,
    *,
    expected_requests: int | None = None,
) -> Run:
    """One timed run in a fresh event loop: wall and CPU time, requests counted at the server
    (one per judgment unless ``expected_requests`` says otherwise), and every label checked
    against the one the server chose."""
    run_factory, read_labels = contender(workload, concurrency)
    items = len(workload.prompts)
    _, server_cpu0 = endpoint.poll(endpoint.requests)
    since = endpoint.requests
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result: Any = asyncio.run(run_factory())
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    arrivals, server_cpu1 = endpoint.poll(since)
    run = Run(
        name,
        concurrency,
        items,
        wall_seconds=wall,
        client_cpu_seconds=cpu,
        server_cpu_seconds=server_cpu1 - server_cpu0,
        requests=len(arrivals),
        peak_in_flight=peak_in_flight(arrivals, endpoint.latency_seconds),
    )
    expected_requests = items if expected_requests is None else expected_requests
    if run.requests != expected_requests:
        run.problems.append(
            f"the server received {run.requests} requests for {items} judgments,"
            f" expected {expected_requests}"
        )
    labels = read_labels(result)
    failed = sum(1 for label in labels if label is None)
    if failed:
        run.problems.append(f"{failed} of {items} judgments failed")
    wrong = sum(
        1
        for got, want in zip(labels, workload.expected(), strict=True)
        if got is not None and got != want
    )
    if wrong:
        run.problems.append(f"{wrong} of {items} labels differ from the server's verdicts")
    return run


def contenders(options: Options) -> list[tuple[str, Contender]]:
    chosen: list[tuple[str, Contender]] = [("endpoint", bare_client), ("ours", ours)]
    if options.phoenix_evals:

        def theirs(workload: Workload, concurrency: int) -> Prepared:
            return phoenix_evals(workload, concurrency, latency_seconds=options.latency_seconds)

        chosen.append(("phoenix-evals", theirs))
    return chosen


def throughput_section(
    endpoint: EndpointProcess, workload: Workload, options: Options
) -> tuple[list[Run], list[str]]:
    """The sweep's runs, and the problems of the warm-up runs."""

    def first(count: int) -> Workload:
        indexes = [index % len(workload.traces) for index in range(count)]
        return dataclasses.replace(
            workload,
            traces=[workload.traces[index] for index in indexes],
            prompts=[workload.prompts[index] for index in indexes],
        )

    problems: list[str] = []
    # One round of each contender first, so that first-use costs (imports, schemas compiled on
    # first use, the SQLite cache's module) stay out of the timed runs.
    for name, contender in contenders(options):
        run = measure(endpoint, name, contender, first(options.concurrency), options.concurrency)
        problems += [f"{name}, warm-up: {problem}" for problem in run.problems]
    # Repeats alternate between the contenders (ABCABC), so that a noisy moment hits all of them.
    runs = [
        measure(endpoint, name, contender, first(options.rounds * concurrency), concurrency)
        for concurrency in options.sweep
        for _ in range(options.repeats)
        for name, contender in contenders(options)
    ]
    return runs, problems


@dataclass
class CacheResult:
    first: Run
    second: Run
    cached: int
    entries: int


def cache_section(endpoint: EndpointProcess, workload: Workload, options: Options) -> CacheResult:
    with tempfile.TemporaryDirectory(prefix="flywheel-judge-bench-") as directory:
        path = os.path.join(directory, "judge-cache.sqlite3")
        statuses: list[str] = []

        def cached(workload: Workload, concurrency: int) -> Prepared:
            run, labels = ours(workload, concurrency, cache_path=path)

            def read(results: list[JudgeRun]) -> list[str | None]:
                statuses[:] = [result.status for result in results]
                return labels(results)

            return run, read

        first = measure(endpoint, "cache, 1st pass", cached, workload, options.concurrency)
        second = measure(
            endpoint, "cache, 2nd pass", cached, workload, options.concurrency, expected_requests=0
        )
        hits = statuses.count("cached")
        if hits != len(statuses):
            second.problems.append(f"{hits} of {len(statuses)} judgments came from the cache")
        cache = JudgeCache(path)
        entries = len(cache)
        cache.close()
    return CacheResult(first=first, second=second, cached=hits, entries=entries)


# --- report -----------------------------------------------------------------------------------


def report_throughput(options: Options, runs: Sequence[Run]) -> list[str]:
    """Print the table; return the targets missed."""
    latency = options.latency_seconds
    print(
        f"\n1. throughput: {options.rounds} rounds at each concurrency C (rounds x C judgments),"
        f" {latency * 1000:g} ms per request; ideal = C / latency"
    )
    if options.repeats > 1:
        print(f"median of {options.repeats} runs, contenders alternating; min-max of the runs")
    header = (
        f"{'C':>4}  {'contender':<14}{'items':>6}{'wall s':>8}{'per s':>8}{'of ideal':>10}"
        f"{'min-max':>11}{'peak in flight':>16}{'CPU ms/item':>13}{'server CPU':>12}"
        f"{'ours / row':>12}"
    )
    print(header)
    print("-" * len(header))
    missed: list[str] = []
    for concurrency in options.sweep:
        names = dict.fromkeys(run.name for run in runs if run.concurrency == concurrency)
        point = {
            name: [run for run in runs if (run.concurrency, run.name) == (concurrency, name)]
            for name in names
        }
        median = {
            name: sorted(same, key=lambda run: run.throughput)[len(same) // 2]
            for name, same in point.items()
        }
        mine = median["ours"]
        for name, run in median.items():
            ratio = mine.throughput / run.throughput if run.throughput else 0.0
            fractions = [other.of_ideal(latency) for other in point[name]]
            print(
                f"{concurrency:>4}  {name:<14}{run.items:>6}{run.wall_seconds:>8.2f}"
                f"{run.throughput:>8.1f}{run.of_ideal(latency):>10.2f}"
                f"{f'{min(fractions):.2f}-{max(fractions):.2f}':>11}{run.peak_in_flight:>16}"
                f"{run.client_cpu_seconds * 1000 / run.items:>13.2f}"
                f"{run.server_cpu_seconds * 1000 / run.items:>12.2f}"
                f"{'' if run is mine else f'{ratio:.2f}x':>12}"
            )
            if run.name == "phoenix-evals" and ratio < TARGET_RATIO:
                missed.append(
                    f"C={concurrency}: ours / phoenix-evals {ratio:.2f}x (target >= {TARGET_RATIO})"
                )
        if mine.of_ideal(latency) < TARGET_OF_IDEAL:
            missed.append(
                f"C={concurrency}: ours at {mine.of_ideal(latency):.2f} of ideal"
                f" (target >= {TARGET_OF_IDEAL})"
            )
    print(
        "CPU ms/item: this process's CPU time per judgment (contender, HTTP client, event loop);"
        " server CPU: the endpoint process's"
    )
    return missed


def report_cache(options: Options, cache: CacheResult) -> None:
    first, second = cache.first, cache.second
    print(
        f"\n2. cache: {first.items} traces at C={options.concurrency}, then the same traces again"
        " by a fresh LLMJudge on the same SQLite file"
    )
    print(
        f"   1st pass: {first.requests} requests, {first.wall_seconds:.2f} s"
        f" ({first.of_ideal(options.latency_seconds):.2f} of ideal); {cache.entries} entries stored"
    )
    print(
        f"   2nd pass: {second.requests} requests, {cache.cached} of {second.items} from the cache,"
        f" {second.wall_seconds * 1000:.0f} ms ({second.wall_seconds * 1e6 / second.items:.0f} us"
        " per judgment)"
    )


def parse_concurrencies(text: str) -> tuple[int, ...]:
    try:
        values = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"need concurrencies >= 1, got {text!r}")
    return tuple(sorted(values))


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description="Throughput of LLMJudge against a fixed-latency endpoint, next to"
        " phoenix-evals, and what its cache saves.",
        epilog="example: .venv/bin/python benchmarks/judge.py --traces 128 --sweep 4,16,64 --check",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--traces", type=int, default=128, help="demo traces to build and judge")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="C of the cache section; rounds = ceil(traces / concurrency) at every C",
    )
    parser.add_argument(
        "--sweep",
        type=parse_concurrencies,
        default=(4, 16, 64),
        help="concurrencies to measure, comma-separated; --concurrency is added",
    )
    parser.add_argument(
        "--latency-millis", type=float, default=200.0, help="the endpoint's latency per request"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per contender and C; the median is shown"
    )
    parser.add_argument("--no-phoenix-evals", action="store_true", help="leave phoenix-evals out")
    parser.add_argument("--check", action="store_true", help="exit with 2 when a target is missed")
    args = parser.parse_args(argv)
    if min(args.traces, args.concurrency, args.repeats) < 1 or args.latency_millis <= 0:
        parser.error("need --traces, --concurrency and --repeats >= 1, and --latency-millis > 0")
    return Options(
        traces=args.traces,
        concurrency=args.concurrency,
        sweep=tuple(sorted({*args.sweep, args.concurrency})),
        latency_seconds=args.latency_millis / 1000,
        repeats=args.repeats,
        phoenix_evals=not args.no_phoenix_evals,
        check=args.check,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    print("otel-flywheel judge benchmark")
    print(f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")
    evals = (
        f", arize-phoenix-evals {version('arize-phoenix-evals')}" if options.phoenix_evals else ""
    )
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}),"
        f" openai {version('openai')}{evals}, otel-flywheel {version('otel-flywheel')},"
        f" {platform.system()} {platform.machine()}, os.cpu_count()={os.cpu_count()},"
        f" load average {os.getloadavg()[0]:.2f} at start"
    )
    started = time.perf_counter()
    taxonomy = load_taxonomy()
    rubric = load_rubrics(taxonomy=taxonomy)[RUBRIC_ID]
    traces = demo_traces(options.traces)
    prompts = [build_prompt(trace, rubric, taxonomy=taxonomy) for trace in traces]
    print(
        f"{len(traces)} demo traces ({len(SCENARIOS)} scenarios in turn), rubric {rubric.id},"
        f" ~{sum(p.estimated_tokens for p in prompts) / len(prompts):.0f} estimated tokens per"
        f" prompt; built in {time.perf_counter() - started:.1f} s"
    )

    with EndpointProcess(options.latency_seconds) as endpoint:
        workload = Workload(rubric, taxonomy, traces, prompts, endpoint.base_url)
        runs, problems = throughput_section(endpoint, workload, options)
        cache = cache_section(endpoint, workload, options)
    missed = report_throughput(options, runs)
    report_cache(options, cache)
    print(
        f"total {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at end"
    )

    problems += [
        f"{run.name}, C={run.concurrency}: {problem}"
        for run in [*runs, cache.first, cache.second]
        for problem in run.problems
    ]
    if problems:
        print("\n" + "!" * 78)
        print("!!! NOT EVERY JUDGMENT WENT AS SCRIPTED: the figures above are suspect")
        for problem in problems:
            print(f"!!!   {problem}")
        print("!" * 78)
        return 1
    if missed:
        print(f"\ntargets missed{'' if options.check else ' (reported only; --check enforces)'}:")
        for miss in missed:
            print(f"  {miss}")
        return 2 if options.check else 0
    print("\nevery target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
