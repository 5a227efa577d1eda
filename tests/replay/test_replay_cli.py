"""``otel-flywheel replay --offline``: the release gate in CI without Phoenix, run as CI runs it (a
subprocess with a task module), on an examples file in the format ``export evals`` writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from replay_agents import QUESTIONS, TASK_MODULE, responder, run_source_agent

from otel_flywheel.capture import FlywheelSpanProcessor, InMemoryPipeline
from otel_flywheel.cli import build_parser
from otel_flywheel.config import RoutingSettings
from otel_flywheel.datasets import DatasetExample, write_examples
from otel_flywheel.model import AgentTrace, Feedback
from otel_flywheel.replay import recordings_from_trace
from otel_flywheel.routing import Router
from otel_flywheel.testing.llm_server import ScriptedLLMServer

PROJECT = "cli-replay"
DATASET = f"{PROJECT}/golden"
HERE = Path(__file__).parent
CLI = str(Path(sys.executable).parent / "otel-flywheel")


@pytest.fixture(scope="module")
def source_traces() -> Iterator[list[AgentTrace]]:
    pipeline = InMemoryPipeline()
    provider = TracerProvider()
    provider.add_span_processor(FlywheelSpanProcessor(pipeline=pipeline))
    yield run_source_agent(provider, pipeline, QUESTIONS, version="good")
    provider.shutdown()


def export_golden(path: Path, traces: list[AgentTrace], *, with_recordings: bool) -> Path:
    """What routing makes of a thumbs up on each trace, written as ``export evals`` writes it;
    with the trace's tool calls in the examples' metadata."""
    router = Router(RoutingSettings(project=PROJECT))
    examples = []
    for trace in traces:
        (routed,) = router.feedback_examples(trace, Feedback(trace_id=trace.trace_id, thumbs="up"))
        write = router.example_write(routed, None)
        metadata = dict(write.metadata)
        if with_recordings:
            metadata["tool_recordings"] = [r.to_dict() for r in recordings_from_trace(trace)]
        examples.append(
            DatasetExample(
                example_id=write.example_id,
                dataset=write.dataset,
                input=write.input,
                output=write.output,
                metadata=metadata,
                span_id=write.span_id,
            )
        )
    write_examples(path, examples)
    return path


def replay_cli(workdir: Path, llm_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    (workdir / "orders_task.py").write_text(TASK_MODULE)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_JUDGE", "OPENAI_"))},
        "ORDERS_LLM_URL": llm_url,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        # No Phoenix in these runs: a configured endpoint must not be needed.
        "PHOENIX_COLLECTOR_ENDPOINT": "http://127.0.0.1:9",
    }
    return subprocess.run(
        [CLI, "replay", DATASET, "--task", "orders_task:answer", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def summary(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_offline_replay_passes_writes_junit_and_json_and_answers_tools_from_recordings(
    tmp_path: Path, source_traces: list[AgentTrace]
) -> None:
    examples = export_golden(tmp_path / "golden.jsonl", source_traces, with_recordings=True)
    with ScriptedLLMServer(responder=responder("good")) as llm:
        result = replay_cli(
            tmp_path,
            llm.base_url,
            "--offline", str(examples),
            "--no-judge",
            "--min-pass-rate", "0.3",
            "--tool-replay", "fail",
            "--junit", "out/replay.xml",
            "--json", "out/replay.json",
        )  # fmt: skip

    assert result.returncode == 0, result.stderr + result.stdout
    assert "GATE PASSED (exit 0)" in result.stdout
    assert "[3/3] pass" in result.stderr
    data = summary(tmp_path / "out" / "replay.json")
    assert data["gate"]["exit_code"] == 0
    assert data["gate"]["passes"] == 3
    assert data["experiment_id"] is None
    runs = [run for example in data["examples"] for run in example["runs"]]
    # Every lookup came from the recorded source trace, none from the (drifted) live tool.
    assert [(run["tools_replayed"], run["tools_live"]) for run in runs] == [(1, 0)] * 3
    assert sorted(run["output"] for run in runs) == [
        "Order A-1001 is shipped.",
        "Order A-1002 is processing.",
        "Order A-1003 is delivered.",
    ]
    suite = ET.parse(tmp_path / "out" / "replay.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "0", "0")
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names[-1] == "gate"
    assert any(name and name.startswith("Where is order A-1002?") for name in names)


def test_offline_replay_of_a_regressed_agent_fails_the_gate_and_a_later_run_compares_with_it(
    tmp_path: Path, source_traces: list[AgentTrace]
) -> None:
    examples = export_golden(tmp_path / "golden.parquet", source_traces, with_recordings=False)
    with ScriptedLLMServer(responder=responder("bad")) as llm:
        failed = replay_cli(
            tmp_path, llm.base_url,
            "--offline", str(examples), "--no-judge", "--min-pass-rate", "0.3",
            "--junit", "bad.xml", "--json", "bad.json",
        )  # fmt: skip
    with ScriptedLLMServer(responder=responder("good")) as llm:
        fixed = replay_cli(
            tmp_path, llm.base_url,
            "--offline", str(examples), "--no-judge", "--min-pass-rate", "0.3",
            "--baseline", "bad.json", "--json", "fixed.json",
        )  # fmt: skip

    assert failed.returncode == 1, failed.stderr + failed.stdout
    assert "GATE FAILED (exit 1)" in failed.stdout
    assert "3 golden example(s) passed in the baseline and fail now" in failed.stdout
    bad = summary(tmp_path / "bad.json")
    assert len(bad["golden_regressions"]) == 3
    assert {e["change"] for e in bad["examples"]} == {"regression"}
    suite = ET.parse(tmp_path / "bad.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "4"  # three examples and the gate
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert "expected_tool_calls" in (failure.get("message") or "")

    assert fixed.returncode == 0, fixed.stderr + fixed.stdout
    good = summary(tmp_path / "fixed.json")
    assert good["baseline"] == "file bad.json"
    assert {e["change"] for e in good["examples"]} == {"fix"}
    assert {e["baseline_from"] for e in good["examples"]} == {"baseline"}


def test_replay_exits_2_naming_the_fix_for_bad_options(
    tmp_path: Path,
    source_traces: list[AgentTrace],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    examples = export_golden(tmp_path / "golden.jsonl", source_traces, with_recordings=False)
    (tmp_path / "quiet_task.py").write_text("def answer(input):\n    return 'ok'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the command puts the cwd on it
    monkeypatch.delenv("FLYWHEEL_JUDGE_MODEL", raising=False)
    # Each fails before any run: in process, without touching the global tracer provider.
    command = ["replay", DATASET, "--task", "quiet_task:answer", "--offline", str(examples)]

    def run(*args: str) -> tuple[int, str]:
        parsed = build_parser().parse_args([*command, *args])
        code = int(parsed.handler(parsed))
        return code, capsys.readouterr().err

    no_judge = run()
    auto = run("--baseline", "auto", "--no-judge")
    bad_task = run("--no-judge", "--task", "quiet_task")
    other_dataset = run("--no-judge", "--offline", str(tmp_path / "missing.jsonl"))

    assert no_judge[0] == 2
    assert "FLYWHEEL_JUDGE_MODEL" in no_judge[1]
    assert "--no-judge" in no_judge[1]
    assert auto[0] == 2
    assert "--json summary file" in auto[1]
    assert bad_task[0] == 2
    assert "is not module:function" in bad_task[1]
    assert other_dataset[0] == 2
    assert "otel-flywheel export evals" in other_dataset[1]
