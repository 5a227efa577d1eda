"""`EvaluationPipeline`: traces in, verdicts out, on a background asyncio worker.

It plugs into the span processor as its ``TracePipeline`` (or into ``otel-flywheel serve``).
``submit`` is called on the capture worker thread and only hands the trace to the event loop; the
evaluation happens there:

1. the deterministic checks, on every trace;
2. the judge-sampling policy: traces a check failed, or with negative feedback, always go to the
   LLM judge, a configurable share of the others too (`JudgeSamplingPolicy`);
3. the rubric judge, with its own request concurrency, retries and cache;
4. the roll-up into a `Verdict`, handed to every `VerdictSink` (routing into Phoenix, a file).

Bounded: at most ``max_queue_size`` traces are in the pipeline at once (queued, evaluating or
waiting to retry the judge); beyond that new traces are dropped and counted, never blocking the
capture worker. ``concurrency`` traces are evaluated at once.

The judge being down delays work, it does not drop it: when a rubric's requests get no usable reply
(``JudgeResult.failed_rubrics``), the trace waits and is judged again for those rubrics after each of
``judge_retry_delays_seconds``; after the last, or at shutdown, its verdict goes out with those
evaluations unscored, which is never a pass.

Feedback arriving after a trace was evaluated without the judge (``notify_feedback``) sends the
trace, if it is among the ``max_recent_traces`` last ones, back to be judged.

``submit_acknowledged`` is ``otel-flywheel serve``'s hand-over (see ``_ack``): refused, not
dropped, when full; acknowledged once every sink took the verdict; at shutdown, handed back
unsettled while it still waits for the judge.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from otel_flywheel._internal import reinit_after_fork
from otel_flywheel._worker import DropWarning, KeptErrors, LoopThread, suppressed_instrumentation
from otel_flywheel.config import PipelineSettings, resolve_settings
from otel_flywheel.evaluation import TraceEvaluator
from otel_flywheel.model import AgentTrace, Evaluation, Feedback, Verdict
from otel_flywheel.pipeline._ack import TraceAck, settle, unscored_verdict
from otel_flywheel.pipeline._judge_cost import JudgeCost, JudgeCostCounter
from otel_flywheel.pipeline._policy import JudgeReason, JudgeSamplingPolicy
from otel_flywheel.pipeline._recent import RecentTraces

__all__ = ["EvaluationPipeline", "PipelineStats", "VerdictSink"]

logger = logging.getLogger(__name__)


@runtime_checkable
class VerdictSink(Protocol):
    """Receives each verdict with its trace, on a worker thread of the pipeline (it may block)."""

    def submit_verdict(self, trace: AgentTrace, verdict: Verdict) -> None: ...

    def force_flush(self, timeout_millis: int = 30_000) -> bool: ...

    def shutdown(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class PipelineStats:
    """Counters since start. ``pending``: traces in the pipeline now (queued, judging, retrying)."""

    received: int
    evaluated: int
    judged: int
    judge_decisions: Mapping[str, int]
    judge_retries: int
    failed: int
    unscored: int
    pending: int
    dropped: Mapping[str, int]
    sink_errors: int
    judge_evaluations: int = 0
    judge_latency_millis: float = 0.0
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0
    judge_cost: Mapping[str, JudgeCost] = field(default_factory=dict)
    """Per rubric: prompt tokens per judgment, requests, parts, share of the trace shown."""
    refused: int = 0  # acknowledged hand-overs refused (full or closed): the caller kept them


@dataclass(kw_only=True, eq=False)  # identity: jobs live in a set while they wait
class _Job:
    """One trace on its way through the pipeline; kept across judge retries."""

    trace: AgentTrace
    force_judge: bool = False
    references: Any = None
    checks: list[Evaluation] | None = None
    judged: list[Evaluation] = field(default_factory=list)
    unanswered: list[Evaluation] = field(default_factory=list)  # the last failed rubrics' results
    retry_rubrics: frozenset[str] | None = None
    attempt: int = 0
    timer: asyncio.TimerHandle | None = None
    ack: TraceAck | None = None  # told once whether the verdict is durable (serve's hand-over)


class EvaluationPipeline:
    """A ``TracePipeline`` that evaluates traces and hands verdicts to sinks.

    ``references`` (optional) returns the references for a trace (expected output, expected tool
    calls, policy), as ``otel_flywheel.evaluation.load_references`` builds them. Keyword options
    override ``FLYWHEEL_*`` variables and the config file's ``pipeline`` section.
    """

    def __init__(
        self,
        evaluator: TraceEvaluator,
        *,
        sinks: Sequence[VerdictSink] = (),
        references: Callable[[AgentTrace], Any] | None = None,
        judge_sample_ratio: float | None = None,
        max_queue_size: int | None = None,
        concurrency: int | None = None,
        judge_retry_delays_seconds: Sequence[float] | None = None,
        max_recent_traces: int | None = None,
    ) -> None:
        self._settings = resolve_settings(
            PipelineSettings,
            {
                "judge_sample_ratio": judge_sample_ratio,
                "max_queue_size": max_queue_size,
                "concurrency": concurrency,
                "judge_retry_delays_seconds": (
                    tuple(judge_retry_delays_seconds)
                    if judge_retry_delays_seconds is not None
                    else None
                ),
                "max_recent_traces": max_recent_traces,
            },
        )
        self._evaluator = evaluator
        self._sinks = list(sinks)
        self._references = references
        self._policy = JudgeSamplingPolicy(self._settings.judge_sample_ratio)
        self._init_state()
        reinit_after_fork(self._init_state)

    def _init_state(self) -> None:
        """Fresh counters, synchronization and no worker yet (at start; in a fork child)."""
        # Guards every field below; never held while calling out (evaluator, sinks, the loop).
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when _pending reaches 0
        self._pending = 0
        self._closed = False
        self._loop = LoopThread("otel-flywheel-pipeline")  # started by the first trace
        self._counts: Counter[str] = Counter()
        self._judge_latency_millis = 0.0
        self._judge_cost = JudgeCostCounter()
        self._decisions: Counter[str] = Counter()
        self._drops: Counter[str] = Counter()
        self._drop_warning = DropWarning(  # under _lock
            logger,
            "otel-flywheel's pipeline dropped %d traces so far (%s): evaluation cannot keep up; "
            "raise FLYWHEEL_PIPELINE_MAX_QUEUE_SIZE or FLYWHEEL_JUDGE_CONCURRENCY, or lower "
            "FLYWHEEL_JUDGE_SAMPLE_RATIO",
        )
        self._recent = RecentTraces(self._settings.max_recent_traces)
        self._errors = KeptErrors(on_keep=self._count_internal_error)
        # Loop-side state: touched only on the loop thread.
        self._semaphore: asyncio.Semaphore | None = None
        self._waiting: set[_Job] = set()  # jobs waiting to retry the judge
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ thread-safe public API

    def submit(self, trace: AgentTrace) -> None:
        """Queue ``trace`` for evaluation; never blocks. Dropped (and counted) when full or closed."""
        self._enqueue(_Job(trace=trace))

    def submit_acknowledged(self, trace: AgentTrace, ack: TraceAck) -> bool:
        """Queue ``trace``; ``False`` (nothing queued, nothing dropped) when full or closed.

        Once queued, ``ack`` is called once: durable when every sink took the verdict, or not
        (a sink failed, the pipeline shut down while the trace waited for the judge).
        """
        return self._enqueue(_Job(trace=trace, ack=ack))

    def notify_feedback(self, feedback: Feedback) -> None:
        """Remember negative feedback; a recent trace evaluated without the judge is judged now."""
        if not feedback.negative:
            return
        trace = self._recent.negative(feedback, can_judge=self._evaluator.judge_model is not None)
        if trace is not None:
            self._enqueue(_Job(trace=trace, force_judge=True))

    def stats(self) -> PipelineStats:
        with self._lock:
            return PipelineStats(
                received=self._counts["received"],
                evaluated=self._counts["evaluated"],
                judged=self._counts["judged"],
                judge_decisions=dict(self._decisions),
                judge_retries=self._counts["judge_retries"],
                failed=self._counts["failed"],
                unscored=self._counts["unscored"],
                pending=self._pending,
                dropped=dict(self._drops),
                sink_errors=self._counts["sink_errors"],
                judge_evaluations=self._counts["judge_evaluations"],
                judge_latency_millis=self._judge_latency_millis,
                judge_input_tokens=self._counts["judge_input_tokens"],
                judge_output_tokens=self._counts["judge_output_tokens"],
                judge_cost=self._judge_cost.snapshot(),
                refused=self._counts["refused"],
            )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every submitted trace has its verdict in the sinks, then flush the sinks.

        Traces waiting to retry the judge count as not done: with the judge down this returns
        ``False`` at the deadline rather than emit verdicts early.
        """
        deadline = time.monotonic() + timeout_millis / 1000
        with self._idle:
            done = self._idle.wait_for(lambda: self._pending == 0, _remaining(deadline))
        for sink in self._sinks:
            done = self._call_sink(sink.force_flush, _remaining_millis(deadline)) is True and done
        self._errors.reraise_under_pytest()
        return done

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        """Evaluate what was submitted (judge retries end now), close the judge and the sinks.

        Sinks are shut down, not flushed first: call ``force_flush`` before to wait for delivery.
        Idempotent. Traces still waiting to retry the judge get their verdicts with those
        evaluations unscored.
        """
        deadline = time.monotonic() + timeout_millis / 1000
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._loop.running:
            self._loop.call_soon(self._release_waiting)
            with self._idle:
                if not self._idle.wait_for(lambda: self._pending == 0, _remaining(deadline)):
                    logger.warning(
                        "otel-flywheel pipeline shut down with %d traces still being evaluated",
                        self._pending,
                    )
            try:
                self._loop.run(self._evaluator.aclose(), timeout_seconds=_remaining(deadline))
            except Exception:
                logger.exception("closing the evaluator failed")
        self._loop.stop(deadline)
        # Shut down, not flushed: a sink that must wait on a remote (the outbox, with Phoenix
        # down) keeps the writes durably for the next start instead of holding the exit.
        for sink in self._sinks:
            self._call_sink(sink.shutdown)
        self._errors.reraise_under_pytest()

    # ------------------------------------------------------------------------------ internals

    def _enqueue(self, job: _Job) -> bool:
        refused = job.ack is not None  # refused, not dropped: the caller keeps the trace
        with self._lock:
            if self._closed or self._pending >= self._settings.max_queue_size:
                if not refused:
                    self._counts["received"] += not job.force_judge
                    reason = "shutdown" if self._closed else "queue_full"
                    self._drops[reason] += 1
                    if reason == "queue_full":
                        self._warn_about_drops()
                else:
                    self._counts["refused"] += 1
                return False
            if job.force_judge is False:
                self._counts["received"] += 1
            self._pending += 1
            # Under the lock, so that shutdown (which takes it first) sees the loop running and
            # waits for this job: scheduling is a non-blocking hand-over, never a call out.
            self._loop.call_soon(self._spawn, job)
        return True

    def _spawn(self, job: _Job) -> None:
        task = asyncio.get_running_loop().create_task(self._process(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, job: _Job) -> None:
        # Our judge's HTTP calls must not be traced back into the flywheel (or to Phoenix).
        finished = True
        try:
            with suppressed_instrumentation():
                if self._semaphore is None:
                    self._semaphore = asyncio.Semaphore(self._settings.concurrency)
                async with self._semaphore:
                    failed: list[Exception] = []
                    with self._errors.guard:
                        try:
                            finished = await self._evaluate(job)
                        except Exception as error:
                            failed.append(error)
                            raise  # the guard logs and keeps it
                    if failed:
                        await self._record_failure(job, failed[0])
        finally:
            if finished:
                self._finish()

    async def _evaluate(self, job: _Job) -> bool:
        """Evaluate ``job``; ``False`` when it now waits to retry the judge."""
        trace = job.trace
        if job.checks is None:
            job.references = self._references_for(trace)
            job.checks = self._evaluator.check(trace, job.references)
            reason = self._judge_reason(job)
            with self._lock:
                self._decisions[reason] += 1
            if reason in ("not_sampled", "no_judge"):
                await self._emit(job, [*job.checks], judged=False)
                return True
        result = await self._evaluator.judge(trace, job.references, rubric_ids=job.retry_rubrics)
        job.judged += [e for e in result.evaluations if e.rubric_id not in result.failed_rubrics]
        job.unanswered = [e for e in result.evaluations if e.rubric_id in result.failed_rubrics]
        delays = self._settings.judge_retry_delays_seconds
        if job.unanswered and job.attempt < len(delays) and not self._closed:
            job.retry_rubrics = result.failed_rubrics
            job.timer = asyncio.get_running_loop().call_later(delays[job.attempt], self._retry, job)
            job.attempt += 1
            self._waiting.add(job)
            with self._lock:
                self._counts["judge_retries"] += 1
            logger.info(
                "judge gave no usable reply for trace %s (%s); judging it again in %.0fs",
                trace.trace_id,
                ", ".join(sorted(result.failed_rubrics)),
                delays[job.attempt - 1],
            )
            return False
        await self._emit(job, [*job.checks, *job.judged, *job.unanswered], judged=True)
        return True

    def _judge_reason(self, job: _Job) -> JudgeReason:
        if self._evaluator.judge_model is None:
            return "no_judge"
        if job.force_judge:
            return "negative_feedback"
        negative = self._recent.drew_negative_feedback(job.trace.trace_id)
        assert job.checks is not None
        return self._policy.decide(job.trace, job.checks, negative_feedback=negative).reason

    def _retry(self, job: _Job) -> None:
        self._waiting.discard(job)
        job.timer = None
        self._spawn(job)

    def _release_waiting(self) -> None:
        """At shutdown: judge retries end. An acknowledged trace goes back unsettled (its caller
        keeps it durably and judges it again later); the others go out with what they have."""
        for job in list(self._waiting):
            if job.timer is not None:
                job.timer.cancel()
            if job.ack is not None:
                self._waiting.discard(job)
                waited = "the pipeline shut down while the trace waited for the judge"
                settle(job.ack, job.trace.trace_id, waited)
                self._finish()
                continue
            job.attempt = len(self._settings.judge_retry_delays_seconds)  # no more retries
            self._retry(job)

    def _references_for(self, trace: AgentTrace) -> Any:
        if self._references is None:
            return None
        try:
            return self._references(trace)
        except Exception:
            logger.exception("references callable failed for trace %s", trace.trace_id)
            return None

    async def _emit(self, job: _Job, evaluations: list[Evaluation], *, judged: bool) -> None:
        trace = job.trace
        verdict = self._evaluator.roll_up(trace, evaluations)
        self._recent.remember(trace, judged=judged)
        judge_runs = [e for e in evaluations if e.judge_model is not None]
        with self._lock:
            for evaluation in judge_runs:
                self._counts["judge_evaluations"] += 1
                self._judge_latency_millis += evaluation.latency_millis or 0.0
                self._counts["judge_input_tokens"] += evaluation.usage.input_tokens or 0
                self._counts["judge_output_tokens"] += evaluation.usage.output_tokens or 0
                self._judge_cost.add(evaluation)
            self._counts["evaluated"] += 1
            self._counts["judged"] += judged
            self._counts["failed"] += verdict.passed is False
            self._counts["unscored"] += verdict.passed is None
        await self._deliver(job, verdict)

    async def _deliver(self, job: _Job, verdict: Verdict) -> None:
        """Hand the verdict to every sink; then tell an acknowledged job's caller, once, whether
        all of them took it."""
        failed = None
        for sink in self._sinks:
            try:
                await asyncio.to_thread(sink.submit_verdict, job.trace, verdict)
            except Exception:
                failed = type(sink).__name__
                logger.exception("verdict sink %s failed for trace %s", failed, job.trace.trace_id)
                with self._lock:
                    self._counts["sink_errors"] += 1
        ack, job.ack = job.ack, None
        if ack is not None:
            settle(ack, job.trace.trace_id, f"verdict sink {failed} failed" if failed else None)

    async def _record_failure(self, job: _Job, error: Exception) -> None:
        """Evaluating ``job`` raised in our own code: record it unscored, naming the error, so
        that it is never lost and never counted as a pass. Only for an acknowledged trace: its
        caller would otherwise offer it again, and the same bug would fail it again."""
        if job.ack is None:
            return
        with self._lock:
            self._counts["evaluated"] += 1
            self._counts["unscored"] += 1
        await self._deliver(job, unscored_verdict(job.trace, job.checks or [], error))

    def _finish(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def _call_sink(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except Exception:
            logger.exception("verdict sink call %s failed", getattr(method, "__qualname__", method))
            return None

    def _warn_about_drops(self) -> None:
        """Called under _lock: rate-limited warning with the fix."""
        self._drop_warning.maybe_log(self._drops)

    def _count_internal_error(self, _error: Exception) -> None:
        with self._lock:
            self._drops["internal_error"] += 1


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _remaining_millis(deadline: float) -> int:
    return int(_remaining(deadline) * 1000)
