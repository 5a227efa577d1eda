"""GRPO rows: prompt-only examples for reinforcement learning against the flywheel's own checks.

A row is a decision the agent had to make, the context it made it in, and what a verifiable reward
(``otel_flywheel.rewards.tool_call_reward``) checks the model's continuation against:
``expected_tool_calls`` in the references format, and ``expected_output`` where the decision is
the answer. Built from the same examples as SFT, each with its source trace's conversation:

- **golden** (a person approved the run), with ``granularity``:

  - ``"turn"`` (the default): one row per assistant turn. The prompt is the conversation up to that
    turn (earlier calls and their results included); a turn that called tools expects exactly
    those calls (version 1's exact set), the closing answer expects no call and carries the
    answer. Plain GRPO trains on these as they are: each completion is one turn. A turn whose call
    failed (its result reports an error) is left out: the run was approved as a whole, and a call
    that failed may have been a wrong one; the turn after it, which saw the failure, stays.
  - ``"conversation"``: one row per user request: the prompt ends with the user's message, and
    every call that took effect until the answer is expected (version 2, ``others:
    "forbidden"``, so failed calls in the rollout count for nothing either way), with the answer.
    For trainers that run the tools during the rollout (TRL's ``GRPOTrainer(tools=...)``).

- **corrected regressions**: one row for the answer only. Nobody vouched for the calls the failed
  run made, so none is expected of the model; the prompt is the conversation up to the answer,
  which expects no further call and carries the person's correction as ``expected_output``.

The row's shape is its format's (`RowFormat.grpo_row`); only ``hf`` writes them.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

from otel_flywheel.datasets import DatasetExample
from otel_flywheel.evaluation import CallScorer, load_call_scorer
from otel_flywheel.export._conversation import Conversation, message_text
from otel_flywheel.export._format_base import PromptRecord, RowFormat
from otel_flywheel.export._rows import TrainingRow
from otel_flywheel.export._sft import input_text

__all__ = ["Granularity", "build_grpo_rows"]

Granularity = Literal["turn", "conversation"]
_NO_CALL: dict[str, Any] = {"expected_tool_calls": []}


def build_grpo_rows(
    example: DatasetExample,
    kind: str,
    conversation: Conversation,
    row_format: RowFormat,
    *,
    granularity: Granularity = "turn",
) -> list[TrainingRow] | str:
    """The rows for ``example`` (``kind`` from ``sft_kind``: ``golden`` or ``correction``), or the
    reason there are none."""
    if conversation.problem is not None:
        return conversation.problem
    messages = conversation.messages
    if kind == "correction":
        records = _correction(example, conversation)
    elif granularity == "turn":
        records = _turns(messages, load_call_scorer())
    else:
        records = _requests(messages, load_call_scorer())
    if isinstance(records, str):
        return records
    if not records:
        return "no_decision_to_train"
    rows = []
    for position, (decision, prompt, expected, answer) in enumerate(records):
        record = PromptRecord(
            prompt=copy.deepcopy(prompt),
            expected_tool_calls=expected,
            expected_output=answer,
            tools=copy.deepcopy(conversation.tools),
            parallel_tool_calls=conversation.parallel_tool_calls,
        )
        context = " ".join(message_text(m) for m in prompt if m["role"] != "system")
        rows.append(
            TrainingRow(
                data=row_format.grpo_row(record),
                example=example,
                input_text=input_text(example, prompt),
                similarity_text=f"{context} {json.dumps(expected, sort_keys=True)} {answer or ''}",
                lineage={"decision": decision, "row_of_example": position},
            )
        )
    return rows


# (what the decision is, the prompt, expected_tool_calls, expected_output)
_Record = tuple[str, list[dict[str, Any]], dict[str, Any], str | None]


def _turns(messages: list[dict[str, Any]], scorer: CallScorer) -> list[_Record]:
    records: list[_Record] = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        calls = message.get("tool_calls") or []
        if not calls:
            content = message.get("content")
            if content:
                records.append((f"answer@{index}", messages[:index], _NO_CALL, content))
            continue
        if _any_failed(calls, messages[index + 1 :], scorer):
            continue
        records.append((f"tool_calls@{index}", messages[:index], _exact_set(calls), None))
    return records


def _requests(messages: list[dict[str, Any]], scorer: CallScorer) -> list[_Record]:
    """One record per user message: the calls that took effect until the next one, and the
    answer given last before it."""
    records: list[_Record] = []
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    for position, start in enumerate(users):
        end = users[position + 1] if position + 1 < len(users) else len(messages)
        turn = messages[start + 1 : end]
        effective = []
        for offset, message in enumerate(turn):
            for call in message.get("tool_calls") or () if message["role"] == "assistant" else ():
                if not _any_failed([call], turn[offset + 1 :], scorer):
                    effective.append(_expected(call))
        answers = [
            m.get("content") for m in turn if m["role"] == "assistant" and not m.get("tool_calls")
        ]
        answer = answers[-1] if answers and answers[-1] else None
        if not effective and answer is None:
            continue
        expected = {"version": 2, "tool_calls": {"expected": effective, "others": "forbidden"}}
        records.append((f"request@{start}", messages[: start + 1], expected, answer))
    return records


def _correction(example: DatasetExample, conversation: Conversation) -> list[_Record] | str:
    correction = example.expected_output
    if not correction:
        return "empty_correction"
    messages = conversation.messages
    final = conversation.final_answer_index
    prompt = messages[:final] if final is not None else messages
    if not prompt:
        return "no_prompt"
    if prompt[-1]["role"] == "assistant":
        return "ends_with_unanswered_tool_call"
    return [(f"answer@{len(prompt)}", prompt, _NO_CALL, correction)]


def _exact_set(calls: list[dict[str, Any]]) -> dict[str, Any]:
    return {"expected_tool_calls": [_expected(call) for call in calls]}


def _expected(call: dict[str, Any]) -> dict[str, Any]:
    function = call["function"]
    arguments = function["arguments"]
    return {"name": function["name"], "arguments": _literal(arguments)}


def _literal(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as expected values: an object holding ``$`` keys (a Mongo filter) is wrapped in
    ``$literal``, so the references read it as data, not as a matcher."""
    return {key: _literal_value(value) for key, value in arguments.items()}


def _literal_value(value: Any) -> Any:
    if isinstance(value, dict):
        if any(isinstance(key, str) and key.startswith("$") for key in value):
            return {"$literal": value}
        return {key: _literal_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal_value(item) for item in value]
    return value


def _any_failed(
    calls: list[dict[str, Any]], following: list[dict[str, Any]], scorer: CallScorer
) -> bool:
    """Whether a result after the turn reports that one of its calls failed."""
    ids = {call.get("id") for call in calls}
    names = {call["function"]["name"] for call in calls}
    for message in following:
        if message["role"] != "tool":
            break
        answers = message.get("tool_call_id")
        if answers is not None and answers not in ids:
            continue
        name = message.get("name") or next(iter(names))
        if scorer.result_failure(name, message.get("content")) is not None:
            return True
    return False
