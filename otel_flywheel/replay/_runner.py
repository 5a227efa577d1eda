"""Running a task over examples: bounded concurrency, one captured trace per run, evaluated.

Each run: a root span with the example's input, the task under it (awaited, or in a worker thread
when it is sync) with the example's recorded tool calls in `replay_tools`, the task's output on the
root span; then, outside the concurrency slot, its trace is awaited and evaluated with what the
example calls for (`expectations`): the deterministic checks always, the expected tool calls of a
golden example, and the judge's ``answer_correctness`` against an expected output plus the
rubrics that failed on the source trace.

A run is ``pass`` or ``fail`` by its verdict. It is ``error`` when the task raised or timed out,
its trace never closed, a judgment came back unscored, or a rubric the example calls for could not
be judged: an error is never a pass, and the gate counts errors apart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final, Literal

from opentelemetry import trace as trace_api
from opentelemetry.trace import Status, StatusCode

from otel_flywheel import semconv as sc
from otel_flywheel.datasets import DatasetExample
from otel_flywheel.errors import ConfigError
from otel_flywheel.evaluation import TraceEvaluator
from otel_flywheel.model import AgentTrace, Evaluation, Verdict
from otel_flywheel.replay._capture import RunCapture
from otel_flywheel.replay._task import ReplayTask
from otel_flywheel.replay._tools import ToolRecording, replay_tools

__all__ = [
    "ANSWER_CORRECTNESS",
    "Expectations",
    "RunResult",
    "RunStatus",
    "ToolReplayMode",
    "expectations",
    "replay_examples",
]

logger = logging.getLogger(__name__)

RunStatus = Literal["pass", "fail", "error"]
ToolReplayMode = Literal["off", "passthrough", "fail"]

ANSWER_CORRECTNESS: Final = "answer_correctness"
DEFAULT_TIMEOUT_SECONDS: Final = 300.0
# After the task returned, how long its trace may take to close: the processor's grace period
# plus its wake-up interval, with room for a busy machine.
TRACE_TIMEOUT_SECONDS: Final = 30.0
_NOT_SAMPLED: Final = (
    "the TracerProvider's sampler dropped the run's root span, so its trace cannot be "
    "evaluated. Fix: replay on a provider that samples every trace (e.g. the default)"
)
_CHAIN: Final = sc.OpenInferenceSpanKindValues.CHAIN.value
_JSON_MIME: Final = "application/json"
_SA = sc.SpanAttributes


@dataclass(frozen=True, kw_only=True)
class Expectations:
    """What one example asks of a run, beyond the deterministic checks."""

    expected_output: str | None = None
    expected_tool_calls: tuple[Mapping[str, Any], ...] | None = None
    rubric_ids: tuple[str, ...] = ()


def expectations(example: DatasetExample) -> Expectations:
    """Read the example's expectations; ``ConfigError`` names the example when they are malformed.

    - ``output.expected_tool_calls`` (golden examples): ``[{"name", "arguments"}]``;
    - an expected output (golden, or a regression with a correction): judged by
      ``answer_correctness``;
    - ``metadata.failing_rubrics``: judged again.
    """
    calls = example.output.get("expected_tool_calls")
    if calls is not None and (
        not isinstance(calls, list)
        or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls)
    ):
        raise ConfigError(
            f"example {example.example_id} of {example.dataset}: output.expected_tool_calls "
            'must be a list of {"name": ..., "arguments": {...}}'
        )
    rubrics = example.metadata.get("failing_rubrics") or []
    if not isinstance(rubrics, list) or not all(isinstance(r, str) for r in rubrics):
        raise ConfigError(
            f"example {example.example_id} of {example.dataset}: metadata.failing_rubrics must "
            "be a list of rubric ids"
        )
    expected_output = example.expected_output
    wanted = dict.fromkeys(rubrics)
    if expected_output is not None:
        wanted[ANSWER_CORRECTNESS] = None
    return Expectations(
        expected_output=expected_output,
        expected_tool_calls=tuple(calls) if calls is not None else None,
        rubric_ids=tuple(wanted),
    )


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """One run of one example (``repetition`` counts from 1)."""

    example: DatasetExample
    repetition: int
    status: RunStatus
    started_at: datetime
    ended_at: datetime
    output: Any = None
    trace_id: str | None = None
    verdict: Verdict | None = None
    error: str | None = None
    unjudged_rubrics: tuple[str, ...] = ()
    tools_replayed: int = 0
    tools_live: int = 0
    trace: AgentTrace | None = None  # the run as captured (redacted): what a comparison pairs

    @property
    def failures(self) -> list[Evaluation]:
        """The categorized failed evaluations: why the run failed."""
        if self.verdict is None:
            return []
        return [e for e in self.verdict.evaluations if e.passed is False and e.category]

    @property
    def reason(self) -> str:
        """One line: the error, or the primary failure and its explanation, or ``""``."""
        if self.error:
            return self.error
        if self.verdict is None or self.verdict.passed is not False:
            return ""
        verdict = self.verdict
        kind = "/".join(p for p in (verdict.category, verdict.subcategory) if p)
        primary = next(
            (e for e in self.failures if e.culprit_span_id == verdict.culprit_span_id),
            self.failures[0] if self.failures else None,
        )
        detail = f" ({primary.evaluator}: {primary.explanation})" if primary else ""
        return f"{kind}{detail}"


async def replay_examples(
    examples: Sequence[DatasetExample],
    task: ReplayTask,
    *,
    evaluator: TraceEvaluator,
    capture: RunCapture,
    concurrency: int = 4,
    repetitions: int = 1,
    tool_replay: ToolReplayMode = "passthrough",
    recordings: Mapping[str, Sequence[ToolRecording]] | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run ``task`` ``repetitions`` times per example, at most ``concurrency`` at once.

    ``recordings`` maps example ids to the tool calls of their source traces (see
    `replay_tools`); ``tool_replay="off"`` runs every tool live. Results come back in example
    order, repetitions in order; ``on_result`` hears each as it finishes. The evaluator is not
    closed here.
    """
    if concurrency < 1 or repetitions < 1:
        raise ConfigError(
            f"concurrency and repetitions must be at least 1, got {concurrency}, {repetitions}"
        )
    # Read and checked before anything runs: a malformed example fails the replay at once.
    prepared = {}
    for example in examples:
        expected = expectations(example)
        try:
            references = evaluator.references_for(
                expected_output=expected.expected_output,
                expected_tool_calls=expected.expected_tool_calls,
            )
        except ConfigError as exc:
            raise ConfigError(f"example {example.example_id} of {example.dataset}: {exc}") from None
        prepared[example.example_id] = (references, expected.rubric_ids)
    slots = asyncio.Semaphore(concurrency)
    # Sync tasks run on threads of their own pool: the default executor has min(32, cpus + 4)
    # threads, which would cap concurrency on a small CI machine. Not waited for at the end: a
    # sync task that timed out may still be running, and replay has moved on.
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=concurrency, thread_name_prefix="otel-flywheel-replay"
    )
    run = _Run(
        task=task,
        evaluator=evaluator,
        capture=capture,
        pool=pool,
        tool_replay=tool_replay,
        recordings=recordings or {},
        timeout_seconds=timeout_seconds,
    )

    async def one(example: DatasetExample, repetition: int) -> RunResult:
        references, rubric_ids = prepared[example.example_id]
        result = await run(example, repetition, references, rubric_ids, slots)
        if on_result is not None:
            on_result(result)
        return result

    try:
        return list(
            await asyncio.gather(
                *(
                    one(example, repetition)
                    for example in examples
                    for repetition in range(1, repetitions + 1)
                )
            )
        )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Run:
    task: ReplayTask
    evaluator: TraceEvaluator
    capture: RunCapture
    pool: concurrent.futures.Executor
    tool_replay: ToolReplayMode
    recordings: Mapping[str, Sequence[ToolRecording]]
    timeout_seconds: float

    async def __call__(
        self,
        example: DatasetExample,
        repetition: int,
        references: Any,
        rubric_ids: tuple[str, ...],
        slots: asyncio.Semaphore,
    ) -> RunResult:
        async with slots:
            executed = await self._execute(example, repetition)
        base: dict[str, Any] = {
            "example": example,
            "repetition": repetition,
            "started_at": executed.started_at,
            "ended_at": executed.ended_at,
            "output": executed.output,
            "trace_id": executed.trace_id,
            "tools_replayed": executed.tools_replayed,
            "tools_live": executed.tools_live,
        }
        # The trace is awaited outside the concurrency slot: the next run need not wait for it.
        try:
            trace = await asyncio.wait_for(
                asyncio.wrap_future(executed.trace), timeout=TRACE_TIMEOUT_SECONDS
            )
        except (asyncio.TimeoutError, RuntimeError) as exc:
            self.capture.forget(int(executed.trace_id, 16))
            error = executed.error or f"the run's trace never closed ({exc or 'timed out'})"
            return RunResult(**base, status="error", error=error)
        if executed.error is not None:
            return RunResult(**base, status="error", error=executed.error)
        return await self._evaluate(trace, references, rubric_ids, base)

    async def _execute(self, example: DatasetExample, repetition: int) -> _Executed:
        tracer = self.capture.tracer
        attributes: dict[str, Any] = {
            _SA.OPENINFERENCE_SPAN_KIND: _CHAIN,
            _SA.INPUT_VALUE: json.dumps(example.input, ensure_ascii=False, default=str),
            _SA.INPUT_MIME_TYPE: _JSON_MIME,
            _SA.METADATA: json.dumps(
                {
                    "replay": True,
                    "dataset": example.dataset,
                    "example_id": example.example_id,
                    "repetition": repetition,
                },
                default=str,
            ),
            # A replay run is a test, not a user's conversation: keep it out of every dataset,
            # should the task's own register() route it.
            sc.FLYWHEEL_CONSENT: False,
        }
        started_at = datetime.now(timezone.utc)
        output: Any = None
        error: str | None = None
        recorded = self.recordings.get(example.example_id)
        mode = self.tool_replay
        with tracer.start_as_current_span(
            f"replay {self.task.name}",
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            context = span.get_span_context()
            trace_id = context.trace_id
            future = self.capture.expect(trace_id)
            if not context.trace_flags.sampled:
                # Nothing of this run will reach a span processor: say so now, not after a wait.
                self.capture.forget(trace_id)
                future.set_exception(RuntimeError(_NOT_SAMPLED))
                error = _NOT_SAMPLED
            with replay_tools(
                None if mode == "off" else list(recorded or ()),
                unmatched="fail" if mode == "fail" else "passthrough",
                tracer_provider=self.capture.tracer_provider,
            ) as tools:
                try:
                    if error is None:
                        output = await asyncio.wait_for(
                            self._call(example), timeout=self.timeout_seconds
                        )
                except asyncio.TimeoutError:
                    error = f"the task did not return within {self.timeout_seconds:g} s"
                    span.set_status(Status(StatusCode.ERROR, error))
                except Exception as exc:
                    error = f"the task raised {type(exc).__name__}: {exc}"
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                else:
                    if error is None:
                        span.set_attributes(_output_attributes(output))
                        span.set_status(Status(StatusCode.OK))
        return _Executed(
            trace_id=trace_api.format_trace_id(trace_id),
            trace=future,
            started_at=started_at,
            ended_at=datetime.now(timezone.utc),
            output=output,
            error=error,
            tools_replayed=tools.replayed,
            tools_live=tools.live,
        )

    async def _call(self, example: DatasetExample) -> Any:
        if self.task.is_async:
            return await self.task.call(example)
        # The copied context carries the run's span and the tool replay state into the thread.
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, context.run, self.task.call, example)

    async def _evaluate(
        self,
        trace: AgentTrace,
        references: Any,
        rubric_ids: tuple[str, ...],
        base: dict[str, Any],
    ) -> RunResult:
        evaluator = self.evaluator
        started = time.monotonic()
        evaluations = list(evaluator.check(trace, references))
        unjudged: tuple[str, ...] = ()
        error: str | None = None
        if rubric_ids:
            if evaluator.judge_model is None:
                unjudged = rubric_ids  # --no-judge: the caller chose checks only
            else:
                judged = await evaluator.judge(trace, references, rubric_ids=rubric_ids)
                evaluations += judged.evaluations
                seen = {e.rubric_id for e in judged.evaluations}
                missing = [r for r in rubric_ids if r not in seen]
                if missing:
                    error = (
                        f"rubrics {missing} could not be judged (not among the loaded rubrics, "
                        "or a reference they require is missing). Fix: --rubrics DIR with them, "
                        "or --no-judge to gate on the checks alone"
                    )
        verdict = evaluator.roll_up(trace, evaluations)
        logger.debug(
            "evaluated run %s in %.0f ms", trace.trace_id, (time.monotonic() - started) * 1000
        )
        if error is None and verdict.passed is None:
            unscored = [e.evaluator for e in evaluations if e.passed is None]
            error = f"unscored: {', '.join(unscored)} (an unscored judgment is never a pass)"
        status: RunStatus = "error" if error is not None else ("pass" if verdict.passed else "fail")
        return RunResult(
            **base,
            status=status,
            verdict=verdict,
            error=error,
            unjudged_rubrics=unjudged,
            trace=trace,
        )


@dataclass(frozen=True, kw_only=True)
class _Executed:
    trace_id: str
    trace: concurrent.futures.Future[AgentTrace]
    started_at: datetime
    ended_at: datetime
    output: Any
    error: str | None
    tools_replayed: int
    tools_live: int


def _output_attributes(output: Any) -> dict[str, Any]:
    if isinstance(output, str):
        return {_SA.OUTPUT_VALUE: output, _SA.OUTPUT_MIME_TYPE: "text/plain"}
    try:
        text = json.dumps(output, ensure_ascii=False)
    except (TypeError, ValueError):
        return {_SA.OUTPUT_VALUE: str(output), _SA.OUTPUT_MIME_TYPE: "text/plain"}
    return {_SA.OUTPUT_VALUE: text, _SA.OUTPUT_MIME_TYPE: _JSON_MIME}
