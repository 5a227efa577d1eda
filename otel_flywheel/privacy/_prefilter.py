"""Where a scan's candidates can start, found by a compiled multi-pattern scanner (Hyperscan).

CPython's ``re`` skips to a candidate's first character in C, but each stop costs hundreds of
instructions, and agent text stops it at every digit run. Hyperscan (Vectorscan, compiled to
SIMD automata) finds every place that could start a candidate in one pass at ~GB/s; the scanner
then runs its own ``re`` branches at those places only, so the matches are those of the plain
``re`` scan by construction: each group's ``Start`` patterns describe a *superset* of where its
regex can match (a necessary condition, never a sufficient one), and ``re`` decides.

Hyperscan has no lookaround and, unasked, reports where a match ends, not where it starts; so
every start pattern has a fixed width (its start is its end minus its width, without the cost of
start-of-match tracking) and says at which of its characters the candidate's anchor is (a left
context such as "not after a letter" is a character before it). Patterns are ASCII: the scanned
bytes are the text with every non-ASCII character as one "?" (``str.encode("ascii",
"replace")``), so a byte offset is a character offset, and no pattern needs a non-ASCII
character (the branches' own classes are ASCII; "?" falls in a negated class, as any non-ASCII
character does in ``re``).

Without Hyperscan (a platform without a wheel) ``Prefilter.load`` returns None and the scanner
searches with ``re`` alone: same matches, slower.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from otel_flywheel.privacy._shapes import Start

logger = logging.getLogger(__name__)

__all__ = [
    "Places",
    "Prefilter",
    "WordFinder",
    "all_offsets",
    "char_offsets",
    "hyperscan_available",
]

try:  # required where it has wheels, optional elsewhere: see docs/decisions.md (issue 16)
    import hyperscan as _hyperscan
except ImportError:  # pragma: no cover - platforms without a wheel
    _hyperscan = None  # type: ignore[assignment]

_hs: Any = _hyperscan  # the module, or None; Any: the code below guards every use
_PLACES, _RULED_OUT, _MARKS, _REPORTS = 0, 1, 2, 3  # where a pattern's matches go


def hyperscan_available() -> bool:
    return _hs is not None


class Places(NamedTuple):
    """What one pass of a ``Prefilter`` found in a text."""

    starts: list[int]  # sorted codes ``position * groups + group``
    marked: bool  # a marking pattern matched (``Start.marks``)
    reported: list[int]  # where the reporting patterns' matches end, ascending (``Start.reports``)


class Prefilter:
    """The start patterns of several groups, compiled into one database. ``starts`` scans a
    text once and returns where each group may match, as sorted codes ``position * groups +
    group``: in text order, and at one position in group order."""

    def __init__(self, groups: Sequence[Sequence[Start]], database: Any) -> None:
        self.groups = count = len(groups)
        self._database = database
        # Each pattern id's pattern, for what reports where the scan stops (benchmarks).
        self.patterns = tuple(start.pattern for starts in groups for start in starts)
        # pattern id -> (what to add to its match's end, or start, times ``count``; whether the
        # start is meant; which list its matches go to: places, places ruled out, or marks).
        # Offsets are in the text, not in the newline-led data.
        self._targets: list[tuple[int, bool, int]] = []
        for group, starts in enumerate(groups):
            for start in starts:
                width = start.width
                to = _MARKS if start.marks else _RULED_OUT if start.rules_out else _PLACES
                if start.reports:  # where the match ends, in the text: ``code // count``
                    self._targets.append((-count, False, _REPORTS))
                elif start.anchor_at < 0:  # counted from where the match ends: no width needed
                    add = group + (start.anchor_at - 1) * count
                    self._targets.append((add, False, to))
                elif width is None and not start.marks:  # Hyperscan tracks where it starts
                    add = (start.anchor_at - 1) * count + group
                    self._targets.append((add, True, to))
                else:
                    add = group - ((width or 0) - start.anchor_at + 1) * count
                    self._targets.append((add, False, to))
        self._local = threading.local()  # one scratch space per thread: Hyperscan requires it

    @classmethod
    def load(cls, groups: Sequence[Sequence[Start]]) -> Prefilter | None:
        """A prefilter for ``groups``, or None without Hyperscan."""
        if _hs is None:
            return None
        flat = [start for starts in groups for start in starts]
        try:
            database = _hs.Database(mode=_hs.HS_MODE_BLOCK)
            database.compile(
                expressions=[start.pattern.encode("ascii") for start in flat],
                ids=list(range(len(flat))),
                elements=len(flat),
                flags=[
                    (
                        _hs.HS_FLAG_SINGLEMATCH
                        if s.marks
                        else 0
                        if s.width is not None or s.anchor_at < 0 or s.reports
                        else _hs.HS_FLAG_SOM_LEFTMOST
                    )
                    | (_hs.HS_FLAG_CASELESS if s.caseless else 0)
                    for s in flat
                ],
            )
            prefilter = cls(groups, database)
            prefilter.starts("0")  # a CPU Vectorscan cannot run on fails here, not on a span
        except Exception:  # Hyperscan's errors have no common base; the scan stays correct
            logger.warning(
                "Hyperscan cannot run here; redaction scans with re alone (same findings, slower)",
                exc_info=True,
            )
            return None
        return prefilter

    def starts(self, text: str) -> list[int]:
        """Where each group may match in ``text``: sorted codes ``position * groups + group``."""
        return self.places(text).starts

    def places(self, text: str) -> Places:
        """``starts``, whether a marking pattern (``Start.marks``) matched, and where the
        reporting ones (``Start.reports``) matches end."""
        # One byte per character, after a newline: a left boundary for the text's first one.
        data = b"\n" + (text.encode("ascii") if text.isascii() else text.encode("ascii", "replace"))
        lists: tuple[list[int], ...] = ([], [], [], [])
        targets, count = self._targets, self.groups

        def on_match(pattern_id: int, start: int, end: int, _flags: int, _context: Any) -> None:
            add, from_start, to = targets[pattern_id]
            lists[to].append((start if from_start else end) * count + add)

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        found, ruled_out, marks, reports = lists
        return Places(
            sorted(set(found).difference(ruled_out)),
            bool(marks),
            sorted({code // count for code in reports}) if reports else reports,
        )

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = _hs.Scratch(self._database)
        return scratch


class WordFinder:
    """Where words written with non-ASCII letters ("пароль", "密码", "hasło") occur in a text,
    which the prefilter cannot see (each such letter is a "?" to it).

    Hyperscan scans the text's UTF-8 bytes for all of them in one pass, asked only for texts
    that are not ASCII; hits are mapped back to character offsets. Without Hyperscan, or where it
    cannot run, ``str.find`` per word. Matching is exact: a word's other cases are words of
    their own ("Пароль", "ПАРОЛЬ")."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = tuple(words)
        self._encoded = [word.encode("utf-8") for word in self.words]
        self._database: Any = None
        self._local = threading.local()
        if _hs is not None and self.words:
            try:
                database = _hs.Database(mode=_hs.HS_MODE_BLOCK)
                database.compile(
                    expressions=[
                        "".join(f"\\x{byte:02x}" for byte in word).encode("ascii")
                        for word in self._encoded
                    ],
                    ids=list(range(len(self.words))),
                    elements=len(self.words),
                )
                self._database = database
                self.positions("?")  # a CPU Vectorscan cannot run on fails here
            except Exception:
                logger.warning(
                    "Hyperscan cannot run here; words are found with str.find", exc_info=True
                )
                self._database = None

    def positions(self, text: str) -> list[tuple[int, int]]:
        """(character offset, word index) of every occurrence, sorted."""
        if self._database is None:
            return sorted(
                (at, index)
                for index, word in enumerate(self.words)
                for at in all_offsets(text, word)
            )
        data = text.encode("utf-8", "surrogatepass")
        hits: list[tuple[int, int]] = []
        lengths = [len(word) for word in self._encoded]

        def on_match(word: int, _start: int, end: int, _flags: int, _context: Any) -> None:
            hits.append((end - lengths[word], word))

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = _hs.Scratch(self._database)
        self._database.scan(data, match_event_handler=on_match, scratch=scratch)
        hits.sort()
        return [(at, word) for at, (_, word) in zip(char_offsets(data, hits), hits, strict=True)]


def all_offsets(haystack: Any, needle: Any) -> list[int]:
    """Every offset of ``needle`` in ``haystack`` (a str or bytes), overlapping ones included."""
    offsets = []
    at = haystack.find(needle)
    while at >= 0:
        offsets.append(at)
        at = haystack.find(needle, at + 1)
    return offsets


def char_offsets(data: bytes, hits: Sequence[tuple[int, Any]]) -> list[int]:
    """The character offsets of ``hits``' byte offsets (ascending) into ``data``, UTF-8: only
    what lies between two hits is decoded."""
    offsets = []
    byte_at = char_at = 0
    for at, _ in hits:
        char_at += len(data[byte_at:at].decode("utf-8", "surrogatepass"))
        byte_at = at
        offsets.append(char_at)
    return offsets
