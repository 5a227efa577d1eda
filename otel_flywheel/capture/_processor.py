"""``FlywheelSpanProcessor``: captures ended spans and hands assembled traces to a pipeline.

The span-ending thread (the agent's) only filters and enqueues: ``on_end`` checks the sampled flag,
appends the span to a bounded deque and, past a batch threshold, wakes the worker. When the queue
is full the span is dropped and counted. Everything else happens on one daemon worker thread
("otel-flywheel-capture", a ``WorkerThread``) that wakes at the threshold or every
``schedule_delay_millis``: it converts spans to ``SpanView``s, feeds the ``TraceBuilder`` (redact,
assemble), normalizes each closed trace and calls ``pipeline.submit``, all with OTel instrumentation
suppressed so that the pipeline's own HTTP calls are not traced. The pattern is the OTel SDK's
``BatchProcessor``.

With an ``exporter`` (what ``register()`` sets up) the processor is also the export path: the
worker redacts each span once and feeds both sides from that one result, the redacted
``ReadableSpan`` to the exporter (batched by the SDK's ``BatchSpanProcessor``, which only the
worker feeds) and its view to the assembler. The exporter never sees a raw span, whatever the
flywheel does with it: spans that ``sample_ratio`` keeps out of the flywheel, or that the
assembler drops (late, duplicate, trace too large), are still exported, redacted. A span whose
redaction fails goes nowhere (``internal_error``): a leak is worse than a gap. Spans dropped before
the worker (``queue_full``, ``shutdown``) are neither exported nor captured.

Lifecycle (the OTel contract):

- ``force_flush(timeout_millis)`` hands over everything received so far: the worker drains the
  queue and closes *every* open trace (``close_reason="flush"``; ``complete=False`` where the root
  has not ended), then the pipeline's ``force_flush`` gets the time that is left. It returns
  ``False`` once the deadline passed and never waits past it itself (a pipeline must honor the
  timeout it is passed). The caller's thread only waits: ``pipeline.submit`` is always called
  from the worker thread. With an exporter, the spans the worker handed over are exported before
  the pipeline is flushed (the SDK's batch processor exports them on the caller's thread and
  bounds each request by the exporter's own timeout, not by ``timeout_millis``).
- ``shutdown()`` is idempotent: it flushes like ``force_flush``, stops the worker, then shuts the
  exporter (after exporting what it holds) and the pipeline down. Spans ending afterwards are
  dropped and counted as ``shutdown``.
- After ``os.fork()`` the child gets a fresh queue, assembler and worker (``os.register_at_fork``);
  spans the parent had buffered stay with the parent, which delivers them.

Errors never reach the agent and never stop the worker. An error in our own code on the worker
(span conversion, assembly, normalization) is logged with its traceback, the spans it concerned
are counted as ``internal_error`` and the exception is kept: under pytest the next
``force_flush`` or ``shutdown`` re-raises it on the caller's thread, so the test fails loudly. A
pipeline that raises is a failing component, not a bug of ours: it is logged, and for ``submit``
the trace's spans are counted as ``pipeline_error``.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal

from opentelemetry.sdk.environment_variables import OTEL_BSP_MAX_QUEUE_SIZE
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from otel_flywheel._internal import handle_internal_errors, reinit_after_fork
from otel_flywheel._worker import DropWarning, Round, WorkerThread
from otel_flywheel.capture._assembler import ClosedTrace
from otel_flywheel.capture._builder import TraceBuilder
from otel_flywheel.capture._pipeline import LoggingPipeline, TracePipeline
from otel_flywheel.config import CaptureSettings, resolve_settings
from otel_flywheel.conventions import span_view_from_readable
from otel_flywheel.model import AgentTrace
from otel_flywheel.privacy import Redactor, build_redactor

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span

__all__ = ["DropReason", "FlywheelSpanProcessor"]

logger = logging.getLogger(__name__)

DropReason = Literal[
    "queue_full",  # on_end found the queue full
    "shutdown",  # on_end after shutdown()
    "late_span",  # the span's trace had already been closed and handed over
    "duplicate_span",  # the same span id again in an open trace (a retried export)
    "trace_too_large",  # past max_spans_per_trace
    "internal_error",  # our own code failed on the span or its trace (logged)
    "pipeline_error",  # the pipeline's submit raised for the span's trace (logged)
]

WORKER_THREAD_NAME: Final = "otel-flywheel-capture"
_TRACE_ID_LOW_BITS_MASK: Final = 0xFFFF_FFFF_FFFF_FFFF
_TRACE_ID_LOW_BITS_RANGE: Final = 1 << 64
# While its backlog is small the worker gives the GIL back this often: under the GIL its CPU is the
# agent's, and a long burst makes an agent thread returning from I/O wait up to a switch interval
# (5 ms). Once the queue is a quarter full it stops yielding: a CPU-bound agent would otherwise keep
# the GIL between yields, the worker would fall behind and spans would be dropped. Catching up comes
# first; latency second (docs/benchmarks.md has the measurements behind both numbers).
_YIELD_EVERY_SPANS: Final = 32
_YIELD_WHILE_QUEUE_BELOW: Final = 0.25  # of max_queue_size
# Drops are counted always; a warning saying how to avoid them is logged at most this often.
_MAX_BATCH_THRESHOLD: Final = 512  # wake the worker early once this many spans wait (as the SDK)
_SDK_EXPORT_QUEUE_SIZE: Final = 2048  # BatchSpanProcessor's default max_queue_size


class FlywheelSpanProcessor(SpanProcessor):
    """Captures sampled spans, assembles them into traces, submits each to a ``TracePipeline``.

    Every option defaults to its environment variable, then the config file's ``capture``
    section, then the built-in default (see ``otel_flywheel._env``); an explicit bad value raises
    ``ConfigError``. ``pipeline`` defaults to a ``LoggingPipeline``; ``clock`` (monotonic
    nanoseconds) drives trace timing and is there for tests.

    ``exporter`` makes the processor the export path as well (see the module docstring): each
    span is redacted once on the worker and exported from that copy, in batches by default
    (``export_batch=False`` exports span by span from the worker).

    ``dropped`` counts lost spans by reason, ``traces_emitted`` the traces the pipeline accepted
    and ``traces_closed_early`` those closed because too many traces were open.
    """

    def __init__(
        self,
        *,
        pipeline: TracePipeline | None = None,
        max_queue_size: int | None = None,
        max_buffered_traces: int | None = None,
        max_spans_per_trace: int | None = None,
        trace_grace_millis: int | None = None,
        trace_idle_timeout_millis: int | None = None,
        schedule_delay_millis: int | None = None,
        sample_ratio: float | None = None,
        redactor: Redactor | bool = True,
        exporter: SpanExporter | None = None,
        export_batch: bool = True,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._settings = resolve_settings(
            CaptureSettings,
            {
                "max_queue_size": max_queue_size,
                "max_buffered_traces": max_buffered_traces,
                "max_spans_per_trace": max_spans_per_trace,
                "trace_grace_millis": trace_grace_millis,
                "trace_idle_timeout_millis": trace_idle_timeout_millis,
                "schedule_delay_millis": schedule_delay_millis,
                "sample_ratio": sample_ratio,
            },
        )
        self._pipeline: TracePipeline = pipeline if pipeline is not None else LoggingPipeline()
        # Privacy first: the pipeline (judge, datasets, exports) only ever sees redacted spans.
        # True builds the redactor the settings describe (FLYWHEEL_REDACTION=off turns it off).
        self._redactor: Redactor | None = (
            build_redactor() if redactor is True else (redactor or None)
        )
        self._pipeline_name = type(self._pipeline).__qualname__
        # The export path, fed by the worker with the spans it redacted: each span is redacted
        # once, for Phoenix and the flywheel alike, and the exporter never sees a raw one.
        # Batching is the SDK's BatchSpanProcessor (its own thread, queue, retries, timeouts),
        # never registered on the provider: only the worker hands it spans.
        self._export: SpanProcessor | None = None
        if exporter is not None:
            self._export = (
                # Room for a full capture queue (never less than the SDK's default), which the
                # worker may hand over at once when it catches up; OTEL_BSP_MAX_QUEUE_SIZE still
                # decides when it is set.
                BatchSpanProcessor(
                    exporter,
                    max_queue_size=None
                    if os.environ.get(OTEL_BSP_MAX_QUEUE_SIZE)
                    else max(self._settings.max_queue_size, _SDK_EXPORT_QUEUE_SIZE),
                )
                if export_batch
                else SimpleSpanProcessor(exporter)
            )
        self._clock = clock
        self._max_queue_size = self._settings.max_queue_size
        # TraceIdRatioBased's rule: keep a trace when the low 64 bits of its id fall under the
        # bound, so every span of a trace gets the same answer with no shared state. 1.0 keeps all.
        self._sample_bound = round(self._settings.sample_ratio * _TRACE_ID_LOW_BITS_RANGE)
        self._yield_below = max(1, int(self._max_queue_size * _YIELD_WHILE_QUEUE_BELOW))
        self._drop_warning = DropWarning(  # worker thread only
            logger,
            "otel-flywheel dropped %d spans so far (%s): the capture worker cannot keep up with "
            "this agent; lower FLYWHEEL_SAMPLE_RATIO or raise FLYWHEEL_MAX_QUEUE_SIZE",
        )
        self._batch_threshold = min(_MAX_BATCH_THRESHOLD, max(1, self._max_queue_size // 2))
        self._hot_path_guard = handle_internal_errors()

        # Written by app threads in on_end without a lock: a plain int increment under the GIL can
        # lose a count when two threads race, which a drop metric tolerates and a lock on the hot
        # path would not be worth. Fixed keys, so readers can copy the dict during increments.
        self._hot_drops: dict[DropReason, int] = {"queue_full": 0, "shutdown": 0}
        # Written by the worker thread only.
        self._worker_drops: dict[DropReason, int] = {"internal_error": 0, "pipeline_error": 0}
        self._traces_emitted = 0
        # Set once, under _lock (which guards nothing else and is never held while calling out);
        # read without it (an atomic bool read) by on_end.
        self._lock = threading.Lock()
        self._shutdown = False
        self._worker = WorkerThread(
            WORKER_THREAD_NAME,
            self._round,
            interval_seconds=self._settings.schedule_delay_millis / 1000,
        )
        self._init_worker_state()
        self._worker.start()

        reinit_after_fork(self._at_fork_reinit)

    def _init_worker_state(self) -> None:
        """A fresh queue and trace builder (at start; in a fork child)."""
        # deque.append/popleft are thread-safe. No maxlen on purpose: on_end checks the length
        # and drops the *new* span (maxlen would silently evict the oldest). Racing threads can
        # overshoot max_queue_size by at most one span each.
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._builder = TraceBuilder(self._settings, redactor=self._redactor)  # the worker's only

    def _at_fork_reinit(self) -> None:
        # The child has no worker thread and may have copied a lock held mid-operation: start
        # over. The parent's queued spans and open traces are the parent's to deliver.
        self._lock = threading.Lock()
        if not self._shutdown:
            self._init_worker_state()
        self._worker.reset_after_fork()  # restarted unless shut down

    # --- the agent's thread -----------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None  # traces are assembled from ended spans only

    def on_end(self, span: ReadableSpan) -> None:
        with self._hot_path_guard:
            context = span.context
            if context is None or not context.trace_flags.sampled:
                return
            if (
                context.trace_id & _TRACE_ID_LOW_BITS_MASK >= self._sample_bound
                and self._export is None
            ):
                return  # sampled out of the flywheel, and nothing to export
            if self._shutdown:
                self._hot_drops["shutdown"] += 1
                return
            queue = self._queue
            if len(queue) >= self._max_queue_size:
                self._hot_drops["queue_full"] += 1
                return
            queue.append(span)
            if len(queue) >= self._batch_threshold:
                self._worker.wake()  # a no-op while a wake-up is pending

    # --- lifecycle --------------------------------------------------------------------------------

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Hand every span received so far to the exporter and to the pipeline as traces, then
        flush both.

        Open traces are closed now (``close_reason="flush"``). Returns ``False`` if the deadline
        passed, the exporter or the pipeline could not flush, or the processor is shut down.
        """
        deadline = time.monotonic() + timeout_millis / 1000
        flushed = False
        with self._hot_path_guard:
            if self._shutdown:
                return False
            if self._worker.flush(deadline) and not self._shutdown:
                flushed = self._flush_export(deadline)
                remaining_millis = int((deadline - time.monotonic()) * 1000)
                if remaining_millis > 0:
                    flushed = self._flush_pipeline(remaining_millis) and flushed
                    flushed = flushed and time.monotonic() <= deadline
                else:
                    flushed = False
        self._worker.errors.reraise_under_pytest()
        return flushed

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        """Flush every open trace, stop the worker, then flush and shut down the exporter and
        the pipeline. Idempotent."""
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
        deadline = time.monotonic() + timeout_millis / 1000
        with self._hot_path_guard:
            # One final round flushes everything, then the thread ends. A pipeline may shut us
            # down from the worker itself: that does not wait (and the worker is still running).
            if not self._worker.stop(deadline):
                logger.warning(
                    "capture worker did not finish within %d ms; traces still open are lost",
                    timeout_millis,
                )
            if self._export is not None:
                try:
                    # Exports what the worker handed over, then shuts the exporter down.
                    self._export.shutdown()
                except Exception:
                    logger.exception("the span exporter failed to shut down")
            try:
                self._pipeline.shutdown()
            except Exception:
                logger.exception("pipeline %s failed to shut down", self._pipeline_name)
        self._worker.errors.reraise_under_pytest()

    def _flush_export(self, deadline: float) -> bool:
        if self._export is None:
            return True
        remaining_millis = int((deadline - time.monotonic()) * 1000)
        if remaining_millis <= 0:
            return False
        try:
            return self._export.force_flush(remaining_millis)
        except Exception:
            logger.exception("the span exporter failed to flush")
            return False

    def _flush_pipeline(self, timeout_millis: int) -> bool:
        try:
            return self._pipeline.force_flush(timeout_millis)
        except Exception:
            logger.exception("pipeline %s failed to flush", self._pipeline_name)
            return False

    # --- counters ---------------------------------------------------------------------------------

    @property
    def settings(self) -> CaptureSettings:
        return self._settings

    @property
    def redactor(self) -> Redactor | None:
        """What redacts spans before the pipeline (and the exporter) sees them; ``None`` when off."""
        return self._redactor

    @property
    def pipeline(self) -> TracePipeline:
        return self._pipeline

    @property
    def dropped(self) -> Mapping[str, int]:
        """Spans dropped so far, by reason (see ``DropReason``); reasons without drops left out."""
        counts: dict[str, int] = {}
        for source in (self._hot_drops, self._worker_drops, self._builder.assembler.counts):
            for reason, count in dict(source).items():
                if count and reason != "closed_early_buffer_full":
                    counts[reason] = counts.get(reason, 0) + count
        return MappingProxyType(counts)

    @property
    def traces_emitted(self) -> int:
        """Traces the pipeline accepted."""
        return self._traces_emitted

    @property
    def traces_closed_early(self) -> int:
        """Traces closed before they were over, because ``max_buffered_traces`` were open."""
        return self._builder.assembler.counts["closed_early_buffer_full"]

    # --- the worker thread ------------------------------------------------------------------------

    def _round(self, round_: Round) -> None:
        # A flush, or the final round, closes every open trace; a tick only those due.
        self._process(flush=round_.flush)
        self._warn_about_new_drops()

    def _process(self, *, flush: bool) -> None:
        queue = self._queue
        guard = self._worker.errors.guard
        builder = self._builder
        now_ns = self._clock()
        for index in range(len(queue)):  # the spans there now; later ones wait for the next round
            if index % _YIELD_EVERY_SPANS == _YIELD_EVERY_SPANS - 1:
                self._yield_unless_behind()
            span = queue.popleft()
            added = False
            with guard:
                parent = span.parent
                context = span.context
                keep = (
                    context is not None
                    and context.trace_id & _TRACE_ID_LOW_BITS_MASK < self._sample_bound
                )
                is_root = parent is None or parent.is_remote
                if self._export is not None:
                    # Redacted once, here: the exporter gets the copy, the flywheel its view. A
                    # span whose redaction fails goes nowhere (a leak is worse than a gap).
                    span = builder.redact_readable(span)
                    self._export.on_end(span)
                    if keep:
                        view = span_view_from_readable(span)
                        builder.add(view, now_ns=now_ns, is_root=is_root, redacted=True)
                else:
                    builder.add(span_view_from_readable(span), now_ns=now_ns, is_root=is_root)
                added = True
            if not added:
                self._worker_drops["internal_error"] += 1
        for trace in builder.pop(now_ns=now_ns, every=flush):
            self._emit(trace)
            self._yield_unless_behind()  # one trace's normalization, then the agent's turn

    def _yield_unless_behind(self) -> None:
        if len(self._queue) < self._yield_below:
            time.sleep(0)

    def _warn_about_new_drops(self) -> None:
        sources = (self._hot_drops, self._worker_drops)
        self._drop_warning.maybe_log({str(r): n for drops in sources for r, n in drops.items()})

    def _emit(self, closed: ClosedTrace) -> None:
        trace: AgentTrace | None = None
        with self._worker.errors.guard:
            trace = self._builder.normalize(closed)
        if trace is None:
            self._worker_drops["internal_error"] += len(closed.spans)
            return
        try:
            self._pipeline.submit(trace)
        except Exception:
            logger.exception(
                "pipeline %s failed to accept trace %s; its %d spans are dropped",
                self._pipeline_name,
                closed.trace_id,
                len(closed.spans),
            )
            self._worker_drops["pipeline_error"] += len(closed.spans)
        else:
            self._traces_emitted += 1
