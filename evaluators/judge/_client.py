"""`LLMJudge`: a rubric judge on any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, ...).

The async core is written once (`LLMJudge.judge`, `judge_many`, `run`); `judge_sync` wraps it.
Output modes fall back from strict JSON schema to a forced tool call to plain JSON (`_request`).

Every reply goes through `parse_reply`: one that does not parse is *unscored* with the raw text
kept, never a pass and never an exception. Transport errors, 408/409/429 and 5xx are retried with
backoff honoring ``Retry-After`` (`RetryPolicy`); when retries run out, or the endpoint refuses the
request for good (401, 404, ...), the evaluation is unscored and its explanation names the error:
the pipeline judges it again later.

Each prompt is fit into the budget `JudgeSettings.budget_tokens` gives the rubric (by default from
the model's context window). A trace that does not fit well is judged in parts and then as a whole
from the parts' findings (`plan_judgment`). Every evaluation records what the judge was shown
(``coverage``: steps shown, cut and left out, the share of the text, the prompts' size), and one
made with most of the trace unseen says so in its explanation.

Each judgment also yields a `JudgeRun`, its execution record: status, attempts, latency, tokens.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import os
import time
from collections.abc import Collection, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Literal, TypeVar

from otel_flywheel._internal import ClosedOnExit
from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, Evaluation, TokenUsage

from ..references import References  # noqa: TID252 (decisions.md: relative inside evaluators/)
from ..rubric import Rubric, Taxonomy  # noqa: TID252
from ._cache import JudgeCache, cache_key
from ._combine import combine
from ._endpoint import Endpoint, Sample
from ._parts import JudgePlan, plan_judgment
from ._render import JudgePrompt
from ._request import (
    ZERO_USAGE,
    OutputMode,
    add_usage,
)
from ._settings import (
    FLYWHEEL_JUDGE_API_KEY,
    FLYWHEEL_JUDGE_BASE_URL,
    FLYWHEEL_JUDGE_MODEL,
    OPENAI_API_KEY,
    JudgeSettings,
)

__all__ = ["JudgeRun", "LLMJudge", "OutputMode", "RunStatus"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

_UNSEEN_NOTE: Final = (
    "(Judged with {percent}% of the trace's text shown{detail}: most of the run was not seen, so "
    "this verdict rests on part of it.)"
)


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET: Final = _Unset.UNSET

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


@dataclass(kw_only=True)
class _Asked:
    """What the requests of one judgment returned: every sample, the ones the verdict comes from,
    the prompts sent, and the parts (0-based) whose reply could not be used."""

    samples: list[Sample]
    final: list[Sample]
    sent: list[JudgePrompt]
    unusable: set[int] = field(default_factory=set)


class LLMJudge(ClosedOnExit):
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
        context_window_tokens: int | None = None,
        max_parts: int | None = None,
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
                "context_window_tokens": context_window_tokens,
                "max_parts": max_parts,
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
                f"the LLM judge has no API key for the OpenAI API. Fix: set {OPENAI_API_KEY} "
                f"(or {FLYWHEEL_JUDGE_API_KEY}), or point {FLYWHEEL_JUDGE_BASE_URL} at your "
                "own OpenAI-compatible endpoint"
            )
        assert settings.model is not None  # checked above
        self.settings = settings
        self.model: str = settings.model
        self.taxonomy = taxonomy
        cache_file = settings.cache_file(environ)
        self._cache = JudgeCache(cache_file) if cache_file is not None else None
        self._endpoint = Endpoint(settings, taxonomy)
        self._warned_models: set[str] = set()
        self._closed = False

    # ------------------------------------------------------------------------------- public API

    @property
    def output_mode(self) -> OutputMode:
        """The output mode requests use now (it only moves down the fallback order)."""
        return self._endpoint.mode

    @property
    def cache(self) -> JudgeCache | None:
        return self._cache

    async def judge(
        self,
        trace: AgentTrace,
        rubric: Rubric,
        references: References | None = None,
        *,
        flagged: Collection[str] = (),
    ) -> Evaluation:
        """One evaluation of ``trace`` against ``rubric``; unscored (never raised) on failure.

        ``flagged``: span ids the deterministic checks found at fault, never left out of a prompt.
        """
        return (await self.run(trace, rubric, references, flagged=flagged)).evaluation

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

    def plan(
        self,
        trace: AgentTrace,
        rubric: Rubric,
        references: References | None = None,
        *,
        flagged: Collection[str] = (),
    ) -> JudgePlan:
        """The prompts judging ``trace`` against ``rubric`` would send (no request is made)."""
        return plan_judgment(
            trace,
            rubric,
            references,
            max_input_tokens=self.settings.budget_tokens(rubric),
            taxonomy=self.taxonomy,
            flagged=flagged,
            max_parts=self.settings.max_parts,
        )

    async def run(
        self,
        trace: AgentTrace,
        rubric: Rubric,
        references: References | None = None,
        *,
        flagged: Collection[str] = (),
    ) -> JudgeRun:
        """Judge ``trace`` and return the execution record (the evaluation is ``.evaluation``)."""
        if self._closed:
            raise RuntimeError("this LLMJudge is closed; create a new one")
        started = time.monotonic()
        plan = self.plan(trace, rubric, references, flagged=flagged)
        self._warn_self_judging(trace)
        key = cache_key(
            rubric_id=rubric.id,
            rubric_version=rubric.version,
            model=self.model,
            input_hash=plan.input_hash,
            samples=self.settings.samples,
        )
        if self._cache is not None:
            hit = self._cache.get(key)
            if hit is not None:
                latency = (time.monotonic() - started) * 1000
                return JudgeRun(
                    evaluation=dataclasses.replace(hit, usage=ZERO_USAGE),
                    status="cached",
                    attempts=0,
                    latency_millis=latency,
                    usage=ZERO_USAGE,
                )
        asked = await self._ask(plan, rubric)
        latency = (time.monotonic() - started) * 1000
        usage = ZERO_USAGE
        for sample in asked.samples:
            usage = add_usage(usage, sample.usage)
        errors = [sample.error for sample in asked.samples if sample.error is not None]
        evaluation = combine([sample.evaluation for sample in asked.final], rubric)
        coverage = plan.coverage(
            prompt_tokens=sum(prompt.estimated_tokens for prompt in asked.sent),
            requests=len(asked.sent),
            unusable=asked.unusable,
        )
        evaluation = dataclasses.replace(
            evaluation,
            usage=usage,
            latency_millis=latency,
            judge_model=self.model,
            coverage=coverage,
        )
        status: RunStatus
        if not evaluation.unscored:
            status = "scored"
            used = {name for prompt in asked.sent for name in prompt.references_used}
            evaluation = dataclasses.replace(
                evaluation,
                references=[name for name in rubric.references if name in used],
                explanation=_with_unseen_note(evaluation.explanation, coverage),
            )
            if self._cache is not None:
                self._cache.put(key, evaluation)
        else:
            failed = [sample for sample in asked.final if sample.error is not None]
            status = "failed" if len(failed) == len(asked.final) else "unscored"
        return JudgeRun(
            evaluation=evaluation,
            status=status,
            attempts=sum(sample.attempts for sample in asked.samples),
            latency_millis=latency,
            usage=usage,
            output_mode=self._endpoint.mode,
            error=errors[0] if errors else None,
        )

    async def _ask(self, plan: JudgePlan, rubric: Rubric) -> _Asked:
        """Send the plan's prompts: the single prompt's samples, or each part once, then the
        samples of the whole. A part that got no reply fails the judgment (it is asked again
        later); a part whose reply did not parse is left out of the whole, and its steps count
        as unseen."""
        count = self.settings.samples
        sample = self._endpoint.sample
        if not plan.in_parts:
            (prompt,) = plan.prompts
            samples = await asyncio.gather(*(sample(prompt, rubric) for _ in range(count)))
            return _Asked(samples=list(samples), final=list(samples), sent=[prompt] * count)
        parts = list(await asyncio.gather(*(sample(p, rubric, samples=1) for p in plan.prompts)))
        failed = [part for part in parts if part.error is not None]
        if failed:
            return _Asked(samples=parts, final=failed[:1], sent=list(plan.prompts))
        unusable = {index for index, part in enumerate(parts) if part.evaluation.unscored}
        whole = plan.whole([None if i in unusable else p.evaluation for i, p in enumerate(parts)])
        finals = list(await asyncio.gather(*(sample(whole, rubric) for _ in range(count))))
        return _Asked(
            samples=[*parts, *finals],
            final=finals,
            sent=[*plan.prompts, *[whole] * count],
            unusable=unusable,
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
        await self._endpoint.close_client()
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
            await self._endpoint.close_client()

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


def _with_unseen_note(explanation: str, coverage: Any) -> str:
    if not coverage.mostly_unseen:
        return explanation
    detail = f"; steps {coverage.elided} were not shown" if coverage.elided else ""
    note = _UNSEEN_NOTE.format(percent=int(coverage.share_shown * 100), detail=detail)
    return f"{explanation}\n\n{note}".strip()
