"""The rubric LLM judge: prompts that fence the trace as data, replies read strictly, and a
resilient client (``LLMJudge``) for any OpenAI-compatible endpoint.

``build_prompt`` renders a trace for a rubric (numbered steps within a token budget, references the
rubric names); ``reply_schema`` is the structured-output schema; ``parse_reply`` turns a reply into
an :class:`~otel_flywheel.model.Evaluation`, unscored (never a pass) when it cannot be used.
"""

from __future__ import annotations

from ._cache import JudgeCache
from ._client import JudgeRun, JudgeSettings, LLMJudge, OutputMode
from ._render import CHARS_PER_TOKEN, JudgePrompt, build_prompt, estimate_tokens, neutralize
from ._reply import UNSCORED, parse_reply, reply_schema
from ._retry import RetryPolicy

__all__ = [
    "CHARS_PER_TOKEN",
    "UNSCORED",
    "JudgeCache",
    "JudgePrompt",
    "JudgeRun",
    "JudgeSettings",
    "LLMJudge",
    "OutputMode",
    "RetryPolicy",
    "build_prompt",
    "estimate_tokens",
    "neutralize",
    "parse_reply",
    "reply_schema",
]
