"""Time windows: what ``--current`` and ``--baseline`` mean, and the buckets of the trend plots.

``START..END`` takes RFC 3339 times or durations back from now on either side (``14d..7d``); a
lone duration (``7d``) is the window from then until now. Without ``--current`` the report looks
at the data it has: the latest half of the time it covers, at most 7 days, ending at the newest
verdict; without ``--baseline``, the window of the same length just before the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from otel_flywheel.times import parse_duration_seconds, parse_time_bound

__all__ = ["Window", "bucket_unit", "default_windows", "parse_window", "previous_window"]

_MAX_DEFAULT: Final = timedelta(days=7)


@dataclass(frozen=True)
class Window:
    """``[start, end)``, in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(
                f"a window must end after it starts: {self.start.isoformat()} .. "
                f"{self.end.isoformat()}"
            )

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def to_dict(self) -> dict[str, str]:
        return {"start": _rfc3339(self.start), "end": _rfc3339(self.end)}

    def __str__(self) -> str:
        return f"{_rfc3339(self.start)} .. {_rfc3339(self.end)}"


def parse_window(text: str, *, now: datetime, option: str = "--current") -> Window:
    """``START..END`` or a lone duration; raises ``ValueError`` naming ``option``."""
    value = text.strip()
    try:
        if ".." not in value:
            seconds = parse_duration_seconds(value)
            if seconds is None:
                raise ValueError(f"{value!r} is neither START..END nor a duration such as 7d")
            return Window(now - timedelta(seconds=seconds), now)
        start_text, end_text = value.split("..", 1)
        start = parse_time_bound(start_text, now=now)
        end = parse_time_bound(end_text, now=now) if end_text.strip() else now
        return Window(start, end)
    except ValueError as error:
        raise ValueError(
            f"{option} {text!r}: {error}. Write START..END with RFC 3339 times or durations "
            "back from now (2026-11-01T00:00:00Z..2026-11-08T00:00:00Z, 14d..7d), or one "
            "duration (7d)"
        ) from None


def previous_window(window: Window) -> Window:
    return Window(window.start - window.length, window.start)


def default_windows(first: datetime, last: datetime) -> tuple[Window, Window]:
    """(baseline, current) for data covering ``[first, last]``."""
    end = last + timedelta(microseconds=1)  # the newest verdict is inside the window
    span = end - first
    length = min(_MAX_DEFAULT, span / 2) if span > timedelta(0) else timedelta(hours=1)
    current = Window(end - length, end)
    return previous_window(current), current


def bucket_unit(span: timedelta) -> str:
    """The trend plot's bucket for data covering ``span``: hour, day or week."""
    if span <= timedelta(days=2):
        return "hour"
    if span <= timedelta(days=90):
        return "day"
    return "week"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
