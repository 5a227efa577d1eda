"""No acknowledged trace is lost when ``otel-flywheel serve`` is killed while the judge thinks.

Real processes: the default flywheel (checks, a rubric judge played by the scripted LLM server,
routing, the outbox, Phoenix). The judge answers slowly, so most acknowledged traces are still
waiting for it when the first server is killed with SIGKILL. The second server, on the same state
directory, judges every trace that had no durable verdict again; the outbox then delivers to the
real Phoenix exactly one verdict per trace and one regression example per question.
"""

from __future__ import annotations

import json
import shutil
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from phoenix.client import Client
from serve_harness import REPO, metric_value, wait_until

from otel_flywheel.outbox import Outbox
from otel_flywheel.semconv import OpenInferenceSpanKindValues, SpanAttributes
from otel_flywheel.testing.llm_server import Reply, ScriptedLLMServer, Slow, StructuredJSON
from otel_flywheel.testing.phoenix import LocalPhoenix, wait_for_spans

SA = SpanAttributes
TRACES = 40
JUDGE_SECONDS = 3.0  # per judge call, with 8 calls at once: verdicts come 8 at a time
VERDICT = "flywheel.verdict"


class Judge:
    """The judge model: every trace called the wrong tool, with confidence; slow until told."""

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


def agent_traces(project: str, count: int) -> list[ReadableSpan]:
    """``count`` runs of an agent, each asking its own question (each its own dataset example)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"openinference.project.name": project}), shutdown_on_exit=False
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
            SA.OUTPUT_VALUE: json.dumps({"error": "no such order"}),
        }
        with (
            tracer.start_as_current_span("support_agent", attributes=root),
            tracer.start_as_current_span("lookup_order", attributes=tool),
        ):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def verdicts_in_outbox(state: Path) -> set[str]:
    """Trace ids with a verdict committed to the outbox (read while no server runs, or beside it)."""
    with Outbox(state / "outbox.sqlite") as outbox:
        keys = [
            entry.key
            for state_name in ("pending", "done", "dead")
            for entry in outbox.list_entries(state=state_name, limit=100_000)  # type: ignore[arg-type]
        ]
    return {
        key.split(":")[2]
        for key in keys
        if key.startswith("annotation:trace:") and key.split(":")[3] == VERDICT
    }


def phoenix_verdicts(client: Client, project: str, trace_ids: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for start in range(0, len(trace_ids), 20):
        response = client._client.get(
            f"v1/projects/{project}/trace_annotations",
            params={"trace_ids": trace_ids[start : start + 20], "limit": 1000},
        )
        response.raise_for_status()
        found += [a for a in response.json()["data"] if a["name"] == VERDICT]
    return found


@pytest.fixture
def judge() -> Iterator[tuple[ScriptedLLMServer, Judge]]:
    script = Judge(JUDGE_SECONDS)
    with ScriptedLLMServer(responder=script) as llm:
        yield llm, script


def test_a_sigkill_while_the_judge_thinks_loses_no_acknowledged_trace_and_duplicates_nothing(
    serve_command,
    judge: tuple[ScriptedLLMServer, Judge],
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
    tmp_path: Path,
) -> None:
    llm, script = judge
    project = f"crash-{uuid.uuid4().hex[:8]}"
    spans = agent_traces(project, TRACES)
    # The Collector's other exporter, by hand: Phoenix has the spans the verdicts annotate.
    to_phoenix = OTLPSpanExporter(endpoint=f"{phoenix_server.base_url}/v1/traces")
    assert to_phoenix.export(spans) is SpanExportResult.SUCCESS
    to_phoenix.shutdown()
    wait_for_spans(phoenix_server_client, project=project, min_count=len(spans), timeout_seconds=60)

    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    shutil.copy(REPO / "rubrics" / "tool_selection.yaml", rubrics)
    config = tmp_path / "flywheel.yaml"
    config.write_text("routing:\n  max_examples_per_category: 1000\n")
    state = tmp_path / "state"
    args = [
        "--project", project, "--phoenix-url", phoenix_server.base_url, "--judge",
        "--rubrics", str(rubrics),
    ]  # fmt: skip
    env = {
        "FLYWHEEL_STATE_DIR": str(state),
        "FLYWHEEL_CONFIG": str(config),
        "PHOENIX_DISCOVER_CONFIG": "false",
        "FLYWHEEL_JUDGE_MODEL": "judge-model",
        "FLYWHEEL_JUDGE_BASE_URL": llm.base_url,
        "FLYWHEEL_JUDGE_API_KEY": "test",
    }

    first = serve_command(args, env=env)
    exporter = OTLPSpanExporter(endpoint=first.traces_url)
    acknowledged: set[str] = set()
    for start in range(0, len(spans), 10):  # batches of five traces
        batch = spans[start : start + 10]
        assert exporter.export(batch) is SpanExportResult.SUCCESS
        acknowledged |= {f"{s.context.trace_id:032x}" for s in batch}
    exporter.shutdown()
    wait_until(
        lambda: metric_value(first.base_url, "flywheel_pipeline_traces_evaluated_total") >= 1,
        "the first verdicts",
        timeout_seconds=90,
    )
    judging = metric_value(first.base_url, "flywheel_pipeline_pending_traces")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    assert len(acknowledged) == TRACES  # every trace was acknowledged with 200
    durable_before = verdicts_in_outbox(state)
    assert judging > 0
    assert len(durable_before) < TRACES, "the kill came after every verdict: no window tested"

    script.delay_seconds = 0.0  # the judge recovers; the second server judges the rest again
    second = serve_command(args, env=env)
    wait_until(
        lambda: verdicts_in_outbox(state) == acknowledged,
        "a durable verdict for every acknowledged trace",
        timeout_seconds=120,
    )
    wait_until(
        lambda: metric_value(second.base_url, "flywheel_server_spool_spans") == 0,
        "the spool to release every trace",
    )
    wait_until(
        lambda: metric_value(second.base_url, "flywheel_outbox_depth") == 0,
        "the outbox to deliver to Phoenix",
        timeout_seconds=120,
    )
    assert metric_value(second.base_url, "flywheel_outbox_dead") == 0
    assert second.stop() == -signal.SIGTERM

    # Exactly once downstream: one verdict per trace, one regression example per question.
    verdicts = phoenix_verdicts(phoenix_server_client, project, sorted(acknowledged))
    assert sorted(a["trace_id"] for a in verdicts) == sorted(acknowledged)
    examples = list(
        phoenix_server_client.datasets.get_dataset(dataset=f"{project}/regression").examples
    )
    inputs = [json.dumps(example["input"], sort_keys=True) for example in examples]
    assert len(inputs) == TRACES
    assert len(set(inputs)) == TRACES
