"""When to retry a judge request, and how long to wait first.

Transport trouble (timeouts, dropped connections) and the server's own trouble (408, 409, 429,
5xx) are transient: retried with exponential backoff and jitter, or after the server's
``Retry-After`` when it sends one (capped). Everything else is permanent: a 4xx other than those
says the request itself is wrong, and sending it again cannot help.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from datetime import timezone

import openai

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "is_retryable", "retry_after_seconds"]

RETRYABLE_STATUSES = frozenset({408, 409, 429})


def is_retryable(error: BaseException) -> bool:
    """Whether sending the same request again may succeed."""
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code in RETRYABLE_STATUSES or error.status_code >= 500
    return False


def retry_after_seconds(error: BaseException, *, now: float | None = None) -> float | None:
    """The wait the server asked for: ``retry-after-ms``, or ``Retry-After`` in seconds or as an
    HTTP date. ``None`` when absent or unreadable."""
    if not isinstance(error, openai.APIStatusError):
        return None
    headers = error.response.headers
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """``max_retries`` retries after the first attempt (so ``max_retries + 1`` attempts at most)."""

    max_retries: int = 5
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    retry_after_cap_seconds: float = 60.0

    def delay(self, retry: int, error: BaseException) -> float:
        """Seconds to wait before retry number ``retry`` (1-based) after ``error``.

        The server's ``Retry-After`` wins (capped at ``retry_after_cap_seconds``); otherwise
        exponential backoff with jitter (half to all of the step), at most ``backoff_max_seconds``.
        """
        asked = retry_after_seconds(error)
        if asked is not None:
            return min(asked, self.retry_after_cap_seconds)
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (retry - 1))
        return random.uniform(ceiling / 2, ceiling)
