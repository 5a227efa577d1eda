"""The rubric LLM judge: prompts that fence the trace as data within a budget that follows the judge
model, replies read strictly, and a resilient client (``LLMJudge``) for any OpenAI-compatible
endpoint.

``build_prompt`` renders a trace for a rubric (numbered steps, the budget spent where the evidence
is likely, references the rubric names); ``plan_judgment`` adds judging a long trace in parts;
``reply_schema`` is the structured-output schema; ``parse_reply`` turns a reply into an
:class:`~otel_flywheel.model.Evaluation`, unscored (never a pass) when it cannot be used.
"""

from __future__ import annotations

from ._cache import JudgeCache
from ._client import JudgeRun, LLMJudge, OutputMode
from ._fence import neutralize
from ._parts import PARTS_BELOW_SHARE, JudgePlan, plan_judgment
from ._render import JudgePrompt, build_prompt
from ._reply import UNSCORED, parse_reply, reply_schema
from ._retry import RetryPolicy
from ._settings import JudgeSettings
from ._tokens import (
    BYTES_PER_TOKEN,
    DEFAULT_CONTEXT_WINDOW,
    KNOWN_CONTEXT_WINDOWS,
    context_window_tokens,
    default_budget_tokens,
    estimate_tokens,
)

__all__ = [
    "BYTES_PER_TOKEN",
    "DEFAULT_CONTEXT_WINDOW",
    "KNOWN_CONTEXT_WINDOWS",
    "PARTS_BELOW_SHARE",
    "UNSCORED",
    "JudgeCache",
    "JudgePlan",
    "JudgePrompt",
    "JudgeRun",
    "JudgeSettings",
    "LLMJudge",
    "OutputMode",
    "RetryPolicy",
    "build_prompt",
    "context_window_tokens",
    "default_budget_tokens",
    "estimate_tokens",
    "neutralize",
    "parse_reply",
    "plan_judgment",
    "reply_schema",
]
