"""Many strings, one scan: how the redactor looks at all of a span's text at once.

Detection per string costs a Python call chain that is more than the scan of a short string
itself, and a span has dozens: attribute values, the strings (and keys) inside JSON-valued
attributes, event attributes. The redactor gathers them and ``find_in_each`` hands them joined by
``JOIN`` to the *joinable* detectors (the built-in one, term lists) in one call, then gives each
match back to the string it falls in.

``JOIN`` is chosen so that no built-in shape or context check continues across it: the newline
ends every value a separator-led shape takes (URL and config passwords, bearer tokens, terms),
and NUL is in no character class a shape or a look-around accepts ("version" before a dotted
quad, "EAN" before a barcode, an email's local part). A match that still crosses it (a PEM block
whose BEGIN and END sit in two strings) sends the strings it touches to a scan of their own, so
the joined scan finds exactly what separate scans would. Detectors that are not joinable (a
user's regex may anchor with ``^``; Presidio weighs context words) see each string alone.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any, Final

from otel_flywheel.privacy._cards import CARD_LENGTHS
from otel_flywheel.privacy._detectors import Detector, find_all, merge_matches
from otel_flywheel.privacy._json import ORJSON_FLOAT_LIMITS
from otel_flywheel.privacy._json_tables import COLUMN_KEYS, named_columns
from otel_flywheel.privacy._shapes import Match

__all__ = ["JOIN", "JsonDocument", "find_in_each", "is_joinable"]

JOIN: Final = "\n\x00\n"
# An integer of a card's length (``CARD_LENGTHS``): at least this large.
_SMALLEST_CARD: Final = 10 ** (CARD_LENGTHS.start - 1)
_LOW, _HIGH = ORJSON_FLOAT_LIMITS


def is_joinable(detector: Detector) -> bool:
    return bool(getattr(detector, "joinable", False))


def find_in_each(
    texts: Sequence[str], joinable: Sequence[Detector], per_string: Sequence[Detector]
) -> dict[int, list[Match]]:
    """Every detector's merged matches in each of ``texts``, by index; texts without any are
    left out."""
    found: dict[int, list[Match]] = {}
    if joinable and len(texts) == 1:
        if matches := find_all(texts[0], joinable):
            found[0] = matches
    elif joinable and texts:
        joined = JOIN.join(texts)
        if joined.count("\x00") == len(texts) - 1:
            spans = _spans_by_joiner(joined, texts)
        else:  # a string holds NUL itself: the joiners cannot be told apart by counting
            spans = _spans_by_offset(texts)
        crossing: set[int] = set()
        for m in find_all(joined, joinable):
            index, start = spans(m.start)
            if m.end <= start + len(texts[index]):
                found.setdefault(index, []).append(Match(m.start - start, m.end - start, m.kind))
            else:
                crossing.update(range(index, spans(m.end - 1)[0] + 1))
        for index in crossing:
            if matches := find_all(texts[index], joinable):
                found[index] = matches
            else:
                found.pop(index, None)
    if per_string:
        for index, text in enumerate(texts):
            extra = [m for detector in per_string for m in detector.find(text)]
            extra = [m for m in extra if 0 <= m.start < m.end <= len(text)]
            if extra:
                found[index] = merge_matches([*found.get(index, ()), *extra])
    return found


def _spans_by_joiner(joined: str, texts: Sequence[str]) -> Callable[[int], tuple[int, int]]:
    """Which string a position of ``joined`` falls in, and where that string starts, for
    positions asked in ascending order, where NUL occurs only in the joiners: counted (in C)
    since the last position asked, instead of a table of every string's offset (a JSON
    document has thousands of strings and a handful of matches)."""
    state = [0, 0]  # index, position counted to

    def span(position: int) -> tuple[int, int]:
        state[0] += joined.count("\x00", state[1], position)
        state[1] = position
        index = state[0]
        return index, (joined.rfind("\x00", 0, position) + 2 if index else 0)

    return span


def _spans_by_offset(texts: Sequence[str]) -> Callable[[int], tuple[int, int]]:
    starts: list[int] = []
    position = 0
    for text in texts:
        starts.append(position)
        position += len(text) + len(JOIN)

    def span(at: int) -> tuple[int, int]:
        index = bisect_right(starts, at) - 1
        return index, starts[index]

    return span


class JsonDocument:
    """A parsed JSON value: its strings to redact, and the value rebuilt from their results.

    ``texts`` are the string leaves and object keys, in document order, except the values of
    allow-listed keys (a nested ``"model"``), which are kept as they are. The values of fields
    whose key says what they hold (a password, a phone number: ``Redactor.kind_under``) are
    marked in ``by_key`` with that kind. Integers shaped like a card number (12-19 digits), and
    integers under a key naming a phone number, are in ``texts`` as their digits, marked in
    ``whole_only``: they are replaced only by a finding that is the whole number (or by their
    key's kind), and the document is then rebuilt, not substituted. Collecting is one tight walk
    that remembers no positions; ``rebuilt`` walks again in the same order, and only runs when
    something was found.
    """

    __slots__ = (
        "_is_allowed",
        "_kind_under",
        "_known",
        "_walk_again",
        "by_key",
        "rows",
        "texts",
        "value",
        "whole_only",
        "wide_float",
    )

    def __init__(
        self,
        value: Any,
        is_allowed: Callable[[str], bool],
        known: Callable[[str], bool | None] = lambda key: None,
        kind_under: Callable[[str, object], str | None] = lambda key, value: None,
    ) -> None:
        self.value = value
        self.texts: list[str] = []
        self.whole_only: set[int] = set()
        # The texts whose field says what they are ("password": "...", "phone": "4155550132"):
        # replaced whole, without a scan.
        self.by_key: dict[int, str] = {}
        self._kind_under = kind_under
        # A float beyond 64-bit integers: perhaps an integer orjson could not hold (``_json``).
        self.wide_float = False
        self._is_allowed = is_allowed
        self._known = known  # is_allowed's answers remembered so far, or None
        # A table's rows whose columns are named (``_json_tables.COLUMN_KEYS``), by id: the named
        # columns' names. Met before their names (``{"rows": ..., "columns": ...}``), the
        # document is walked again, once.
        self.rows: dict[int, dict[int, str]] = {}
        self._walk_again = False
        if type(value) is dict or type(value) is list:
            self._collect(value)
            if self._walk_again:
                self.texts.clear()
                self.whole_only.clear()
                self.by_key.clear()
                self._collect(value)

    def _collect(self, node: Any) -> None:
        texts, is_allowed, known, rows = self.texts, self._is_allowed, self._known, self.rows
        append = texts.append
        if type(node) is dict:
            for key, child in node.items():
                append(key)
                allowed = known(key)  # a dict lookup; the calls only for a key not seen yet
                if allowed is None:  # (and for the keys kind_under answers for, never remembered)
                    allowed = is_allowed(key)
                    if not allowed and (held := self._kind_under(key, child)) is not None:
                        self.by_key[len(texts)] = held
                        if type(child) is int:  # a phone number written as an integer
                            node[key] = number = str(child)  # what its result replaces
                            self.whole_only.add(len(texts))
                            append(number)
                            continue
                    elif not allowed and type(child) is list and key in COLUMN_KEYS:
                        self._name_rows(node, key, child)  # then walked as any list
                    elif not allowed and type(child) is list and self._strings_by_key(key, child):
                        continue
                if allowed:
                    continue
                kind = type(child)
                if kind is str:
                    append(child)
                elif kind is list and rows and id(child) in rows:
                    self._collect_rows(child, rows[id(child)])
                elif kind is dict or kind is list:
                    self._collect(child)
                elif (
                    kind is int or kind is float
                ) and not -_SMALLEST_CARD < child < _SMALLEST_CARD:
                    self._add_number(child)
        else:
            for child in node:
                kind = type(child)
                if kind is str:
                    append(child)
                elif kind is dict or kind is list:
                    self._collect(child)
                elif (
                    kind is int or kind is float
                ) and not -_SMALLEST_CARD < child < _SMALLEST_CARD:
                    self._add_number(child)

    def _name_rows(self, node: dict[str, Any], key: str, columns: list[Any]) -> None:
        """Beside a list of columns under ``key``, a list of rows as long as it is: its named
        columns' cells are read by their names (``_collect_rows``)."""
        named = named_columns(columns)
        if not named:
            return
        width, before = len(columns), True
        for sibling, value in node.items():
            if sibling == key:
                before = False
            elif (
                type(value) is list
                and value
                and id(value) not in self.rows
                and all(type(row) is list and len(row) == width for row in value)
            ):
                self.rows[id(value)] = named
                self._walk_again = self._walk_again or before  # its cells are collected already

    def _collect_rows(self, rows: list[list[Any]], named: dict[int, str]) -> None:
        """A table's rows: a named column's cell is marked with its kind where it is written
        as one (``kind_under``, as for a field of that name); every other cell as in a list."""
        texts, kind_under = self.texts, self._kind_under
        for row in rows:
            for column, cell in enumerate(row):
                name = named.get(column)
                held = kind_under(name, cell) if name is not None else None
                if held is None:
                    self._collect([cell])
                    continue
                self.by_key[len(texts)] = held
                if type(cell) is int:  # a phone number written as an integer
                    row[column] = digits = str(cell)  # what its result replaces
                    self.whole_only.add(len(texts))
                    texts.append(digits)
                else:
                    texts.append(cell)

    def _strings_by_key(self, key: str, strings: list[Any]) -> bool:
        """A list of strings under a key that says what each holds (a header's values, as
        Node's ``set-cookie`` and OTel's header attributes list them): each string is marked
        with its kind, as a string under that key would be. False (nothing added) otherwise."""
        if not strings or any(type(item) is not str for item in strings):
            return False
        kinds = [self._kind_under(key, item) for item in strings]
        if all(kind is None for kind in kinds):
            return False
        texts = self.texts
        for item, kind in zip(strings, kinds, strict=True):
            if kind is not None:
                self.by_key[len(texts)] = kind
            texts.append(item)
        return True

    def _add_number(self, number: float) -> None:
        """A large number: an integer may be shaped like a card; a float may be an integer
        beyond 64 bits that orjson could not hold (``wide_float``)."""
        if type(number) is float:
            if not _LOW < number < _HIGH:
                self.wide_float = True
            return
        digits = str(abs(number))
        if len(digits) in CARD_LENGTHS:
            self.whole_only.add(len(self.texts))
            self.texts.append(digits)

    def rebuilt(self, results: dict[int, Any], drop: object) -> Any:
        """The value with ``results`` (text index -> new text, or ``drop``) applied; ``drop``
        itself when any of them is ``drop``. Mutates the parsed value, which is ours."""
        if any(result is drop for result in results.values()):
            return drop
        self._apply(self.value, results, [0])
        return self.value

    def _apply(self, node: Any, results: dict[int, Any], counter: list[int]) -> None:
        """Walk as ``_collect`` did, replacing the texts that have a result."""
        is_allowed = self._is_allowed
        if type(node) is dict:
            renamed = False
            items = []
            for key, child in node.items():
                new_key = results.get(counter[0], key)
                renamed = renamed or new_key is not key
                counter[0] += 1
                items.append(
                    (new_key, child if is_allowed(key) else self._replaced(child, results, counter))
                )
            if renamed:
                node.clear()
            node.update(items)
        else:
            for index, child in enumerate(node):
                node[index] = self._replaced(child, results, counter)

    def _replaced(self, child: Any, results: dict[int, Any], counter: list[int]) -> Any:
        kind = type(child)
        if kind is str:
            child = results.get(counter[0], child)
            counter[0] += 1
        elif kind is dict or kind is list:
            self._apply(child, results, counter)
        elif (
            kind is int
            and not -_SMALLEST_CARD < child < _SMALLEST_CARD
            and len(str(abs(child))) in CARD_LENGTHS
        ):
            child = results.get(counter[0], child)
            counter[0] += 1
        return child
