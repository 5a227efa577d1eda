"""`otel-flywheel judge` over traces in the session's real Phoenix.

The demo agent's real OpenInference spans go to Phoenix through the real OTLP/HTTP exporter, each
module under fresh ids in its own project; `judge` reads them back through phoenix.client and must
reach the verdicts `evaluate` reaches from an OTLP file of the same spans.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import SpanContext
from phoenix.client import Client

from otel_flywheel.cli import main
from otel_flywheel.otlp import encode_otlp_json
from otel_flywheel.phoenix import pull_traces
from otel_flywheel.privacy import build_redactor
from otel_flywheel.testing.llm_server import Reply, ScriptedLLMServer, StructuredJSON
from otel_flywheel.testing.phoenix import LocalPhoenix, find_free_port, wait_for_spans
from otel_flywheel.times import parse_time_bound

MINUTE_NS = 60 * 1_000_000_000
# The personal data the demo's customers type, in every form it could reach a judge.
RAW_PII = [
    "ada.lovelace@example.com",
    "ben.okafor@example.org",
    "+44 20 7946 0958",
    "+442079460958",
    "+1 415-555-0132",
    "+14155550132",
    "4111 1111 1111 1111",
    "4111111111111111",
]
VERDICT_KEYS = ("passed", "category", "subcategory", "culprit_span_id")


def group_by_trace(spans: list[ReadableSpan]) -> list[list[ReadableSpan]]:
    grouped: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        assert span.context is not None
        grouped.setdefault(span.context.trace_id, []).append(span)
    return list(grouped.values())


def recast(
    spans: list[ReadableSpan],
    *,
    project: str,
    start_at_ns: int | None = None,
    root_earlier_ns: int = 0,
) -> list[ReadableSpan]:
    """Copies under fresh ids (Phoenix keys trace and span ids across projects), in ``project``;
    with ``start_at_ns``, moved together so the earliest starts then, and each root started
    ``root_earlier_ns`` before where it would be."""
    ids = RandomIdGenerator()
    trace_ids: dict[int, int] = {}
    span_ids: dict[int, int] = {}

    def context(old: SpanContext) -> SpanContext:
        return SpanContext(
            trace_ids.setdefault(old.trace_id, ids.generate_trace_id()),
            span_ids.setdefault(old.span_id, ids.generate_span_id()),
            is_remote=old.is_remote,
            trace_flags=old.trace_flags,
        )

    first = min(span.start_time or 0 for span in spans)
    shift = 0 if start_at_ns is None else start_at_ns - first
    resource = Resource.create(
        {"service.name": "support-agent", "openinference.project.name": project}
    )
    copies = []
    for span in spans:
        assert span.context is not None
        start = (span.start_time or 0) + shift
        if span.parent is None:
            start -= root_earlier_ns
        copies.append(
            ReadableSpan(
                name=span.name,
                context=context(span.context),
                parent=context(span.parent) if span.parent is not None else None,
                resource=resource,
                attributes=span.attributes,
                events=[
                    Event(e.name, e.attributes, (e.timestamp or 0) + shift) for e in span.events
                ],
                links=span.links,
                kind=span.kind,
                status=span.status,
                start_time=start,
                end_time=(span.end_time or 0) + shift,
                instrumentation_scope=span.instrumentation_scope,
            )
        )
    return copies


def send(spans: list[ReadableSpan], phoenix: LocalPhoenix, *, project: str) -> None:
    exporter = OTLPSpanExporter(endpoint=phoenix.otlp_traces_endpoint, timeout=30)
    try:
        assert exporter.export(spans).name == "SUCCESS"
    finally:
        exporter.shutdown()
    with httpx.Client(base_url=phoenix.base_url, timeout=30) as http:
        wait_for_spans(
            Client(http_client=http),
            project=project,
            min_count=len(spans),
            timeout_seconds=120,
            limit=len(spans) + 100,
        )


def trace_id_of(spans: list[ReadableSpan]) -> str:
    assert spans[0].context is not None
    return f"{spans[0].context.trace_id:032x}"


@pytest.fixture(scope="module")
def demo_in_phoenix(
    demo_spans: list[ReadableSpan],
    phoenix_server: LocalPhoenix,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, Path]:
    """The demo's 20 traces in a project of their own: (project, an OTLP/JSON file of them)."""
    project = f"test-judge-{uuid.uuid4().hex[:10]}"
    sent = recast(demo_spans, project=project, start_at_ns=time.time_ns() - 5 * MINUTE_NS)
    send(sent, phoenix_server, project=project)
    path = tmp_path_factory.mktemp("judge") / "demo.jsonl"
    path.write_text(encode_otlp_json(encode_spans(sent)) + "\n", encoding="utf-8")
    return project, path


def verdict_lines(text: str) -> dict[str, dict[str, Any]]:
    verdicts = [json.loads(line) for line in text.splitlines()]
    by_trace = {v["trace_id"]: v for v in verdicts}
    assert len(by_trace) == len(verdicts)
    return by_trace


def essentials(verdicts: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {trace_id: tuple(v[key] for key in VERDICT_KEYS) for trace_id, v in verdicts.items()}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_judge_without_the_llm_gives_the_verdicts_evaluate_gives_for_the_same_spans(
    demo_in_phoenix: tuple[str, Path],
    phoenix_server: LocalPhoenix,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, path = demo_in_phoenix
    code, out, err = run_cli(
        capsys,
        "judge",
        "--project",
        project,
        "--no-judge",
        "--phoenix-url",
        phoenix_server.base_url,
    )
    assert code == 0, err
    judged = verdict_lines(out)

    code, evaluated_out, _ = run_cli(capsys, "evaluate", "--traces", str(path), "--no-judge")
    assert code == 0
    evaluated = verdict_lines(evaluated_out)

    assert len(judged) == 20
    assert essentials(judged) == essentials(evaluated)
    assert {v["category"] for v in judged.values() if v["passed"] is False} >= {
        "parameter",
        "tool_selection",
        "knowledge_context",
    }
    failed = sum(1 for v in judged.values() if v["passed"] is False)
    assert f"20 traces from {project!r}: {failed} failed, 0 unscored; failed by category: " in err
    assert "read 20/20 traces" in err


def test_judge_as_a_command_finds_phoenix_through_the_environment(
    demo_in_phoenix: tuple[str, Path],
    phoenix_server: LocalPhoenix,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    project, path = demo_in_phoenix
    output = tmp_path / "verdicts.jsonl"
    environment = {
        **os.environ,
        # An OTLP traces URL, as register() takes it: the API base URL is derived from it.
        "PHOENIX_COLLECTOR_ENDPOINT": phoenix_server.otlp_traces_endpoint,
        "PHOENIX_DISCOVER_CONFIG": "false",
    }
    command = Path(sys.executable).parent / "otel-flywheel"
    completed = subprocess.run(
        [str(command), "judge", "--project", project, "--no-judge", "--output", str(output)],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""
    assert "20 traces from" in completed.stderr
    code, evaluated_out, _ = run_cli(capsys, "evaluate", "--traces", str(path), "--no-judge")
    assert code == 0
    assert essentials(verdict_lines(output.read_text(encoding="utf-8"))) == essentials(
        verdict_lines(evaluated_out)
    )


def first_label_verdict(request: dict[str, Any]) -> Reply:
    """A judge that answers every rubric with its first label, whatever the trace says."""
    schema = request["response_format"]["json_schema"]["schema"]
    return StructuredJSON(
        {
            "explanation": "scripted",
            "label": schema["properties"]["label"]["enum"][0],
            "category": None,
            "subcategory": None,
            "culprit_step": None,
            "confidence": 0.9,
        }
    )


def test_the_judge_sees_only_redacted_traces(
    demo_in_phoenix: tuple[str, Path],
    phoenix_server: LocalPhoenix,
    llm_server: ScriptedLLMServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llm_server.responder = first_label_verdict
    monkeypatch.setenv("FLYWHEEL_JUDGE_MODEL", "judge-model")
    monkeypatch.setenv("FLYWHEEL_JUDGE_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("FLYWHEEL_JUDGE_API_KEY", "test")
    monkeypatch.setenv("FLYWHEEL_JUDGE_CACHE", "off")
    project, _ = demo_in_phoenix

    code, out, err = run_cli(
        capsys, "judge", "--project", project, "--phoenix-url", phoenix_server.base_url
    )

    assert code == 0, err
    verdicts = verdict_lines(out)
    assert len(verdicts) == 20
    for verdict in verdicts.values():
        assert any(e["judge_model"] == "judge-model" for e in verdict["evaluations"])
    assert "(judge judge-model)" in err
    sent_to_judge = json.dumps(llm_server.requests, ensure_ascii=False)
    assert len(llm_server.requests) == 5 * 20  # the rubrics that need no external reference
    for raw in RAW_PII:
        assert raw not in sent_to_judge
        assert raw not in out
    # The customers' data did reach the judge, as pseudonyms.
    assert "<EMAIL:" in sent_to_judge
    assert "<PHONE:" in sent_to_judge


@pytest.fixture(scope="module")
def timed_project(demo_spans: list[ReadableSpan], phoenix_server: LocalPhoenix) -> dict[str, Any]:
    """Demo traces at known times: two 3 h old, two 10 min old, and one whose root started 90 min
    ago while its other spans started 10 min ago."""
    project = f"test-judge-window-{uuid.uuid4().hex[:10]}"
    traces = group_by_trace(demo_spans)
    now = time.time_ns()
    old = [recast(t, project=project, start_at_ns=now - 180 * MINUTE_NS) for t in traces[:2]]
    recent = [recast(t, project=project, start_at_ns=now - 10 * MINUTE_NS) for t in traces[2:4]]
    straddling = recast(
        traces[4], project=project, start_at_ns=now - 10 * MINUTE_NS, root_earlier_ns=80 * MINUTE_NS
    )
    send([s for t in [*old, *recent, straddling] for s in t], phoenix_server, project=project)
    return {
        "project": project,
        "old": {trace_id_of(t) for t in old},
        "recent": {trace_id_of(t) for t in recent},
        "straddling": trace_id_of(straddling),
        "straddling_spans": len(straddling),
    }


def test_since_and_until_choose_traces_by_when_their_spans_started(
    timed_project: dict[str, Any],
    phoenix_server: LocalPhoenix,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, url = timed_project["project"], phoenix_server.base_url
    common = ("judge", "--project", project, "--no-judge", "--phoenix-url", url)

    code, out, err = run_cli(capsys, *common, "--since", "1h")
    assert code == 0, err
    assert set(verdict_lines(out)) == timed_project["recent"] | {timed_project["straddling"]}

    code, out, err = run_cli(capsys, *common, "--since", "4h", "--until", "1h")
    assert code == 0, err
    assert set(verdict_lines(out)) == timed_project["old"] | {timed_project["straddling"]}

    code, out, err = run_cli(capsys, *common, "--since", "4h", "--limit", "2")
    assert code == 0, err
    assert len(verdict_lines(out)) == 2


def test_a_trace_that_began_before_the_window_is_read_whole(
    timed_project: dict[str, Any], phoenix_server: LocalPhoenix
) -> None:
    now = time.time_ns()
    with httpx.Client(base_url=phoenix_server.base_url, timeout=30) as http:
        pulled = pull_traces(
            Client(http_client=http),
            project=timed_project["project"],
            since=parse_time_bound("1h", now=_utc(now)),
            until=None,
            redactor=build_redactor(),
        )

    (straddling,) = [t for t in pulled.traces if t.trace_id == timed_project["straddling"]]
    assert len(straddling.steps) == timed_project["straddling_spans"]
    assert straddling.root is not None
    assert straddling.root.parent_id is None
    assert straddling.warnings == []
    assert straddling.goal
    assert straddling.project == timed_project["project"]


def test_an_empty_window_exits_0_and_says_so(
    timed_project: dict[str, Any], phoenix_server: LocalPhoenix, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys,
        "judge",
        "--project",
        timed_project["project"],
        "--no-judge",
        "--phoenix-url",
        phoenix_server.base_url,
        "--since",
        "2001-01-01",
        "--until",
        "2001-01-02T00:00:00Z",
    )

    assert (code, out) == (0, "")
    assert "no spans in project" in err
    assert "--since 1d" in err


def test_named_traces_are_judged_and_unknown_ones_named_with_exit_1(
    timed_project: dict[str, Any], phoenix_server: LocalPhoenix, capsys: pytest.CaptureFixture[str]
) -> None:
    wanted = sorted(timed_project["old"])
    unknown = "0" * 31 + "1"
    args = ["judge", "--project", timed_project["project"], "--no-judge"]
    args += ["--phoenix-url", phoenix_server.base_url]
    for trace_id in [*wanted, unknown.upper()]:
        args += ["--trace-id", trace_id.upper()]

    code, out, err = run_cli(capsys, *args)

    assert code == 1
    assert set(verdict_lines(out)) == set(wanted)
    assert f"trace {unknown} not found" in err


def test_an_unknown_project_exits_2_listing_the_known_ones(
    demo_in_phoenix: tuple[str, Path],
    phoenix_server: LocalPhoenix,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_cli(
        capsys,
        "judge",
        "--project",
        "no-such-project",
        "--no-judge",
        "--phoenix-url",
        phoenix_server.base_url,
    )

    assert (code, out) == (2, "")
    assert "no project 'no-such-project'" in err
    assert repr(demo_in_phoenix[0]) in err
    assert "--project" in err


def test_an_unreachable_phoenix_exits_2_naming_the_url_and_how_to_set_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{find_free_port()}"

    code, out, err = run_cli(
        capsys, "judge", "--project", "p", "--no-judge", "--phoenix-url", dead + "/v1/traces"
    )
    assert (code, out) == (2, "")
    assert f"cannot reach Phoenix at {dead} " in err
    assert "--phoenix-url" in err
    assert "PHOENIX_COLLECTOR_ENDPOINT" in err

    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", dead)
    code, _, err = run_cli(capsys, "judge", "--project", "p", "--no-judge")
    assert code == 2
    assert f"cannot reach Phoenix at {dead} " in err
    assert "now from PHOENIX_COLLECTOR_ENDPOINT" in err


def test_without_a_judge_model_it_exits_2_before_reading_phoenix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLYWHEEL_JUDGE_MODEL", raising=False)
    dead = f"http://127.0.0.1:{find_free_port()}"

    code, _, err = run_cli(capsys, "judge", "--project", "p", "--phoenix-url", dead)

    assert code == 2
    assert "FLYWHEEL_JUDGE_MODEL" in err
    assert "--no-judge" in err
    assert "cannot reach" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "neither a duration"),
        (["--since", "1h", "--until", "2h"], "must be later than --since"),
        (["--trace-id", "abc"], "not a trace id"),
        (["--trace-id", "a" * 32, "--since", "1h"], "drop --since/--until"),
    ],
)
def test_bad_options_exit_2_saying_what_to_write(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "judge", "--project", "p", "--no-judge", *args)

    assert code == 2
    assert message in err


def test_durations_and_iso_times_are_read_as_utc() -> None:
    now = _utc(1_795_299_576_000_000_000)
    assert (now - parse_time_bound("1h30m", now=now)).total_seconds() == 5400
    assert (now - parse_time_bound("2d", now=now)).total_seconds() == 2 * 86400
    assert parse_time_bound("2026-11-21T09:00:00", now=now).isoformat() == (
        "2026-11-21T09:00:00+00:00"
    )
    assert parse_time_bound("2026-11-21T10:00:00+01:00", now=now) == parse_time_bound(
        "2026-11-21T09:00:00Z", now=now
    )


def _utc(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos / 1e9, tz=timezone.utc)
