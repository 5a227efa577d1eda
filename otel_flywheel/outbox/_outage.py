"""One log line when deliveries start failing and one when they resume; nothing per batch.

An outage is a run of sink calls that delivered nothing: every write came back ``retry`` or
``failed``, or the sink raised. Its first call logs a WARNING with the reason (and the traceback,
when the sink raised), so that Phoenix answering 500, or a proxy answering 200 with HTML, is seen
at the default log level; the calls after it log at DEBUG. The first call that delivers again
logs how long the outage lasted. ``/metrics`` and ``otel-flywheel outbox status`` show the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["OutageLog"]

logger = logging.getLogger("otel_flywheel.outbox")


class OutageLog:
    """Thread-safe; ``clock`` is monotonic seconds."""

    def __init__(self, sink_name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._sink_name = sink_name
        self._clock = clock
        self._lock = threading.Lock()  # guards the fields below
        self._since: float | None = None
        self._failed_calls = 0
        self._last_reason = ""

    @property
    def sink_up(self) -> bool:
        return self._since is None

    def outage_seconds(self) -> float:
        """How long deliveries have been failing; 0.0 while they work."""
        with self._lock:
            return 0.0 if self._since is None else max(0.0, self._clock() - self._since)

    @property
    def last_reason(self) -> str:
        return self._last_reason

    def failed(self, reason: str, *, writes: int, error: BaseException | None = None) -> None:
        """A sink call delivered none of its ``writes``."""
        with self._lock:
            starting = self._since is None
            if starting:
                self._since = self._clock()
                self._failed_calls = 0
            self._failed_calls += 1
            self._last_reason = reason
        if starting:
            logger.warning(
                "deliveries to %s are failing: %s. Writes wait in the outbox and are retried with "
                "backoff; this is logged once per outage (`otel-flywheel outbox status` shows the "
                "writes, /metrics flywheel_outbox_sink_up)",
                self._sink_name,
                reason,
                exc_info=error,
            )
        else:
            logger.debug("%s still failing (%d writes): %s", self._sink_name, writes, reason)

    def delivered(self) -> None:
        """A sink call delivered something: an outage, if any, is over."""
        with self._lock:
            since, calls = self._since, self._failed_calls
            self._since = None
        if since is not None:
            logger.warning(
                "deliveries to %s resumed after %.0f s (%d failed calls meanwhile)",
                self._sink_name,
                self._clock() - since,
                calls,
            )
