"""Spooled feedback to the ``FeedbackSink``: held feedback settled, the rest redacted and handed
over, released once the sink took it (the flywheel's routing commits it to the outbox first).

Held feedback (``unknown_trace_feedback: hold``) becomes ready as soon as its trace or span is
known to the spool, and is dropped, counted and logged when ``feedback_hold_seconds`` pass first.
Runs on the ingest worker's thread.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Final

from pydantic import ValidationError

from otel_flywheel.model import Feedback
from otel_flywheel.privacy import Redactor
from otel_flywheel.server._feedback import FeedbackSink, redact_feedback
from otel_flywheel.server._metrics import ServerMetrics
from otel_flywheel.server._spool import Spool

__all__ = ["FeedbackDelivery"]

logger = logging.getLogger(__name__)

_BATCH: Final = 256
_RETRY_SECONDS: Final = 1.0
_SETTLE_INTERVAL_SECONDS: Final = 1.0


class FeedbackDelivery:
    def __init__(
        self,
        spool: Spool,
        sink: FeedbackSink,
        *,
        metrics: ServerMetrics,
        redactor: Redactor | None,
    ) -> None:
        self._spool = spool
        self._sink = sink
        self._sink_name = type(sink).__qualname__
        self._metrics = metrics
        self._redactor = redactor
        self._retry_at = 0.0  # time.monotonic()
        self._next_settle = 0.0

    def run(self, *, final: bool) -> None:
        """Settle held feedback (at most once a second), then deliver what is ready."""
        now = time.monotonic()
        if final or now >= self._next_settle:
            self._next_settle = now + _SETTLE_INTERVAL_SECONDS
            self._settle_held()
        if self._spool.depth_feedback - self._spool.depth_held_feedback <= 0:
            return
        if not final and now < self._retry_at:
            return
        self._deliver()

    def _settle_held(self) -> None:
        ready, expired = self._spool.settle_held(now_unix_nano=time.time_ns())
        if expired:
            self._metrics.feedback_expired.inc(len(expired))
            logger.warning(
                "dropped %d held feedback records whose trace did not arrive in time (%s%s); "
                "raise feedback_hold_seconds if traces reach this server later than that",
                len(expired),
                ", ".join(expired[:5]),
                ", ..." if len(expired) > 5 else "",
            )
        if ready:
            logger.debug("%d held feedback records found their trace", ready)

    def _deliver(self) -> None:
        # Delivered rows are deleted, so the oldest ready rows are always the next ones.
        rows = self._spool.read_feedback(after_row=0, limit=_BATCH)
        delivered: list[int] = []
        for row in rows:
            try:
                feedback = Feedback.from_dict(json.loads(row.payload))
            except (ValueError, ValidationError):
                logger.error("spooled feedback %s is unreadable; dropped", row.feedback_id)
                delivered.append(row.row_id)
                continue
            if self._redactor is not None:
                feedback = redact_feedback(feedback, self._redactor)
            try:
                self._sink.submit_feedback(feedback)
            except Exception:
                self._metrics.feedback_errors.inc()
                logger.exception(
                    "feedback sink %s failed to accept feedback %s; it stays in the spool",
                    self._sink_name,
                    row.feedback_id,
                )
                self._retry_at = time.monotonic() + _RETRY_SECONDS
                break
            self._metrics.feedback_submitted.inc()
            delivered.append(row.row_id)
        self._spool.release_feedback(delivered)
