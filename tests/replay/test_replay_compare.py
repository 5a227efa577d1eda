"""Replay as an A/B: two variants of the order agent over the same examples, paired, with intervals,
per-example differences, a verdict, and preference pairs that ``export dpo`` trains on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from replay_agents import two_agents

from otel_flywheel.cli import main
from otel_flywheel.datasets import DatasetExample, LoadedDataset, read_examples, write_examples
from otel_flywheel.errors import ConfigError
from otel_flywheel.export import TraceLookup, export_dpo
from otel_flywheel.replay import (
    GateSettings,
    paired_difference_interval,
    run_comparison,
)

HERE = Path(__file__).parent
CLI = str(Path(sys.executable).parent / "otel-flywheel")
ORDERS = [f"A-10{n:02d}" for n in range(1, 9)]
# Two task functions as a user writes them for `replay --task variants:bad --compare
# variants:fixed`: instrumented through the global provider replay sets.
VARIANTS_MODULE = """
from openai import OpenAI
from openinference.instrumentation.openai import OpenAIInstrumentor

import replay_agents
from otel_flywheel.testing.llm_server import ScriptedLLMServer

OpenAIInstrumentor().instrument()
_servers = {v: ScriptedLLMServer(responder=replay_agents.responder(v)).start() for v in ("bad", "fixed")}
_agents = {
    v: replay_agents.OrderAgent(OpenAI(base_url=s.base_url, api_key="t", max_retries=0))
    for v, s in _servers.items()
}


def bad(input):
    return _agents["bad"].answer(input["input"])


def fixed(input):
    return _agents["fixed"].answer(input["input"])
"""
ANYONE = GateSettings(min_pass_rate=0.0)


def golden(order_id: str) -> DatasetExample:
    return DatasetExample(
        example_id=f"golden-{order_id}",
        dataset="orders/golden",
        input={"input": f"Where is order {order_id}?"},
        output={
            "output": f"Order {order_id} is shipped.",
            "expected_tool_calls": [{"name": "lookup_order", "arguments": {"order_id": order_id}}],
        },
        metadata={
            "route": "golden",
            "project": "orders",
            "user_id": "<USER:0a1b2c3d>",
            "consent": True,
            "source_trace_id": "f" * 32,
            "category": "lookups",
        },
    )


def compare(first: str, second: str, tmp_path: Path, **options: Any) -> Any:
    with two_agents(first, second) as (task_a, task_b, provider):
        return run_comparison(
            "orders/golden",
            task_a,
            task_b,
            names=(first, second),
            examples=[golden(order) for order in ORDERS],
            tracer_provider=provider,
            judge=False,
            gate=ANYONE,
            tool_replay="off",
            preferences_out=tmp_path / "preferences.jsonl",
            **options,
        )


def test_two_variants_side_by_side_with_the_difference_and_its_interval(tmp_path: Path) -> None:
    report = compare("bad", "fixed", tmp_path)
    comparison = report.comparison
    assert [pair.difference for pair in comparison.examples] == ["better"] * len(ORDERS)
    assert comparison.a.passes == 0
    assert comparison.b.passes == len(ORDERS)
    assert comparison.rate_difference == 1.0
    lower, upper = comparison.difference_interval  # type: ignore[misc]
    assert 0.5 < lower < 1.0 == upper
    assert comparison.p_value == pytest.approx(2 * 0.5**8)  # McNemar exact: 8 wins, 0 losses
    assert comparison.verdict == "better"
    assert report.exit_code == 0
    text = report.render()
    assert "bad: tests.replay" not in text  # the task, named as given
    assert "fixed - bad over the 8 examples both scored: +100.0%" in text
    assert "McNemar exact p = 0.00781: fixed is better" in text
    assert "better with fixed (fixed passes, bad fails): 8" in text
    assert "lookups" in text  # the category table
    assert "preference pairs: 8 written to" in text


def test_a_worse_candidate_fails_the_comparison(tmp_path: Path) -> None:
    report = compare("fixed", "bad", tmp_path, preferences=False)
    assert report.comparison.verdict == "worse"
    assert report.exit_code == 1
    assert report.preferences is None
    assert "worse with bad (bad fails, fixed passes): 8" in report.render()


def test_preference_pairs_carry_their_runs_and_lineage_and_train_as_dpo_rows(
    tmp_path: Path,
) -> None:
    report = compare("bad", "fixed", tmp_path)
    assert report.preferences is not None
    assert report.preferences.pairs == len(ORDERS)
    assert report.preferences.outbox is None  # offline: the file only
    pairs = read_examples(tmp_path / "preferences.jsonl")
    assert len(pairs) == len(ORDERS)
    first = pairs[0]
    assert first.dataset == "orders/preference"  # the examples' project
    meta = first.metadata
    assert meta["route"] == "preference"
    assert meta["route_reason"] == "replay_comparison"
    assert meta["preferred_by"] == "checks"
    assert meta["rejected_failures"] == ["expected_tool_calls"]
    assert meta["source_example_id"] == "golden-A-1001"
    assert meta["user_id"] == "<USER:0a1b2c3d>"  # purge finds it
    assert meta["consent"] is True
    assert meta["chosen"]["variant"] == "fixed"
    assert meta["rejected"]["variant"] == "bad"
    assert meta["chosen"]["trace_id"] != meta["rejected"]["trace_id"]
    output = first.output
    assert output["chosen"] == "Order A-1001 is shipped."
    assert output["rejected"] == "Order A-0000 is unknown."
    assert [m["role"] for m in output["prompt_messages"]] == ["user"]
    assert [m["role"] for m in output["chosen_messages"]] == ["assistant", "tool", "assistant"]
    chosen_call = output["chosen_messages"][0]["tool_calls"][0]["function"]
    assert chosen_call == {"name": "lookup_order", "arguments": {"order_id": "A-1001"}}
    # Replaying the same two variants again updates the pairs rather than adding more.
    again = compare("bad", "fixed", tmp_path)
    assert again.preferences is not None
    assert [e.example_id for e in read_examples(tmp_path / "preferences.jsonl")] == [
        e.example_id for e in pairs
    ]

    result = export_dpo(
        [LoadedDataset(name="orders/preference", examples=pairs)],
        out=tmp_path / "dpo.jsonl",
        traces=TraceLookup(),
        row_format="hf",
    )
    assert result.rows == len(ORDERS)
    # The runs parted at their first turn: the lookup of the right order over the wrong one.
    row = json.loads(result.path.read_text().splitlines()[0])
    assert [m["role"] for m in row["prompt"]] == ["user"]
    (chosen,) = row["chosen"]
    (rejected,) = row["rejected"]
    assert chosen["tool_calls"][0]["function"]["arguments"] == {"order_id": "A-1001"}
    assert rejected["tool_calls"][0]["function"]["arguments"] == {"order_id": "A-0000"}
    manifest = json.loads(Path(f"{result.path}.manifest.json").read_text())
    assert manifest["source_traces"] == {"local_store": 0, "phoenix": 0, "missing": 0}
    assert {r["trace_from"] for r in manifest["rows"]} == {"example"}


def test_identical_variants_make_no_pairs_and_no_difference(tmp_path: Path) -> None:
    with two_agents("fixed", "fixed") as (task_a, task_b, provider):
        report = run_comparison(
            "orders/golden",
            task_a,
            task_b,
            examples=[golden(order) for order in ORDERS[:3]],
            tracer_provider=provider,
            judge=False,
            gate=ANYONE,
            tool_replay="off",
        )
    assert report.comparison.rate_difference == 0.0
    assert report.comparison.p_value == 1.0
    assert report.comparison.verdict == "no significant difference"
    assert report.preferences is not None
    assert report.preferences.pairs == 0
    assert "preference pairs: none" in report.render()


def test_bad_options_are_refused_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match="different names"):
        run_comparison("d", "m:a", "m:b", names=("x", "x"))
    with pytest.raises(ConfigError, match="alpha"):
        run_comparison("d", "m:a", "m:b", alpha=1.5)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # Newcombe (1998), method 10, with his continuity-adjusted phi, as R's biostatUZH
        # confIntPairedProportion computes it (Altman et al., Statistics with Confidence, p. 52).
        ((0, 0, 8, 0), (0.5412, 1.0)),
        ((5, 0, 0, 5), (-0.1666, 0.1666)),
        ((10, 2, 6, 2), (-0.0819, 0.4445)),
        ((12, 2, 9, 21), (0.0112, 0.2954)),
    ],
)
def test_the_paired_interval(
    table: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    lower, upper = paired_difference_interval(*table)
    assert (lower, upper) == pytest.approx(expected, abs=5e-4)


def test_the_cli_compares_two_tasks_offline(tmp_path: Path) -> None:
    """As CI runs it: a subprocess with a module of tasks, an examples file, no Phoenix."""
    write_examples(tmp_path / "golden.jsonl", [golden(order) for order in ORDERS[:4]])
    (tmp_path / "variants.py").write_text(VARIANTS_MODULE)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_JUDGE", "OPENAI_"))},
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "PHOENIX_COLLECTOR_ENDPOINT": "http://127.0.0.1:9",  # never needed offline
    }
    result = subprocess.run(
        [
            CLI,
            "replay",
            "orders/golden",
            "--offline",
            "golden.jsonl",
            "--task",
            "variants:bad",
            "--compare",
            "variants:fixed",
            "--names",
            "bad,fixed",
            "--no-judge",
            "--tool-replay",
            "off",
            "--min-pass-rate",
            "0",
            "--json",
            "comparison.json",
            "--preferences-out",
            "pairs.jsonl",
            "-q",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "better with fixed (fixed passes, bad fails): 4" in result.stdout
    document = json.loads((tmp_path / "comparison.json").read_text())
    assert document["format"] == "otel-flywheel.replay-comparison/1"
    assert document["verdict"] == "no significant difference"  # 4 of 4: p = 0.125
    assert document["difference"] == 1.0
    assert set(document["variants"]) == {"bad", "fixed"}
    assert [e["difference"] for e in document["examples"]] == ["better"] * 4
    assert document["preferences"]["pairs"] == 4
    assert len(read_examples(tmp_path / "pairs.jsonl")) == 4


def test_the_cli_refuses_names_that_are_not_two() -> None:
    with pytest.raises(SystemExit):
        main(["replay", "d", "--task", "m:a", "--compare", "m:b", "--names", "one"])


def test_pairs_wait_in_their_outbox_while_phoenix_is_down_and_purge_removes_a_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from otel_flywheel.replay._compare_job import deliver_preferences

    monkeypatch.setenv("FLYWHEEL_STATE_DIR", str(tmp_path))
    compare("bad", "fixed", tmp_path)
    pairs = read_examples(tmp_path / "preferences.jsonl")
    delivery = deliver_preferences(
        pairs,
        dataset="orders/preference",
        phoenix_url="http://127.0.0.1:9",  # nothing listens: Phoenix is down
        timeout_seconds=1.0,
    )
    assert delivery.pairs == len(ORDERS)
    assert not delivery.delivered
    assert delivery.pending == len(ORDERS)  # kept for the next run, never dropped
    assert delivery.outbox == str(tmp_path / "replay-preferences.sqlite")

    code = main(["purge", "--pseudonym", "<USER:0a1b2c3d>", "--no-phoenix"])
    assert code == 0
    assert f"replay preference outbox: removed {len(ORDERS)} writes" in capsys.readouterr().out
