"""How fast ``otel-flywheel evaluate --no-judge`` gets through a large OTLP file, in traces/s, and
where the time goes.

The file is real agent traffic, made large. The demo's support agent runs its 20 conversations on
the real ``openai`` client, instrumented by OpenInference, against the scripted model: 8-13 spans
per trace, LLM spans carrying the raw request and response JSON, tool calls, a retriever, emails,
phone and card numbers to redact. Those spans are then copied under fresh trace ids, 20 traces per
OTLP/JSON line as a Collector's file exporter batches them, up to ``--traces``. Beside the file:

- a references file: one version-2 line per trace, whose state-changing calls (refunds,
  cancellations) are expected and whose lookups are free;
- a tools file: the agent's tools as an MCP ``tools/list`` result, lookups marked
  ``readOnlyHint``.

Measured in one process, ``--repeats`` times each, alternately; medians:

1. *read, not redacted*: ``read_trace_file(redact=False)``: decode the OTLP JSON, assemble,
   normalize.
2. *read*: ``read_trace_file``, redacting as ``evaluate`` does. This is the baseline: every
   command that reads the file pays it.
3. *checks*: the evaluator suite's checks and roll-up over the traces already read, each with its
   references (read and redacted once, outside the timing).
4. *evaluate*: the whole command, ``main(["evaluate", ..., "--no-judge"])``, verdicts written to a
   file.

Each is timed in wall seconds and in CPU seconds of this process (``time.process_time``); on a
shared machine the CPU figures move less. Ratios (of CPU time): *evaluate / read* (what evaluating
adds to reading), and the shares of *evaluate* spent on the checks, on redaction and on decoding.
Every run must give every trace a verdict, the same verdicts for every copy of a conversation, and
no reference warnings. Otherwise the script prints a ``!!!`` banner and exits with status 1: its
figures are suspect. No timing is asserted.

    .venv/bin/python benchmarks/evaluate.py                   # 5000 traces, 3 repeats, ~3 min
    .venv/bin/python benchmarks/evaluate.py --traces 1000 --repeats 1
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

from openai import OpenAI
from openinference.instrumentation import OITracer, TraceConfig
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_flywheel.cli import main as cli_main
from otel_flywheel.cli._traces import read_trace_file
from otel_flywheel.demo._agent import TOOLS, SupportAgent
from otel_flywheel.demo._script import SCENARIOS, respond
from otel_flywheel.evaluation import load_tool_catalog, load_trace_evaluator, read_references
from otel_flywheel.otlp import encode_otlp_json
from otel_flywheel.privacy import build_redactor
from otel_flywheel.testing.llm_server import ScriptedLLMServer

READ_ONLY = ("lookup_order", "search_kb")
WRITES = ("issue_refund", "cancel_order")


def demo_spans() -> list[ReadableSpan]:
    """The demo's 20 conversations, as an exporter receives them."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with (
            ScriptedLLMServer(responder=respond) as llm,
            OpenAI(base_url=llm.base_url, api_key="bench", max_retries=0) as client,
        ):
            tracer = OITracer(provider.get_tracer("bench"), config=TraceConfig())
            agent = SupportAgent(client=client, tracer=tracer)
            for index, scenario in enumerate(SCENARIOS, start=1):
                agent.run(scenario.conversation(index))
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    return list(exporter.get_finished_spans())


def write_inputs(folder: Path, traces: int, seed: int) -> tuple[Path, Path, Path, dict[str, int]]:
    """The traces, references and tools files; and trace id -> conversation index."""
    spans = demo_spans()
    roots = [s for s in spans if s.parent is None and s.context is not None]
    order = [f"{root.context.trace_id:032x}" for root in roots]  # type: ignore[union-attr]
    template = encode_otlp_json(encode_spans(spans))
    expected = [_expected_writes(scenario.turns) for scenario in SCENARIOS]
    rng = random.Random(seed)
    conversation: dict[str, int] = {}
    traces_path, refs_path = folder / "traces.jsonl", folder / "refs.jsonl"
    with (
        traces_path.open("w", encoding="utf-8") as out,
        refs_path.open("w", encoding="utf-8") as refs,
    ):
        for _ in range(-(-traces // len(order))):
            line = template
            for index, original in enumerate(order):
                fresh = f"{rng.getrandbits(128):032x}"
                line = line.replace(original, fresh)
                conversation[fresh] = index
                line_refs = {
                    "version": 2,
                    "trace_id": fresh,
                    "tool_calls": {"expected": expected[index], "others": "read_only"},
                }
                refs.write(json.dumps(line_refs) + "\n")
            out.write(line + "\n")
    tools_path = folder / "tools.json"
    tools = [
        {
            "name": tool["function"]["name"],
            "inputSchema": tool["function"]["parameters"],
            "annotations": {"readOnlyHint": tool["function"]["name"] in READ_ONLY},
        }
        for tool in TOOLS
    ]
    tools_path.write_text(json.dumps({"tools": tools}), encoding="utf-8")
    return traces_path, refs_path, tools_path, conversation


def _expected_writes(turns: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"name": name, "arguments": arguments}
        for turn in turns
        if not isinstance(turn, str)
        for name, arguments in turn
        if name in WRITES and isinstance(arguments, dict)
    ]


def timed(action: Callable[[], Any]) -> tuple[tuple[float, float], Any]:
    """``((wall seconds, CPU seconds of this process), result)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return (time.perf_counter() - wall, time.process_time() - cpu), result


def check_all(evaluator: Any, traces: Sequence[Any], references: dict[str, Any]) -> list[Any]:
    return [evaluator.roll_up(t, evaluator.check(t, references.get(t.trace_id))) for t in traces]


def run_evaluate(arguments: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli_main(arguments)
    return status, err.getvalue()


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=5000, help="traces in the file")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--seed", type=int, default=7, help="for the fresh trace ids")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="write the traces, references and tools files here and keep them (to time another "
        "version of otel-flywheel on the same file)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    os.environ.setdefault("FLYWHEEL_REDACTION_KEY", "benchmark-redaction-key-0123456789")
    command = shlex.join([".venv/bin/python", "benchmarks/evaluate.py", *(argv or sys.argv[1:])])
    print("otel-flywheel evaluate benchmark")
    print(f"command: {command}")
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"otel-flywheel {version('otel-flywheel')}, {platform.system()} {platform.machine()}, "
        f"os.cpu_count()={os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at start"
    )
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = options.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        traces_path, refs_path, tools_path, conversation = write_inputs(
            folder, options.traces, options.seed
        )
        size_mb = traces_path.stat().st_size / 1e6
        total = len(conversation)
        print(
            f"file: {total} traces ({len(SCENARIOS)} conversations copied), {size_mb:.1f} MB OTLP/JSON"
        )

        redactor = build_redactor()
        tools = load_tool_catalog(tools_path)
        evaluator = load_trace_evaluator(judge=False, tools=tools)
        references = read_references(refs_path, redactor=redactor).references
        output = folder / "verdicts.jsonl"
        arguments = ["evaluate", "--traces", str(traces_path), "--references", str(refs_path)]
        arguments += ["--tools", str(tools_path), "--no-judge", "--output", str(output)]

        timings: dict[str, list[tuple[float, float]]] = {
            "raw": [],
            "read": [],
            "checks": [],
            "evaluate": [],
        }
        for _ in range(options.repeats):
            seconds, read = timed(lambda: read_trace_file(traces_path, redact=False))
            timings["raw"].append(seconds)
            seconds, read = timed(lambda: read_trace_file(traces_path, redactor=redactor))
            timings["read"].append(seconds)
            traces = read.traces
            seconds, verdicts = timed(partial(check_all, evaluator, traces, references))
            timings["checks"].append(seconds)
            seconds, (status, err) = timed(lambda: run_evaluate(arguments))
            timings["evaluate"].append(seconds)
            problems += _verify(status, err, output, conversation)
            if len(verdicts) != total:
                problems.append(f"checks gave {len(verdicts)} verdicts for {total} traces")

    wall = {name: statistics.median(w for w, _ in runs) for name, runs in timings.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in timings.items()}
    print(
        f"\n{'':<24}{'wall s':>8}{'traces/s':>10}{'min-max s':>14}{'CPU s':>8}{'traces/CPU s':>14}"
    )
    print("-" * 78)
    labels = {
        "raw": "read, not redacted",
        "read": "read (baseline)",
        "checks": "checks + roll-up",
        "evaluate": "evaluate --no-judge",
    }
    for name, label in labels.items():
        low, high = min(w for w, _ in timings[name]), max(w for w, _ in timings[name])
        print(
            f"{label:<24}{wall[name]:>8.2f}{total / wall[name]:>10.0f}"
            f"{f'{low:.2f}-{high:.2f}':>14}{cpu[name]:>8.2f}{total / cpu[name]:>14.0f}"
        )
    print(
        f"\nratios (CPU): evaluate / read {cpu['evaluate'] / cpu['read']:.2f}; of evaluate, the "
        f"checks are {cpu['checks'] / cpu['evaluate']:.0%}, redaction "
        f"{(cpu['read'] - cpu['raw']) / cpu['evaluate']:.0%}, decoding and normalizing "
        f"{cpu['raw'] / cpu['evaluate']:.0%}"
    )
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    if problems:
        print("\n!!! THE RUNS DID NOT GO AS EXPECTED; THE FIGURES ARE SUSPECT:")
        for problem in dict.fromkeys(problems):
            print(f"!!!   {problem}")
        return 1
    return 0


def _verify(status: int, err: str, output: Path, conversation: dict[str, int]) -> list[str]:
    problems = []
    if status != 0 or err:
        problems.append(f"evaluate exited {status}: {err.strip()[:300]}")
    verdicts = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    if len(verdicts) != len(conversation):
        problems.append(f"{len(verdicts)} verdicts for {len(conversation)} traces")
    outcomes: dict[int, Counter[tuple[Any, ...]]] = {}
    for verdict in verdicts:
        index = conversation.get(verdict["trace_id"], -1)
        key = (verdict["passed"], verdict["category"], verdict["subcategory"])
        outcomes.setdefault(index, Counter())[key] += 1
    varied = [index for index, seen in outcomes.items() if len(seen) != 1]
    if varied:
        problems.append(f"copies of conversations {varied} got different verdicts")
    return problems


if __name__ == "__main__":
    sys.exit(main())
