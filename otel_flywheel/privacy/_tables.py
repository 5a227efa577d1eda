"""Tables whose header says what a column holds: CSV, TSV, Markdown and psql tables in text.

A SQL tool's result, a CSV export or a model's Markdown table writes a customer's phone number
as bare digits under a column headed "phone", and a user table's passwords under "password":
nothing in the cell says what it is, and the scan reads ``4155550132`` as an order number.
A column whose header names a kind is read as a JSON field of that name is (``_keyed``): each
of its cells is that kind where its value is written like one.

The compiled scan reports where a cell naming a kind may stand (``HEADER_STARTS``); only there
does ``values_in_tables`` read a line as a header and the lines after it as rows. A header is
two cells or more split by one delimiter (``|``, tab, ``;`` or ``,``); a row has as many cells
as its header. Evidence that a line is a table's header comes in two strengths:

- **a rule under it** (Markdown's ``|---|---|``, psql's ``----+----``): any header;
- **none** (CSV, TSV, pipes without a rule): every header cell must read as a column's name (a
  few words, no ``=``, ``:`` or sentence), and a password's or secret's cell must be one token,
  since prose split at its commas can look like a header and a row.

JSON's tables, columns named beside their rows, are ``_json_tables``'.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

from otel_flywheel.privacy._keyed import COLUMN_EDGES, KIND_WORDS_PATTERN, column_key, kind_under
from otel_flywheel.privacy._secrets import KIND_API_KEY, KIND_PASSWORD
from otel_flywheel.privacy._shapes import Match, Start

__all__ = ["HEADER_STARTS", "values_in_tables"]

_CELL_EDGE: Final = "[ \\t\"'*`]"
# A cell holding a kind's word, between delimiters or a line's ends: the scanned text starts
# with a newline (``_prefilter``). Its end (the delimiter after it) is reported.
_HEADER_CELL: Final = (
    "[\\n,;\\t|]" + _CELL_EDGE + "{0,4}[A-Za-z0-9_ .\\-]{0,24}"
    "(?:" + KIND_WORDS_PATTERN + ")"
    "[A-Za-z0-9_ .\\-#]{0,16}" + _CELL_EDGE + "{0,4}[,;\\t|\\r\\n]"
)
HEADER_STARTS: Final = (Start(_HEADER_CELL, caseless=True, reports=True),)

# A rule under a header: Markdown's ("|---|:---:|", "--- | ---") or psql's ("----+----").
_RULE: Final = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:[|+][ \t]*:?-+:?[ \t]*)+\|?[ \t]*")
# An ASCII table's border ("+----+-------+"), above a header, under it and after the rows.
_BORDER: Final = re.compile(r"[ \t]*\+(?:-+\+)+[ \t]*")
# A column's name where no rule says the line is a header: words of a name ("Phone", "Home
# Phone", "phone_number", "Mobile No.", "E-mail", "Phone #"), at most four, or nothing (a
# pandas index's column).
_NAME: Final = re.compile(r"(?:[^\W\d][\w#/()\-]*\.?(?: [\w#/()\-]+\.?){0,3})?")
# A line longer than this is no table's header (a minified JSON document, a long log line).
_LONGEST_HEADER: Final = 2048
# A quoted CSV field: "Doe, Jane", with "" for a quote inside.
_QUOTED: Final = re.compile(r'[ \t]*"(?:[^"\n]|"")*"[ \t]*')
_DELIMITERS: Final = "|\t;,"
_SECRET_KINDS: Final = frozenset({KIND_PASSWORD, KIND_API_KEY})


class _Header(NamedTuple):
    delimiter: str
    cells: int  # how many a row has
    named: dict[int, str]  # column -> the name a kind is read by
    ruled: bool  # a rule under it: the strong evidence


def values_in_tables(
    text: str, ends: Iterable[int], *, escaped: Sequence[int] | None = None
) -> list[Match]:
    """The values in the columns of ``text``'s tables whose header names their kind, sorted and
    apart; ``ends`` are where a header's cell may end (``HEADER_STARTS``), ascending.

    ``escaped``: where ``text`` is JSON read from its escapes (a tool's output inside a
    request), the positions of the characters read from one. Its strings' own quotes end a
    line too: a CSV in a string starts after its opening quote, and ends at its closing one."""
    lines = _Lines(text, escaped)
    found: list[Match] = []
    done = -1  # the end of the last line read as a table's
    for end in ends:
        if end <= done:
            continue
        line_start = lines.start(max(end - 1, 0))
        line_end = lines.end(line_start)
        done = line_end
        if line_end - line_start > _LONGEST_HEADER:
            continue  # minified JSON, a long log line: no table's header
        header = _header(lines, line_start, line_end)
        if header is not None:
            done = _read_rows(lines, line_end, header, found)
    return found


class _Lines:
    """Where the lines of a text start and end: at its newlines and, in JSON read from its
    escapes, at the quotes that open and close its strings: those not read from an escape
    (``escaped``: the positions that were, ascending; None where the text is not such JSON)."""

    __slots__ = ("_escaped", "text")

    def __init__(self, text: str, escaped: Sequence[int] | None) -> None:
        self.text = text
        self._escaped = escaped

    def start(self, position: int) -> int:
        """Where the line holding ``position`` starts."""
        start = self.text.rfind("\n", 0, position) + 1
        if self._escaped is not None:
            quote = position
            while (quote := self.text.rfind('"', start, quote)) >= 0:
                if self.is_edge(quote):
                    return quote + 1
        return start

    def end(self, start: int) -> int:
        """Where the line starting at ``start`` ends: before its "\\r\\n", "\\n" or edge."""
        text = self.text
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        if self._escaped is not None:
            quote = start - 1
            while (quote := text.find('"', quote + 1, end)) >= 0:
                if self.is_edge(quote):
                    return quote
        return end - 1 if end > start and text[end - 1] == "\r" else end

    def next(self, end: int) -> int:
        """Where the line after the one ending at ``end`` starts; 0 where none does (the text,
        or the string it was in, has ended)."""
        if end < len(self.text) and self.is_edge(end):
            return 0
        return self.text.find("\n", end) + 1

    def is_edge(self, position: int) -> bool:
        """Whether ``position`` holds a quote that opens or closes a JSON string."""
        escaped = self._escaped
        if escaped is None or self.text[position] != '"':
            return False
        i = bisect_left(escaped, position)
        return i == len(escaped) or escaped[i] != position


def _header(lines: _Lines, start: int, end: int) -> _Header | None:
    """The line ``start``-``end`` as a header naming a kind in one of its columns, or None."""
    text = lines.text
    line = text[start:end]
    for delimiter in _DELIMITERS:
        if delimiter not in line:
            continue
        cells = _cells(text, start, end, delimiter)
        if cells is None or len(cells) < 2:
            continue
        names = [text[a:b].strip(COLUMN_EDGES) for a, b in cells]
        ruled = _is_rule(lines, end)
        if not ruled and not _reads_as_names(line, delimiter, names):
            continue
        # The key rules cost tens of microseconds on a long cell: asked of names only.
        named = {
            column: key
            for column, name in enumerate(names)
            if _NAME.fullmatch(name) and (key := column_key(name)) is not None
        }
        if not named:
            continue
        if _continues_a_table(lines, start, delimiter, len(cells)):
            return None  # a row in the middle of a table ("| API_KEY | ... |" under its header)
        return _Header(delimiter, len(cells), named, ruled)
    return None


def _continues_a_table(lines: _Lines, start: int, delimiter: str, count: int) -> bool:
    """Whether the line before the one starting at ``start`` has as many cells: a header is a
    table's first line."""
    if start == 0 or lines.is_edge(start - 1):
        return False
    before = lines.start(start - 1)
    cells = _cells(lines.text, before, lines.end(before), delimiter)
    return cells is not None and len(cells) == count


def _reads_as_names(line: str, delimiter: str, names: list[str]) -> bool:
    """Whether a line without a rule under it reads as a header: two names or more, and
    nothing else. Code's lines break after a comma ("    password,") and are indented."""
    if delimiter in ",;\t" and (line[:1].isspace() or line.rstrip().endswith(delimiter)):
        return False
    return sum(1 for name in names if name) >= 2 and all(_NAME.fullmatch(name) for name in names)


def _read_rows(lines: _Lines, at: int, header: _Header, found: list[Match]) -> int:
    """Add the named columns' values in the rows after a header ending at ``at``; returns where
    the table ends."""
    text = lines.text
    if header.ruled:
        at = lines.end(lines.next(at))  # past the rule
    while (start := lines.next(at)) > 0:
        end = lines.end(start)
        if _BORDER.fullmatch(text, start, end):
            at = end
            continue
        cells = _cells(text, start, end, header.delimiter) if start < end else None
        if cells is None or len(cells) != header.cells:
            break  # a blank line, a footer ("(2 rows)"), prose: the table has ended
        for column, name in header.named.items():
            a, b = _value(text, *cells[column])
            if a < b and (kind := _kind(name, text[a:b], header.ruled)) is not None:
                found.append(Match(a, b, kind))
        at = end
    return at


def _kind(name: str, value: str, ruled: bool) -> str | None:
    kind = kind_under(name, value)
    if kind in _SECRET_KINDS and not ruled and any(c.isspace() for c in value):
        return None  # "Enter your password, then ..." split at its commas is not a table
    return kind


def _is_rule(lines: _Lines, header_end: int) -> bool:
    start = lines.next(header_end)
    return start > 0 and _RULE.fullmatch(lines.text, start, lines.end(start)) is not None


def _cells(text: str, start: int, end: int, delimiter: str) -> list[tuple[int, int]] | None:
    """The cells of ``text[start:end]`` split at ``delimiter``, as (start, end); a pipe table's
    outer pipes open and close it. CSV's quoted fields may hold the delimiter; None where a
    quote is not closed on the line."""
    if delimiter == "|":
        line = text[start:end]
        first = start + len(line) - len(line.lstrip())
        last = start + len(line.rstrip())
        if first < last and text[first] == "|":
            first += 1
        if last > first and text[last - 1] == "|":
            last -= 1
        bars: list[tuple[int, int]] = []
        at = first
        while (bar := text.find("|", at, last)) >= 0:
            bars.append((at, bar))
            at = bar + 1
        bars.append((at, last))
        return bars
    cells, at = [], start
    while True:
        quoted = _QUOTED.match(text, at, end) if '"' in text[at : at + 8] else None
        if quoted is not None:
            cell_end = quoted.end()
            if cell_end < end and text[cell_end] != delimiter:
                return None
        else:
            cell_end = text.find(delimiter, at, end)
            if cell_end < 0:
                cell_end = end
        cells.append((at, cell_end))
        if cell_end >= end:
            return cells
        at = cell_end + 1


def _value(text: str, start: int, end: int) -> tuple[int, int]:
    """A cell's value: without the spaces around it, a pair of quotes or backticks, or
    Markdown's bold."""
    while start < end and text[start] in " \t":
        start += 1
    while end > start and text[end - 1] in " \t":
        end -= 1
    for mark in ('"', "'", "`", "**"):
        if (
            end - start >= 2 * len(mark)
            and text.startswith(mark, start)
            and text.endswith(mark, start, end)
        ):
            return start + len(mark), end - len(mark)
    return start, end
