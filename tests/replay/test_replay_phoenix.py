"""Replay against a real Phoenix, on datasets the flywheel's routing wrote: production traces
exported to Phoenix, judged, routed through the outbox (a thumbs up makes a golden example, a
repeated lookup a regression example), then replayed as a release gate with experiments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from phoenix.client import Client
from replay_agents import (
    QUESTIONS,
    REAL_CALLS,
    REPEAT_QUESTION,
    TASK_MODULE,
    order_agent_task,
    responder,
    run_source_agent,
    wait_for_examples,
)

from otel_flywheel._flywheel import build_flywheel
from otel_flywheel._register import register
from otel_flywheel.capture import InMemoryPipeline
from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, Feedback
from otel_flywheel.phoenix import PhoenixAccessError
from otel_flywheel.replay import GateSettings, run_replay
from otel_flywheel.testing.llm_server import ScriptedLLMServer
from otel_flywheel.testing.phoenix import LocalPhoenix, wait_for_spans

HERE = Path(__file__).parent
CLI = str(Path(sys.executable).parent / "otel-flywheel")
LENIENT = GateSettings(min_pass_rate=0.3)  # three examples: the bar is not the point here


@dataclass(frozen=True)
class Routed:
    project: str
    traces: list[AgentTrace]
    state_dir: Path

    @property
    def golden(self) -> str:
        return f"{self.project}/golden"

    @property
    def regression(self) -> str:
        return f"{self.project}/regression"


@pytest.fixture(scope="module")
def routed(
    phoenix_server: LocalPhoenix, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Routed]:
    """Production, then routing: what the replay tests replay."""
    import httpx

    project = f"replay-{uuid.uuid4().hex[:10]}"
    state_dir = tmp_path_factory.mktemp("replay-state")
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        httpx.Client(base_url=phoenix_server.base_url, timeout=30) as http,
    ):
        monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(state_dir))
        client = Client(http_client=http)
        pipeline = InMemoryPipeline()
        provider = register(
            project=project,
            endpoint=phoenix_server.base_url,
            pipeline=pipeline,
            batch=False,
            set_global=False,
        )
        traces = run_source_agent(provider, pipeline, [*QUESTIONS, REPEAT_QUESTION], version="good")
        provider.shutdown()
        # The outbox links examples to their source spans: they must be queryable first.
        wait_for_spans(
            client, project=project, min_count=17, trace_ids=[t.trace_id for t in traces]
        )
        flywheel = build_flywheel(project=project, phoenix_url=phoenix_server.base_url, judge=False)
        try:
            for trace in traces:
                flywheel.submit(trace)
            assert flywheel.force_flush(60_000)
            for trace in traces[:3]:
                flywheel.submit_feedback(Feedback(trace_id=trace.trace_id, thumbs="up"))
            assert flywheel.force_flush(60_000)
        finally:
            flywheel.shutdown()
        wait_for_examples(client, f"{project}/golden", 3)
        wait_for_examples(client, f"{project}/regression", 1)
        yield Routed(project=project, traces=traces, state_dir=state_dir)


def experiment_records(client: Client, experiment_id: str) -> list[dict[str, Any]]:
    response = client._client.get(f"v1/experiments/{experiment_id}/json")
    response.raise_for_status()
    records: list[dict[str, Any]] = response.json()
    return records


def test_a_replay_records_an_experiment_and_a_regressed_agent_fails_the_gate_against_it(
    routed: Routed,
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # No local routing store here: tool recordings must come from the source traces in Phoenix.
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path))
    calls_before = REAL_CALLS["lookup_order"]
    with order_agent_task("good") as (task, provider):
        good = run_replay(
            routed.golden,
            task,
            phoenix_url=phoenix_server.base_url,
            judge=False,
            gate=LENIENT,
            tool_replay="fail",
            tracer_provider=provider,
        )
    live_calls = REAL_CALLS["lookup_order"] - calls_before
    with order_agent_task("bad") as (task, provider):
        bad = run_replay(
            routed.golden,
            task,
            phoenix_url=phoenix_server.base_url,
            judge=False,
            gate=LENIENT,
            baseline="auto",
            tracer_provider=provider,
        )

    assert good.exit_code == 0, good.render()
    assert [(r.status, r.tools_replayed, r.tools_live) for r in good.runs] == [("pass", 1, 0)] * 3
    assert live_calls == 0  # every lookup was answered from the source traces in Phoenix
    experiment_id = good.info.experiment_id
    assert experiment_id is not None
    experiment = phoenix_server_client.experiments.get(experiment_id=experiment_id)
    dataset = phoenix_server_client.datasets.get_dataset(dataset=routed.golden)
    assert experiment["dataset_version_id"] == dataset.version_id == good.info.dataset_version
    records = experiment_records(phoenix_server_client, experiment_id)
    assert len(records) == 3
    for record in records:
        names = {a["name"]: a for a in record["annotations"]}
        assert names["flywheel.replay"]["label"] == "pass"
        assert names["expected_tool_calls"]["score"] == 1.0
        assert record["trace_id"] in {r.trace_id for r in good.runs}
        assert record["output"].startswith("Order A-100")

    assert bad.exit_code == 1, bad.render()
    assert bad.gate.baseline_source == f"experiment {experiment_id}"
    assert sorted(o.example.input["input"] for o in bad.gate.golden_regressions) == sorted(
        QUESTIONS
    )
    (failure,) = [f for f in bad.gate.failures if "golden" in f]
    assert "Where is order A-1002?" in failure
    assert bad.info.experiment_id not in (None, experiment_id)


def test_the_regression_dataset_replayed_against_a_fix_shows_the_fix_with_tools_from_the_store(
    routed: Routed,
    phoenix_server: LocalPhoenix,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(routed.state_dir))  # routing's own store
    calls_before = REAL_CALLS["lookup_order"]
    with order_agent_task("good") as (task, provider):
        unfixed = run_replay(
            routed.regression,
            task,
            phoenix_url=phoenix_server.base_url,
            judge=False,
            gate=LENIENT,
            tracer_provider=provider,
            record_experiment=False,
        )
    with order_agent_task("fixed") as (task, provider):
        fixed = run_replay(
            routed.regression,
            task,
            phoenix_url=phoenix_server.base_url,
            judge=False,
            gate=LENIENT,
            repetitions=2,  # one example: two passing runs give a lower bound of 34 %
            tracer_provider=provider,
            record_experiment=False,
        )

    assert unfixed.exit_code == 1
    (still,) = unfixed.gate.outcomes
    assert still.status == "fail"
    assert still.change is None  # failed at its origin, fails now: not a regression
    assert still.runs[0].verdict is not None
    assert still.runs[0].verdict.subcategory == "repeated_call"
    assert fixed.exit_code == 0, fixed.render()
    (outcome,) = fixed.gate.outcomes
    assert outcome.change == "fix"
    assert outcome.example.input["input"] == REPEAT_QUESTION
    assert "fixed (1):" in fixed.render()
    assert fixed.info.experiment_id is None
    assert REAL_CALLS["lookup_order"] == calls_before  # answered from the routing store
    assert [r.tools_replayed for r in fixed.runs] == [1, 1]


def test_the_cli_replays_a_phoenix_dataset_exporting_each_run_to_the_experiment_project(
    routed: Routed,
    phoenix_server: LocalPhoenix,
    phoenix_server_client: Client,
    tmp_path: Path,
) -> None:
    (tmp_path / "orders_task.py").write_text(TASK_MODULE)
    with ScriptedLLMServer(responder=responder("good")) as llm:
        result = subprocess.run(
            [
                CLI, "replay", routed.golden, "--task", "orders_task:answer", "--no-judge",
                "--phoenix-url", phoenix_server.base_url, "--min-pass-rate", "0.3",
                "--repetitions", "2", "--json", "replay.json",
            ],
            cwd=tmp_path,
            env={
                **os.environ,
                "ORDERS_LLM_URL": llm.base_url,
                "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
                "FLYWHEEL_STATE_DIR": str(tmp_path / "state"),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )  # fmt: skip

    assert result.returncode == 0, result.stderr + result.stdout
    summary = json.loads((tmp_path / "replay.json").read_text())
    experiment_id = summary["experiment_id"]
    assert summary["gate"]["scored_runs"] == 6
    experiment = phoenix_server_client.experiments.get(experiment_id=experiment_id)
    assert experiment["repetitions"] == 2
    records = experiment_records(phoenix_server_client, experiment_id)
    assert sorted(r["repetition_number"] for r in records) == [1, 1, 1, 2, 2, 2]
    # Each run's spans went (redacted) to the experiment's project, under the run's trace id.
    spans = wait_for_spans(
        phoenix_server_client,
        project=experiment["project_name"],
        min_count=6,
        trace_ids=[r["trace_id"] for r in records],
    )
    assert {s["context"]["trace_id"] for s in spans} == {r["trace_id"] for r in records}


def test_an_unknown_dataset_or_an_unreachable_phoenix_is_an_error_naming_the_fix(
    routed: Routed, phoenix_server: LocalPhoenix
) -> None:
    def task(input: dict[str, Any]) -> str:
        return "never run"

    with pytest.raises(ConfigError, match=rf"no dataset 'nope/golden'.*'{routed.golden}'"):
        run_replay("nope/golden", task, phoenix_url=phoenix_server.base_url, judge=False)
    with pytest.raises(PhoenixAccessError, match=r"cannot reach Phoenix at http://127\.0\.0\.1:9"):
        run_replay(routed.golden, task, phoenix_url="http://127.0.0.1:9", judge=False)


def test_an_ab_replay_records_both_experiments_and_writes_preference_pairs_to_phoenix(
    routed: Routed, phoenix_server: LocalPhoenix, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bad agent against the good one on the golden set: each variant its own experiment on
    the same dataset version, and one preference pair per example, delivered through the outbox
    into the project's preference dataset, which ``export dpo`` then trains on."""
    from replay_agents import two_agents

    from otel_flywheel.export import TraceLookup, export_dpo
    from otel_flywheel.phoenix import load_dataset
    from otel_flywheel.replay import run_comparison

    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(routed.state_dir))
    with two_agents("bad", "good") as (bad, good, provider):
        report = run_comparison(
            routed.golden,
            bad,
            good,
            names=("bad", "good"),
            phoenix_url=phoenix_server.base_url,
            tracer_provider=provider,
            judge=False,
            gate=LENIENT,
            tool_replay="off",
        )
    comparison = report.comparison
    assert [p.difference for p in comparison.examples] == ["better"] * 3
    assert report.info_a.experiment_id != report.info_b.experiment_id
    assert report.info_a.dataset_version == report.info_b.dataset_version
    delivery = report.preferences
    assert delivery is not None
    assert delivery.dataset == f"{routed.project}/preference"
    assert (delivery.pairs, delivery.delivered, delivery.pending) == (3, True, 0)

    import httpx

    with httpx.Client(base_url=phoenix_server.base_url, timeout=60) as http:
        client = Client(http_client=http)
        wait_for_examples(client, delivery.dataset, 3)
        source = load_dataset(client, delivery.dataset)
        result = export_dpo(
            [source], out=routed.state_dir / "dpo.jsonl", traces=TraceLookup(), row_format="hf"
        )
    metadata = [e.metadata for e in source.examples]
    assert {m["route_reason"] for m in metadata} == {"replay_comparison"}
    assert {m["chosen"]["experiment_id"] for m in metadata} == {report.info_b.experiment_id}
    assert {m["rejected"]["experiment_id"] for m in metadata} == {report.info_a.experiment_id}
    assert {m["source_dataset"] for m in metadata} == {routed.golden}
    assert {m["user_id"] for m in metadata} == {t.user_id for t in routed.traces[:3]}
    assert result.rows == 3
