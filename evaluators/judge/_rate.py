"""An optional cap on the judge's request rate: a small async token bucket."""

from __future__ import annotations

import asyncio
import time

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``per_second`` requests a second on average, bursts of up to ``burst``.

    Waiters are served in arrival order: each takes a token as it is granted, so no waiter can
    starve another. Use from one event loop.
    """

    def __init__(self, per_second: float, *, burst: int = 1) -> None:
        if per_second <= 0:
            raise ValueError(f"per_second must be > 0, got {per_second}")
        self._interval = 1.0 / per_second
        self._tolerance = self._interval * (max(1, burst) - 1)
        # GCRA: the theoretical arrival time of the next request.
        self._next_at = time.monotonic()

    async def acquire(self) -> None:
        """Wait until a request may be sent."""
        now = time.monotonic()
        due = max(self._next_at, now)
        self._next_at = due + self._interval
        wait = due - now - self._tolerance
        if wait > 0:
            await asyncio.sleep(wait)
