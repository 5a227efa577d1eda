"""Detectors: find the spans of PII and secrets in a string.

``BuiltinDetector`` finds every built-in kind in one scan (``_scan``): candidates are proposed at C
speed and confirmed in Python by the check that makes each precise (Luhn, mod-97,
``phonenumbers``...). The shapes and their checks live in ``_pii``, ``_phones``, ``_cards``,
``_network`` and ``_secrets``; this module assembles them, and adds the user-configured detectors
and the merging of several detectors' matches.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Final, Protocol, runtime_checkable

from otel_flywheel.errors import ConfigError
from otel_flywheel.privacy._codes import CODE_ALTERNATIVES
from otel_flywheel.privacy._decoding import Decoded, html_unescaped, json_unescaped
from otel_flywheel.privacy._html_tables import (
    HTML_HEADER_STARTS,
    opens_html_cell,
    values_in_html_tables,
)
from otel_flywheel.privacy._json_tables import (
    COLUMNS_STARTS,
    opens_json_columns,
    values_in_json_text,
)
from otel_flywheel.privacy._lookalikes import with_ascii_lookalikes
from otel_flywheel.privacy._password_forms import PASSWORD_FORM_ALTERNATIVES
from otel_flywheel.privacy._percent import URL_TRIGGERS, read_url_encoded
from otel_flywheel.privacy._pii import (
    CONTEXT_PHONE_ALTERNATIVE,
    DEFAULT_PHONE_REGIONS,
    KIND_CARD,
    KIND_EMAIL,
    KIND_IBAN,
    KIND_IP,
    KIND_PHONE,
    KIND_SSN,
    PII_ALTERNATIVES,
    PII_KINDS,
    checked_phone_regions,
    forget_phone_readings,
    keep_compiled_metadata,
    national_phone_alternatives,
)
from otel_flywheel.privacy._scan import Scanner
from otel_flywheel.privacy._secrets import (
    KIND_ANTHROPIC_KEY,
    KIND_API_KEY,
    KIND_AWS_KEY_ID,
    KIND_BEARER_TOKEN,
    KIND_GITHUB_TOKEN,
    KIND_GITLAB_TOKEN,
    KIND_JWT,
    KIND_OPENAI_KEY,
    KIND_PASSWORD,
    KIND_PRIVATE_KEY,
    KIND_SLACK_TOKEN,
    SECRET_ALTERNATIVES,
    SECRET_KINDS,
)
from otel_flywheel.privacy._shapes import Match
from otel_flywheel.privacy._tables import HEADER_STARTS, values_in_tables
from otel_flywheel.privacy._told import TOLD_ALTERNATIVES

__all__ = [
    "BUILTIN_KINDS",
    "DEFAULT_PHONE_REGIONS",
    "KIND_ANTHROPIC_KEY",
    "KIND_API_KEY",
    "KIND_AWS_KEY_ID",
    "KIND_BEARER_TOKEN",
    "KIND_CARD",
    "KIND_EMAIL",
    "KIND_GITHUB_TOKEN",
    "KIND_GITLAB_TOKEN",
    "KIND_IBAN",
    "KIND_IP",
    "KIND_JWT",
    "KIND_OPENAI_KEY",
    "KIND_PASSWORD",
    "KIND_PHONE",
    "KIND_PRIVATE_KEY",
    "KIND_SLACK_TOKEN",
    "KIND_SSN",
    "SECRET_KINDS",
    "BuiltinDetector",
    "Detector",
    "Match",
    "RegexDetector",
    "TermDetector",
    "find_all",
    "merge_matches",
]

BUILTIN_KINDS: Final = PII_KINDS | SECRET_KINDS


@runtime_checkable
class Detector(Protocol):
    """Finds sensitive values. Must not raise on any ``str`` (lone surrogates included)."""

    kinds: frozenset[str]

    def find(self, text: str) -> list[Match]: ...


# --- the built-in detector -----------------------------------------------------------------------


@lru_cache(maxsize=16)
def _scanner(kinds: frozenset[str], regions: tuple[str, ...]) -> Scanner:
    # Order matters when two branches could start at the same place: secrets before PII,
    # specific shapes before general ones.
    candidates = [
        *SECRET_ALTERNATIVES,
        *PASSWORD_FORM_ALTERNATIVES,
        *TOLD_ALTERNATIVES,
        *CODE_ALTERNATIVES,
        *PII_ALTERNATIVES,
    ]
    if regions:  # numbers without a country code; none with phone_regions: [] ("+" only)
        candidates.extend(national_phone_alternatives(regions))
        candidates.append(CONTEXT_PHONE_ALTERNATIVE)  # last: any other reading of the digits wins
    if KIND_PHONE in kinds:
        keep_compiled_metadata()
    return Scanner(
        [a for a in candidates if a.kind in kinds],
        reported=(*HEADER_STARTS, *HTML_HEADER_STARTS, *COLUMNS_STARTS),
    )


# How many levels of JSON string escapes are read: an OpenInference request holds the tool call's
# arguments as a JSON string, and a log line or an exception may quote that request again.
_JSON_NESTING: Final = 3


class BuiltinDetector:
    """Every built-in PII and secret kind (or the ``kinds`` given) in one scan.

    ``phone_regions`` (ISO 3166 alpha-2 codes) are where phone numbers written without a country
    code are read as national numbers; the default is ``DEFAULT_PHONE_REGIONS``, and ``()`` finds
    international numbers only. ``default_phone_region`` is the older single-region option: that
    region is tried first, before ``phone_regions``. Thread-safe and reusable.

    ``joinable``: its matches in several strings joined by ``JOIN`` are theirs in each string, so
    the redactor scans a JSON document's strings in one call (see ``Redactor``).
    """

    joinable: Final = True

    def __init__(
        self,
        *,
        kinds: Iterable[str] | None = None,
        phone_regions: Iterable[str] | None = None,
        default_phone_region: str | None = None,
    ) -> None:
        selected = BUILTIN_KINDS if kinds is None else frozenset(kinds)
        unknown = selected - BUILTIN_KINDS
        if unknown:
            raise ConfigError(
                f"unknown built-in detector kinds {sorted(unknown)}; "
                f"choose from {sorted(BUILTIN_KINDS)}"
            )
        regions = DEFAULT_PHONE_REGIONS if phone_regions is None else tuple(phone_regions)
        if default_phone_region is not None:
            regions = (default_phone_region, *regions)
        self.kinds: frozenset[str] = selected
        self.phone_regions: tuple[str, ...] = checked_phone_regions(regions)
        self._scanner = _scanner(selected, self.phone_regions)

    def __repr__(self) -> str:
        return f"BuiltinDetector(kinds={sorted(self.kinds)}, phone_regions={self.phone_regions!r})"

    def find(self, text: str) -> list[Match]:
        if not text:
            return []
        # JSON string escapes and HTML character references read as what they stand for
        # (``_decoding``): a tool call's arguments inside a request's JSON, JSON quoted in an
        # exception message, a scraped page's "&nbsp;" between digit groups.
        layers: list[Decoded] = []
        json_read: Decoded | None = None  # the JSON escapes read, where they were read last
        read = text
        for _ in range(_JSON_NESTING):  # JSON in a JSON string in a JSON string ...
            if "\\" not in read or (unescaped := json_unescaped(read)) is None:
                break
            layers.append(json_read := unescaped)
            read = unescaped.text
        if "&" in read and (unescaped := html_unescaped(read)) is not None:
            layers.append(unescaped)
            read = unescaped.text
            json_read = None
        found, json_tables = self._find_in_decoded(read, json_read)
        found = _as_written(found, layers)
        if json_tables and (cells := self._in_json_tables(text, layers)):
            found = _with_cells(found, cells)
        return found

    def _find_in_decoded(self, text: str, json_read: Decoded | None) -> tuple[list[Match], bool]:
        """``text`` with its JSON and HTML escapes read (``json_read``: the JSON escapes, where
        they were the last read): look-alikes read as ASCII, the scan, the columns of tables
        whose header names their kind, then the runs of URL-encoded characters read decoded;
        and whether the scan saw what may open a JSON table's columns (``\"columns\": [``)."""
        # Typographic spaces, hyphens and full-width digits read as ASCII (``_lookalikes``): the
        # offsets are the same, so the value is redacted as written.
        read = with_ascii_lookalikes(text)
        found, reported = self._scanner.find_reporting(read)
        json_tables = False
        if reported:  # where a table may name its columns
            found, json_tables = self._with_tables(read, reported, json_read, found)
        if any(trigger in read for trigger in URL_TRIGGERS):
            # Values in URLs, encoded ("?email=jane%40example.com"): read there decoded instead,
            # but for secrets, which are also found as written: a password's own "%" is literal
            # and a URL's userinfo is read encoded ("https://u:s3cr%2Ft@host" is "s3cr%2Ft").
            runs, decoded = read_url_encoded(read, self._scan_as_ascii)
            if runs:
                kept = [m for m in found if m.kind in SECRET_KINDS or not _inside_any(m, runs)]
                found = merge_matches([*kept, *decoded]) if decoded else kept
        return found, json_tables

    def _with_tables(
        self, text: str, reported: list[int], json_read: Decoded | None, found: list[Match]
    ) -> tuple[list[Match], bool]:
        """``found`` with the values in the columns of the tables whose places the scan reported
        (a text table's header cell, an HTML table's), and whether one of those places opens a
        JSON table's columns (``"columns": [``, read in the text as written, by ``find``)."""
        lines: list[int] = []
        cells: list[int] = []
        json_tables = False
        for end in reported:
            if opens_json_columns(text, end):
                json_tables = True
            elif opens_html_cell(text, end):
                cells.append(end)
            else:
                lines.append(end)
        if cells and (values := self._kept(values_in_html_tables(text, cells))):
            found = _with_cells(found, values)
        if lines and (values := self._in_tables(text, lines, json_read)):
            found = _with_cells(found, values)
        return found, json_tables

    def _in_json_tables(self, text: str, layers: list[Decoded]) -> list[Match]:
        """The named columns' values of JSON tables written as text (``values_in_json_text``),
        in ``text`` as written and in each reading of its JSON escapes that is JSON again."""
        found = values_in_json_text(text)
        for depth, layer in enumerate(layers):
            if '"' in layer.text and (inner := values_in_json_text(layer.text)):
                found.extend(_as_written(inner, layers[: depth + 1]))
        return self._kept(found)

    def _in_tables(
        self, text: str, header_ends: list[int], json_read: Decoded | None
    ) -> list[Match]:
        escaped = json_read.at if json_read is not None else None
        return self._kept(values_in_tables(text, header_ends, escaped=escaped))

    def _kept(self, found: list[Match]) -> list[Match]:
        """``found`` of this detector's kinds."""
        return [m for m in found if m.kind in self.kinds]

    def _scan_as_ascii(self, text: str) -> list[Match]:
        """The scan of ``text`` with look-alikes read as ASCII (for a decoded URL run)."""
        return self._scanner.find(with_ascii_lookalikes(text))

    @staticmethod
    def forget_readings() -> None:
        """Forget the phone numbers read so far (the checks cache them per candidate, process
        wide), so that a benchmark measures numbers seen for the first time."""
        forget_phone_readings()


# --- user-configured detectors -------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"detector name {name!r} is invalid: it becomes the redaction token (<NAME:...>), so use "
            "letters, digits, '_', '.' or '-', e.g. 'CUSTOMER_NAME'"
        )
    return name


class RegexDetector:
    """A user-configured pattern reported as kind ``name``.

    If the pattern has a group named ``value``, only that group is replaced
    (``r"ACC-(?P<value>\\d{8})"`` keeps the "ACC-" prefix readable); otherwise the whole match is.
    """

    def __init__(self, name: str, pattern: str, *, flags: int = 0) -> None:
        self.name = _checked_name(name)
        try:
            self._regex = re.compile(pattern, flags)
        except (re.error, TypeError, ValueError) as exc:
            raise ConfigError(
                f"redaction pattern {name!r}: {pattern!r} is not a valid regular expression "
                f"({exc}); fix it using Python `re` syntax"
            ) from exc
        self._has_value = "value" in self._regex.groupindex
        self.kinds: frozenset[str] = frozenset({name})

    def __repr__(self) -> str:
        return f"RegexDetector({self.name!r}, {self._regex.pattern!r})"

    def find(self, text: str) -> list[Match]:
        found: list[Match] = []
        for m in self._regex.finditer(text):
            start, end = m.span("value") if self._has_value else m.span()
            if start < end:  # (-1, -1) when the value group did not take part; skip empty matches
                found.append(Match(start, end, self.name))
        return found


class TermDetector:
    """Literal terms (customer names, account numbers): case-insensitive, whole words, longest
    term first, whitespace inside a term matching any run of whitespace.

    The terms compile into one regex shaped as a trie ("acme(?: corp)?|globex"), not a flat
    alternation: Python's backtracking engine tries a flat alternation's branches one by one at
    every word start, which is thousands of attempts per word for thousands of terms. The trie is
    the same language (and, being greedy, still prefers the longest term) at a cost set by the
    terms' length, not their number.
    """

    joinable: Final = True  # whole words: a term never continues across the redactor's joiner

    def __init__(self, name: str, terms: Iterable[str]) -> None:
        self.name = _checked_name(name)
        words = {" ".join(str(t).split()).lower() for t in terms} - {""}
        self.kinds: frozenset[str] = frozenset({name})
        self.term_count = len(words)
        self._regex: re.Pattern[str] | None = None
        if words:
            try:
                body = _trie_pattern(words)
                self._regex = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)
            except RecursionError:  # absurdly deep nesting (terms "a", "aa", "aaa", ...)
                body = "|".join(_atoms(w) for w in sorted(words, key=len, reverse=True))
                self._regex = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)

    def __repr__(self) -> str:
        return f"TermDetector({self.name!r}, <{self.term_count} terms>)"

    def find(self, text: str) -> list[Match]:
        if self._regex is None:
            return []
        return [Match(m.start(), m.end(), self.name) for m in self._regex.finditer(text)]


_END = ""  # trie key marking the end of a term (no character is the empty string)
_Trie = dict[str, "_Trie"]


def _atoms(word: str) -> str:
    return "".join(r"\s+" if ch == " " else re.escape(ch) for ch in word)


def _trie_pattern(words: Iterable[str]) -> str:
    root: _Trie = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[_END] = {}
    return _node_pattern(root)


def _node_pattern(node: _Trie) -> str:
    branches = []
    for ch in sorted(k for k in node if k != _END):
        # Follow single-child chains without recursing: recursion happens only at branch points.
        prefix, child = [ch], node[ch]
        while len(child) == 1 and _END not in child:
            ((next_ch, grandchild),) = child.items()
            prefix.append(next_ch)
            child = grandchild
        branches.append(_atoms("".join(prefix)) + _node_pattern(child))
    if not branches:
        return ""
    if _END in node:  # a term ends here; greedy "?" still tries the longer terms first
        return f"(?:{'|'.join(branches)})?"
    return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"


# --- merging -------------------------------------------------------------------------------------


def find_all(text: str, detectors: Sequence[Detector]) -> list[Match]:
    """Every detector's matches, sorted by start, merged where they overlap (``merge_matches``)."""
    if len(detectors) == 1 and isinstance(detectors[0], BuiltinDetector):
        return detectors[0].find(text)  # sorted and never overlapping already
    candidates: list[Match] = []
    for detector in detectors:
        candidates.extend(m for m in detector.find(text) if 0 <= m.start < m.end <= len(text))
    return merge_matches(candidates)


def _as_written(found: list[Match], layers: Sequence[Decoded]) -> list[Match]:
    """Matches in the text read through ``layers`` (escapes read, in order), where they are
    written in the text before them."""
    for layer in reversed(layers):
        written = layer.written
        found = [Match(written(m.start), written(m.end), m.kind) for m in found]
    return found


def _with_cells(found: list[Match], cells: list[Match]) -> list[Match]:
    """``found`` with a table's cells: the header says what its cells are, so another reading
    inside a cell gives way to it (``078051120`` under "ssn"); one reaching past a cell is
    merged with it."""
    spans = sorted((m.start, m.end) for m in cells)
    return merge_matches([*(m for m in found if not _within_any(m, spans)), *cells])


_AFTER_ANY: Final = float("inf")


def _within_any(match: Match, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether ``match`` lies inside one of ``spans`` (sorted, apart)."""
    i = bisect_right(spans, (match.start, _AFTER_ANY)) - 1
    return i >= 0 and spans[i][0] <= match.start and match.end <= spans[i][1]


def _inside_any(match: Match, runs: Sequence[tuple[int, int]]) -> bool:
    """Whether ``match`` overlaps one of ``runs`` (sorted, apart)."""
    i = bisect_left(runs, (match.end,))
    return i > 0 and runs[i - 1][1] > match.start


def merge_matches(candidates: list[Match]) -> list[Match]:
    """``candidates`` sorted by start, merged where they overlap.

    Overlapping matches are redacted as their *union*: when two detectors disagree about where a
    sensitive value ends, neither may leave part of it behind (a user regex covering half a card
    must not let the other half out). The merged match keeps the kind of the match that ranks
    first: secrets before PII (the password in "https://u:p4ss@example.com" stays a PASSWORD even
    where an email-shaped pattern claims more), then the earlier start, then the longer match.
    """
    if len(candidates) <= 1:
        return candidates
    candidates.sort(key=lambda m: (m.kind not in SECRET_KINDS, m.start, m.start - m.end))
    starts: list[int] = []
    kept: list[Match] = []  # sorted by start, never overlapping; ranks earlier than later ones
    for m in candidates:
        i = bisect_left(starts, m.start)
        low = i - 1 if i > 0 and kept[i - 1].end > m.start else i
        high = i
        while high < len(kept) and kept[high].start < m.end:
            high += 1
        if low == high:
            starts.insert(i, m.start)
            kept.insert(i, m)
            continue
        overlapped = kept[low:high]
        winner = min(
            overlapped, key=lambda k: (k.kind not in SECRET_KINDS, k.start, k.start - k.end)
        )
        merged = Match(
            min(m.start, overlapped[0].start), max(m.end, overlapped[-1].end), winner.kind
        )
        kept[low:high] = [merged]
        starts[low:high] = [merged.start]
    return kept
