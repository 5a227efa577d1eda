"""DPO rows: a shared prompt, the preferred and the rejected continuation, and the tools offered.

Built from preference examples: a correction (chosen = the correction, rejected = the answer the
agent gave) or pairwise feedback (chosen over rejected). The prompt is the source trace's
conversation up to the agent's final answer: the system prompt, the user's request, and the tool
calls and results the answer was based on. ``chosen`` and ``rejected`` are one assistant message
each.

The row's shape is its format's (`RowFormat.dpo_row`): TRL's ``{"prompt", "chosen", "rejected",
"tools"}`` for ``hf``, OpenAI's ``{"input", "preferred_output", "non_preferred_output"}`` for
``openai``.
"""

from __future__ import annotations

import copy
from typing import Any

from otel_flywheel.datasets import DatasetExample
from otel_flywheel.export._conversation import Conversation, message_text
from otel_flywheel.export._format_base import PreferenceRecord, RowFormat
from otel_flywheel.export._rows import TrainingRow
from otel_flywheel.export._sft import input_text

__all__ = ["build_dpo_row", "dpo_pair", "not_dpo_reason"]


def dpo_pair(example: DatasetExample) -> tuple[str, str] | None:
    """The example's (chosen, rejected) answers, or ``None`` with `not_dpo_reason` saying why."""
    if example.route != "preference":
        return None
    chosen, rejected = example.output.get("chosen"), example.output.get("rejected")
    if isinstance(chosen, str) and isinstance(rejected, str):
        return chosen, rejected
    return None


def not_dpo_reason(example: DatasetExample) -> str:
    route = example.route
    if route == "preference":
        return "preference_without_pair"
    return f"{route}_example" if route else "not_a_routed_example"


def build_dpo_row(
    example: DatasetExample,
    pair: tuple[str, str],
    conversation: Conversation,
    row_format: RowFormat,
) -> TrainingRow | str:
    """The row for ``example`` in ``row_format``, or the reason there is none."""
    chosen, rejected = pair
    if not chosen.strip() or not rejected.strip():
        return "empty_answer"
    if chosen.strip() == rejected.strip():
        return "chosen_equals_rejected"
    if conversation.problem is not None:
        return conversation.problem
    prompt = _prompt(conversation)
    if not prompt:
        return "no_prompt"
    if prompt[-1]["role"] == "assistant" and prompt[-1].get("tool_calls"):
        return "ends_with_unanswered_tool_call"
    record = PreferenceRecord(
        prompt=prompt,
        chosen=[{"role": "assistant", "content": chosen}],
        rejected=[{"role": "assistant", "content": rejected}],
        tools=copy.deepcopy(conversation.tools),
        parallel_tool_calls=conversation.parallel_tool_calls,
    )
    context = " ".join(message_text(m) for m in prompt if m["role"] != "system")
    return TrainingRow(
        data=row_format.dpo_row(record),
        example=example,
        input_text=input_text(example, prompt),
        similarity_text=f"{context} {chosen} {rejected}",
    )


def _prompt(conversation: Conversation) -> list[dict[str, Any]]:
    messages = copy.deepcopy(conversation.messages)
    final = conversation.final_answer_index
    return messages[:final] if final is not None else messages
