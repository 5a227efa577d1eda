"""How Phoenix's HTTP answers map onto write outcomes (status codes, Retry-After, 404 details).

Measured against Phoenix 20.26 (see docs/decisions.md, "Outbox and Phoenix sink"):

- A synchronous annotation batch that names an unknown span or trace is rejected whole with 404 and
  the detail ``Spans with IDs a, b do not exist.`` (``Traces with IDs ...`` for traces): the ids
  are parsed out so that the rest of the batch can be sent again at once.
- 400, 409, 413 and 422 can never succeed as sent: the batch is split until the write Phoenix
  rejects is found, and only that one goes dead.
- Everything else (429, 5xx, 401/403, a 404 without ids, a proxy's error page) is retried: a
  misconfigured URL or key delays delivery until someone fixes it, it does not lose writes.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Collection
from datetime import datetime, timezone
from typing import Final

import httpx

from otel_flywheel.sinks._sink import WriteOutcome

__all__ = [
    "REJECTED_STATUSES",
    "missing_ids",
    "response_detail",
    "retry_after_seconds",
    "retry_outcome",
]

REJECTED_STATUSES: Final = frozenset({400, 409, 413, 422})
"""Answers that say the request itself is wrong: resending it unchanged would fail again."""

_AUTH_RETRY_SECONDS: Final = 60.0
_MAX_DETAIL_CHARS: Final = 500
_MISSING_IDS = re.compile(r"(?:Spans|Traces) with IDs (?P<ids>.+?) do not exist")


def missing_ids(response: httpx.Response, candidates: Collection[str]) -> set[str]:
    """The ids a 404 says do not exist, limited to ``candidates``; empty when it names none."""
    match = _MISSING_IDS.search(response.text)
    if match is None:
        return set()
    named = {part.strip() for part in match.group("ids").split(",")}
    return named.intersection(candidates)


def retry_outcome(response: httpx.Response, *, base_url: str) -> WriteOutcome:
    """A ``retry`` saying what Phoenix answered and, where we can tell, what to fix."""
    status = response.status_code
    delay = retry_after_seconds(response.headers.get("retry-after"))
    detail = response_detail(response)
    if status in (401, 403):
        reason = (
            f"Phoenix at {base_url} refused the request (HTTP {status}: {detail}); set "
            "PHOENIX_API_KEY (or pass api_key=) to a key that may write annotations and datasets"
        )
        delay = max(delay or 0.0, _AUTH_RETRY_SECONDS)
    elif status == 404:
        reason = (
            f"Phoenix at {base_url} answered 404 ({detail}); check that it is Phoenix's base URL "
            "(without /v1/traces) and that the server is 20.x or newer"
        )
    else:
        reason = f"Phoenix at {base_url} answered HTTP {status}: {detail}"
    return WriteOutcome.retry(reason, retry_after_seconds=delay)


def response_detail(response: httpx.Response) -> str:
    """The server's message: FastAPI's ``detail`` when the body is JSON, else the text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text
    else:
        detail = body.get("detail", body) if isinstance(body, dict) else body
        text = detail if isinstance(detail, str) else json.dumps(detail)
    text = " ".join(text.split()) or response.reason_phrase
    if len(text) > _MAX_DETAIL_CHARS:
        text = text[: _MAX_DETAIL_CHARS - 3] + "..."
    return text


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); ``None`` if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
