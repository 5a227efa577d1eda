"""Traces acknowledged by ``otel-flywheel serve`` versus verdicts after a ``kill -9``.

A real ``otel-flywheel serve`` with the default flywheel (checks, the rubric judge, routing, the
outbox) runs as a subprocess. The judge is the scripted OpenAI-compatible server answering every
call after ``--judge-seconds`` (a healthy but slow model). The script:

1. sends ``--traces`` agent traces (2 spans each) over OTLP/HTTP and counts those acknowledged
   with 200;
2. waits ``--kill-after-seconds`` from the last acknowledgement, then kills the server with
   SIGKILL and counts the verdicts committed to its outbox;
3. starts a second server on the same state directory and spool, with the judge now answering at
   once, waits until nothing moves any more, and counts the verdicts again.

*Lost* is acknowledged minus verdicts after the restart. Phoenix is not needed: verdicts are
counted in the outbox (``flywheel.verdict`` trace annotations), which is where the flywheel makes
them durable; nothing listens at the Phoenix URL, so they stay there.

``--src DIR`` runs the servers from another checkout (``PYTHONPATH``), e.g. the previous release,
for a before/after comparison in one command. The outbox is read with plain SQL, so either
version's file is counted the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from otel_flywheel.semconv import OpenInferenceSpanKindValues, SpanAttributes
from otel_flywheel.testing.llm_server import Reply, ScriptedLLMServer, Slow, StructuredJSON
from otel_flywheel.testing.phoenix import find_free_port

SA = SpanAttributes
REPO = Path(__file__).resolve().parents[1]
SERVE = [str(Path(sys.executable).with_name("otel-flywheel")), "serve"]
_SETTLE_SECONDS = 5.0  # nothing moved for this long after the restart: done


class Judge:
    def __init__(self, delay_seconds: float) -> None:
        self.delay_seconds = delay_seconds

    def __call__(self, request: dict[str, Any]) -> Reply:
        answer = StructuredJSON(
            {
                "explanation": "It looked the order up when the user asked about the policy.",
                "label": "incorrect",
                "category": "tool_selection",
                "subcategory": "wrong_tool",
                "culprit_step": 2,
                "confidence": 0.95,
            }
        )
        return Slow(self.delay_seconds, then=answer) if self.delay_seconds else answer


def agent_traces(count: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"openinference.project.name": "crash-bench"}),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("support-agent")
    for index in range(count):
        root = {
            SA.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.AGENT.value,
            SA.INPUT_VALUE: f"What is the return policy for item {index}?",
            SA.OUTPUT_VALUE: "Item not found.",
        }
        tool = {
            SA.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.TOOL.value,
            SA.TOOL_NAME: "lookup_order",
            SA.INPUT_VALUE: json.dumps({"order_id": f"A-{index}"}),
        }
        with (
            tracer.start_as_current_span("support_agent", attributes=root),
            tracer.start_as_current_span("lookup_order", attributes=tool),
        ):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def verdicts(outbox: Path) -> set[str]:
    """Trace ids with a ``flywheel.verdict`` trace annotation in the outbox file."""
    if not outbox.exists():
        return set()
    with sqlite3.connect(outbox) as connection:
        keys = [row[0] for row in connection.execute("SELECT key FROM writes")]
    return {
        key.split(":")[2]
        for key in keys
        if key.startswith("annotation:trace:") and key.split(":")[3] == "flywheel.verdict"
    }


def metric(base_url: str, name: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return float(sample.value)
    return 0.0


def start_serve(
    args: list[str], env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = find_free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*SERVE, "--port", str(port), *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"serve exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return process, base_url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"serve did not start; see {log}")


def run(args: argparse.Namespace) -> tuple[set[str], set[str], set[str], float]:
    """Acknowledged trace ids, verdicts at the kill, verdicts after the restart, spans left."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedLLMServer(responder=(judge := Judge(args.judge_seconds))) as llm,
    ):
        work = Path(tmp)
        rubrics = work / "rubrics"
        rubrics.mkdir()
        shutil.copy(REPO / "rubrics" / "tool_selection.yaml", rubrics)
        state = work / "state"
        env = {
            **os.environ,
            "FLYWHEEL_STATE_DIR": str(state),
            "FLYWHEEL_JUDGE_MODEL": "judge-model",
            "FLYWHEEL_JUDGE_BASE_URL": llm.base_url,
            "FLYWHEEL_JUDGE_API_KEY": "bench",
            "FLYWHEEL_TRACE_GRACE_MILLIS": "50",
            "FLYWHEEL_TRACE_IDLE_TIMEOUT_MILLIS": "500",
            "FLYWHEEL_SCHEDULE_DELAY_MILLIS": "20",
            "PHOENIX_DISCOVER_CONFIG": "false",
        }
        if args.src is not None:
            env["PYTHONPATH"] = str(args.src)
        serve_args = [
            "--project", "crash-bench", "--judge", "--rubrics", str(rubrics),
            "--phoenix-url", f"http://127.0.0.1:{find_free_port()}",  # nothing listens there
        ]  # fmt: skip
        spans = agent_traces(args.traces)
        first, base_url = start_serve(serve_args, env, work / "serve-1.log")
        exporter = OTLPSpanExporter(endpoint=f"{base_url}/v1/traces", timeout=10)
        acknowledged: set[str] = set()
        for start in range(0, len(spans), 20):
            batch = spans[start : start + 20]
            if exporter.export(batch) is SpanExportResult.SUCCESS:
                acknowledged |= {f"{span.context.trace_id:032x}" for span in batch}
        exporter.shutdown()
        time.sleep(args.kill_after_seconds)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        at_kill = verdicts(state / "outbox.sqlite") & acknowledged

        judge.delay_seconds = 0.0
        second, base_url = start_serve(serve_args, env, work / "serve-2.log")
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < _SETTLE_SECONDS:
            now = len(verdicts(state / "outbox.sqlite") & acknowledged)
            if now != seen:
                seen, quiet_since = now, time.monotonic()
            time.sleep(0.2)
        spool_left = metric(base_url, "flywheel_server_spool_spans")
        second.send_signal(signal.SIGTERM)
        second.wait(60)
        after = verdicts(state / "outbox.sqlite") & acknowledged
    return acknowledged, at_kill, after, spool_left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=200)
    parser.add_argument("--judge-seconds", type=float, default=3.0)
    parser.add_argument(
        "--kill-after-seconds",
        type=float,
        default=5.0,
        help="from the last acknowledgement to the SIGKILL",
    )
    parser.add_argument("--src", type=Path, help="run the servers from this checkout")
    args = parser.parse_args()

    print("otel-flywheel crash benchmark: traces acknowledged vs verdicts after kill -9")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"os.cpu_count()={os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at start"
    )
    print(f"servers from: {args.src or REPO}")
    acknowledged, at_kill, after, spool_left = run(args)
    print(
        f"judge: {args.judge_seconds:g} s per call before the kill, at once after; kill "
        f"{args.kill_after_seconds:g} s after the last acknowledgement"
    )
    print(f"traces sent:                         {args.traces}")
    print(f"traces acknowledged (200):           {len(acknowledged)}")
    print(f"verdicts durable when killed:        {len(at_kill)}")
    print(f"verdicts after the restart:          {len(after)}")
    print(f"acknowledged traces lost:            {len(acknowledged - after)}")
    print(f"spans left in the spool at the end:  {spool_left:.0f}")
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    return 0 if acknowledged == after else 1


if __name__ == "__main__":
    raise SystemExit(main())
