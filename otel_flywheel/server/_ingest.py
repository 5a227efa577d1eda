"""The ingest worker: spool -> span views -> trace assembly -> redaction -> pipeline.

One daemon thread ("otel-flywheel-ingest", a ``WorkerThread``) per server, with instrumentation
suppressed. It wakes when a handler committed a request (or feedback), or every
``schedule_delay_millis``, and:

1. reads the requests committed since its cursor, in commit order, and feeds their spans,
   converted with ``span_views_from_request``, to a ``TraceBuilder``, which redacts and
   assembles them exactly as the in-process capture worker's does, so a trace looks the same
   whichever way it came in;
2. normalizes each closed trace (``TraceBuilder.normalize``) and hands it over (``_handover``): with the
   flywheel, its rows leave the spool only once its verdict and routed writes are durable in the
   outbox; a trace the pipeline refuses or does not make durable is offered again, with backoff.
   The spool fills, the server answers 503, and nothing accepted is dropped;
3. hands spooled feedback, redacted, to the ``FeedbackSink`` and releases what it accepted
   (``_feedback_delivery``), and records the span ids it read, so that feedback naming a span
   can be checked; now and then it forgets traces past ``known_trace_retention_seconds``.

After a restart the cursor starts at 0: whatever the spool still holds is read again, skipping
traces already released, and resumes from there: every trace not yet durable downstream is judged
again. Delivery is at least once; downstream it is exactly once, since writes are keyed by trace.

Spans of one trace that arrive in different requests meet in the assembler, whose rules apply
unchanged (grace after the root, idle timeout without one, bounded open traces). A span that
arrives after its trace was handed over is dropped as ``late_span``; its rows are released at
once, or they would sit in the spool forever. A span whose id the open trace already has is
dropped as ``duplicate_span``: senders retry a request whose answer they did not get, and the
spool took it the first time.

Accepting comes first. The worker shares the GIL with the event loop, and its work per span
(redaction above all) is ~50x what accepting a span costs. So every few spans it yields; and while
a request is being decoded and committed (``senders_waiting``) and the spool is under half full,
it steps aside until that is done (at most 50 ms at a time): a burst is taken at full speed and
delivered after. Past half full it only offers the GIL, so delivery keeps pace before senders
are turned away with 503s. A full spool loses nothing (senders retry), unlike the in-process
queue, which is why the worker need never win the race there.

Errors in our own code (a span that fails to convert or redact, a trace that fails to normalize)
are logged with their traceback and counted as ``internal_error``; the spans concerned are
released rather than retried, since the same bug would fail them again after every restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_flywheel._worker import KeptErrors, Round, WorkerThread
from otel_flywheel.capture import ClosedTrace, TraceBuilder, TracePipeline
from otel_flywheel.config import CaptureSettings
from otel_flywheel.conventions import SpanView, span_views_from_request
from otel_flywheel.model import AgentTrace
from otel_flywheel.privacy import Redactor
from otel_flywheel.server._feedback import FeedbackSink
from otel_flywheel.server._feedback_delivery import FeedbackDelivery
from otel_flywheel.server._handover import TraceHandover
from otel_flywheel.server._metrics import ServerMetrics
from otel_flywheel.server._spool import Spool

__all__ = ["WORKER_THREAD_NAME", "IngestWorker"]

logger = logging.getLogger(__name__)

WORKER_THREAD_NAME: Final = "otel-flywheel-ingest"
_READ_BATCH_REQUESTS: Final = 32
_MAX_KEPT_ERRORS: Final = 16
_FORGET_INTERVAL_SECONDS: Final = 60.0
# The final round may still be submitting a trace when shutdown's deadline passes: wait that much
# longer for it before saying it did not finish.
_FINAL_ROUND_GRACE_SECONDS: Final = 5.0
# Redacting and assembling a span takes ~0.1-0.2 ms: yield every few spans, not per request.
_YIELD_EVERY_SPANS: Final = 8
_STEP_ASIDE_SECONDS: Final = 0.001
_STEP_ASIDE_MAX_SECONDS: Final = 0.05


_SCHED_YIELD: Final = getattr(os, "sched_yield", None)


def _offer_gil() -> None:
    # Releases the GIL and lets a waiting thread take it. ``time.sleep(0)`` does too, but on Linux
    # it sleeps the timer slack (~50 us, 80 us of wall time measured here; CPython gh-125997):
    # every 8 spans, a tenth of delivery's time. ``sched_yield`` costs ~1 us and is what CPython's
    # docs suggest for this; where it is missing (Windows), ``Sleep(0)`` is already a yield.
    if _SCHED_YIELD is not None:
        _SCHED_YIELD()
    else:
        time.sleep(0)


@dataclass(slots=True)
class _OpenTrace:
    """What the worker tracks of a trace the assembler holds open."""

    request_ids: list[int] = field(default_factory=list)  # spooled requests holding its spans
    span_ids: set[str] = field(default_factory=set)  # to drop a span sent twice


class IngestWorker:
    """Delivers what the spool holds to the pipeline and the feedback sink. See the module doc.

    ``start()`` once; ``notify()`` after each commit; ``shutdown()`` delivers what it can
    within its timeout, closes every open trace (``pop_all``) and shuts the pipeline down.
    ``senders_waiting`` says whether a request is being decoded and committed right now.
    """

    def __init__(
        self,
        spool: Spool,
        pipeline: TracePipeline,
        *,
        feedback_sink: FeedbackSink,
        metrics: ServerMetrics,
        redactor: Redactor | None,
        capture_settings: CaptureSettings,
        known_trace_retention_seconds: float = 7 * 86_400.0,
        max_known_traces: int = 100_000,
        senders_waiting: Callable[[], bool] = lambda: False,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._spool = spool
        self._pipeline = pipeline
        self._pipeline_name = type(pipeline).__qualname__
        self._metrics = metrics
        self._known_retention_ns = int(known_trace_retention_seconds * 1e9)
        self._max_known_traces = max_known_traces
        self._clock = clock
        self._senders_waiting = senders_waiting
        self._roomy_below = spool.max_spans // 2
        self._lock = threading.Lock()  # guards _started and _shutdown
        self._started = False
        self._shutdown = False
        self._worker = WorkerThread(
            WORKER_THREAD_NAME,
            self._round,
            interval_seconds=capture_settings.schedule_delay_millis / 1000,
            errors=KeptErrors(limit=_MAX_KEPT_ERRORS),
        )
        self._guard = self._worker.errors.guard

        # The worker thread's own state.
        self._builder = TraceBuilder(capture_settings, redactor=redactor)
        self._assembler = self._builder.assembler  # its rules, its counts
        self._cursor = 0  # highest request id read from the spool
        self._open: dict[str, _OpenTrace] = {}  # the traces the assembler holds open
        self._seen_spans: list[tuple[str, str]] = []  # (span id, trace id) read, to remember
        self._handover = TraceHandover(spool, pipeline, metrics=metrics, wake=self._worker.wake)
        self._feedback = FeedbackDelivery(spool, feedback_sink, metrics=metrics, redactor=redactor)
        self._assembler_drops = {"late_span": 0, "trace_too_large": 0}
        self._next_forget = 0.0

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._started:
                raise RuntimeError("IngestWorker.start() was already called")
            self._started = True
        self._worker.start()

    def notify(self) -> None:
        """Something was committed: wake the worker now rather than at its next tick."""
        self._worker.wake()

    def shutdown(self, *, timeout_seconds: float = 20.0) -> bool:
        """Deliver what the spool holds until ``timeout_seconds`` pass, close every open trace
        and hand it over, then shut the pipeline down. Idempotent.

        Returns ``False`` when the worker did not finish in time; what it did not deliver stays
        in the spool for the next start.
        """
        with self._lock:
            if self._shutdown:
                return True
            self._shutdown = True
        finished = self._worker.stop(
            time.monotonic() + timeout_seconds, grace_seconds=_FINAL_ROUND_GRACE_SECONDS
        )
        if not finished:
            logger.warning(
                "the ingest worker did not finish within %.0f s; undelivered spans stay in "
                "the spool %s for the next start",
                timeout_seconds,
                self._spool.path,
            )
        try:
            self._pipeline.shutdown()
        except Exception:
            logger.exception("pipeline %s failed to shut down", self._pipeline_name)
        if finished:
            # Verdicts the pipeline made durable while it shut down: release their traces now
            # rather than judge them again at the next start.
            with self._guard:
                unsettled = self._handover.drain()
                if unsettled:
                    logger.info(
                        "%d traces had no durable verdict when the pipeline stopped; they stay "
                        "in the spool %s and are judged at the next start",
                        unsettled,
                        self._spool.path,
                    )
        return finished

    @property
    def alive(self) -> bool:
        return self._worker.alive

    @property
    def open_traces(self) -> int:
        return self._assembler.open_trace_count

    @property
    def traces_awaiting_ack(self) -> int:
        """Traces handed to the pipeline whose verdict is not durable yet."""
        return self._handover.awaiting

    @property
    def internal_errors(self) -> list[Exception]:
        """Errors in our own code the worker survived (logged when they happened)."""
        return self._worker.errors.snapshot()

    # --- the worker thread ------------------------------------------------------------------------

    def _round(self, round_: Round) -> None:
        # The final round reads the spool until shutdown's deadline (ordinary rounds have none),
        # then closes every open trace and hands it over.
        final = round_.final
        self._handover.settle()
        self._read_new(deadline=round_.deadline)
        self._emit(self._builder.pop(now_ns=self._clock(), every=final))
        self._handover.retry_due(final=final)
        self._feedback.run(final=final)
        self._count_assembler_drops()
        self._forget_old_traces()

    def _read_new(self, *, deadline: float) -> None:
        while time.monotonic() < deadline:
            batch = self._spool.read_requests(after_id=self._cursor, limit=_READ_BATCH_REQUESTS)
            for spooled in batch:
                self._add_request(spooled.request_id, spooled.body, spooled.pending)
                self._cursor = spooled.request_id
                self._yield()
            # One transaction per batch: what feedback naming a span is checked against.
            self._spool.remember_spans(self._seen_spans)
            self._seen_spans.clear()
            # Close what is due between batches: catching up on a large spool stays bounded.
            self._emit(self._builder.pop(now_ns=self._clock()))
            if len(batch) < _READ_BATCH_REQUESTS:
                return

    def _add_request(self, request_id: int, body: bytes, pending: Mapping[str, int]) -> None:
        pending_ids = set(pending)
        if not pending_ids:
            return  # every trace of it was delivered before a restart
        try:
            request = ExportTraceServiceRequest.FromString(body)
        except DecodeError:
            # It decoded before it was stored: the file was damaged. Nothing to deliver.
            logger.error("spooled request %d is unreadable; its spans are dropped", request_id)
            self._metrics.spans_dropped.labels("internal_error").inc(sum(pending.values()))
            self._release((request_id, trace_id) for trace_id in pending_ids)
            return
        groups: dict[str, list[SpanView]] = {}
        for view in span_views_from_request(request):
            if view.trace_id in pending_ids:
                groups.setdefault(view.trace_id, []).append(view)
        self._seen_spans += (
            (view.span_id, view.trace_id) for views in groups.values() for view in views
        )
        now_ns = self._clock()
        # Traces without a span in the body cannot close; never leave their rows behind.
        finished = [(request_id, trace_id) for trace_id in pending_ids - groups.keys()]
        for trace_id, views in groups.items():
            entry = self._open.get(trace_id)
            seen = entry.span_ids if entry is not None else set()
            late_before = self._assembler.counts["late_span"]
            added = duplicates = 0
            for index, view in enumerate(views, start=1):
                if view.span_id in seen:
                    # Sent twice: a sender retried a request whose answer it never got.
                    duplicates += 1
                    continue
                with self._guard:
                    self._add_span(view, now_ns)
                    seen.add(view.span_id)
                    added += 1
                if index % _YIELD_EVERY_SPANS == 0:
                    self._yield()
            if duplicates:
                self._metrics.spans_dropped.labels("duplicate_span").inc(duplicates)
            if len(views) - added - duplicates:
                self._metrics.spans_dropped.labels("internal_error").inc(
                    len(views) - added - duplicates
                )
            if added and self._assembler.counts["late_span"] - late_before == added:
                finished.append((request_id, trace_id))  # its trace was handed over already
            elif added:
                if entry is None:
                    entry = self._open[trace_id] = _OpenTrace(span_ids=seen)
                entry.request_ids.append(request_id)
            else:
                finished.append((request_id, trace_id))
        self._release(finished)

    def _add_span(self, view: SpanView, now_ns: int) -> None:
        is_root = view.parent_id is None or view.parent_is_remote
        self._builder.add(view, now_ns=now_ns, is_root=is_root)

    def _emit(self, closed: Iterable[ClosedTrace]) -> None:
        unusable: list[tuple[int, str]] = []
        for trace_spans in closed:
            entry = self._open.pop(trace_spans.trace_id, None)
            keys = [
                (request_id, trace_spans.trace_id)
                for request_id in (entry.request_ids if entry is not None else ())
            ]
            trace: AgentTrace | None = None
            with self._guard:
                trace = self._builder.normalize(trace_spans)
            if trace is None:
                self._metrics.spans_dropped.labels("internal_error").inc(len(trace_spans.spans))
                unusable += keys
            else:
                self._handover.offer(trace, keys)
            self._yield()
        self._handover.flush()
        self._release(unusable)

    def _release(self, keys: Iterable[tuple[int, str]]) -> None:
        self._spool.release(keys)

    def _forget_old_traces(self) -> None:
        now = time.monotonic()
        if now < self._next_forget:
            return
        self._next_forget = now + _FORGET_INTERVAL_SECONDS
        forgotten = self._spool.forget_known(
            seen_before_unix_nano=time.time_ns() - self._known_retention_ns,
            keep_latest=self._max_known_traces,
        )
        if forgotten:
            logger.debug(
                "forgot %d traces received long ago (feedback on them: unknown)", forgotten
            )

    def _count_assembler_drops(self) -> None:
        counts = self._assembler.counts
        for reason, seen in self._assembler_drops.items():
            now = counts[reason]
            if now > seen:
                self._metrics.spans_dropped.labels(reason).inc(now - seen)
                self._assembler_drops[reason] = now

    def _yield(self) -> None:
        # See "Accepting comes first" in the module docstring.
        if self._spool.depth_spans < self._roomy_below:
            until = time.monotonic() + _STEP_ASIDE_MAX_SECONDS
            while self._senders_waiting() and time.monotonic() < until:
                time.sleep(_STEP_ASIDE_SECONDS)
        _offer_gil()
