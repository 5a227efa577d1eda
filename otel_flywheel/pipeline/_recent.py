"""What the pipeline remembers of the traces it evaluated last, for feedback that comes after.

Negative feedback on a trace the judge did not see (it was sampled out) sends that trace back to
be judged, once; and a trace that is still in the pipeline when negative feedback arrives is
judged whatever the sampling says. Both need the last ``limit`` traces, by trace id and by span
id (feedback may name either), and the ids that drew negative feedback. Thread-safe, bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from otel_flywheel.model import AgentTrace, Feedback

__all__ = ["RecentTraces"]

_SPANS_PER_TRACE = 64  # keeps the span index proportionate to the traces kept


@dataclass(kw_only=True)
class _Recent:
    trace: AgentTrace
    judged: bool


class RecentTraces:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()  # guards the three maps
        self._negative: OrderedDict[str, None] = OrderedDict()  # trace ids with negative feedback
        self._recent: OrderedDict[str, _Recent] = OrderedDict()
        self._span_traces: OrderedDict[str, str] = OrderedDict()  # span id -> trace id

    def remember(self, trace: AgentTrace, *, judged: bool) -> None:
        if self._limit == 0:
            return
        with self._lock:
            self._recent[trace.trace_id] = _Recent(trace=trace, judged=judged)
            self._recent.move_to_end(trace.trace_id)
            for step in trace.steps:
                self._span_traces[step.span_id] = trace.trace_id
            while len(self._recent) > self._limit:
                evicted, _ = self._recent.popitem(last=False)
                self._negative.pop(evicted, None)
            while len(self._span_traces) > self._limit * _SPANS_PER_TRACE:
                self._span_traces.popitem(last=False)

    def negative(self, feedback: Feedback, *, can_judge: bool) -> AgentTrace | None:
        """Record negative ``feedback``; the trace to judge again, if it was evaluated without
        the judge (once per trace, however much feedback comes in)."""
        with self._lock:
            trace_id = feedback.trace_id or self._span_traces.get(feedback.span_id or "")
            if trace_id is None:
                return None
            self._negative[trace_id] = None
            self._negative.move_to_end(trace_id)
            while len(self._negative) > max(self._limit, 1):
                self._negative.popitem(last=False)
            recent = self._recent.get(trace_id)
            if recent is None or recent.judged or not can_judge:
                return None
            recent.judged = True
            return recent.trace

    def drew_negative_feedback(self, trace_id: str) -> bool:
        with self._lock:
            return trace_id in self._negative
