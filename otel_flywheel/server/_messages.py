"""Error messages for clients that name the field and the problem, never the value.

A Collector logs the body of every permanent error it gets, and request content is production
data: an email put in an integer attribute, a card number where a trace id belongs. So what goes
back to the sender is built from the *shape* of the problem only:

- ``decode_problem`` turns a decoder's message (``otel_flywheel.otlp``, protobuf's
  ``json_format``, which quote the offending value) into ``<field path>: <problem>``. The path is
  kept only when it is made of field names and indices; the problem is one of a fixed vocabulary,
  chosen by what the decoder said, with nothing copied from it.
- ``feedback_problems`` does the same for a feedback record's validation errors; a field is named
  only if it is one of ``Feedback``'s own (an unknown key is the sender's text too).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Final

from pydantic import ValidationError

from otel_flywheel.model import Feedback

__all__ = ["decode_problem", "feedback_problems"]

# resourceSpans[0].scopeSpans[0].spans[3].attributes[1].value.intValue, and no more than that.
_PATH: Final = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?)*"
)
_HEX_ID: Final = re.compile(
    r"is not (\d+) hex characters( \(OTLP/JSON ids are hex, not base64\))?$"
)
_ID_LENGTH: Final = re.compile(r"^(\d+) bytes, expected (\d+)")
# What a decoder said -> what we say. Order matters: the first match wins.
_PROBLEMS: Final = (
    (re.compile(r"int\(\)|[Ii]nteger|Couldn't parse (?:u?int|integer)"), "not a valid integer"),
    (re.compile(r"float|[Nn]umber"), "not a valid number"),
    (re.compile(r"true or false|[Bb]ool"), "not true or false"),
    (re.compile(r"expected string|[Ss]tring type"), "expected a string"),
    (re.compile(r"base64|[Bb]ytes"), "not valid base64 bytes"),
    (re.compile(r"[Ee]num"), "not a known enum value"),
    (re.compile(r"expected an array"), "expected an array"),
    (re.compile(r"expected an object|[Mm]essage"), "expected an object"),
    (re.compile(r"expected a hex string"), "expected a hex string"),
    (re.compile(r"missing; OTLP requires a (\d+)-byte id"), "missing: OTLP requires an id here"),
    (re.compile(r"string|str\b"), "expected a string"),
)
# Whole-request messages of our own decoders that carry no content, kept as they are.
_SAFE_MESSAGES: Final = (
    # json.JSONDecodeError's messages come from a fixed set, with a position, never the input.
    re.compile(r"not valid JSON: "),
    re.compile(r"not valid UTF-8: [a-z ]+ at byte \d+$"),
    re.compile(r"not valid OTLP/JSON: nested too deeply$"),
    re.compile(
        r"expected a JSON object \(an ExportTraceServiceRequest\) at the top level, got [a-z ]+$"
    ),
    re.compile(
        r"this is an OTLP (?:logs|metrics|profiles) export \('resource_?[A-Za-z_]+'\), not traces$"
    ),
)
_PROTOBUF_PREFIX: Final = "not a valid ExportTraceServiceRequest protobuf"
_FEEDBACK_FIELDS: Final = frozenset(field.name for field in dataclasses.fields(Feedback))


def decode_problem(message: str) -> str:
    """A decoder's error message, reduced to the field path and a problem without any value."""
    if any(pattern.match(message) for pattern in _SAFE_MESSAGES):
        return message
    if message.startswith(_PROTOBUF_PREFIX):
        return f"{_PROTOBUF_PREFIX} (truncated, or not protobuf)"
    where, separator, reason = message.partition(": ")
    if not separator or not _PATH.fullmatch(where):
        return "it cannot be decoded"
    return f"{where}: {_problem(reason)}"


def feedback_problems(error: ValidationError) -> str:
    """What is wrong with a feedback record, field by field, never quoting what was sent."""
    parts = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        if location and location[0] not in _FEEDBACK_FIELDS:
            where = "an unknown field"
        else:
            where = ".".join(location) or "feedback"
        if item["type"] == "value_error":
            # Our own validators' messages (model.Feedback) name the field and quote no value;
            # cut defensively at any ", got" a future message might add.
            message = str(item["msg"]).removeprefix("Value error, ").split(", got")[0]
        else:
            # pydantic's own messages describe the expected type or choices, not the input.
            message = str(item["msg"])
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _problem(reason: str) -> str:
    if hexed := _HEX_ID.search(reason):
        return f"not {hexed[1]} hex characters{hexed[2] or ''}"
    if length := _ID_LENGTH.match(reason):
        return f"{length[1]} bytes, expected {length[2]}"
    for pattern, problem in _PROBLEMS:
        if pattern.search(reason):
            return problem
    return "not a valid value for this field"
