"""SFT rows: ``{"messages": [...], "tools": [...]}``, the chat format OpenAI fine-tuning and TRL read.

Built from two kinds of examples, each with its source trace:

- **golden** (thumbs up): the conversation as it ran, tool calls and tool results included, so a
  model learns the tool use that earned the thumbs up;
- **corrected regressions** (``expected_output_known`` true): the same conversation with its final
  assistant answer replaced by the person's correction: the fix, in the context that needed it.

Regressions without a correction hold the wrong answer (``expected_output_known`` false), and
review and preference examples hold no target: they are not SFT material and are counted as such.

Parquet: ``messages`` is a nested ``list<struct>`` (loads as a list of dicts with ``datasets``, as
TRL expects); tool-call ``arguments`` are JSON strings, as in OpenAI's format. ``tools`` is one
JSON string: tool schemas differ in shape, and Arrow would merge them into one struct type,
adding every tool's properties to every other tool. ``json.loads(row["tools"])`` gives the list.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Final

import pyarrow as pa

from otel_flywheel.datasets import DatasetExample
from otel_flywheel.export._conversation import Conversation, message_text
from otel_flywheel.export._rows import TrainingRow

__all__ = [
    "MESSAGE_TYPE",
    "SFT_SCHEMA",
    "build_sft_row",
    "input_text",
    "not_sft_reason",
    "parquet_row",
    "sft_kind",
]

TOOL_CALL_TYPE: Final = pa.struct(
    [
        pa.field("id", pa.string()),
        pa.field("type", pa.string()),
        pa.field(
            "function",
            pa.struct([pa.field("name", pa.string()), pa.field("arguments", pa.string())]),
        ),
    ]
)
MESSAGE_TYPE: Final = pa.struct(
    [
        pa.field("role", pa.string(), nullable=False),
        pa.field("content", pa.string()),
        pa.field("tool_calls", pa.list_(TOOL_CALL_TYPE)),
        pa.field("tool_call_id", pa.string()),
        pa.field("name", pa.string()),
    ]
)
SFT_SCHEMA: Final = pa.schema(
    [
        pa.field("messages", pa.list_(MESSAGE_TYPE), nullable=False),
        pa.field("tools", pa.string(), nullable=False),  # JSON list of OpenAI tool definitions
    ],
    metadata={"format": "otel-flywheel sft", "tools": "json"},
)


def sft_kind(example: DatasetExample) -> str | None:
    """``"golden"``, ``"correction"``, or ``None`` with `not_sft_reason` saying why not."""
    route = example.route
    if route == "golden":
        return "golden"
    if route == "regression" and example.metadata.get("expected_output_known") is True:
        return "correction"
    return None


def not_sft_reason(example: DatasetExample) -> str:
    route = example.route
    if route == "regression":
        return "regression_without_correction"
    if route in ("review", "preference"):
        return f"{route}_example"
    return "not_a_routed_example"


def build_sft_row(
    example: DatasetExample, kind: str, conversation: Conversation
) -> TrainingRow | str:
    """The row for ``example`` (``kind`` from `sft_kind`), or the reason there is none."""
    if conversation.problem is not None:
        return conversation.problem
    messages = _messages(conversation, example, kind)
    if isinstance(messages, str):
        return messages
    return TrainingRow(
        data={"messages": messages, "tools": copy.deepcopy(conversation.tools)},
        example=example,
        input_text=input_text(example, messages),
        similarity_text=" ".join(message_text(m) for m in messages if m["role"] != "system"),
    )


def parquet_row(data: Mapping[str, Any]) -> dict[str, Any]:
    """An SFT row in the Parquet schema's shape (``tools`` as JSON text)."""
    return {"messages": data["messages"], "tools": json.dumps(data["tools"], ensure_ascii=False)}


def _messages(conversation: Conversation, example: DatasetExample, kind: str) -> list[Any] | str:
    messages = copy.deepcopy(conversation.messages)
    final = conversation.final_answer_index
    if kind == "golden":
        return messages if final is not None else "no_final_answer"
    correction = example.expected_output
    if not correction:
        return "empty_correction"
    if final is not None:
        messages[final] = {"role": "assistant", "content": correction}
        return messages
    if messages and messages[-1]["role"] == "assistant" and messages[-1].get("tool_calls"):
        return "ends_with_unanswered_tool_call"
    messages.append({"role": "assistant", "content": correction})
    return messages


def input_text(example: DatasetExample, messages: list[dict[str, Any]]) -> str:
    value = example.input.get("input")
    if isinstance(value, str) and value:
        return value
    users = [m.get("content") or "" for m in messages if m["role"] == "user"]
    return users[0] if users else ""
