"""``export grpo``: prompt-only rows, one per decision, that tool_call_reward reads.

The rows come from the agent zoo's captured conversations (one call, parallel calls, text with a
call, several user turns, no tools) and from the airline agent's runs with failed calls; they are
loaded with ``datasets`` as a user loads them, and scored with the reward.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hf_kit
import pytest
from agent_zoo import PROJECT, Zoo
from airline_agent import Recording

from otel_flywheel.datasets import DatasetExample, LoadedDataset
from otel_flywheel.export import (
    ExportError,
    TraceLookup,
    export_grpo,
    manifest_path_for,
)
from otel_flywheel.privacy import build_redactor
from otel_flywheel.rewards import tool_call_reward
from otel_flywheel.routing import RoutingStore


def hermes(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A completion that makes ``calls`` as Qwen2.5 writes them."""
    text = "\n".join(
        "<tool_call>\n"
        + json.dumps({"name": c["name"], "arguments": c["arguments"]}, ensure_ascii=False)
        + "\n</tool_call>"
        for c in calls
    )
    return [{"role": "assistant", "content": text}]


def test_one_row_per_decision_with_the_calls_it_made(zoo: Zoo, tmp_path: Path) -> None:
    result = export_grpo([zoo.golden], out=tmp_path / "grpo.jsonl", traces=zoo.lookup())
    rows = [json.loads(line) for line in result.path.read_text().splitlines()]
    manifest = json.loads(manifest_path_for(result.path).read_text())
    by_example: dict[str, list[dict[str, Any]]] = {}
    for row, lineage in zip(rows, manifest["rows"], strict=True):
        by_example.setdefault(lineage["example_id"], []).append(row)
        assert lineage["decision"].split("@")[0] in ("tool_calls", "answer")
        assert set(row) == {"prompt", "tools", "expected_tool_calls", "expected_output"}
        assert row["prompt"][-1]["role"] in ("user", "tool")  # the model continues from here
    assert result.row_format == "hf"
    assert {k: len(v) for k, v in by_example.items()} == {
        "golden-single_call": 2,
        "golden-parallel_calls": 2,
        "golden-text_and_call": 2,
        "golden-multi_turn": 4,
        "golden-no_tools": 1,
    }

    first, answer = by_example["golden-single_call"]
    assert first["expected_tool_calls"] == {
        "expected_tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1001"}}]
    }
    assert first["expected_output"] is None
    assert [m["role"] for m in first["prompt"]] == ["system", "user"]
    assert answer["expected_tool_calls"] == {"expected_tool_calls": []}
    assert answer["expected_output"] == "Order A-1001 has shipped."
    assert [m["role"] for m in answer["prompt"]] == ["system", "user", "assistant", "tool"]
    assert {t["function"]["name"] for t in first["tools"]} == {
        "lookup_order",
        "get_weather",
        "create_ticket",
    }

    parallel = by_example["golden-parallel_calls"][0]["expected_tool_calls"]["expected_tool_calls"]
    assert sorted(c["name"] for c in parallel) == ["get_weather", "lookup_order"]
    second_request = by_example["golden-multi_turn"][2]
    assert second_request["prompt"][-1] == {
        "role": "user",
        "content": "And what will the weather be in Lyon tomorrow?",
    }
    (no_tools,) = by_example["golden-no_tools"]
    assert no_tools["tools"] is None


def test_the_reward_scores_the_rows_own_calls_one_and_others_zero(zoo: Zoo, tmp_path: Path) -> None:
    result = export_grpo([zoo.golden], out=tmp_path / "grpo.parquet", traces=zoo.lookup())
    dataset = hf_kit.load(result.path, tmp_path / "cache")
    with_calls = [row for row in dataset if row["expected_tool_calls"]["expected_tool_calls"]]
    assert len(with_calls) == 5
    right = [hermes(row["expected_tool_calls"]["expected_tool_calls"]) for row in with_calls]
    wrong = [
        hermes([{**c, "arguments": {}} for c in row["expected_tool_calls"]["expected_tool_calls"]])
        for row in with_calls
    ]
    columns = {
        "expected_tool_calls": [row["expected_tool_calls"] for row in with_calls],
        "tools": [row["tools"] for row in with_calls],
    }
    assert (
        tool_call_reward(prompts=[r["prompt"] for r in with_calls], completions=right, **columns)
        == [1.0] * 5
    )
    assert (
        tool_call_reward(prompts=[r["prompt"] for r in with_calls], completions=wrong, **columns)
        == [0.0] * 5
    )
    answers = [row for row in dataset if not row["expected_tool_calls"]["expected_tool_calls"]]
    text = [[{"role": "assistant", "content": row["expected_output"]}] for row in answers]
    assert tool_call_reward(
        completions=text, expected_tool_calls=[r["expected_tool_calls"] for r in answers]
    ) == [1.0] * len(answers)


def test_conversation_granularity_expects_every_call_until_the_answer(
    zoo: Zoo, tmp_path: Path
) -> None:
    result = export_grpo(
        [zoo.golden], out=tmp_path / "grpo.jsonl", traces=zoo.lookup(), granularity="conversation"
    )
    rows = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert len(rows) == 6  # five conversations, one of them with two requests
    multi = [r for r in rows if "Lyon" in json.dumps(r["expected_tool_calls"])]
    (lyon,) = multi
    assert lyon["prompt"][-1]["content"] == "And what will the weather be in Lyon tomorrow?"
    assert lyon["expected_tool_calls"] == {
        "version": 2,
        "tool_calls": {
            "expected": [{"name": "get_weather", "arguments": {"city": "Lyon", "days": 1}}],
            "others": "forbidden",
        },
    }
    assert lyon["expected_output"] == "Tomorrow Lyon is sunny, 21 degrees."
    # A rollout that runs the tools: calls, TRL's tool messages, then the answer.
    rollout = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Lyon", "days": 1}},
                }
            ],
        },
        {"role": "tool", "name": "get_weather", "content": "Sunny"},
        {"role": "assistant", "content": "Sunny."},
    ]
    assert tool_call_reward(
        completions=[rollout], expected_tool_calls=[lyon["expected_tool_calls"]]
    ) == [1.0]


def test_a_corrected_regression_gives_the_answer_row_only(zoo: Zoo, tmp_path: Path) -> None:
    trace = zoo.traces["single_call"]
    correction = DatasetExample(
        example_id="regression-1",
        dataset=f"{PROJECT}/regression",
        input={"input": trace.goal},
        output={"output": "A-1001 shipped on Monday with UPS."},
        metadata={
            "source_trace_id": trace.trace_id,
            "project": PROJECT,
            "route": "regression",
            "expected_output_known": True,
        },
    )
    uncorrected = DatasetExample(
        example_id="regression-2",
        dataset=f"{PROJECT}/regression",
        input={"input": trace.goal},
        output={"output": "wrong"},
        metadata={**correction.metadata, "expected_output_known": False},
    )
    source = LoadedDataset(name=f"{PROJECT}/regression", examples=[correction, uncorrected])
    result = export_grpo([source], out=tmp_path / "grpo.jsonl", traces=zoo.lookup())
    (row,) = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert row["expected_tool_calls"] == {"expected_tool_calls": []}
    assert row["expected_output"] == "A-1001 shipped on Monday with UPS."
    assert [m["role"] for m in row["prompt"]] == ["system", "user", "assistant", "tool"]
    assert result.steps[0].reasons == {"regression_without_correction": 1}


def test_turns_whose_calls_failed_are_left_out(
    airline_recordings: Callable[[str], Recording], tmp_path: Path
) -> None:
    """A retried write: the failed attempt is no lesson, the retry after it (which saw the 503)
    is; a booking that failed on the wrong card, then succeeded on the right one, likewise."""
    traces = airline_recordings("openinference").traces(build_redactor())
    store = RoutingStore(tmp_path / "routing.sqlite")
    examples = []
    for key in ("contact_update_retried_after_a_503", "booking_retried_with_the_right_card"):
        store.put_trace(traces[key], None)
        examples.append(
            DatasetExample(
                example_id=key,
                dataset="sky/golden",
                input={"input": traces[key].goal},
                metadata={
                    "source_trace_id": traces[key].trace_id,
                    "project": "sky",
                    "route": "golden",
                },
            )
        )
    try:
        result = export_grpo(
            [LoadedDataset(name="sky/golden", examples=examples)],
            out=tmp_path / "grpo.jsonl",
            traces=TraceLookup(store=store),
        )
    finally:
        store.close()
    rows = [json.loads(line) for line in result.path.read_text().splitlines()]
    manifest = json.loads(manifest_path_for(result.path).read_text())
    decisions = {}
    for row, lineage in zip(rows, manifest["rows"], strict=True):
        calls = row["expected_tool_calls"]["expected_tool_calls"]
        decisions.setdefault(lineage["example_id"], []).append(
            [(c["name"], c["arguments"].get("payment_id")) for c in calls]
        )
    assert decisions["contact_update_retried_after_a_503"] == [
        [("get_user_details", None)],
        [("update_contact_info", None)],  # the retry; the first attempt got a 503
        [],
    ]
    assert decisions["booking_retried_with_the_right_card"] == [
        [("get_user_details", None)],
        [("book_reservation", "credit_card_4421")],
        [],
    ]
    retry = rows[1]["prompt"]
    assert "503" in retry[-1]["content"]  # the retry's prompt shows the failure it answers


def test_grpo_rows_are_hf_only(zoo: Zoo, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="--format hf"):
        export_grpo(
            [zoo.golden], out=tmp_path / "grpo.jsonl", traces=zoo.lookup(), row_format="openai"
        )
    assert not (tmp_path / "grpo.jsonl").exists()


def test_arguments_holding_dollar_keys_stay_plain_data(zoo: Zoo, tmp_path: Path) -> None:
    """An argument such as a Mongo filter is data, never a matcher of the references format."""
    from otel_flywheel.export._grpo import _exact_set

    call = {
        "id": "c1",
        "function": {"name": "find", "arguments": {"filter": {"$gt": 5}, "n": [{"$in": [1]}]}},
    }
    expected = _exact_set([call])
    assert expected == {
        "expected_tool_calls": [
            {
                "name": "find",
                "arguments": {
                    "filter": {"$literal": {"$gt": 5}},
                    "n": [{"$literal": {"$in": [1]}}],
                },
            }
        ]
    }
    made = [
        {"role": "assistant", "tool_calls": [{"type": "function", "function": call["function"]}]}
    ]
    assert tool_call_reward(completions=[made], expected_tool_calls=[expected]) == [1.0]
