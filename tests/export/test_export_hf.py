"""``--format hf``: exports load with ``datasets`` and render through real chat templates as they are.

The conversations come from the agent zoo (a real instrumented agent, captured by the flywheel's
processor); the files are loaded with ``datasets.load_dataset`` and rendered by ``transformers``'
own ``apply_chat_template`` with the templates of Qwen2.5, Llama 3.1 and Mistral Nemo.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hf_kit
import pyarrow.parquet as pq
import pytest
from agent_zoo import REJECTED, Zoo
from hf_kit import FAMILIES, calls_in, emitted_call, load, render, rendered_result
from jinja2.exceptions import TemplateError
from transformers.utils.chat_template_utils import render_jinja_template

from otel_flywheel.export import HF_DPO_SCHEMA, HF_SFT_SCHEMA, ExportResult

KEYS_A_MESSAGE_MAY_NEED = {"role", "content", "tool_calls", "tool_call_id", "name"}


@pytest.fixture(scope="module")
def sft_parquet(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    return zoo.sft(tmp_path_factory.mktemp("hf") / "sft.parquet")


@pytest.fixture(scope="module")
def dpo_parquet(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    return zoo.dpo(tmp_path_factory.mktemp("hf") / "dpo.parquet")


@pytest.fixture(scope="module")
def sft_rows(sft_parquet: ExportResult, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The SFT Parquet file as ``datasets`` gives it to a trainer."""
    return list(load(sft_parquet.path, tmp_path_factory.mktemp("hf-cache")))


def by_first_user(rows: list[dict[str, Any]], question: str, column: str = "messages") -> dict:
    [row] = [
        r for r in rows if next(m for m in r[column] if m["role"] == "user")["content"] == question
    ]
    return row


# --- loading --------------------------------------------------------------------------------------


def test_parquet_is_hf_by_default_and_loads_as_the_jsonl_rows(
    zoo: Zoo, sft_parquet: ExportResult, tmp_path: Path
) -> None:
    jsonl = zoo.sft(tmp_path / "sft.jsonl", row_format="hf")

    from_parquet = load(sft_parquet.path, tmp_path / "cache")
    from_jsonl = load(jsonl.path, tmp_path / "cache")
    written = [json.loads(line) for line in jsonl.path.read_text().splitlines()]

    assert sft_parquet.row_format == "hf"
    assert sft_parquet.manifest["row_format"] == "hf"
    assert pq.read_schema(sft_parquet.path).equals(HF_SFT_SCHEMA)
    assert sft_parquet.rows == len(zoo.traces) == len(written)
    assert [row["messages"] for row in from_parquet] == [row["messages"] for row in written]
    assert [row["tools"] for row in from_parquet] == [row["tools"] for row in written]
    assert list(from_jsonl) == list(from_parquet)
    assert str(from_parquet.features["messages"]) == "List(Json(decode=True))"


def test_tools_and_arguments_keep_their_own_keys_through_parquet(sft_rows: list[dict]) -> None:
    row = by_first_user(
        sft_rows,
        "Will order A-1002 reach Zürich before the weekend, and what is the weather there?",
    )

    lookup, weather = calls_in(row["messages"])
    assert lookup["function"]["arguments"] == {"order_id": "A-1002"}
    assert weather["function"]["arguments"] == {"city": "Zürich", "days": 3, "units": "metric"}
    parameters = {t["function"]["name"]: t["function"]["parameters"] for t in row["tools"]}
    assert set(parameters["lookup_order"]["properties"]) == {"order_id"}
    assert parameters["get_weather"]["properties"]["units"]["enum"] == ["metric", "imperial"]
    assert parameters["create_ticket"]["properties"]["customer"]["type"] == "object"
    ticket = calls_in(
        by_first_user(sft_rows, "My parcel A-1003 arrived broken, please open a ticket.")[
            "messages"
        ]
    )[0]
    assert ticket["function"]["arguments"] == {
        "customer": {"tier": "gold", "since": 2019},
        "tags": ["damaged", "A-1003"],
        "priority": 2,
        "escalate": True,
    }


def test_messages_hold_only_the_keys_they_need(sft_rows: list[dict]) -> None:
    for row in sft_rows:
        for message in row["messages"]:
            assert set(message) <= KEYS_A_MESSAGE_MAY_NEED
            assert None not in message.values()
            assert message.get("tool_calls", [None]) != []
            if message["role"] in ("system", "user"):
                assert set(message) == {"role", "content"}
            if message["role"] == "tool":
                assert set(message) == {"role", "content", "tool_call_id", "name"}


def test_tool_call_ids_are_nine_alphanumerics_that_pair_calls_with_results(
    sft_rows: list[dict], zoo: Zoo, tmp_path: Path
) -> None:
    again = [
        json.loads(line)
        for line in zoo.sft(tmp_path / "again.jsonl", row_format="hf").path.read_text().splitlines()
    ]

    for row in sft_rows:
        calls = {call["id"] for call in calls_in(row["messages"])}
        results = {m["tool_call_id"] for m in row["messages"] if m["role"] == "tool"}
        assert all(re.fullmatch(r"[A-Za-z0-9]{9}", call_id) for call_id in calls)
        assert results == calls
    assert [row["messages"] for row in again] == [row["messages"] for row in sft_rows]  # stable


def test_a_conversation_without_tools_has_tools_null(sft_rows: list[dict]) -> None:
    row = by_first_user(sft_rows, "What are your opening hours?")

    assert row["tools"] is None
    assert "Environment: ipython" not in render("llama3_1", row["messages"], row["tools"])


# --- rendering ------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_each_tool_call_renders_once_as_the_model_emits_it(
    family: str, sft_rows: list[dict]
) -> None:
    rendered_rows = 0
    for row in sft_rows:
        messages, tools = row["messages"], row["tools"]
        if family == "llama3_1" and any(len(m.get("tool_calls") or ()) > 1 for m in messages):
            with pytest.raises(TemplateError, match="only supports single tool-calls"):
                render(family, messages, tools)
            continue
        text = render(family, messages, tools)
        rendered_rows += 1
        for call in calls_in(messages):
            assert text.count(emitted_call(family, call)) == 1, (family, call)
        for message in messages:
            if message["role"] == "tool":
                assert text.count(rendered_result(family, message)) == 1
        assert '"arguments": "{' not in text
        assert '"parameters": "{' not in text
        for message in messages:  # the final answers are there, each once
            if message["role"] == "assistant" and "tool_calls" not in message:
                assert text.count(message["content"]) == 1
    assert rendered_rows == len(sft_rows) - (family == "llama3_1")


@pytest.mark.parametrize("family", FAMILIES)
def test_rows_render_the_same_without_transformers_dropping_none_keys(
    family: str, sft_rows: list[dict]
) -> None:
    """``apply_chat_template`` drops ``None``-valued keys since transformers 5; older versions, and
    anyone calling the template directly, pass the row as it is. Both must give the same text."""
    for row in sft_rows:
        if family == "llama3_1" and any(
            len(m.get("tool_calls") or ()) > 1 for m in row["messages"]
        ):
            continue
        tokenizer = hf_kit.tokenizer_for(family)
        [direct], _ = render_jinja_template(
            [row["messages"]],
            tools=row["tools"],
            chat_template=hf_kit.chat_template(family),
            **tokenizer.special_tokens_map,
        )
        assert direct == render(family, row["messages"], row["tools"])


def test_qwen_writes_the_text_of_a_turn_that_also_calls_tools(sft_rows: list[dict]) -> None:
    row = by_first_user(sft_rows, "My parcel A-1003 arrived broken, please open a ticket.")
    [call] = calls_in(row["messages"])

    text = render("qwen2_5", row["messages"], row["tools"])

    assert (
        "I am sorry to hear that. Opening a ticket now.\n" + emitted_call("qwen2_5", call) in text
    )


def test_openai_rows_are_what_the_templates_would_double_encode(zoo: Zoo, tmp_path: Path) -> None:
    """Why ``hf`` exists: OpenAI's string arguments, given to a chat template as they are."""
    result = zoo.sft(tmp_path / "sft.jsonl")  # JSON lines default to openai
    row = next(r for r in load(result.path, tmp_path / "cache") if r["tools"])

    text = render("qwen2_5", row["messages"], row["tools"])

    assert result.row_format == "openai"
    assert '"arguments": "{\\"order_id\\": \\"A-1001\\"}"' in text


# --- DPO ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_dpo_prompt_chosen_and_rejected_render_to_a_shared_prefix(
    family: str, dpo_parquet: ExportResult, tmp_path: Path
) -> None:
    rows = list(load(dpo_parquet.path, tmp_path / "cache"))
    assert pq.read_schema(dpo_parquet.path).equals(HF_DPO_SCHEMA)
    assert len(rows) == dpo_parquet.rows == 5

    for row in rows:
        prompt, tools = row["prompt"], row["tools"]
        if family == "llama3_1" and any(len(m.get("tool_calls") or ()) > 1 for m in prompt):
            continue
        if family == "mistral_nemo" and prompt[-1]["role"] == "user":
            # Mistral Nemo's template puts the system prompt into the *last* user turn: once the
            # assistant answers, that turn is no longer last and the system prompt moves. The
            # template's own property, for any data; TRL's trainers take the common prefix.
            continue
        head = render(family, prompt, tools, add_generation_prompt=True)
        chosen = render(family, prompt + row["chosen"], tools)
        rejected = render(family, prompt + row["rejected"], tools)
        assert chosen.startswith(head), family
        assert rejected.startswith(head), family
        assert row["chosen"][0]["content"] in chosen[len(head) :]
        assert REJECTED in rejected[len(head) :]
        for call in calls_in(prompt):
            assert head.count(emitted_call(family, call)) == 1


def test_dpo_rows_carry_the_tools_the_prompt_was_made_with(
    dpo_parquet: ExportResult, tmp_path: Path
) -> None:
    rows = list(load(dpo_parquet.path, tmp_path / "cache"))
    row = by_first_user(rows, "Where is order A-1001?", column="prompt")

    assert [m["role"] for m in row["prompt"]] == ["system", "user", "assistant", "tool"]
    assert row["chosen"] == [{"role": "assistant", "content": "Order A-1001 has shipped."}]
    assert row["rejected"] == [{"role": "assistant", "content": REJECTED}]
    assert [t["function"]["name"] for t in row["tools"]] == [
        "lookup_order",
        "get_weather",
        "create_ticket",
    ]


# --- one call per turn ----------------------------------------------------------------------------


def test_without_parallel_tool_calls_every_family_renders_every_row(
    zoo: Zoo, tmp_path: Path
) -> None:
    result = zoo.sft(tmp_path / "sft.parquet", parallel_tool_calls=False)
    rows = list(load(result.path, tmp_path / "cache"))
    row = by_first_user(
        rows, "Will order A-1002 reach Zürich before the weekend, and what is the weather there?"
    )

    assert result.manifest["parallel_tool_calls"] is False
    assert [m["role"] for m in row["messages"]] == [
        "system", "user", "assistant", "tool", "assistant", "tool", "assistant",
    ]  # fmt: skip
    first, second = row["messages"][2], row["messages"][4]
    assert [c["function"]["name"] for c in first["tool_calls"] + second["tool_calls"]] == [
        "lookup_order",
        "get_weather",
    ]
    assert row["messages"][3]["tool_call_id"] == first["tool_calls"][0]["id"]
    assert row["messages"][5]["tool_call_id"] == second["tool_calls"][0]["id"]
    for family in FAMILIES:
        for each in rows:
            text = render(family, each["messages"], each["tools"])
            for call in calls_in(each["messages"]):
                assert text.count(emitted_call(family, call)) == 1, family


def test_a_turn_with_text_keeps_it_on_its_first_call_when_split(zoo: Zoo, tmp_path: Path) -> None:
    result = zoo.sft(tmp_path / "sft.jsonl", row_format="hf", parallel_tool_calls=False)
    rows = [json.loads(line) for line in result.path.read_text().splitlines()]

    row = by_first_user(rows, "My parcel A-1003 arrived broken, please open a ticket.")

    assert row["messages"][2]["content"] == "I am sorry to hear that. Opening a ticket now."
    assert len(row["messages"][2]["tool_calls"]) == 1
