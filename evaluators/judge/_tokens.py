"""Token estimates and the judge model's context window, which sets the default prompt budget.

**Estimate.** Tokens are estimated as UTF-8 bytes / :data:`BYTES_PER_TOKEN` (3.5), rounded up. No
tokenizer is needed: ``tiktoken`` downloads its BPE files at run time, which CI and air-gapped
deployments cannot do, and the judge may be any model anyway. Measured against o200k_base (the
tokenizer of gpt-4o and gpt-4.1) on rendered judge prompts, real prompts have 3.0-4.3 bytes per
token (median 3.8), so the estimate errs long on prose and prompts, and short by up to a third only
on dense JSON; CJK text has about 4.3 bytes per token. The budget sits far inside the context
window (see :func:`default_budget_tokens`), so that error never overflows it.

**Context window.** :func:`context_window_tokens` looks the model name up in a small table of
known judge models (:data:`KNOWN_CONTEXT_WINDOWS`); an unknown model gets the conservative
:data:`DEFAULT_CONTEXT_WINDOW`. ``FLYWHEEL_JUDGE_CONTEXT_TOKENS`` (or ``context_window_tokens=``)
overrides the table, e.g. for a local server started with a smaller window.
"""

from __future__ import annotations

import math
import re
from typing import Final

__all__ = [
    "BYTES_PER_TOKEN",
    "DEFAULT_CONTEXT_WINDOW",
    "KNOWN_CONTEXT_WINDOWS",
    "MAX_DEFAULT_BUDGET_TOKENS",
    "context_window_tokens",
    "default_budget_tokens",
    "estimate_tokens",
    "text_size",
]

BYTES_PER_TOKEN: Final = 3.5
"""Token estimate: one token per 3.5 bytes of UTF-8 (see the module docstring)."""

DEFAULT_CONTEXT_WINDOW: Final = 32_000
"""The window assumed for a model the table does not know: most served models take at least this."""

MAX_DEFAULT_BUDGET_TOKENS: Final = 16_000
"""The default budget never exceeds this, however large the window: a longer trace is judged in
parts (each within the budget) rather than in one prompt the judge reads less carefully. On our
planted-evidence corpus (docs/benchmarks.md) parts at 16k reach all of the evidence, as a single
32k prompt does, while each prompt stays half the size."""

# First match wins: specific names before their prefixes. Windows as the vendors publish them.
KNOWN_CONTEXT_WINDOWS: Final[tuple[tuple[str, int], ...]] = (
    (r"gpt-4\.1", 1_047_576),
    (r"gpt-5", 400_000),
    (r"gpt-4o|chatgpt-4o", 128_000),
    (r"gpt-4-turbo|gpt-4-\d{4}-preview", 128_000),
    (r"gpt-4-32k", 32_768),
    (r"gpt-4(?![\w.])", 8_192),
    (r"gpt-3\.5-turbo", 16_385),
    (r"gpt-oss", 131_072),
    (r"(?<![\w])o[134](?:-mini|-pro)?(?![\w])", 200_000),
    (r"claude", 200_000),
    (r"gemini-(?:1\.5|2|3)", 1_048_576),
    (r"llama-?3\.[123]|llama-?4", 128_000),
    (r"llama-?3(?![.\d])", 8_192),
    (r"qwen-?3|qwen-?2\.5", 32_768),
    (r"mistral-large|mistral-medium|mistral-small-3|ministral|mistral-nemo", 128_000),
    (r"deepseek", 128_000),
    (r"command-r|command-a", 128_000),
)
_COMPILED: Final = tuple((re.compile(pattern), window) for pattern, window in KNOWN_CONTEXT_WINDOWS)


def text_size(text: str) -> int:
    """The size the estimate counts: UTF-8 bytes."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text``: UTF-8 bytes / :data:`BYTES_PER_TOKEN`, rounded up."""
    return math.ceil(text_size(text) / BYTES_PER_TOKEN)


def context_window_tokens(model: str, *, override: int | None = None) -> int:
    """The context window of ``model`` (``override`` first, then the table, else the default)."""
    if override is not None:
        return override
    name = model.lower().rsplit("/", 1)[-1].replace("_", "-")
    for pattern, window in _COMPILED:
        if pattern.search(name):
            return window
    return DEFAULT_CONTEXT_WINDOW


def default_budget_tokens(window: int) -> int:
    """The prompt budget a model with a ``window``-token context gets when none is configured.

    Half the window, leaving room for the reply (reasoning models think inside it) and for the
    estimate's error, and at most :data:`MAX_DEFAULT_BUDGET_TOKENS`: a model with a window of
    32k or more gets 16k tokens a prompt; one with 8k gets 4k.
    """
    return max(1, min(window // 2, MAX_DEFAULT_BUDGET_TOKENS))
