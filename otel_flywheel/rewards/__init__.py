"""Verifiable rewards: the flywheel's deterministic checks as reward functions for RL fine-tuning.

``tool_call_reward`` scores each completion's tool calls against the row's ``expected_tool_calls``
(the references format) with the same check and matchers ``otel-flywheel evaluate`` uses, in the
signature TRL's ``GRPOTrainer`` calls: ``(prompts, completions, **columns) -> list[float]``.
``otel-flywheel export grpo`` writes the prompt-only dataset it reads. ``ToolCallReward`` with a
`PartialCredit` grades failures instead of scoring them 0.

``completion_tool_calls`` is the parser on its own: the calls a completion makes, structured or
written in a chat template's text format.
"""

from __future__ import annotations

from otel_flywheel.model import ToolCall
from otel_flywheel.rewards._parse import UNREADABLE_TOOL, completion_messages, tool_calls_in_text
from otel_flywheel.rewards._reward import PartialCredit, ToolCallReward, tool_call_reward
from otel_flywheel.rewards._trace import trace_from_completion

__all__ = [
    "UNREADABLE_TOOL",
    "PartialCredit",
    "ToolCallReward",
    "completion_messages",
    "completion_tool_calls",
    "tool_call_reward",
    "tool_calls_in_text",
    "trace_from_completion",
]


def completion_tool_calls(completion: object) -> list[ToolCall]:
    """Every tool call the assistant turns of ``completion`` make, in order."""
    return [
        call
        for message in completion_messages(completion)
        if message.role == "assistant"
        for call in message.tool_calls
    ]
