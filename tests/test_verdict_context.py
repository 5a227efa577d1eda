"""Verdicts carry what analysis needs: start time, agent version, cohort (redacted), culprit step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_flywheel.cli import main
from otel_flywheel.config import AnalysisSettings, resolve_settings
from otel_flywheel.errors import ConfigError
from otel_flywheel.otlp import encode_otlp_json

START_NANOS = 1_795_000_000_000_000_000  # 2026-11-18T11:06:40Z


def write_trace_file(path: Path, *, resource: dict[str, str], root: dict[str, str]) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    agent = tracer.start_span(
        "agent",
        attributes={"openinference.span.kind": "AGENT", "input.value": "Where is A-1?", **root},
        start_time=START_NANOS,
    )
    from opentelemetry.trace import set_span_in_context

    tool = tracer.start_span(
        "lookup_order",
        context=set_span_in_context(agent),
        attributes={
            "openinference.span.kind": "TOOL",
            "tool.name": "lookup_order",
            "input.value": '{"order_id": "A-1"}',
            "output.value": '{"status": "shipped"}',
        },
        start_time=START_NANOS + 1_000_000,
    )
    tool.end(end_time=START_NANOS + 2_000_000)
    agent.set_attribute("output.value", "It shipped.")
    agent.end(end_time=START_NANOS + 3_000_000)
    provider.shutdown()
    path.write_text(encode_otlp_json(encode_spans(exporter.get_finished_spans())) + "\n")


def evaluate(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["evaluate", "--traces", str(path), "--no-judge"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    verdict: dict[str, object] = json.loads(line)
    return verdict


def test_a_verdict_records_start_time_agent_version_cohort_tools_and_goal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYWHEEL_COHORT_ATTRIBUTES", "tenant, plan,locale")
    path = tmp_path / "t.jsonl"
    write_trace_file(
        path,
        resource={"service.name": "support-agent", "service.version": "2.1.0", "plan": "pro"},
        root={"tenant": "acme"},
    )
    verdict = evaluate(path, capsys)
    assert verdict["start_time"] == "2026-11-18T11:06:40.000000Z"
    assert verdict["service"] == {"name": "support-agent", "version": "2.1.0"}
    # tenant from the root span, plan from the resource, locale set nowhere: left out.
    assert verdict["cohort"] == {"tenant": "acme", "plan": "pro"}
    assert verdict["tools"] == ["lookup_order"]
    assert verdict["goal"] == "Where is A-1?"
    assert verdict["passed"] is True
    assert verdict["culprit"] == {}


def test_cohort_values_are_redacted_like_the_rest_of_the_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYWHEEL_COHORT_ATTRIBUTES", "account")
    path = tmp_path / "t.jsonl"
    write_trace_file(path, resource={}, root={"account": "jane.doe@example.com"})
    verdict = evaluate(path, capsys)
    cohort = verdict["cohort"]
    assert isinstance(cohort, dict)
    assert cohort["account"].startswith("<EMAIL:")
    assert "jane.doe" not in json.dumps(verdict)


def test_without_cohort_attributes_the_cohort_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLYWHEEL_COHORT_ATTRIBUTES", raising=False)
    path = tmp_path / "t.jsonl"
    write_trace_file(path, resource={"service.name": "s"}, root={"tenant": "acme"})
    verdict = evaluate(path, capsys)
    assert verdict["cohort"] == {}
    assert verdict["service"] == {"name": "s", "version": None}


def test_cohort_attribute_settings_parse_lists_and_reject_empty_names() -> None:
    settings = resolve_settings(AnalysisSettings, environ={"FLYWHEEL_COHORT_ATTRIBUTES": "a,b,a"})
    assert settings.cohort_attributes == ("a", "b")
    assert resolve_settings(
        AnalysisSettings, {"cohort_attributes": ["tenant"]}, environ={}
    ).cohort_attributes == ("tenant",)
    with pytest.raises(ConfigError, match="cohort_attributes"):
        resolve_settings(AnalysisSettings, {"cohort_attributes": "tenant,,plan"}, environ={})
