"""Reading attribute values defensively: whatever an instrumentor wrote, nothing here raises.

Span attributes are untrusted input: JSON that is truncated, numbers sent as strings, lists where a
string was expected, text with lone surrogates from badly decoded bytes. These helpers turn them into
the types the model wants or into ``None``; the callers decide what a missing value means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "as_bool",
    "as_dict",
    "as_float",
    "as_int",
    "as_text",
    "clean_text",
    "jsonable",
    "parse_arguments",
    "parse_json",
    "unflatten_list",
]

_MISSING = object()
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Replace lone surrogates (invalid UTF-8 decoded with surrogateescape) so the text serializes."""
    if text.isascii():  # the common case, and O(1) for CPython's compact ASCII strings
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def as_text(value: Any) -> str | None:
    """A value as display text: strings as they are, structures as compact JSON, ``None`` stays."""
    if value is None:
        return None
    if type(value) is str or isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bytes):
        return clean_text(value.decode("utf-8", "replace"))
    try:
        return clean_text(json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":")))
    except (TypeError, ValueError):
        return clean_text(str(value))


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "1", "yes"}:
            return True
        if lowered in {"false", "0", "no"}:
            return False
    if isinstance(value, int):
        return bool(value)
    return None


# The characters a JSON text can start with (after whitespace), as ``json.loads`` reads it:
# objects, arrays, strings, numbers, true/false/null and NaN/Infinity. Prose starts elsewhere
# most of the time, and is turned away without the exception a failed parse costs.
_JSON_STARTS = frozenset('{["-0123456789tfnNI')


def parse_json(value: Any, default: Any = None) -> Any:
    """Parse a JSON string; structures pass through; anything unparseable gives ``default``."""
    if isinstance(value, str):
        if value[:1] not in _JSON_STARTS and value.lstrip()[:1] not in _JSON_STARTS:
            return default
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return default
    if value is None:
        return default
    return jsonable(value)


def as_dict(value: Any) -> dict[str, Any] | None:
    """A mapping, or a JSON string holding an object; anything else is ``None``."""
    parsed = parse_json(value)
    if isinstance(parsed, Mapping):
        return dict(parsed)
    return None


def parse_arguments(value: Any) -> tuple[dict[str, Any], bool, str | None]:
    """Tool-call arguments as ``(arguments, malformed, raw_text)``.

    A JSON object (or a mapping, as OTLP kvlists decode) is the normal case. Anything else - free text,
    JSON truncated by an attribute length limit, a bare list - is malformed: the dict is empty and the
    text is returned verbatim so evaluators can still see and judge it.
    """
    if value is None:
        return {}, False, None
    if isinstance(value, Mapping):
        return dict(jsonable(value)), False, None
    text = as_text(value)
    if text is None or text.strip() == "":
        return {}, False, None
    parsed = parse_json(text, _MISSING)
    if isinstance(parsed, dict):
        return parsed, False, None
    return {}, True, text


def unflatten_list(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """OpenInference's flattened lists: ``<prefix><index>.<key> = v`` into ``[{key: v}, ...]``.

    Entries come back in index order; gaps (an instrumentor that skipped an index) are closed up.
    Keys that do not match ``<index>.<key>`` after the prefix are ignored: the index is decimal
    digits, the key a line of at least one character.
    """
    # The keys picked by a comprehension first: most spans have none under most prefixes.
    keys = [key for key in attributes if key.startswith(prefix)]
    if not keys:
        return []
    buckets: dict[int, dict[str, Any]] = {}
    start = len(prefix)
    for key in keys:
        index, dot, rest = key[start:].partition(".")
        if dot and rest and index.isdecimal() and "\n" not in rest:
            buckets.setdefault(int(index), {})[rest] = attributes[key]
    return [buckets[index] for index in sorted(buckets)]


def first_present(mapping: Mapping[str, Any], keys: Sequence[str]) -> Any:
    """The first value among ``keys`` that is set and not empty."""
    for key in keys:
        value = mapping.get(key)
        if value not in (None, "", (), []):
            return value
    return None


def jsonable(value: Any) -> Any:
    """Tuples (SDK attribute sequences) to lists, mappings to dicts, text cleaned, recursively:
    the form a value has after a JSON round trip, so records compare equal after one."""
    kind = type(value)  # exact-type checks first: ABC isinstance checks cost ~10x more
    if kind is str:
        return value if value.isascii() else clean_text(value)
    if kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:  # a span's attributes: mostly ASCII text, converted without a call each
        return {
            key if type(key) is str else str(key): item
            if type(item) is str and item.isascii()
            else jsonable(item)
            for key, item in value.items()
        }
    if kind is tuple or kind is list:
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str):
        return clean_text(value)
    return value
