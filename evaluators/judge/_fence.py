"""Judged text is data: the fences around it, and defusing anything in it that looks like a fence.

The trace, the references and (for a trace judged in parts) the parts' findings sit inside
``<trace_N>``, ``<references_N>`` and ``<findings_N>`` fences, where ``N`` is a nonce derived from the
content (so identical input gives an identical prompt and the cache still hits). Anything in the
data that looks like a fence tag (``</trace``, ``<references``, ``<system>``, full-width or
angle-quote look-alikes) is neutralized (``<\\/trace``), and the nonce itself is removed from the data
should it occur. The system message tells the judge that instructions inside the fences are data to
judge, not to follow.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Final

__all__ = ["NONCE_PLACEHOLDER", "fence", "fenced_message", "neutralize", "nonce_for", "quote"]

_FENCE_TAGS: Final = (
    "trace",
    "references",
    "findings",
    "system",
    "user",
    "assistant",
    "developer",
    "rubric",
)
# "<" and its look-alikes: full-width, small form, angle quotes and brackets.
_LT: Final = "<\uff1c\ufe64\u2039\u2329\u27e8\u3008"
_TAG_LOOKALIKE: Final = re.compile(
    rf"[{_LT}](\s*)([/\\\uff0f\u2215]?)(\s*)({'|'.join(_FENCE_TAGS)})",
    re.IGNORECASE,
)
NONCE_PLACEHOLDER: Final = "0" * 16
"""A nonce of the real one's length, for measuring a message before the nonce is known."""


def neutralize(text: str) -> str:
    """``text`` with every fence-tag look-alike defused: ``</trace`` -> ``<\\/trace``,
    ``<trace`` -> ``<\\trace`` (also for the full-width, small-form and angle-quote look-alikes of ``<``)."""

    def defuse(match: re.Match[str]) -> str:
        slash = "/" if match.group(2) else ""
        return f"<\\{slash}{match.group(4)}"

    return _TAG_LOOKALIKE.sub(defuse, text)


def quote(text: str) -> str:
    """A one-line JSON string of ``text``: newlines and quotes stay visible, and a reply-shaped
    object in the data reads as a string, never as a bare object."""
    return json.dumps(text, ensure_ascii=False)


def nonce_for(*parts: str) -> str:
    """The fence nonce of a request: a digest of its content (16 hex digits)."""
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return hashlib.sha256(f"fence:{digest}".encode()).hexdigest()[:16]


def fence(tag: str, body: str, nonce: str) -> list[str]:
    """The lines of one fence around ``body`` (already neutralized), the nonce removed from it."""
    return [f"<{tag}_{nonce}>", body.replace(nonce, "[nonce removed]"), f"</{tag}_{nonce}>"]


def fenced_message(
    head: str, fences: Sequence[tuple[str, str]], tail: str, nonce: str = NONCE_PLACEHOLDER
) -> str:
    """A user message: ``head``, then each ``(tag, body)`` fenced, then ``tail``."""
    lines = [head]
    for tag, body in fences:
        lines += ["", *fence(tag, body, nonce)]
    lines += ["", tail]
    return "\n".join(lines)
