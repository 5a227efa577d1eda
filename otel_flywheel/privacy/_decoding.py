"""Text read decoded, with what is found there mapped back to where it is written.

Three encodings hide values from the patterns: a URL's percent escapes (``_percent``), HTML's
character references (a scraped page's "+44&nbsp;20&nbsp;7946&nbsp;0958", "jane&#64;example.com")
and the escapes of a JSON string written inside text. The second is everywhere in agent traces: a tool
call's arguments are a JSON text inside the request JSON, so once the outer document is parsed
its leaves still read '{"to": "+81\\u202f90-1117-8957"}' (U+202F written as six characters) and
'{\\"email\\": \\"m\\u00fcller@example.de\\"}'; exception messages and logs quote JSON the same
way. ``json_unescaped`` reads such escapes as the characters they stand for; ``written_at`` maps
a position of the decoded text back to the text as written, so a value is redacted as written
(the whole escape goes with the character it stands for). ``html_unescaped`` does the same for
character references.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from html.entities import html5
from typing import Final

__all__ = ["Decoded", "decoded", "html_unescaped", "json_unescaped", "written_at"]


@dataclass(frozen=True, slots=True)
class Decoded:
    """A text as read, and where each character read from an escape stands in it (``at``, in
    order) with how many characters longer the written text is up to and including it."""

    text: str
    at: list[int]
    longer: list[int]

    def written(self, position: int) -> int:
        return written_at(position, self.at, self.longer)


def written_at(position: int, at: list[int], longer: list[int]) -> int:
    """Where ``position`` of a decoded text is in the text as written."""
    read = bisect_left(at, position)  # characters read from escapes before it
    return position + (longer[read - 1] if read else 0)


# RFC 8259's escapes; a character beyond the BMP (an emoji) is two, a surrogate pair, read as
# one character. A lone surrogate is read as "?".
_JSON_ESCAPE: Final = re.compile(
    r'\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|["\\/bfnrt])'
)
_SIMPLE: Final = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


def json_unescaped(text: str) -> Decoded | None:
    """``text`` with its JSON string escapes read, or None where it holds none."""
    if "\\" not in text:
        return None
    return decoded(
        text,
        ((m.start(), m.end(), _json_character(m.group())) for m in _JSON_ESCAPE.finditer(text)),
    )


def _json_character(written: str) -> str:
    if len(written) == 12:  # a surrogate pair
        high, low = int(written[2:6], 16), int(written[8:], 16)
        return chr(0x10000 + (high - 0xD800) * 0x400 + (low - 0xDC00))
    if written[1] == "u":
        code = int(written[2:], 16)
        return "?" if 0xD800 <= code <= 0xDFFF else chr(code)
    return _SIMPLE[written[1]]


# HTML's character references, with their semicolon: decimal, hexadecimal and the named ones of
# HTML5 (the legacy ones without a semicolon, "&copy", are left: "&para=1" is a query).
_REFERENCE: Final = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def html_unescaped(text: str) -> Decoded | None:
    """``text`` with its HTML character references read, or None where it holds none."""
    if "&" not in text or ";" not in text:
        return None
    return decoded(
        text,
        (
            (m.start(), m.end(), char)
            for m in _REFERENCE.finditer(text)
            if (char := _html_character(m.group())) is not None
        ),
    )


def _html_character(written: str) -> str | None:
    if written[1] == "#":
        code = int(written[3:-1], 16) if written[2] in "xX" else int(written[2:-1])
        return "?" if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF else chr(code)
    named = html5.get(written[1:])
    return named if named is not None and len(named) == 1 else None  # "&fjlig;" is two


def decoded(text: str, readings: Iterable[tuple[int, int, str]]) -> Decoded | None:
    """``text`` with each reading (where an escape starts and ends, and the character it stands
    for; in order, apart) in place of what it spans, or None where there is none."""
    pieces: list[str] = []
    at: list[int] = []
    longer: list[int] = []
    position = length = extra = 0
    for start, end, char in readings:
        pieces.append(text[position:start])
        length += start - position
        pieces.append(char)
        at.append(length)
        length += 1
        extra += end - start - 1
        longer.append(extra)
        position = end
    if not at:
        return None
    pieces.append(text[position:])
    return Decoded("".join(pieces), at, longer)
