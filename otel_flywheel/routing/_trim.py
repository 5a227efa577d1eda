"""Fitting a trace into the routing store's per-trace budget.

The store keeps each evaluated trace so that feedback arriving later can become dataset examples.
Agents put whole web pages, files and tool dumps into span attributes, so one trace can weigh
megabytes; the store keeps what examples are built from and trims the rest, in this order, until
the trace's JSON fits ``max_bytes``:

1. raw span attributes larger than ``_MAX_KEPT_ATTRIBUTE_BYTES`` (the typed fields the normalizer
   read from them stay: messages, tool calls, documents);
2. every string longer than a limit that halves each round, down to ``_MIN_STRING_CHARS``, cut
   with a marker saying how much was left out;
3. the last steps (never the root, which holds the goal and the answer).

A trimmed trace says so in its ``warnings``.
"""

from __future__ import annotations

import json
from typing import Any, Final

from otel_flywheel.model import AgentTrace

__all__ = ["fit_trace_json"]

_MAX_KEPT_ATTRIBUTE_BYTES: Final = 1024
_FIRST_STRING_CHARS: Final = 65_536
_MIN_STRING_CHARS: Final = 256


def fit_trace_json(trace: AgentTrace, *, max_bytes: int) -> tuple[str, bool]:
    """``trace`` as JSON of at most ``max_bytes`` UTF-8 bytes, and whether it had to be trimmed."""
    text = trace.to_json()
    if _size(text) <= max_bytes:
        return text, False
    data = trace.to_dict()
    removed_attributes = _drop_large_attributes(data)
    text = _dumps(data)
    limit = _FIRST_STRING_CHARS
    cut_strings = False
    while _size(text) > max_bytes and limit >= _MIN_STRING_CHARS:
        cut_strings = _cut_strings(data, limit) or cut_strings
        text = _dumps(data)
        limit //= 2
    dropped_steps = 0
    steps: list[Any] = data["steps"]
    while _size(text) > max_bytes and len(steps) > 1:
        # Halve what is dropped each time rather than one step per dump: thousands of steps.
        drop = max(1, (len(steps) - 1) // 2) if _size(text) > 2 * max_bytes else 1
        del steps[len(steps) - drop :]
        dropped_steps += drop
        text = _dumps(data)
    what = []
    if removed_attributes:
        what.append(f"{removed_attributes} raw attributes over {_MAX_KEPT_ATTRIBUTE_BYTES} bytes")
    if cut_strings:
        what.append("long strings cut")
    if dropped_steps:
        what.append(f"the last {dropped_steps} steps")
    data["warnings"] = [
        *data.get("warnings", []),
        f"stored trimmed to the routing store's {max_bytes}-byte limit per trace: "
        + ", ".join(what),
    ]
    # Round-trip through the model: what is stored must read back as an AgentTrace.
    return AgentTrace.from_dict(data).to_json(), True


def _drop_large_attributes(data: dict[str, Any]) -> int:
    removed = 0
    for step in data["steps"]:
        attributes: dict[str, Any] = step.get("attributes") or {}
        for key in [
            k for k, v in attributes.items() if _size(_dumps(v)) > _MAX_KEPT_ATTRIBUTE_BYTES
        ]:
            del attributes[key]
            removed += 1
    return removed


def _cut_strings(value: Any, limit: int) -> bool:
    """Cut every string in ``value`` (nested dicts and lists) to ``limit`` characters, in place."""
    cut = False
    items: Any = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in list(items):
        if isinstance(item, str) and len(item) > limit:
            value[key] = f"{item[:limit]}... [{len(item) - limit} characters not stored]"
            cut = True
        elif isinstance(item, dict | list):
            cut = _cut_strings(item, limit) or cut
    return cut


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))
