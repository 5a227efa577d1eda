"""Times as people type them on a command line: a duration back from now, or an ISO 8601 time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Final

__all__ = ["parse_duration_seconds", "parse_time_bound"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration_seconds(text: str) -> float | None:
    """``45s``, ``30m``, ``1h30m``, ``2d``, ``1w`` in seconds; ``None`` when it is not one."""
    lowered = text.strip().lower()
    parts = _DURATION_PART.findall(lowered)
    if parts and "".join(number + unit for number, unit in parts) == lowered:
        return sum(float(n) * _UNITS[unit] for n, unit in parts)
    return None


def parse_time_bound(text: str, *, now: datetime) -> datetime:
    """``30m`` / ``1h30m`` / ``2d`` back from ``now``, or an ISO 8601 time (no zone means UTC)."""
    value = text.strip()
    seconds = parse_duration_seconds(value)
    if seconds is not None:
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (45s, 30m, 1h, 2d, 1w, 1h30m) nor an ISO time "
            "(2026-11-21T09:00:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
