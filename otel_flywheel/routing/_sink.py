"""`RoutingSink`: verdicts and feedback in, writes into the durable outbox.

It is the pipeline's ``VerdictSink`` and the server's (and ``otel_flywheel.feedback()``'s)
``FeedbackSink``. For each verdict it stores the trace (feedback may follow), applies the routing
rules, dedupes and caps examples in the `RoutingStore` ledger, and puts the writes in the outbox in
one call. Nothing here talks to Phoenix: the outbox worker does, later, with retries.

Feedback is redacted here before it is stored or routed: corrections and reasons are user text.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

from otel_flywheel._feedback import ImplicitSignalDetector
from otel_flywheel.config import RoutingSettings, resolve_settings
from otel_flywheel.model import AgentTrace, Feedback, Verdict
from otel_flywheel.outbox import Outbox, OutboxWorker
from otel_flywheel.privacy import Redactor, redact_feedback
from otel_flywheel.routing._router import ExampleCandidate, Router
from otel_flywheel.routing._store import RoutingStore
from otel_flywheel.sinks import Write

__all__ = ["RoutingSink"]

logger = logging.getLogger(__name__)

# Explicit human feedback outranks what the evaluators inferred: a correction replaces the
# example a judged failure routed for the same input.
_RANK_INFERRED = 0
_RANK_EXPLICIT = 1


class RoutingSink:
    """Routes into ``outbox``; owns ``store`` and ``worker`` (closed at ``shutdown``) if given.

    ``signals`` detects implicit feedback in the sessions of the traces it sees. ``on_feedback`` is
    told about every feedback (the pipeline's ``notify_feedback``, so negative feedback gets a
    trace judged).
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        store: RoutingStore,
        settings: RoutingSettings | None = None,
        worker: OutboxWorker | None = None,
        redactor: Redactor | None = None,
        signals: ImplicitSignalDetector | None = None,
        on_feedback: Callable[[Feedback], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.store = store
        self.settings = settings if settings is not None else resolve_settings(RoutingSettings)
        self.router = Router(
            self.settings,
            category_counts=lambda: store.category_counts(
                window_seconds=self.settings.category_window_seconds
            ),
        )
        self._worker = worker
        self._redactor = redactor
        self._signals = signals
        self.on_feedback = on_feedback
        self._lock = threading.Lock()  # guards _counts
        self._counts: Counter[str] = Counter()
        self._closed = False

    # ---------------------------------------------------------------------------- verdicts

    def submit_verdict(self, trace: AgentTrace, verdict: Verdict) -> None:
        """Route ``verdict``; when this returns, its writes are committed to the outbox.

        Safe to repeat for the same trace (``serve`` judges a trace again after a crash that came
        before this returned): the same verdict gives the same write keys, a claim already made
        for this trace is made again, and waiting feedback is forgotten only once its writes are
        in the outbox.
        """
        self.store.put_trace(trace, verdict)
        writes: list[Write] = list(self.router.verdict_annotations(trace, verdict))
        writes += self._claim(self.router.verdict_examples(trace, verdict), verdict, _RANK_INFERRED)
        waiting = self.store.pending_feedback_for(trace)
        for feedback in waiting:
            writes += self._feedback_writes(trace, verdict, feedback)
        self._put(writes)
        self.store.drop_pending_feedback([feedback.feedback_id for feedback in waiting])
        if self._signals is not None:
            for signal in [*self._signals.observe(trace, verdict), *self._signals.sweep()]:
                self.submit_feedback(signal)

    # ---------------------------------------------------------------------------- feedback

    def submit_feedback(self, feedback: Feedback) -> Feedback:
        """Route ``feedback`` (redacted first); returns what was stored."""
        feedback = self._redacted(feedback)
        stored = self.store.get_trace(trace_id=feedback.trace_id, span_id=feedback.span_id)
        if stored is None:
            # The trace has not been evaluated here (yet): annotate now, since Phoenix may
            # already hold it; build examples when the trace arrives.
            self.store.put_pending_feedback(feedback)
            self._put([self.router.feedback_annotation(None, feedback)])
            self._count("feedback_pending")
        else:
            self._put(self._feedback_writes(stored.trace, stored.verdict, feedback))
        if self.on_feedback is not None:
            try:
                self.on_feedback(feedback)
            except Exception:
                logger.exception("on_feedback callback failed for %s", feedback.feedback_id)
        return feedback

    # --------------------------------------------------------------------------- lifecycle

    def counts(self) -> dict[str, int]:
        """Writes put, examples routed / duplicate / capped / upgraded, feedback pending."""
        with self._lock:
            return dict(self._counts)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._worker.force_flush(timeout_millis) if self._worker is not None else True

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.shutdown()
        self.store.close()

    # --------------------------------------------------------------------------- internals

    def _feedback_writes(
        self, trace: AgentTrace, verdict: Verdict | None, feedback: Feedback
    ) -> list[Write]:
        writes: list[Write] = [self.router.feedback_annotation(trace, feedback)]
        rank = _RANK_EXPLICIT if feedback.explicit else _RANK_INFERRED
        writes += self._claim(
            self.router.feedback_examples(trace, feedback, verdict), verdict, rank
        )
        return writes

    def _claim(
        self, examples: Sequence[ExampleCandidate], verdict: Verdict | None, rank: int
    ) -> list[Write]:
        writes: list[Write] = []
        for routed in examples:
            write = self.router.example_write(routed, verdict)
            claim = self.store.claim_example(
                dataset=write.dataset,
                example_id=write.example_id,
                category=routed.category,
                trace_id=routed.trace.trace_id,
                user_id=routed.trace.user_id,
                rank=rank,
                cap=self.settings.max_examples_per_category,
                window_seconds=self.settings.category_window_seconds,
            )
            self._count(f"examples_{claim.outcome}")
            if claim.outcome in ("routed", "upgraded"):
                writes.append(replace(write, relink=True) if claim.relink else write)
        return writes

    def _put(self, writes: Sequence[Write]) -> None:
        if writes:
            self.outbox.put(writes)
            self._count("writes", len(writes))

    def _redacted(self, feedback: Feedback) -> Feedback:
        return feedback if self._redactor is None else redact_feedback(feedback, self._redactor)

    def _count(self, name: str, value: int = 1) -> None:
        with self._lock:
            self._counts[name] += value
