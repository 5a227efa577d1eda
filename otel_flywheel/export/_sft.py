"""SFT rows: a conversation to learn from and the tools the model was offered.

Built from two kinds of examples, each with its source trace:

- **golden** (thumbs up): the conversation as it ran, tool calls and tool results included, so a
  model learns the tool use that earned the thumbs up;
- **corrected regressions** (``expected_output_known`` true): the same conversation with its final
  assistant answer replaced by the person's correction: the fix, in the context that needed it.

Regressions without a correction hold the wrong answer (``expected_output_known`` false), and
review and preference examples hold no target: they are not SFT material and are counted as such.

The row's shape is its format's (`RowFormat.sft_row`): ``{"messages", "tools"}`` for both
``openai`` and ``hf``, with arguments as JSON text or as objects.
"""

from __future__ import annotations

import copy
from typing import Any

from otel_flywheel.datasets import DatasetExample
from otel_flywheel.export._conversation import Conversation, message_text
from otel_flywheel.export._format_base import RowFormat, SFTRecord
from otel_flywheel.export._rows import TrainingRow

__all__ = ["build_sft_row", "input_text", "not_sft_reason", "sft_kind"]


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
    example: DatasetExample, kind: str, conversation: Conversation, row_format: RowFormat
) -> TrainingRow | str:
    """The row for ``example`` (``kind`` from `sft_kind`) in ``row_format``, or the reason there
    is none."""
    if conversation.problem is not None:
        return conversation.problem
    messages = _messages(conversation, example, kind)
    if isinstance(messages, str):
        return messages
    record = SFTRecord(
        messages=messages,
        tools=copy.deepcopy(conversation.tools),
        parallel_tool_calls=conversation.parallel_tool_calls,
    )
    return TrainingRow(
        data=row_format.sft_row(record),
        example=example,
        input_text=input_text(example, messages),
        similarity_text=" ".join(message_text(m) for m in messages if m["role"] != "system"),
    )


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
