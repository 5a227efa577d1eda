"""Trace assembly: group ended spans by trace id and decide when each trace is over.

Pure and clock-injected: no threads, no locks, no wall clock. Every call takes ``now_ns`` from
its caller (the capture worker passes a monotonic clock, tests a step clock), so the timing rules
below are tested without sleeping. An instance belongs to one thread; it is not thread-safe.

When a trace closes:

- ``root_ended``: its root span (no parent, or a remote parent) has ended and
  ``trace_grace_millis`` passed since the assembler saw it, for children that end after their
  parent (async work). The grace period is fixed: a child arriving during it does not extend it.
- ``idle_timeout``: the root never arrived and no span of the trace arrived for
  ``trace_idle_timeout_millis``. The trace is closed with ``complete=False``.
- ``buffer_full``: a span of a new trace arrived while ``max_buffered_traces`` traces were open.
  The oldest open trace (by first span seen) is closed early rather than dropping anything.
- ``flush``: ``pop_all`` closed it (force_flush or shutdown).

Memory is bounded: at most ``max_buffered_traces`` open traces of at most
``max_spans_per_trace`` spans each (plus the root, which is always kept: it carries the goal and
the final output, and marks the trace complete), and at most ``max_closed_trace_ids`` remembered
closed trace ids.

A span whose id the open trace already holds (an exporter's retry delivered it twice) is dropped
and counted as ``duplicate_span``. A span that arrives for a trace already closed is dropped and
counted as ``late_span``, rather
than opening a second, fragmentary trace with the same id that evaluators would judge as a
separate run. Closed ids are remembered in a bounded LRU; a span later than that memory reaches
opens a new trace, which closes as incomplete on its idle timeout.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal

from otel_flywheel.conventions import SpanView
from otel_flywheel.errors import ConfigError

if TYPE_CHECKING:
    from otel_flywheel.config import CaptureSettings

__all__ = ["CloseReason", "ClosedTrace", "TraceAssembler"]

CloseReason = Literal["root_ended", "idle_timeout", "buffer_full", "flush"]

DEFAULT_MAX_CLOSED_TRACE_IDS: Final = 10_000
_NANOS_PER_MILLI: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class ClosedTrace:
    """The spans of one trace, in arrival order, and why and how the assembler closed it.

    ``complete`` is true when the root span arrived; ``truncated`` when spans past
    ``max_spans_per_trace`` were dropped.
    """

    trace_id: str
    spans: list[SpanView]
    complete: bool
    truncated: bool
    close_reason: CloseReason


@dataclass(slots=True)
class _OpenTrace:
    spans: list[SpanView]
    last_span_ns: int
    span_ids: set[str] = field(default_factory=set)
    root_ended_ns: int | None = None
    truncated: bool = False


class TraceAssembler:
    """Collects ``SpanView``s into ``ClosedTrace``s. See the module docstring for the rules."""

    def __init__(
        self,
        *,
        trace_grace_millis: int = 1000,
        trace_idle_timeout_millis: int = 30_000,
        max_buffered_traces: int = 1000,
        max_spans_per_trace: int = 2000,
        max_closed_trace_ids: int = DEFAULT_MAX_CLOSED_TRACE_IDS,
    ) -> None:
        for name, value, minimum in (
            ("trace_grace_millis", trace_grace_millis, 0),
            ("trace_idle_timeout_millis", trace_idle_timeout_millis, 1),
            ("max_buffered_traces", max_buffered_traces, 1),
            ("max_spans_per_trace", max_spans_per_trace, 1),
            ("max_closed_trace_ids", max_closed_trace_ids, 1),
        ):
            if value < minimum:
                raise ConfigError(f"{name}={value!r} is invalid: use an integer >= {minimum}")
        self._grace_ns = trace_grace_millis * _NANOS_PER_MILLI
        self._idle_ns = trace_idle_timeout_millis * _NANOS_PER_MILLI
        self._max_buffered_traces = max_buffered_traces
        self._max_spans_per_trace = max_spans_per_trace
        self._max_closed_trace_ids = max_closed_trace_ids
        # Open traces by id, oldest first (insertion order = first span seen).
        # At most max_buffered_traces.
        self._open: OrderedDict[str, _OpenTrace] = OrderedDict()
        # Recently closed trace ids, least recently used first. <= max_closed_trace_ids.
        self._closed_ids: OrderedDict[str, None] = OrderedDict()
        # Traces closed early inside add(), handed out by the next pop. Bounded by the number of
        # add() calls between pops (the capture worker pops after every drained batch).
        self._ready: list[ClosedTrace] = []
        # Fixed keys: a reader on another thread may copy it while the owner increments.
        self._counts: dict[str, int] = {
            "late_span": 0,
            "duplicate_span": 0,
            "trace_too_large": 0,
            "closed_early_buffer_full": 0,
        }

    @classmethod
    def from_settings(cls, settings: CaptureSettings) -> TraceAssembler:
        return cls(
            trace_grace_millis=settings.trace_grace_millis,
            trace_idle_timeout_millis=settings.trace_idle_timeout_millis,
            max_buffered_traces=settings.max_buffered_traces,
            max_spans_per_trace=settings.max_spans_per_trace,
        )

    @property
    def open_trace_count(self) -> int:
        return len(self._open)

    @property
    def counts(self) -> Mapping[str, int]:
        """Spans dropped (``late_span``, ``trace_too_large``) and traces closed early, by reason."""
        return MappingProxyType(dict(self._counts))

    def add(self, view: SpanView, *, now_ns: int, is_root: bool | None = None) -> None:
        """Add one ended span seen at ``now_ns``.

        ``is_root`` says whether the span is the root of this process's part of the trace; by
        default, a span without a parent. A caller that knows the parent is remote (a request that
        came in with a ``traceparent`` header) passes ``True``, or the trace would wait for its
        idle timeout.
        """
        trace_id = view.trace_id
        if trace_id in self._closed_ids:
            self._closed_ids.move_to_end(trace_id)  # still arriving: remember it a little longer
            self._counts["late_span"] += 1
            return
        trace = self._open.get(trace_id)
        if trace is None:
            if len(self._open) >= self._max_buffered_traces:
                oldest_id, oldest = self._open.popitem(last=False)
                self._ready.append(self._close(oldest_id, oldest, "buffer_full"))
                self._counts["closed_early_buffer_full"] += 1
            trace = self._open[trace_id] = _OpenTrace(spans=[], last_span_ns=now_ns)
        trace.last_span_ns = now_ns
        if view.span_id in trace.span_ids:
            # A retried export delivered it again (an OTLP client retries what a receiver took).
            self._counts["duplicate_span"] += 1
            return
        root = view.parent_id is None if is_root is None else is_root
        if not root and len(trace.spans) >= self._max_spans_per_trace:
            trace.truncated = True
            self._counts["trace_too_large"] += 1
            return
        trace.spans.append(view)
        trace.span_ids.add(view.span_id)
        if root and trace.root_ended_ns is None:
            trace.root_ended_ns = now_ns

    def pop_due(self, *, now_ns: int) -> list[ClosedTrace]:
        """Close and return the traces that are over at ``now_ns``, plus any closed early since the
        last pop, oldest first."""
        closed, self._ready = self._ready, []
        due = [trace_id for trace_id, trace in self._open.items() if self._is_due(trace, now_ns)]
        for trace_id in due:
            trace = self._open.pop(trace_id)
            reason: CloseReason = (
                "root_ended" if trace.root_ended_ns is not None else "idle_timeout"
            )
            closed.append(self._close(trace_id, trace, reason))
        return closed

    def pop_all(self) -> list[ClosedTrace]:
        """Close and return every open trace (``close_reason="flush"``): force_flush, shutdown.

        Traces whose root arrived are ``complete`` even if their grace period had not passed.
        """
        closed, self._ready = self._ready, []
        while self._open:
            trace_id, trace = self._open.popitem(last=False)
            closed.append(self._close(trace_id, trace, "flush"))
        return closed

    def _is_due(self, trace: _OpenTrace, now_ns: int) -> bool:
        if trace.root_ended_ns is not None:
            return now_ns - trace.root_ended_ns >= self._grace_ns
        return now_ns - trace.last_span_ns >= self._idle_ns

    def _close(self, trace_id: str, trace: _OpenTrace, reason: CloseReason) -> ClosedTrace:
        self._closed_ids[trace_id] = None
        if len(self._closed_ids) > self._max_closed_trace_ids:
            self._closed_ids.popitem(last=False)
        return ClosedTrace(
            trace_id=trace_id,
            spans=trace.spans,
            complete=trace.root_ended_ns is not None,
            truncated=trace.truncated,
            close_reason=reason,
        )
