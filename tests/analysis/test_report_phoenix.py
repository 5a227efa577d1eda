"""`report --project` against a real Phoenix: an unknown project, a project with traces but no
verdicts yet, and a trace judged by the flywheel read back with its analysis context."""

from __future__ import annotations

import json
import uuid

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from phoenix.client import Client

from otel_flywheel.cli import main
from otel_flywheel.testing.phoenix import LocalPhoenix, wait_for_spans


def export_one_trace(phoenix: LocalPhoenix, project: str) -> None:
    provider = TracerProvider(
        resource=Resource.create({"openinference.project.name": project}), shutdown_on_exit=False
    )
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{phoenix.base_url}/v1/traces"))
    )
    with provider.get_tracer("tests").start_as_current_span(
        "agent", attributes={"openinference.span.kind": "AGENT", "input.value": "hello"}
    ):
        pass
    provider.shutdown()


def test_an_unknown_project_exits_2_listing_the_known_ones(
    phoenix_server: LocalPhoenix, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["report", "--project", "no-such-project", "--phoenix-url", phoenix_server.base_url]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "Phoenix has no project 'no-such-project'; known projects:" in err


def test_a_project_without_verdicts_says_so_and_writes_an_empty_report(
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
    capsys: pytest.CaptureFixture[str],
    tmp_path,
) -> None:
    project = f"report-empty-{uuid.uuid4().hex[:8]}"
    export_one_trace(phoenix_server, project)
    wait_for_spans(phoenix_server_client, project=project, min_count=1, timeout_seconds=60)
    out = tmp_path / "r.json"
    code = main(
        [
            "report",
            "--project",
            project,
            "--phoenix-url",
            phoenix_server.base_url,
            "--json",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0
    assert "read 1 traces (0 with a verdict)" in err
    assert "no verdicts in Phoenix project" in err
    report = json.loads(out.read_text())
    assert report["totals"]["traces"] == 0
    assert report["plan"] == []
    assert report["calibration"] == []
