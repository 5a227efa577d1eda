"""DPO rows: a shared prompt, the preferred and the rejected continuation, and the tools offered.

Built from preference examples: a correction (chosen = the correction, rejected = the answer the
agent gave) or pairwise feedback (chosen over rejected). The prompt is the source trace's
conversation up to the agent's final answer: the system prompt, the user's request, and the tool
calls and results the answer was based on. ``chosen`` and ``rejected`` are one assistant message
each.

Pairs that an A/B replay wrote (``replay --compare``) compare two whole runs, not two answers
after one conversation: they carry their own messages (``prompt_messages``, ``chosen_messages``,
``rejected_messages``, ``tools`` in the example's output), and their rows are built from those
(`carried_dpo_row`), without a source trace. A row is the first point where the runs parted: the
turns both made alike join the prompt (with the chosen run's tool results), and the first
assistant turn in which they differ is chosen over its counterpart. That is the step the checks
or the judge told apart (a tool call, or the answer), and what every reader of preference rows
takes: one assistant message on each side.

The row's shape is its format's (`RowFormat.dpo_row`): TRL's ``{"prompt", "chosen", "rejected",
"tools"}`` for ``hf``, OpenAI's ``{"input", "preferred_output", "non_preferred_output"}`` for
``openai``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from otel_flywheel.datasets import DatasetExample
from otel_flywheel.export._conversation import Conversation, message_text
from otel_flywheel.export._format_base import PreferenceRecord, RowFormat
from otel_flywheel.export._rows import TrainingRow
from otel_flywheel.export._sft import input_text

__all__ = ["build_dpo_row", "carried_dpo_row", "dpo_pair", "not_dpo_reason"]

_CARRIED = ("prompt_messages", "chosen_messages", "rejected_messages")


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


def carried_dpo_row(example: DatasetExample, row_format: RowFormat) -> TrainingRow | str | None:
    """The row of a pair that carries its conversation; ``None`` when it carries none (its source
    trace gives it), a reason when what it carries cannot be trained on."""
    output = example.output
    if not all(key in output for key in _CARRIED):
        return None
    prompt, chosen_turns, rejected_turns = (output[key] for key in _CARRIED)
    if not all(_is_messages(part) for part in (prompt, chosen_turns, rejected_turns)):
        return "malformed_carried_conversation"
    if not prompt or not chosen_turns or not rejected_turns:
        return "empty_carried_conversation"
    tools = output.get("tools") or []
    if not isinstance(tools, list):
        return "malformed_carried_conversation"
    parted = _first_difference(chosen_turns, rejected_turns)
    if parted is None:
        return "runs_made_the_same_turns"
    shared, chosen, rejected = parted
    prompt = [*prompt, *shared]
    record = PreferenceRecord(
        prompt=copy.deepcopy(prompt),
        chosen=[copy.deepcopy(chosen)],
        rejected=[copy.deepcopy(rejected)],
        tools=copy.deepcopy(tools),
    )
    context = " ".join(message_text(m) for m in prompt if m["role"] != "system")
    answers = f"{message_text(chosen)} {message_text(rejected)}"
    return TrainingRow(
        data=row_format.dpo_row(record),
        example=example,
        input_text=input_text(example, prompt),
        similarity_text=f"{context} {answers}",
    )


def _first_difference(
    chosen: list[dict[str, Any]], rejected: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]] | None:
    """(the turns both runs made alike, with the chosen run's tool results; the chosen run's first
    assistant turn that differs; the rejected run's turn in its place), or ``None`` when every
    assistant turn of both is alike."""
    mine = [i for i, m in enumerate(chosen) if m["role"] == "assistant"]
    theirs = [i for i, m in enumerate(rejected) if m["role"] == "assistant"]
    for position, index in enumerate(mine):
        if position >= len(theirs):
            return None  # the rejected run stopped earlier, having done alike: nothing to pick
        other = rejected[theirs[position]]
        if _turn(chosen[index]) != _turn(other):
            return chosen[:index], chosen[index], other
    return None


def _turn(message: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What an assistant turn says and calls, ids and whitespace aside."""
    calls = tuple(
        (
            str((call.get("function") or {}).get("name")),
            json.dumps((call.get("function") or {}).get("arguments"), sort_keys=True),
        )
        for call in message.get("tool_calls") or ()
    )
    return " ".join(str(message.get("content") or "").split()), calls


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in value
    )
