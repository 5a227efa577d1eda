"""How Phoenix's HTTP answers map onto write outcomes (status codes, Retry-After, 404 details).

Measured against Phoenix 20.26 (see docs/decisions.md, "Outbox and Phoenix sink"):

- A synchronous annotation batch that names an unknown span or trace is rejected whole with 404 and
  the detail ``Spans with IDs a, b do not exist.`` (``Traces with IDs ...`` for traces): the ids
  are parsed out so that the rest of the batch can be sent again at once.
- 400, 409, 413 and 422 can never succeed as sent: the batch is split until the write Phoenix
  rejects is found, and only that one goes dead.
- 408, 429 and 5xx are transient (Phoenix is down, restarting or overloaded): ``retry``, for as
  long as it takes.
- 401/403, a 404 without ids (a wrong base URL), any other status, and a success whose body is not
  the JSON Phoenix sends (a proxy's HTML page answered with 200) are ``failed``: waiting alone will
  not fix them, so the outbox retries them a bounded number of times, then parks them as dead
  (``otel-flywheel outbox retry`` once the URL or key is fixed).
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

from otel_flywheel.sinks import WriteOutcome

__all__ = [
    "REJECTED_STATUSES",
    "failure_outcome",
    "malformed_outcome",
    "missing_ids",
    "response_detail",
    "retry_after_seconds",
]

REJECTED_STATUSES: Final = frozenset({400, 409, 413, 422})
"""Answers that say the request itself is wrong: resending it unchanged would fail again."""
_TRANSIENT_STATUSES: Final = frozenset({408, 429})
_SHOWN_BODY_CHARS: Final = 120

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


def failure_outcome(response: httpx.Response, *, base_url: str) -> WriteOutcome:
    """What an error answer means: ``retry`` when it passes by itself, ``failed`` when someone
    must fix something; the reason says what Phoenix answered and, where we can tell, the fix."""
    status = response.status_code
    delay = retry_after_seconds(response.headers.get("retry-after"))
    detail = response_detail(response)
    if status >= 500 or status in _TRANSIENT_STATUSES:
        return WriteOutcome.retry(
            f"Phoenix at {base_url} answered HTTP {status}: {detail}", retry_after_seconds=delay
        )
    if status in (401, 403):
        return WriteOutcome.failed(
            f"Phoenix at {base_url} refused the request (HTTP {status}: {detail}); set "
            "PHOENIX_API_KEY (or pass api_key=) to a key that may write annotations and datasets",
            retry_after_seconds=max(delay or 0.0, _AUTH_RETRY_SECONDS),
        )
    if status == 404:
        return WriteOutcome.failed(
            f"Phoenix at {base_url} answered 404 ({detail}); check that it is Phoenix's base URL "
            "(without /v1/traces) and that the server is 20.x or newer",
            retry_after_seconds=delay,
        )
    return WriteOutcome.failed(
        f"Phoenix at {base_url} answered HTTP {status}: {detail}; check the URL points at Phoenix",
        retry_after_seconds=delay,
    )


def malformed_outcome(response: httpx.Response, *, base_url: str, expected: str) -> WriteOutcome:
    """A success whose body is not what Phoenix sends: something else answers at that URL."""
    content_type = response.headers.get("content-type", "no content type")
    shown = " ".join(response.text.split())[:_SHOWN_BODY_CHARS]
    return WriteOutcome.failed(
        f"Phoenix at {base_url} answered HTTP {response.status_code} with {content_type}, not "
        f"{expected} ({shown!r}): a proxy or another server answers at this URL; check that it "
        "is Phoenix's base URL"
    )


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
