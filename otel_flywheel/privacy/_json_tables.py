"""JSON's tables: a list of columns named beside a list of rows, read by the columns' names.

A SQL tool or an API returns a table as ``{"columns": ["name", "phone"], "rows": [["Jane",
"4155550132"]]}`` (pandas' ``split`` orient, Trino's and Databricks' results, with the columns
described by a dict: ``{"name": "phone", "type": "varchar"}``): a cell holds a phone number or a
password that only its column's name says it is. ``named_columns`` says which columns a
``COLUMN_KEYS`` list names, for the JSON walk (``_joined``), which reads those cells as fields of
that name; ``values_in_json_text`` reads the same tables inside a string (a tool's result in a
request's messages), where the compiled scan reported their columns (``COLUMNS_STARTS``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from otel_flywheel.privacy._keyed import COLUMN_EDGES, column_key, kind_under
from otel_flywheel.privacy._shapes import Match, Start

__all__ = [
    "COLUMNS_STARTS",
    "COLUMN_KEYS",
    "named_columns",
    "opens_json_columns",
    "values_in_json_text",
]

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
COLUMNS_STARTS: Final = (Start(_COLUMNS_MEMBER, reports=True),)

# Where a dict describing a column holds its name.
_NAME_FIELDS: Final = ("name", "column_name", "columnName", "field", "label", "title")


def named_columns(columns: list[Any]) -> dict[int, str]:
    """The columns of a ``COLUMN_KEYS`` list whose names name a kind, by index: the names
    ``_keyed.kind_under`` reads their cells by."""
    named: dict[int, str] = {}
    for index, column in enumerate(columns):
        title = _title(column) if type(column) is dict else column
        if type(title) is str and (key := column_key(title.strip(COLUMN_EDGES))) is not None:
            named[index] = key
    return named


def opens_json_columns(text: str, end: int) -> bool:
    """Whether a place the compiled scan reported, ending at ``end``, is one of
    ``COLUMNS_STARTS``' (``"columns": [``), not a text table's header (``_tables``)."""
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
