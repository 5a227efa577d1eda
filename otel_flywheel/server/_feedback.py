"""Where ``POST /v1/feedback`` hands feedback once it is spooled: a ``FeedbackSink``.

``serve`` passes its flywheel (routing: feedback attached to traces, corrections into datasets);
with ``--pipeline`` of your own, the default sink logs one line per record. Feedback text is redacted like span text before
any sink sees it: a correction typed by a user can carry the same PII as their question.
"""

from __future__ import annotations

import logging

from otel_flywheel._feedback import FeedbackSink
from otel_flywheel.model import Feedback
from otel_flywheel.privacy import redact_feedback

__all__ = ["FeedbackSink", "LoggingFeedbackSink", "redact_feedback"]

logger = logging.getLogger(__name__)


class LoggingFeedbackSink:
    """The default until routing is configured: one INFO line per record, without its text."""

    def submit_feedback(self, feedback: Feedback) -> None:
        logger.info(
            "feedback %s from %s on trace %s span %s: thumbs=%s correction=%s preference=%s "
            "signal=%s",
            feedback.feedback_id,
            feedback.sender,
            feedback.trace_id,
            feedback.span_id,
            feedback.thumbs,
            feedback.correction is not None,
            feedback.chosen is not None,
            feedback.signal,
        )
