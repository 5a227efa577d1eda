"""`otel-flywheel serve` with its default pipeline: the flywheel. Spans in over OTLP, verdicts out
as Phoenix annotations, feedback over HTTP routed into datasets, and the pipeline's and outbox's
metrics on /metrics."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from phoenix.client import Client
from prometheus_client.parser import text_string_to_metric_families
from serve_harness import FEEDBACK_AUTH, FEEDBACK_TOKEN, ServeProcess, wait_until

from otel_flywheel.testing.phoenix import LocalPhoenix, wait_for_spans


def with_project(spans: list[ReadableSpan], project: str) -> list[ReadableSpan]:
    resource = Resource.create({"openinference.project.name": project})
    return [
        ReadableSpan(
            name=s.name,
            context=s.context,
            parent=s.parent,
            resource=resource,
            attributes=s.attributes,
            events=s.events,
            links=s.links,
            kind=s.kind,
            status=s.status,
            start_time=s.start_time,
            end_time=s.end_time,
            instrumentation_scope=s.instrumentation_scope,
        )
        for s in spans
    ]


def metrics(serve: ServeProcess) -> dict[str, float]:
    text = httpx.get(f"{serve.base_url}/metrics", timeout=10).text
    return {
        sample.name + "".join(f"[{v}]" for v in sample.labels.values()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_serve_runs_the_flywheel_into_phoenix_and_exposes_its_metrics(
    serve_command: Callable[..., ServeProcess],
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
    demo_spans: list[ReadableSpan],
    tmp_path: Path,
) -> None:
    project = f"serve-{uuid.uuid4().hex[:8]}"
    spans = with_project(demo_spans, project)
    # The Collector's fan-out, by hand: Phoenix gets the spans, and so does serve.
    to_phoenix = OTLPSpanExporter(endpoint=f"{phoenix_server.base_url}/v1/traces")
    assert to_phoenix.export(spans) is SpanExportResult.SUCCESS
    to_phoenix.shutdown()
    serve = serve_command(
        ["--project", project, "--phoenix-url", phoenix_server.base_url, "--no-judge"],
        env={
            "FLYWHEEL_STATE_DIR": str(tmp_path / "state"),
            "PHOENIX_DISCOVER_CONFIG": "false",
            "FLYWHEEL_SERVER_FEEDBACK_TOKEN": FEEDBACK_TOKEN,
        },
    )
    to_serve = OTLPSpanExporter(endpoint=serve.traces_url)
    assert to_serve.export(spans) is SpanExportResult.SUCCESS
    to_serve.shutdown()
    traces = {f"{s.context.trace_id:032x}" for s in spans}

    wait_until(
        lambda: metrics(serve).get("flywheel_pipeline_traces_evaluated_total") == len(traces),
        "every trace to be evaluated",
    )
    root = next(s for s in spans if s.parent is None)
    feedback = httpx.post(
        f"{serve.base_url}/v1/feedback",
        json={"trace_id": f"{root.context.trace_id:032x}", "thumbs": "up"},
        headers=FEEDBACK_AUTH,
        timeout=10,
    )
    assert feedback.status_code == 202

    client_spans = wait_for_spans(
        phoenix_server_client, project=project, min_count=len(spans), timeout_seconds=60
    )
    assert len(client_spans) == len(spans)

    def verdicts_in_phoenix() -> int:
        annotations = phoenix_server_client.spans.get_span_annotations(
            span_ids=[f"{s.context.span_id:016x}" for s in spans if s.parent is None],
            project_identifier=project,
            include_annotation_names=["flywheel.verdict"],
        )
        return len(annotations)

    deadline = time.monotonic() + 90
    while verdicts_in_phoenix() < len(traces) and time.monotonic() < deadline:
        time.sleep(1)
    assert verdicts_in_phoenix() == len(traces)  # one verdict per trace on its root span

    golden = f"{project}/golden"
    wait_until(
        lambda: any(d["name"] == golden for d in phoenix_server_client.datasets.list()),
        "the thumbs-up to reach the golden dataset",
    )
    assert len(phoenix_server_client.datasets.get_dataset(dataset=golden).examples) == 1

    exposed = metrics(serve)
    assert exposed["flywheel_pipeline_traces_received_total"] == len(traces)
    assert exposed["flywheel_pipeline_judge_decisions_total[no_judge]"] == len(traces)
    assert any(name.startswith("flywheel_outbox_") for name in exposed)
    # Verdict counters by category, subcategory, agent version and outcome, for alerting.
    text = httpx.get(f"{serve.base_url}/metrics", timeout=10).text
    verdicts = {
        (
            s.labels["category"],
            s.labels["subcategory"],
            s.labels["agent_version"],
            s.labels["outcome"],
        ): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "flywheel_verdicts_total"
    }
    assert sum(verdicts.values()) == len(traces)
    failed = sum(v for k, v in verdicts.items() if k[3] == "fail")
    assert failed == exposed["flywheel_pipeline_traces_failed_total"] > 0
    assert verdicts[("parameter", "missing_required", "", "fail")] >= 1
    assert verdicts[("", "", "", "pass")] >= 1
    assert serve.stop() == -signal.SIGTERM  # a clean stop ends by the signal, as uvicorn does
