"""One judge endpoint: sending a prompt with retries, output-mode fallbacks and pacing, and
reading the completion into an evaluation (unscored, never raised, when it cannot be used)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import openai
import pydantic

from otel_flywheel.model import Evaluation, TokenUsage

from ..rubric import Rubric, Taxonomy  # noqa: TID252 (decisions.md: relative inside evaluators/)
from ._rate import RateLimiter
from ._render import JudgePrompt
from ._reply import parse_reply, reply_schema
from ._request import (
    ZERO_USAGE,
    OutputMode,
    completion_usage,
    describe,
    rejects,
    reply_text,
    request_arguments,
)
from ._retry import is_retryable
from ._settings import JudgeSettings

__all__ = ["LOCAL_API_KEY", "Endpoint", "Sample"]

logger = logging.getLogger(__name__)

LOCAL_API_KEY = "not-needed"
"""Sent when a custom ``base_url`` is set without a key: local servers (vLLM, Ollama) ignore it."""


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One reply to one prompt, or the error that stood for it."""

    evaluation: Evaluation
    attempts: int
    usage: TokenUsage
    error: str | None = None


@dataclass(kw_only=True)
class _LoopState:
    """What belongs to one event loop: the HTTP client and the pacing primitives."""

    loop: asyncio.AbstractEventLoop
    client: openai.AsyncOpenAI
    semaphore: asyncio.Semaphore
    limiter: RateLimiter | None


class Endpoint:
    """Sends judge prompts to the settings' endpoint. The output mode only moves down the fallback
    order, for every prompt after it (one endpoint, one model)."""

    def __init__(self, settings: JudgeSettings, taxonomy: Taxonomy | None) -> None:
        assert settings.model is not None  # JudgeSettings.resolve requires it
        self.settings = settings
        self.model: str = settings.model
        self.taxonomy = taxonomy
        self.mode = OutputMode.JSON_SCHEMA
        self._policy = settings.retry_policy
        self._schemas: dict[tuple[str, str], dict[str, Any]] = {}
        self._state: _LoopState | None = None

    async def close_client(self) -> None:
        """Close the HTTP client of the current loop, if any (a new one is made on demand)."""
        state, self._state = self._state, None
        if state is not None and not state.loop.is_closed():
            await state.client.close()

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._state
        if state is None or state.loop is not loop:
            settings = self.settings
            client = openai.AsyncOpenAI(
                base_url=settings.base_url,
                api_key=settings.api_key or LOCAL_API_KEY,
                timeout=settings.timeout_seconds,
                max_retries=0,  # ours retry, with Retry-After and the per-evaluation record
            )
            limiter = (
                RateLimiter(settings.requests_per_second)
                if settings.requests_per_second is not None
                else None
            )
            state = _LoopState(
                loop=loop,
                client=client,
                semaphore=asyncio.Semaphore(settings.concurrency),
                limiter=limiter,
            )
            self._state = state
        return state

    def _schema(self, rubric: Rubric) -> dict[str, Any]:
        key = (rubric.id, rubric.version)
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schemas[key] = reply_schema(rubric, self.taxonomy)
        return schema

    def _request_arguments(
        self, prompt: JudgePrompt, rubric: Rubric, mode: OutputMode, *, samples: int
    ) -> dict[str, Any]:
        temperature = self.settings.sample_temperature if samples > 1 else None
        return request_arguments(
            model=self.model,
            messages=prompt.messages,
            schema=self._schema(rubric),
            mode=mode,
            temperature=temperature,
        )

    async def _send(self, arguments: dict[str, Any]) -> Any:
        state = self._loop_state()
        async with state.semaphore:
            if state.limiter is not None:
                await state.limiter.acquire()
            return await state.client.chat.completions.with_raw_response.create(**arguments)

    async def sample(
        self, prompt: JudgePrompt, rubric: Rubric, *, samples: int | None = None
    ) -> Sample:
        samples = self.settings.samples if samples is None else samples
        attempts = 0
        retries = 0
        while True:
            mode = self.mode
            attempts += 1
            try:
                raw = await self._send(
                    self._request_arguments(prompt, rubric, mode, samples=samples)
                )
            except openai.APIStatusError as exc:
                if rejects(exc, mode):
                    fallback = OutputMode(mode + 1)
                    if self.mode < fallback:
                        logger.info(
                            "judge endpoint rejected %s output (%s); using %s for model %r",
                            mode.name,
                            describe(exc),
                            fallback.name,
                            self.model,
                        )
                        self.mode = fallback
                    continue
                error: openai.OpenAIError = exc
            except openai.OpenAIError as exc:
                error = exc
            else:
                return self._read(raw, prompt, mode, attempts)
            if is_retryable(error) and retries < self._policy.max_retries:
                retries += 1
                delay = self._policy.delay(retries, error)
                logger.debug("judge request failed (%s); retry %d in %.2fs", error, retries, delay)
                await asyncio.sleep(delay)
                continue
            return self._failed(prompt, error, attempts)

    def _read(self, raw: Any, prompt: JudgePrompt, mode: OutputMode, attempts: int) -> Sample:
        body: str = raw.http_response.text
        try:
            completion = raw.parse()
        except (ValueError, pydantic.ValidationError):
            completion = None
        usage = completion_usage(completion)
        text = reply_text(completion, mode)
        evaluation = parse_reply(text, prompt, judge_model=self.model)
        if evaluation.unscored and evaluation.raw is None:
            evaluation = dataclasses.replace(evaluation, raw=text if text is not None else body)
        return Sample(evaluation=evaluation, attempts=attempts, usage=usage)

    def _failed(self, prompt: JudgePrompt, error: BaseException, attempts: int) -> Sample:
        retryable = is_retryable(error)
        described = describe(error)
        why = (
            f"the judge request failed after {attempts} attempt{'s' * (attempts != 1)}: "
            f"{described}; it will be judged again later"
            if retryable
            else f"the judge endpoint refused the request: {described}"
        )
        base = parse_reply(None, prompt, judge_model=self.model)
        evaluation = dataclasses.replace(base, explanation=why, raw=None)
        return Sample(evaluation=evaluation, attempts=attempts, usage=ZERO_USAGE, error=described)
