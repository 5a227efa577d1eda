"""`JudgeSettings`: how the judge reaches its endpoint, paces itself, and sizes its prompts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Final

from pydantic import Field

from otel_flywheel import _env
from otel_flywheel.config import Settings, resolve_settings
from otel_flywheel.errors import ConfigError
from otel_flywheel.state import state_path

from ..rubric import Rubric  # noqa: TID252 (decisions.md: relative inside evaluators/)
from ._retry import RetryPolicy
from ._tokens import context_window_tokens, default_budget_tokens

__all__ = [
    "FLYWHEEL_JUDGE_API_KEY",
    "FLYWHEEL_JUDGE_BASE_URL",
    "FLYWHEEL_JUDGE_CACHE",
    "FLYWHEEL_JUDGE_CONCURRENCY",
    "FLYWHEEL_JUDGE_CONTEXT_TOKENS",
    "FLYWHEEL_JUDGE_MAX_INPUT_TOKENS",
    "FLYWHEEL_JUDGE_MAX_PARTS",
    "FLYWHEEL_JUDGE_MAX_RETRIES",
    "FLYWHEEL_JUDGE_MODEL",
    "FLYWHEEL_JUDGE_REQUESTS_PER_SECOND",
    "FLYWHEEL_JUDGE_SAMPLES",
    "FLYWHEEL_JUDGE_TIMEOUT_SECONDS",
    "JudgeSettings",
]

# Environment variables (to move to otel_flywheel._env).
FLYWHEEL_JUDGE_MODEL: Final = _env.FLYWHEEL_JUDGE_MODEL
FLYWHEEL_JUDGE_BASE_URL: Final = _env.FLYWHEEL_JUDGE_BASE_URL
FLYWHEEL_JUDGE_API_KEY: Final = _env.FLYWHEEL_JUDGE_API_KEY
FLYWHEEL_JUDGE_CONCURRENCY: Final = _env.FLYWHEEL_JUDGE_CONCURRENCY
FLYWHEEL_JUDGE_MAX_RETRIES: Final = _env.FLYWHEEL_JUDGE_MAX_RETRIES
FLYWHEEL_JUDGE_TIMEOUT_SECONDS: Final = _env.FLYWHEEL_JUDGE_TIMEOUT_SECONDS
FLYWHEEL_JUDGE_REQUESTS_PER_SECOND: Final = _env.FLYWHEEL_JUDGE_REQUESTS_PER_SECOND
FLYWHEEL_JUDGE_SAMPLES: Final = _env.FLYWHEEL_JUDGE_SAMPLES
FLYWHEEL_JUDGE_CACHE: Final = _env.FLYWHEEL_JUDGE_CACHE
FLYWHEEL_JUDGE_MAX_INPUT_TOKENS: Final = _env.FLYWHEEL_JUDGE_MAX_INPUT_TOKENS
FLYWHEEL_JUDGE_CONTEXT_TOKENS: Final = _env.FLYWHEEL_JUDGE_CONTEXT_TOKENS
FLYWHEEL_JUDGE_MAX_PARTS: Final = _env.FLYWHEEL_JUDGE_MAX_PARTS
OPENAI_BASE_URL: Final = "OPENAI_BASE_URL"
OPENAI_API_KEY: Final = "OPENAI_API_KEY"
CACHE_FILE = "judge-cache.sqlite3"
CACHE_OFF = frozenset({"off", "none", "false", "0", "no"})
# Tokens of the context window kept free for the reply, at most (reasoning models think there).
_REPLY_RESERVE_TOKENS: Final = 4096


class JudgeSettings(Settings):
    """How the judge reaches its endpoint and paces itself.

    Precedence: explicit argument > environment > config file section ``judge`` > default.
    ``cache_path``: a SQLite file, ``off`` to disable; unset means
    ``<FLYWHEEL_STATE_DIR or .flywheel>/judge-cache.sqlite3``. ``max_input_tokens``: the budget of
    one prompt; unset follows the model (`budget_tokens`). ``context_window_tokens`` overrides the
    model's window from the built-in table. ``max_parts`` bounds the requests of a trace judged in
    parts.
    """

    model: str | None = Field(None, min_length=1)
    base_url: str | None = None
    api_key: str | None = Field(None, repr=False)
    concurrency: int = Field(8, gt=0)
    max_retries: int = Field(5, ge=0)
    timeout_seconds: float = Field(60.0, gt=0)
    requests_per_second: float | None = Field(None, gt=0)
    samples: int = Field(1, ge=1, le=20)
    sample_temperature: float | None = Field(0.7, ge=0.0, le=2.0)
    cache_path: str | None = None
    max_input_tokens: int | None = Field(None, gt=0)
    context_window_tokens: int | None = Field(None, gt=0)
    max_parts: int = Field(8, ge=1, le=64)
    backoff_base_seconds: float = Field(0.5, ge=0)
    backoff_max_seconds: float = Field(30.0, ge=0)
    retry_after_cap_seconds: float = Field(60.0, ge=0)

    env_vars: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "model": (FLYWHEEL_JUDGE_MODEL,),
        "base_url": (FLYWHEEL_JUDGE_BASE_URL, OPENAI_BASE_URL),
        "api_key": (FLYWHEEL_JUDGE_API_KEY, OPENAI_API_KEY),
        "concurrency": (FLYWHEEL_JUDGE_CONCURRENCY,),
        "max_retries": (FLYWHEEL_JUDGE_MAX_RETRIES,),
        "timeout_seconds": (FLYWHEEL_JUDGE_TIMEOUT_SECONDS,),
        "requests_per_second": (FLYWHEEL_JUDGE_REQUESTS_PER_SECOND,),
        "samples": (FLYWHEEL_JUDGE_SAMPLES,),
        "cache_path": (FLYWHEEL_JUDGE_CACHE,),
        "max_input_tokens": (FLYWHEEL_JUDGE_MAX_INPUT_TOKENS,),
        "context_window_tokens": (FLYWHEEL_JUDGE_CONTEXT_TOKENS,),
        "max_parts": (FLYWHEEL_JUDGE_MAX_PARTS,),
    }
    file_section: ClassVar[str] = "judge"

    @classmethod
    def resolve(
        cls,
        explicit: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        file_values: Mapping[str, Any] | None = None,
    ) -> JudgeSettings:
        """Resolve from every source; raises `ConfigError` when no model is configured."""
        settings = resolve_settings(cls, explicit, environ=environ, file_values=file_values)
        if settings.model is None:
            raise ConfigError(
                "the LLM judge has no model. Fix: set "
                f"{FLYWHEEL_JUDGE_MODEL} (e.g. {FLYWHEEL_JUDGE_MODEL}=gpt-4o-mini), pass "
                "model=..., or set `judge.model` in the config file"
            )
        return settings

    def cache_file(self, environ: Mapping[str, str] | None = None) -> Path | None:
        """The cache's SQLite file, or None when caching is off."""
        if self.cache_path is not None:
            if self.cache_path.strip().lower() in CACHE_OFF:
                return None
            return Path(self.cache_path)
        return state_path(CACHE_FILE, environ=environ)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            backoff_base_seconds=self.backoff_base_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
            retry_after_cap_seconds=self.retry_after_cap_seconds,
        )

    @property
    def context_window(self) -> int:
        """The model's context window: the setting, else the table, else a conservative default."""
        assert self.model is not None  # resolve() requires it
        return context_window_tokens(self.model, override=self.context_window_tokens)

    def budget_tokens(self, rubric: Rubric | None = None) -> int:
        """The prompt budget for ``rubric``: the smallest of ``max_input_tokens`` (else the model's
        default: half its window, at most 16000) and the rubric's own ``max_input_tokens``, and
        never more than the window less room for the reply."""
        window = self.context_window
        budget = (
            self.max_input_tokens
            if self.max_input_tokens is not None
            else default_budget_tokens(window)
        )
        if rubric is not None and rubric.max_input_tokens is not None:
            budget = min(budget, rubric.max_input_tokens)
        return max(1, min(budget, window - min(_REPLY_RESERVE_TOKENS, window // 4)))
