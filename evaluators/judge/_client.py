"""`LLMJudge`: a rubric judge on any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, ...).

The async core is written once (`LLMJudge.judge`, `judge_many`, `run`); `judge_sync` wraps it.

Output modes, tried in order and remembered for the judge (one endpoint, one model):

1. ``response_format`` with a strict JSON schema (explanation before label);
2. when the endpoint rejects that, a forced call of the ``record_verdict`` tool with the same schema;
3. when it rejects tools too, plain JSON: the schema is described in the prompt.

Every reply goes through `parse_reply`: one that does not parse is *unscored* with the raw text
kept, never a pass and never an exception. Transport errors, 408/409/429 and 5xx are retried with
backoff honoring ``Retry-After`` (`RetryPolicy`); when retries run out, or the endpoint refuses the
request for good (401, 404, ...), the evaluation is unscored and its explanation names the error:
the pipeline judges it again later.

Each judgment also yields a `JudgeRun`, its execution record: status, attempts, latency, tokens.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
import os
import statistics
import time
from collections import Counter
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Final, Literal, TypeVar

import openai
import pydantic
from pydantic import Field

from otel_flywheel import _env
from otel_flywheel.config import _Settings, resolve_settings
from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, Evaluation, TokenUsage

from ..references import References  # noqa: TID252 (decisions.md: relative inside evaluators/)
from ..rubric import Rubric, Taxonomy  # noqa: TID252
from ._cache import JudgeCache, cache_key
from ._rate import RateLimiter
from ._render import JudgePrompt, build_prompt
from ._reply import parse_reply, reply_schema
from ._retry import RetryPolicy, is_retryable

__all__ = [
    "FLYWHEEL_JUDGE_API_KEY",
    "FLYWHEEL_JUDGE_BASE_URL",
    "FLYWHEEL_JUDGE_CACHE",
    "FLYWHEEL_JUDGE_CONCURRENCY",
    "FLYWHEEL_JUDGE_MAX_INPUT_TOKENS",
    "FLYWHEEL_JUDGE_MAX_RETRIES",
    "FLYWHEEL_JUDGE_MODEL",
    "FLYWHEEL_JUDGE_REQUESTS_PER_SECOND",
    "FLYWHEEL_JUDGE_SAMPLES",
    "FLYWHEEL_JUDGE_TIMEOUT_SECONDS",
    "JudgeRun",
    "JudgeSettings",
    "LLMJudge",
    "OutputMode",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

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
_OPENAI_BASE_URL: Final = "OPENAI_BASE_URL"
_OPENAI_API_KEY: Final = "OPENAI_API_KEY"
_FLYWHEEL_STATE_DIR: Final = "FLYWHEEL_STATE_DIR"

DEFAULT_STATE_DIR = ".flywheel"
CACHE_FILE = "judge-cache.sqlite3"
CACHE_OFF = frozenset({"off", "none", "false", "0", "no"})
LOCAL_API_KEY = "not-needed"
"""Sent when a custom ``base_url`` is set without a key: local servers (vLLM, Ollama) ignore it."""

TOOL_NAME = "record_verdict"
SCHEMA_NAME = "judge_verdict"
PLAIN_JSON_INSTRUCTION = (
    "Answer with one JSON object and nothing else (no prose, no code fence). "
    "It must match this JSON Schema, with the keys in this order:\n"
)


class OutputMode(enum.IntEnum):
    """How the judge asks for its verdict; a rejected mode falls back to the next one."""

    JSON_SCHEMA = 1
    TOOL_CALL = 2
    PLAIN_JSON = 3


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET: Final = _Unset.UNSET


class JudgeSettings(_Settings):
    """How the judge reaches its endpoint and paces itself.

    Precedence: explicit argument > environment > config file section ``judge`` > default.
    ``cache_path``: a SQLite file, ``off`` to disable; unset means
    ``<FLYWHEEL_STATE_DIR or .flywheel>/judge-cache.sqlite3``.
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
    max_input_tokens: int = Field(6000, gt=0)
    backoff_base_seconds: float = Field(0.5, ge=0)
    backoff_max_seconds: float = Field(30.0, ge=0)
    retry_after_cap_seconds: float = Field(60.0, ge=0)

    env_vars: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "model": (FLYWHEEL_JUDGE_MODEL,),
        "base_url": (FLYWHEEL_JUDGE_BASE_URL, _OPENAI_BASE_URL),
        "api_key": (FLYWHEEL_JUDGE_API_KEY, _OPENAI_API_KEY),
        "concurrency": (FLYWHEEL_JUDGE_CONCURRENCY,),
        "max_retries": (FLYWHEEL_JUDGE_MAX_RETRIES,),
        "timeout_seconds": (FLYWHEEL_JUDGE_TIMEOUT_SECONDS,),
        "requests_per_second": (FLYWHEEL_JUDGE_REQUESTS_PER_SECOND,),
        "samples": (FLYWHEEL_JUDGE_SAMPLES,),
        "cache_path": (FLYWHEEL_JUDGE_CACHE,),
        "max_input_tokens": (FLYWHEEL_JUDGE_MAX_INPUT_TOKENS,),
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
        environ = os.environ if environ is None else environ
        return Path(environ.get(_FLYWHEEL_STATE_DIR) or DEFAULT_STATE_DIR) / CACHE_FILE

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            backoff_base_seconds=self.backoff_base_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
            retry_after_cap_seconds=self.retry_after_cap_seconds,
        )


RunStatus = Literal["scored", "unscored", "cached", "failed"]


@dataclass(frozen=True, kw_only=True)
class JudgeRun:
    """The execution record of one judgment.

    ``status``: ``scored``; ``cached`` (no request made); ``unscored`` (the reply did not parse);
    ``failed`` (no usable reply: retries ran out or the endpoint refused; ``error`` says why).
    ``attempts`` counts HTTP requests over all samples, fallbacks included; ``usage`` sums their
    tokens.
    """

    evaluation: Evaluation
    status: RunStatus
    attempts: int
    latency_millis: float
    usage: TokenUsage
    output_mode: OutputMode | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class _Sample:
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


_ZERO_USAGE = TokenUsage(input_tokens=0, output_tokens=0, total_tokens=0)


def _add_usage(left: TokenUsage, right: TokenUsage) -> TokenUsage:
    def plus(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return TokenUsage(
        input_tokens=plus(left.input_tokens, right.input_tokens),
        output_tokens=plus(left.output_tokens, right.output_tokens),
        total_tokens=plus(left.total_tokens, right.total_tokens),
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code} {type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"


def _rejects(error: openai.APIStatusError, mode: OutputMode) -> bool:
    """Whether ``error`` says the endpoint does not support ``mode`` (so a fallback may work)."""
    if mode is OutputMode.PLAIN_JSON:
        return False
    if error.status_code == 422:
        return True
    if error.status_code != 400:
        return False
    text = f"{error.message} {json.dumps(error.body, default=str)}".lower()
    if mode is OutputMode.JSON_SCHEMA:
        return any(word in text for word in ("response_format", "json_schema", "structured"))
    return any(word in text for word in ("tool", "function"))


def _reply_text(completion: Any, mode: OutputMode) -> str | None:
    """The verdict text in a chat completion: tool arguments or message content."""
    choices = getattr(completion, "choices", None)
    if not choices:
        return None
    message = getattr(choices[0], "message", None)
    if message is None:
        return None
    if mode is OutputMode.TOOL_CALL:
        for call in getattr(message, "tool_calls", None) or []:
            function = getattr(call, "function", None)
            if function is not None and function.name == TOOL_NAME:
                arguments = function.arguments
                return arguments if isinstance(arguments, str) else None
    content = getattr(message, "content", None)
    if content is None:
        refusal = getattr(message, "refusal", None)
        return refusal if isinstance(refusal, str) else None
    return content if isinstance(content, str) else None


def _completion_usage(completion: Any) -> TokenUsage:
    usage = getattr(completion, "usage", None)
    if usage is None:
        return _ZERO_USAGE
    return TokenUsage(
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        total_tokens=getattr(usage, "total_tokens", None),
    )


class LLMJudge:
    """Judges traces against rubrics with an LLM; close it (`aclose`, or ``async with``).

    Keyword arguments override the environment and the config file (see `JudgeSettings`);
    ``cache_path=None`` disables the cache. ``settings`` replaces resolution altogether.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int | None = None,
        max_retries: int | None = None,
        timeout_seconds: float | None = None,
        requests_per_second: float | None = None,
        samples: int | None = None,
        cache_path: str | os.PathLike[str] | _Unset | None = UNSET,
        max_input_tokens: int | None = None,
        backoff_base_seconds: float | None = None,
        backoff_max_seconds: float | None = None,
        retry_after_cap_seconds: float | None = None,
        taxonomy: Taxonomy | None = None,
        settings: JudgeSettings | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if settings is None:
            explicit: dict[str, Any] = {
                "model": model,
                "base_url": base_url,
                "api_key": api_key,
                "concurrency": concurrency,
                "max_retries": max_retries,
                "timeout_seconds": timeout_seconds,
                "requests_per_second": requests_per_second,
                "samples": samples,
                "max_input_tokens": max_input_tokens,
                "backoff_base_seconds": backoff_base_seconds,
                "backoff_max_seconds": backoff_max_seconds,
                "retry_after_cap_seconds": retry_after_cap_seconds,
            }
            if cache_path is None:
                explicit["cache_path"] = "off"
            elif not isinstance(cache_path, _Unset):
                explicit["cache_path"] = os.fspath(cache_path)
            settings = JudgeSettings.resolve(explicit, environ=environ)
        elif settings.model is None:
            raise ConfigError(
                f"JudgeSettings has no model. Fix: set {FLYWHEEL_JUDGE_MODEL} or pass model=..."
            )
        if settings.api_key is None and settings.base_url is None:
            raise ConfigError(
                f"the LLM judge has no API key for the OpenAI API. Fix: set {_OPENAI_API_KEY} "
                f"(or {FLYWHEEL_JUDGE_API_KEY}), or point {FLYWHEEL_JUDGE_BASE_URL} at your "
                "own OpenAI-compatible endpoint"
            )
        assert settings.model is not None  # checked above
        self.settings = settings
        self.model: str = settings.model
        self.taxonomy = taxonomy
        self._policy = settings.retry_policy
        cache_file = settings.cache_file(environ)
        self._cache = JudgeCache(cache_file) if cache_file is not None else None
        self._mode = OutputMode.JSON_SCHEMA
        self._schemas: dict[tuple[str, str], dict[str, Any]] = {}
        self._state: _LoopState | None = None
        self._warned_models: set[str] = set()
        self._closed = False

    # ------------------------------------------------------------------------------- public API

    @property
    def output_mode(self) -> OutputMode:
        """The output mode requests use now (it only moves down the fallback order)."""
        return self._mode

    @property
    def cache(self) -> JudgeCache | None:
        return self._cache

    async def judge(
        self, trace: AgentTrace, rubric: Rubric, references: References | None = None
    ) -> Evaluation:
        """One evaluation of ``trace`` against ``rubric``; unscored (never raised) on failure."""
        return (await self.run(trace, rubric, references)).evaluation

    async def judge_many(
        self, items: Iterable[tuple[AgentTrace, Rubric] | tuple[AgentTrace, Rubric, References]]
    ) -> list[Evaluation]:
        """Evaluations of every ``(trace, rubric[, references])``, in order, run concurrently.

        In-flight requests stay within ``concurrency`` however many items there are.
        """
        return [run.evaluation for run in await self.run_many(items)]

    async def run_many(
        self, items: Iterable[tuple[AgentTrace, Rubric] | tuple[AgentTrace, Rubric, References]]
    ) -> list[JudgeRun]:
        """Like `judge_many`, with each judgment's execution record."""
        tasks = [self.run(*item) for item in items]
        return list(await asyncio.gather(*tasks))

    async def run(
        self, trace: AgentTrace, rubric: Rubric, references: References | None = None
    ) -> JudgeRun:
        """Judge ``trace`` and return the execution record (the evaluation is ``.evaluation``)."""
        if self._closed:
            raise RuntimeError("this LLMJudge is closed; create a new one")
        started = time.monotonic()
        prompt = build_prompt(
            trace,
            rubric,
            references,
            max_input_tokens=self.settings.max_input_tokens,
            taxonomy=self.taxonomy,
        )
        self._warn_self_judging(trace)
        key = cache_key(
            rubric_id=rubric.id,
            rubric_version=rubric.version,
            model=self.model,
            input_hash=prompt.input_hash,
            samples=self.settings.samples,
        )
        if self._cache is not None:
            hit = self._cache.get(key)
            if hit is not None:
                latency = (time.monotonic() - started) * 1000
                return JudgeRun(
                    evaluation=dataclasses.replace(hit, usage=_ZERO_USAGE),
                    status="cached",
                    attempts=0,
                    latency_millis=latency,
                    usage=_ZERO_USAGE,
                )
        samples = await asyncio.gather(
            *(self._sample(prompt, rubric) for _ in range(self.settings.samples))
        )
        latency = (time.monotonic() - started) * 1000
        usage = _ZERO_USAGE
        for sample in samples:
            usage = _add_usage(usage, sample.usage)
        evaluation = dataclasses.replace(
            _combine(samples, rubric), usage=usage, latency_millis=latency, judge_model=self.model
        )
        errors = [sample.error for sample in samples if sample.error is not None]
        status: RunStatus
        if not evaluation.unscored:
            status = "scored"
            if self._cache is not None:
                self._cache.put(key, evaluation)
        else:
            status = "failed" if len(errors) == len(samples) else "unscored"
        return JudgeRun(
            evaluation=evaluation,
            status=status,
            attempts=sum(sample.attempts for sample in samples),
            latency_millis=latency,
            usage=usage,
            output_mode=self._mode,
            error=errors[0] if errors else None,
        )

    def judge_sync(
        self, trace: AgentTrace, rubric: Rubric, references: References | None = None
    ) -> Evaluation:
        """`judge` for synchronous callers; not from inside a running event loop."""
        return self._sync(self.judge(trace, rubric, references))

    def judge_many_sync(
        self, items: Iterable[tuple[AgentTrace, Rubric] | tuple[AgentTrace, Rubric, References]]
    ) -> list[Evaluation]:
        """`judge_many` for synchronous callers; not from inside a running event loop."""
        return self._sync(self.judge_many(items))

    async def aclose(self) -> None:
        """Close the HTTP client and the cache; idempotent."""
        self._closed = True
        state, self._state = self._state, None
        if state is not None and not state.loop.is_closed():
            await state.client.close()
        if self._cache is not None:
            self._cache.close()

    def close(self) -> None:
        """`aclose` for synchronous callers (after `judge_sync`)."""
        self._sync(self.aclose())

    async def __aenter__(self) -> LLMJudge:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> LLMJudge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------- internals

    def _sync(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coroutine.close()
            raise RuntimeError(
                "LLMJudge's *_sync methods cannot run inside a running event loop. "
                "Fix: `await judge.judge(...)` (or `judge_many`) there instead"
            )
        return asyncio.run(self._in_own_loop(coroutine))

    async def _in_own_loop(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        # asyncio.run makes a loop per call: the client (whose connections belong to the loop)
        # goes with it.
        try:
            return await coroutine
        finally:
            state, self._state = self._state, None
            if state is not None:
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

    def _warn_self_judging(self, trace: AgentTrace) -> None:
        if self.model in trace.models and self.model not in self._warned_models:
            self._warned_models.add(self.model)
            logger.warning(
                "the judge model %r is a model the judged agent uses (trace %s): a model tends to "
                "rate its own output favourably. Prefer a different judge model (%s)",
                self.model,
                trace.trace_id,
                FLYWHEEL_JUDGE_MODEL,
            )

    def _schema(self, rubric: Rubric) -> dict[str, Any]:
        key = (rubric.id, rubric.version)
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schemas[key] = reply_schema(rubric, self.taxonomy)
        return schema

    def _request_arguments(
        self, prompt: JudgePrompt, rubric: Rubric, mode: OutputMode
    ) -> dict[str, Any]:
        schema = self._schema(rubric)
        messages: list[dict[str, str]] = [dict(message) for message in prompt.messages]
        arguments: dict[str, Any] = {"model": self.model}
        if self.settings.samples > 1 and self.settings.sample_temperature is not None:
            arguments["temperature"] = self.settings.sample_temperature
        if mode is OutputMode.JSON_SCHEMA:
            arguments["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": True},
            }
        elif mode is OutputMode.TOOL_CALL:
            arguments["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": TOOL_NAME,
                        "description": "Record the verdict: explanation first, then the label.",
                        "parameters": schema,
                    },
                }
            ]
            arguments["tool_choice"] = {"type": "function", "function": {"name": TOOL_NAME}}
        else:
            messages.append(
                {"role": "user", "content": PLAIN_JSON_INSTRUCTION + json.dumps(schema, indent=1)}
            )
        arguments["messages"] = messages
        return arguments

    async def _send(self, arguments: dict[str, Any]) -> Any:
        state = self._loop_state()
        async with state.semaphore:
            if state.limiter is not None:
                await state.limiter.acquire()
            return await state.client.chat.completions.with_raw_response.create(**arguments)

    async def _sample(self, prompt: JudgePrompt, rubric: Rubric) -> _Sample:
        attempts = 0
        retries = 0
        while True:
            mode = self._mode
            attempts += 1
            try:
                raw = await self._send(self._request_arguments(prompt, rubric, mode))
            except openai.APIStatusError as exc:
                if _rejects(exc, mode):
                    fallback = OutputMode(mode + 1)
                    if self._mode < fallback:
                        logger.info(
                            "judge endpoint rejected %s output (%s); using %s for model %r",
                            mode.name,
                            _describe(exc),
                            fallback.name,
                            self.model,
                        )
                        self._mode = fallback
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

    def _read(self, raw: Any, prompt: JudgePrompt, mode: OutputMode, attempts: int) -> _Sample:
        body: str = raw.http_response.text
        try:
            completion = raw.parse()
        except (ValueError, pydantic.ValidationError):
            completion = None
        usage = _completion_usage(completion)
        text = _reply_text(completion, mode)
        evaluation = parse_reply(text, prompt, judge_model=self.model)
        if evaluation.unscored and evaluation.raw is None:
            evaluation = dataclasses.replace(evaluation, raw=text if text is not None else body)
        return _Sample(evaluation=evaluation, attempts=attempts, usage=usage)

    def _failed(self, prompt: JudgePrompt, error: BaseException, attempts: int) -> _Sample:
        retryable = is_retryable(error)
        described = _describe(error)
        why = (
            f"the judge request failed after {attempts} attempt{'s' * (attempts != 1)}: "
            f"{described}; it will be judged again later"
            if retryable
            else f"the judge endpoint refused the request: {described}"
        )
        base = parse_reply(None, prompt, judge_model=self.model)
        evaluation = dataclasses.replace(base, explanation=why, raw=None)
        return _Sample(evaluation=evaluation, attempts=attempts, usage=_ZERO_USAGE, error=described)


def _combine(samples: Sequence[_Sample], rubric: Rubric) -> Evaluation:
    """One evaluation from n samples: the majority label (ties: the lower-scoring label).

    ``confidence`` is the agreement share (samples with the majority label / all samples, unscored
    ones included) times the mean confidence the agreeing samples stated themselves (1 when none
    did). The explanation ends with a note on any disagreement.
    """
    evaluations = [sample.evaluation for sample in samples]
    if len(evaluations) == 1:
        return evaluations[0]
    scored = [evaluation for evaluation in evaluations if not evaluation.unscored]
    total = len(evaluations)
    if not scored:
        first = evaluations[0]
        note = f"All {total} self-consistency samples were unscored."
        return dataclasses.replace(first, explanation=f"{first.explanation}\n\n{note}".strip())
    counts = Counter(evaluation.label for evaluation in scored)
    top = max(counts.values())

    def severity(label: str) -> tuple[float, str]:
        return (rubric.choices.get(label, 0.0), label)

    label = min((name for name, count in counts.items() if count == top), key=severity)
    agreeing = [evaluation for evaluation in scored if evaluation.label == label]
    agreement = top / total
    stated = [e.confidence for e in agreeing if e.confidence is not None]
    confidence = agreement * (statistics.fmean(stated) if stated else 1.0)
    others = [f"{name} x{count}" for name, count in counts.most_common() if name != label]
    unscored = total - len(scored)
    if unscored:
        others.append(f"unscored x{unscored}")
    note = f"Self-consistency: {top} of {total} samples gave {label!r}"
    note += f"; disagreement: {', '.join(others)}." if others else " (unanimous)."
    chosen = agreeing[0]
    return dataclasses.replace(
        chosen,
        confidence=round(confidence, 4),
        explanation=f"{chosen.explanation}\n\n{note}".strip(),
    )
