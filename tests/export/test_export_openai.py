"""``--format openai``: OpenAI fine-tuning's JSON lines, and the rules every row is checked against."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from agent_zoo import REJECTED, Scenario, Zoo, capture_scenarios

from otel_flywheel.export import ExportError, get_row_format
from otel_flywheel.routing import RoutingStore
from otel_flywheel.testing.llm_server import ScriptedLLMServer, Text, ToolCallReply, ToolCalls

OPENAI = get_row_format("openai")
HF = get_row_format("hf")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_defaults_to_openai_and_every_row_meets_its_rules(zoo: Zoo, tmp_path: Path) -> None:
    sft = zoo.sft(tmp_path / "sft.jsonl")
    dpo = zoo.dpo(tmp_path / "dpo.jsonl")

    assert (sft.row_format, dpo.row_format) == ("openai", "openai")
    assert sft.rows == dpo.rows == len(zoo.traces)
    for row in lines(sft.path):
        assert set(row) == {"messages", "tools"}
        assert OPENAI.problems("sft", row) == []
    for row in lines(dpo.path):
        assert set(row) == {"input", "preferred_output", "non_preferred_output"}
        assert set(row["input"]) == {"messages", "tools"}
        assert row["non_preferred_output"] == [{"role": "assistant", "content": REJECTED}]
        assert OPENAI.problems("dpo", row) == []


def test_arguments_are_json_text_of_the_objects_the_model_produced(
    zoo: Zoo, tmp_path: Path
) -> None:
    openai_rows = lines(zoo.sft(tmp_path / "sft.jsonl").path)
    hf_rows = lines(zoo.sft(tmp_path / "hf.jsonl", row_format="hf").path)

    for openai_row, hf_row in zip(openai_rows, hf_rows, strict=True):
        for ours, theirs in zip(openai_row["messages"], hf_row["messages"], strict=True):
            for a, b in zip(ours.get("tool_calls", ()), theirs.get("tool_calls", ()), strict=True):
                assert isinstance(a["function"]["arguments"], str)
                assert json.loads(a["function"]["arguments"]) == b["function"]["arguments"]
                assert list(json.loads(a["function"]["arguments"])) == list(
                    b["function"]["arguments"]
                )  # the model's key order
            if ours["role"] == "tool":
                assert set(ours) == {"role", "content", "tool_call_id"}


def test_one_call_per_turn_says_parallel_tool_calls_false(zoo: Zoo, tmp_path: Path) -> None:
    sft = zoo.sft(tmp_path / "sft.jsonl", parallel_tool_calls=False)
    dpo = zoo.dpo(tmp_path / "dpo.jsonl", parallel_tool_calls=False)

    for row in lines(sft.path):
        assert row["parallel_tool_calls"] is False
        assert all(len(m.get("tool_calls", ())) <= 1 for m in row["messages"])
        assert OPENAI.problems("sft", row) == []
    for row in lines(dpo.path):
        assert row["input"]["parallel_tool_calls"] is False
        assert OPENAI.problems("dpo", row) == []


def test_openai_rejects_parquet_and_names_the_format_that_writes_it(
    zoo: Zoo, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match=r"reads \.jsonl files, not \.parquet.*--format hf"):
        zoo.sft(tmp_path / "sft.parquet", row_format="openai")
    assert not list(tmp_path.iterdir())


def test_a_tool_name_openai_refuses_drops_the_row_from_openai_and_not_from_hf(
    tmp_path: Path,
) -> None:
    """MCP-style dotted tool names are common; OpenAI's functions allow only [A-Za-z0-9_-]."""
    dotted = {
        "type": "function",
        "function": {
            "name": "orders.lookup",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
    scenario = Scenario(
        "dotted",
        ["Where is order A-1009?"],
        [
            ToolCalls([ToolCallReply("orders.lookup", {"order_id": "A-1009"})]),
            Text("Order A-1009 has shipped."),
        ],
        tools=[dotted],
    )
    with ScriptedLLMServer() as llm:
        traces = capture_scenarios(llm, [scenario])
    store = RoutingStore(tmp_path / "routing.sqlite")
    try:
        zoo = Zoo.build(traces, store)
        openai = zoo.sft(tmp_path / "sft.jsonl")
        hf = zoo.sft(tmp_path / "hf.jsonl", row_format="hf")
    finally:
        store.close()

    assert (openai.rows, hf.rows) == (0, 1)
    [removed] = openai.manifest["curation"]["removed"]
    assert removed["step"] == "format"
    assert removed["reason"] == "tool_name_pattern"
    assert removed["row_format"] == "openai"
    assert [p["field"] for p in removed["problems"]] == [
        "tools[0].function.name",
        "messages[2].tool_calls[0].function.name",
    ]
    assert "orders.lookup" not in json.dumps(removed)  # the field, never the value


# --- the rules, one by one ------------------------------------------------------------------------

GOOD: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": "You are Acme's support agent."},
        {"role": "user", "content": "Where is order A-1001?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"order_id": "A-1001"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
        {"role": "assistant", "content": "It shipped.", "weight": 1},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "lookup_order", "parameters": {"type": "object"}},
        }
    ],
}


def broken(change: str) -> dict[str, Any]:
    row = copy.deepcopy(GOOD)
    messages, call = row["messages"], row["messages"][2]["tool_calls"][0]
    if change == "unknown_top_level_key":
        row["id"] = "row-1"
    elif change == "unknown_message_key":
        messages[1]["metadata"] = {}
    elif change == "tool_name_with_a_dot":
        call["function"]["name"] = "orders.lookup"
    elif change == "arguments_as_object":
        call["function"]["arguments"] = {"order_id": "A-1001"}
    elif change == "arguments_not_json":
        call["function"]["arguments"] = "order A-1001"
    elif change == "result_for_no_call":
        messages[3]["tool_call_id"] = "call_9"
    elif change == "no_assistant":
        del messages[2:]
    elif change == "function_role":
        messages[1]["role"] = "function"
    elif change == "user_without_content":
        del messages[1]["content"]
    elif change == "empty_tool_calls":
        messages[4]["tool_calls"] = []
    elif change == "weight_two":
        messages[4]["weight"] = 2
    elif change == "two_calls_without_parallel":
        row["parallel_tool_calls"] = False
        second = {**call, "id": "call_2"}
        messages[2]["tool_calls"].append(second)
        messages.insert(4, {"role": "tool", "tool_call_id": "call_2", "content": "{}"})
    return row


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("unknown_top_level_key", [("id", "unknown_key")]),
        ("unknown_message_key", [("messages[1].metadata", "unknown_key")]),
        (
            "tool_name_with_a_dot",
            [("messages[2].tool_calls[0].function.name", "tool_name_pattern")],
        ),
        (
            "arguments_as_object",
            [("messages[2].tool_calls[0].function.arguments", "arguments_not_json_text")],
        ),
        (
            "arguments_not_json",
            [("messages[2].tool_calls[0].function.arguments", "arguments_not_json_text")],
        ),
        (
            "result_for_no_call",
            [
                ("messages[3].tool_call_id", "tool_result_unpaired"),
                ("messages[2].tool_calls[0]", "tool_call_unanswered"),
            ],
        ),
        ("no_assistant", [("messages", "no_assistant_message")]),
        (
            "function_role",
            [("messages[1].role", "unknown_role")],
        ),
        ("user_without_content", [("messages[1].content", "missing_content")]),
        ("empty_tool_calls", [("messages[4].tool_calls", "empty_tool_calls")]),
        ("weight_two", [("messages[4].weight", "weight_value")]),
        (
            "two_calls_without_parallel",
            [("messages[2].tool_calls", "parallel_tool_calls_disabled")],
        ),
    ],
)
def test_each_openai_rule_names_the_field_it_is_broken_at(
    change: str, expected: list[tuple[str, str]]
) -> None:
    assert OPENAI.problems("sft", GOOD) == []

    problems = OPENAI.problems("sft", broken(change))

    assert [(p.field, p.rule) for p in problems] == expected


def test_preference_rows_need_assistant_outputs_that_continue_the_input() -> None:
    good = {
        "input": {"messages": GOOD["messages"][:4], "tools": GOOD["tools"]},
        "preferred_output": [{"role": "assistant", "content": "It shipped."}],
        "non_preferred_output": [{"role": "assistant", "content": "No idea."}],
    }
    user_output = {**good, "preferred_output": [{"role": "user", "content": "It shipped."}]}
    missing = {key: value for key, value in good.items() if key != "non_preferred_output"}
    unanswered = {**good, "input": {"messages": GOOD["messages"][:3]}}

    assert OPENAI.problems("dpo", good) == []
    assert [(p.field, p.rule) for p in OPENAI.problems("dpo", user_output)] == [
        ("preferred_output[0].role", "output_not_assistant")
    ]
    assert [(p.field, p.rule) for p in OPENAI.problems("dpo", missing)] == [
        ("non_preferred_output", "missing_output")
    ]
    assert {(p.field, p.rule) for p in OPENAI.problems("dpo", unanswered)} == {
        ("input.messages[2].tool_calls[0]", "tool_call_unanswered")
    }


# --- what chat templates need, checked on hf rows -------------------------------------------------

HF_GOOD: dict[str, Any] = {
    "messages": [
        {"role": "user", "content": "Where is order A-1001?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "a1B2c3D4e",
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": {"order_id": "A-1001"}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "a1B2c3D4e", "name": "lookup_order", "content": "ok"},
        {"role": "assistant", "content": "It shipped."},
    ],
    "tools": None,
}


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("messages", 0, "name"), None, [("messages[0].name", "null_value")]),
        (
            ("messages", 1, "tool_calls", 0, "id"),
            "call_1",
            [
                ("messages[1].tool_calls[0].id", "call_id_shape"),
                ("messages[2].tool_call_id", "tool_result_unpaired"),
            ],
        ),
        (
            ("messages", 1, "tool_calls", 0, "function", "arguments"),
            '{"order_id": "A-1001"}',
            [("messages[1].tool_calls[0].function.arguments", "arguments_not_object")],
        ),
        (("messages", 3, "tool_calls"), [], [("messages[3].tool_calls", "empty_tool_calls")]),
        (("messages", 0, "content"), ["parts"], [("messages[0].content", "content_not_text")]),
        (("tools",), [], [("tools", "tools_shape")]),
    ],
)
def test_each_hf_rule_names_the_field_it_is_broken_at(
    path: tuple[Any, ...], value: Any, expected: list[tuple[str, str]]
) -> None:
    row = copy.deepcopy(HF_GOOD)
    node = row
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value

    assert HF.problems("sft", HF_GOOD) == []
    assert [(p.field, p.rule) for p in HF.problems("sft", row)] == expected
