"""The rubric LLM judge: prompts that fence the trace as data, and replies read strictly.

``build_prompt`` renders a trace for a rubric (numbered steps within a token budget, references the
rubric names); ``reply_schema`` is the structured-output schema; ``parse_reply`` turns a reply into
an :class:`~otel_flywheel.model.Evaluation`, unscored (never a pass) when it cannot be used.
"""

from __future__ import annotations

from ._render import CHARS_PER_TOKEN, JudgePrompt, build_prompt, estimate_tokens, neutralize
from ._reply import UNSCORED, parse_reply, reply_schema

__all__ = [
    "CHARS_PER_TOKEN",
    "UNSCORED",
    "JudgePrompt",
    "build_prompt",
    "estimate_tokens",
    "neutralize",
    "parse_reply",
    "reply_schema",
]
