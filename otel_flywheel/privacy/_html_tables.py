"""HTML tables whose header cell says what a column holds: a scraped directory, an admin page.

``<tr><th>Name</th><th>Phone</th></tr><tr><td>Jane</td><td>4155550132</td></tr>``: as in a CSV
(``_tables``), a column whose header names a kind is read as a field of that name is
(``_keyed``), in every row of its table after the header. The compiled scan reports a cell
holding a kind's word (``HTML_HEADER_STARTS``); only there is its row read as a header. Cells are
``<th>`` or ``<td>``; a cell's value is its text where it holds no tag, or the text of one tag
around it (``<a href="tel:...">``, ``<b>``). A row with another number of cells (a heading
spanning the columns) is passed over.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from otel_flywheel.privacy._keyed import COLUMN_EDGES, KIND_WORDS_PATTERN, column_key, kind_under
from otel_flywheel.privacy._shapes import Match, Start

__all__ = ["HTML_HEADER_STARTS", "opens_html_cell", "values_in_html_tables"]

# A cell's text holding a kind's word, between a tag's ">" and the next "<"; the "<" is reported.
_HEADER_CELL: Final = (
    r">[ \t\r\n]{0,8}[A-Za-z0-9_ .\-]{0,24}(?:"
    + KIND_WORDS_PATTERN
    + r")[A-Za-z0-9_ .\-#]{0,16}[ \t\r\n]{0,8}<"
)
HTML_HEADER_STARTS: Final = (Start(_HEADER_CELL, caseless=True, reports=True),)

_ROW: Final = re.compile(r"<tr\b[^>]*>(.*?)</tr\s*>", re.DOTALL | re.IGNORECASE)
_CELL: Final = re.compile(r"<t([hd])\b[^>]*>(.*?)</t\1\s*>", re.DOTALL | re.IGNORECASE)
# One tag around a cell's text: a link, bold, a span.
_WRAPPED: Final = re.compile(r"\s*<([A-Za-z][A-Za-z0-9]*)\b[^>]*>([^<]*)</\1\s*>\s*")


def opens_html_cell(text: str, end: int) -> bool:
    """Whether a place the compiled scan reported, ending at ``end``, is one of
    ``HTML_HEADER_STARTS``' (its last character a tag's "<")."""
    return text[end - 1] == "<"


def values_in_html_tables(text: str, ends: Iterable[int]) -> list[Match]:
    """The values in the columns of ``text``'s HTML tables whose header names their kind,
    sorted and apart; ``ends`` are where a header's cell may end (``HTML_HEADER_STARTS``)."""
    found: list[Match] = []
    done = -1  # the end of the last table read
    # Tags in any case, found in ASCII lower-cased bytes: one byte per character, as positions.
    folded = text.encode("ascii", "replace").lower()
    for end in ends:
        if end <= done:
            continue
        row_start = folded.rfind(b"<tr", 0, end)
        if row_start < 0 or folded.rfind(b"</tr", row_start, end) >= 0:
            continue  # not inside a table's row
        header = _ROW.match(text, row_start)
        if header is None or header.end() < end:
            continue
        done = header.end()
        cells = list(_CELL.finditer(text, header.start(1), header.end(1)))
        named = {}
        for column, cell in enumerate(cells):
            start, stop = _text_of(cell)
            if (key := column_key(text[start:stop].strip(COLUMN_EDGES))) is not None:
                named[column] = key
        if named:
            done = _read_rows(
                text, folded, header.end(), width=len(cells), named=named, found=found
            )
    return found


def _read_rows(
    text: str, folded: bytes, at: int, *, width: int, named: dict[int, str], found: list[Match]
) -> int:
    """Add the named columns' values in the rows of the table after its header (ending at
    ``at``); returns where the table ends."""
    table_end = folded.find(b"</table", at)
    if table_end < 0:
        table_end = len(text)
    for row in _ROW.finditer(text, at, table_end):
        cells = list(_CELL.finditer(text, row.start(1), row.end(1)))
        if len(cells) != width:
            continue
        for column, key in named.items():
            start, stop = _text_of(cells[column])
            if start < stop and (kind := kind_under(key, text[start:stop])) is not None:
                found.append(Match(start, stop, kind))
    return table_end


def _text_of(cell: re.Match[str]) -> tuple[int, int]:
    """Where a cell's text is: its content without the spaces around it, inside one tag if it
    holds one; empty where it holds more."""
    start, stop = cell.span(2)
    content = cell.string
    if "<" in content[start:stop]:
        wrapped = _WRAPPED.fullmatch(content, start, stop)
        if wrapped is None:
            return start, start
        start, stop = wrapped.span(2)
    while start < stop and content[start].isspace():
        start += 1
    while stop > start and content[stop - 1].isspace():
        stop -= 1
    return start, stop
