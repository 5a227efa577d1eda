"""Text read decoded, with what is found there mapped back to where it is written.

Two encodings hide values from the patterns: a URL's percent escapes (``_percent``) and the
escapes of a JSON string written inside text. The second is everywhere in agent traces: a tool
call's arguments are a JSON text inside the request JSON, so once the outer document is parsed
its leaves still read '{"to": "+81\\u202f90-1117-8957"}' (U+202F written as six characters) and
'{\\"email\\": \\"m\\u00fcller@example.de\\"}'; exception messages and logs quote JSON the same
way. ``json_unescaped`` reads such escapes as the characters they stand for; ``written_at`` maps
a position of the decoded text back to the text as written, so a value is redacted as written
(the whole escape goes with the character it stands for).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Final

__all__ = ["Decoded", "json_unescaped", "written_at"]


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
    pieces: list[str] = []
    at: list[int] = []
    longer: list[int] = []
    position = length = extra = 0
    for escape in _JSON_ESCAPE.finditer(text):
        start = escape.start()
        pieces.append(text[position:start])
        length += start - position
        written = escape.group()
        if len(written) == 12:  # a surrogate pair
            high, low = int(written[2:6], 16), int(written[8:], 16)
            pieces.append(chr(0x10000 + (high - 0xD800) * 0x400 + (low - 0xDC00)))
        elif written[1] == "u":
            code = int(written[2:], 16)
            pieces.append("?" if 0xD800 <= code <= 0xDFFF else chr(code))
        else:
            pieces.append(_SIMPLE[written[1]])
        at.append(length)
        length += 1
        extra += len(written) - 1
        longer.append(extra)
        position = escape.end()
    if not at:
        return None
    pieces.append(text[position:])
    return Decoded("".join(pieces), at, longer)
