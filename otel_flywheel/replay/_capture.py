"""Capturing each replay run's trace with the flywheel's own span processor.

Replay starts a root span per run (an OpenInference CHAIN span holding the example's input and
the task's output) and runs the task under it, so every span the agent makes joins that trace. A
`FlywheelSpanProcessor` assembles, normalizes and redacts the trace exactly as in production; the
runner awaits it by trace id.

The processor sits behind a filter that passes only the spans of runs in flight: replay may share
the process's global provider with other work, and that work is not ours to assemble. A span
processor cannot be removed from an SDK provider, so there is one capture per provider, reused by
every replay on it (the pytest plugin runs many).
"""

from __future__ import annotations

import concurrent.futures
import threading
import weakref
from typing import TYPE_CHECKING, Final

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import Tracer, format_trace_id

from otel_flywheel.capture import FlywheelSpanProcessor
from otel_flywheel.model import AgentTrace

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span

__all__ = ["RunCapture"]

# A replay run's root span ends after the task returned, so its children have ended too; the
# grace only covers work the agent left running in the background.
TRACE_GRACE_MILLIS: Final = 200
SCHEDULE_DELAY_MILLIS: Final = 50
TRACER_NAME: Final = "otel_flywheel.replay"

_lock = threading.Lock()  # guards _captures
_captures: weakref.WeakKeyDictionary[TracerProvider, RunCapture] = weakref.WeakKeyDictionary()


class RunCapture:
    """Traces of replay runs on ``tracer_provider``, awaited by trace id.

    Use `for_provider` rather than the constructor: it reuses the capture already on a provider.
    """

    def __init__(self, tracer_provider: TracerProvider) -> None:
        self.tracer_provider = tracer_provider
        self._collector = _Collector()
        # Redacted as at capture (FLYWHEEL_REDACTION_*): the judge never sees raw data. Every
        # run is kept, whatever FLYWHEEL_SAMPLE_RATIO says.
        self._processor = FlywheelSpanProcessor(
            pipeline=self._collector,
            trace_grace_millis=TRACE_GRACE_MILLIS,
            schedule_delay_millis=SCHEDULE_DELAY_MILLIS,
            sample_ratio=1.0,
        )
        self._filter = _RunSpans(self._processor)
        tracer_provider.add_span_processor(self._filter)

    @staticmethod
    def for_provider(tracer_provider: TracerProvider) -> RunCapture:
        with _lock:
            capture = _captures.get(tracer_provider)
            if capture is None:
                capture = _captures[tracer_provider] = RunCapture(tracer_provider)
            return capture

    @property
    def tracer(self) -> Tracer:
        return self.tracer_provider.get_tracer(TRACER_NAME)

    def expect(self, trace_id: int) -> concurrent.futures.Future[AgentTrace]:
        """Start capturing ``trace_id``; the future resolves with its trace once it closes."""
        future = self._collector.expect(format_trace_id(trace_id))
        self._filter.watch(trace_id)
        return future

    def forget(self, trace_id: int) -> None:
        """Stop waiting for ``trace_id`` (its trace arrived, or the run gave up on it)."""
        self._filter.unwatch(trace_id)
        self._collector.forget(format_trace_id(trace_id))

    @property
    def dropped(self) -> dict[str, int]:
        return dict(self._processor.dropped)


class _Collector:
    """The processor's pipeline: hands each expected trace to whoever awaits it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _pending
        self._pending: dict[str, concurrent.futures.Future[AgentTrace]] = {}

    def expect(self, trace_id: str) -> concurrent.futures.Future[AgentTrace]:
        future: concurrent.futures.Future[AgentTrace] = concurrent.futures.Future()
        with self._lock:
            self._pending[trace_id] = future
        return future

    def forget(self, trace_id: str) -> None:
        with self._lock:
            self._pending.pop(trace_id, None)

    def submit(self, trace: AgentTrace) -> None:
        with self._lock:
            future = self._pending.pop(trace.trace_id, None)
        if future is not None and not future.done():
            future.set_result(trace)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # submit hands traces over at once

    def shutdown(self) -> None:
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for future in pending:
            if not future.done():
                future.set_exception(RuntimeError("the replay capture was shut down"))


class _RunSpans(SpanProcessor):
    """Passes the spans of watched traces to the flywheel processor, and nothing else."""

    def __init__(self, inner: FlywheelSpanProcessor) -> None:
        self._inner = inner
        self._lock = threading.Lock()  # guards writes of _watched
        # Replaced, never mutated: on_end reads it without the lock (hot path).
        self._watched: frozenset[int] = frozenset()

    def watch(self, trace_id: int) -> None:
        with self._lock:
            self._watched = self._watched | {trace_id}

    def unwatch(self, trace_id: int) -> None:
        with self._lock:
            self._watched = self._watched - {trace_id}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None  # traces are assembled from ended spans only

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is not None and context.trace_id in self._watched:
            self._inner.on_end(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._inner.shutdown()
