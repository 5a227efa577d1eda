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

JSON writes a table as its columns' names beside its rows (``{"columns": [...], "rows": [[...]]}``,
pandas' ``split`` orient, Trino's and Databricks' results): ``named_columns`` says which columns
a ``COLUMN_KEYS`` list names, and the JSON walk (``_joined``) reads those cells by their names.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any, Final, NamedTuple

from otel_flywheel.privacy._keyed import kind_under, names_a_kind
from otel_flywheel.privacy._secrets import KIND_API_KEY, KIND_PASSWORD
from otel_flywheel.privacy._shapes import Match, Start

__all__ = [
    "COLUMN_KEYS",
    "HEADER_STARTS",
    "named_columns",
    "values_in_json_text",
    "values_in_tables",
]

# Words in every header ``names_a_kind`` answers for, ASCII (the prefilter sees other letters as
# "?"; "t?l?phone" still holds "phone"): a superset, since ``names_a_kind`` decides.
_KIND_WORDS: Final = (
    "phone", "mobile", "cell", "tel", "fax", "msisdn", "whats", "sms", "caller", "handy",
    "m?vil", "movil", "contact", "reach", "ssn", "social", "pass", "pwd", "kennwort", "contrase",
    "senha", "wachtwoord", "salasana", "heslo", "secret", "token", "key", "authorization",
    "cookie", "iban", "pin", "otp", "code", "cvv", "cvc", "cvn", "cav2",
)  # fmt: skip
_CELL_EDGE: Final = "[ \\t\"'*`]"
# A cell holding a kind's word, between delimiters or a line's ends: the scanned text starts
# with a newline (``_prefilter``). Its end (the delimiter after it) is reported.
_HEADER_CELL: Final = (
    "[\\n,;\\t|]" + _CELL_EDGE + "{0,4}[A-Za-z0-9_ .\\-]{0,24}"
    "(?:" + "|".join(w.replace("?", "[?]") for w in _KIND_WORDS) + ")"
    "[A-Za-z0-9_ .\\-#]{0,16}" + _CELL_EDGE + "{0,4}[,;\\t|\\r\\n]"
)
# Keys under which JSON lists a table's columns, beside its rows: names ("columns": ["id",
# "phone"]) or descriptions with a name ("columns": [{"name": "phone", "type": "varchar"}]).
COLUMN_KEYS: Final = frozenset(
    {"columns", "column_names", "columnNames", "colnames", "cols", "headers", "header", "fields",
     "field_names", "fieldNames"}
)  # fmt: skip
# Such a list in JSON written as text (a tool's result inside a request's messages).
_COLUMNS_MEMBER: Final = '"(?:' + "|".join(sorted(COLUMN_KEYS)) + ')"[ \\t\\r\\n]*:[ \\t\\r\\n]*\\['
_COLUMNS_MEMBER_RE: Final = re.compile(_COLUMNS_MEMBER)
_NEXT_MEMBER: Final = re.compile(r'[ \t\r\n]*,[ \t\r\n]*"(?:[^"\\]|\\.)*"[ \t\r\n]*:[ \t\r\n]*')
_JSON_SPACE: Final = re.compile(r"[ \t\r\n]*")
_JSON_VALUE: Final = json.JSONDecoder().raw_decode  # (text, at) -> (value, end)
HEADER_STARTS: Final = (
    Start(_HEADER_CELL, caseless=True, reports=True),
    Start(_COLUMNS_MEMBER, reports=True),
)

# A rule under a header: Markdown's ("|---|:---:|", "--- | ---") or psql's ("----+----").
_RULE: Final = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:[|+][ \t]*:?-+:?[ \t]*)+\|?[ \t]*")
# An ASCII table's border ("+----+-------+"), above a header, under it and after the rows.
_BORDER: Final = re.compile(r"[ \t]*\+(?:-+\+)+[ \t]*")
# A column's name where no rule says the line is a header: words of a name ("Phone", "Home
# Phone", "phone_number", "Mobile No.", "E-mail", "Phone #"), at most four, or nothing (a
# pandas index's column).
_NAME: Final = re.compile(r"(?:[^\W\d][\w#/()\-]*\.?(?: [\w#/()\-]+\.?){0,3})?")
# A header's cell longer than this is text, not a name: asking the key rules about a sentence
# costs tens of microseconds.
_LONGEST_NAME: Final = 48
# A line longer than this is no table's header (a minified JSON document, a long log line).
_LONGEST_HEADER: Final = 2048
# How a name is asked about: its words joined as a key's are ("API Key" -> "API_Key").
_NAME_EDGES: Final = " \t\"'*`.#:"
_SPACES: Final = re.compile(r"[ \t]+")
# A quoted CSV field: "Doe, Jane", with "" for a quote inside.
_QUOTED: Final = re.compile(r'[ \t]*"(?:[^"\n]|"")*"[ \t]*')
_DELIMITERS: Final = "|\t;,"
_SECRET_KINDS: Final = frozenset({KIND_PASSWORD, KIND_API_KEY})


_NAME_FIELDS: Final = ("name", "column_name", "columnName", "field", "label", "title")


def named_columns(columns: list[Any]) -> dict[int, str]:
    """The columns of a ``COLUMN_KEYS`` list whose names name a kind, by index: the names
    ``_keyed.kind_under`` reads their cells by."""
    named: dict[int, str] = {}
    for index, column in enumerate(columns):
        title = _title(column) if type(column) is dict else column
        if (
            type(title) is str
            and len(title) <= _LONGEST_NAME
            and names_a_kind(name := _SPACES.sub("_", title.strip(_NAME_EDGES)))
        ):
            named[index] = name
    return named


def opens_json_columns(text: str, end: int) -> bool:
    """Whether a place ``HEADER_STARTS`` reported, ending at ``end``, opens a JSON table's list
    of columns (``"columns": [``) rather than ends a header's cell."""
    return text[end - 1] == "["


def values_in_json_text(text: str) -> list[Match]:
    """The named columns' values of the tables in JSON written as text: a tool's result inside
    a request's messages, which the redactor scans as a string. Each list under a
    ``COLUMN_KEYS`` member is read where it is written, then the rows after it in its object;
    a string cell's value is its characters between the quotes (as written, escapes included),
    an integer's its digits. Rows written before their columns are not read here."""
    found: list[Match] = []
    for member in _COLUMNS_MEMBER_RE.finditer(text):
        try:
            columns, at = _JSON_VALUE(text, member.end() - 1)
        except ValueError:
            continue
        named = named_columns(columns) if type(columns) is list else {}
        while named and (sibling := _NEXT_MEMBER.match(text, at)) is not None:
            at = sibling.end()
            try:
                if text.startswith("[", at):
                    at = _read_json_rows(text, at, len(columns), named, found)
                else:
                    at = _JSON_VALUE(text, at)[1]
            except ValueError:
                break
    found.sort()
    return found


def _read_json_rows(
    text: str, start: int, width: int, named: dict[int, str], found: list[Match]
) -> int:
    """Read the list at ``start`` as rows ``width`` wide, adding their named cells' values to
    ``found`` if every row is; returns where the list ends."""
    values = _json_rows(text, start, width, named)
    if values is None:
        return _JSON_VALUE(text, start)[1]  # not the columns' rows: skipped whole
    found.extend(values[0])
    return values[1]


def _json_rows(
    text: str, at: int, width: int, named: dict[int, str]
) -> tuple[list[Match], int] | None:
    """The named cells' values of the rows in the list at ``at``, and where it ends; None
    unless it is a list of rows ``width`` wide."""
    values: list[Match] = []
    space = _JSON_SPACE.match
    try:
        at = space(text, at + 1).end()  # type: ignore[union-attr]
        while not text.startswith("]", at):
            if not text.startswith("[", at):
                return None
            for column in range(width):
                at = space(text, at + 1).end()  # type: ignore[union-attr]
                cell, end = _JSON_VALUE(text, at)
                name = named.get(column)
                if name is not None and (kind := kind_under(name, cell)) is not None:
                    quoted = type(cell) is str
                    values.append(Match(at + quoted, end - quoted, kind))
                at = space(text, end).end()  # type: ignore[union-attr]
                if text[at] != ("]" if column == width - 1 else ","):
                    return None  # wider or narrower than the columns
            at = space(text, at + 1).end()  # type: ignore[union-attr]
            if text.startswith(",", at):
                at = space(text, at + 1).end()  # type: ignore[union-attr]
    except (ValueError, IndexError):
        return None
    return values, at + 1


def _title(column: dict[str, Any]) -> object:
    """A column's name where a dict describes it (``{"name": "phone", "type": "varchar"}``)."""
    return next((column[f] for f in _NAME_FIELDS if type(column.get(f)) is str), None)


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
        if end <= done or opens_json_columns(text, end):
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
        names = [text[a:b].strip(_NAME_EDGES) for a, b in cells]
        ruled = _is_rule(lines, end)
        if not ruled and not _reads_as_names(line, delimiter, names):
            continue
        # The key rules cost tens of microseconds on a long cell: asked of names only.
        named = {
            column: key
            for column, name in enumerate(names)
            if 0 < len(name) <= _LONGEST_NAME
            and _NAME.fullmatch(name)
            and names_a_kind(key := _SPACES.sub("_", name))
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
