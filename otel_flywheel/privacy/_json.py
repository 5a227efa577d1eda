"""JSON inside redacted text, read and written by orjson where it gives json's answer.

A tool's output or an LLM request is often a JSON document: the redactor parses it, scans its
strings and, when a value is found in a long string, serializes it again. ``json.loads`` alone
is the cost the redaction benchmark is measured against, and orjson parses the same text in
about half of it (docs/benchmarks.md). Where the two could disagree, the standard library has the
last word:

- orjson refuses what only ``json`` accepts (NaN, Infinity, lone surrogates, numbers beyond a
  double's range): ``loads`` falls back to ``json.loads``;
- orjson reads an integer beyond 64 bits as a float, where ``json`` keeps it exact; the caller
  (``JsonDocument``) sees such a float and parses the document again with ``exact_integers``;
- ``dumps`` writes compact JSON with orjson for what orjson parsed, and ``json.dumps`` (which
  writes NaN, big integers and lone surrogates as they were) for the rest.
"""

from __future__ import annotations

import json
from typing import Any, Final

import orjson

__all__ = ["ORJSON_FLOAT_LIMITS", "dumps", "loads"]

# orjson's integers are 64-bit (signed below zero, unsigned above): a float outside these may be
# an integer literal it could not hold.
ORJSON_FLOAT_LIMITS: Final = (-(2.0**63), 2.0**64)


def loads(text: str, *, exact_integers: bool = False) -> tuple[Any, bool]:
    """``text`` parsed, and whether orjson read it; raises ValueError (or RecursionError) where
    ``json.loads`` would. ``exact_integers``: by ``json`` alone, integers of any size exact."""
    if not exact_integers:
        try:
            return orjson.loads(text), True
        except orjson.JSONDecodeError:
            pass  # json's grammar is wider: NaN, Infinity, lone surrogates
    return json.loads(text), False


def dumps(value: Any, *, by_orjson: bool) -> str:
    """``value``, parsed by ``loads`` (``by_orjson`` as it said) and changed in place, as JSON."""
    if by_orjson:
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # pragma: no cover - orjson.JSONEncodeError: json writes what it read
            pass
    return json.dumps(value, ensure_ascii=False)
