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

import re
import threading
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from otel_flywheel.privacy._shapes import Start

__all__ = ["Candidates", "Prefilter", "hyperscan_available"]

try:  # required where it has wheels, optional elsewhere: see docs/decisions.md (issue 16)
    import hyperscan as _hyperscan
except ImportError:  # pragma: no cover - platforms without a wheel
    _hyperscan = None  # type: ignore[assignment]

_hs: Any = _hyperscan  # the module, or None; Any: the code below guards every use


def hyperscan_available() -> bool:
    return _hs is not None


class Prefilter:
    """The start patterns of several groups, compiled into one database; ``starts`` scans a text
    once and returns each group's candidate positions, sorted."""

    def __init__(self, groups: Sequence[Sequence[Start]], database: Any) -> None:
        self._groups = len(groups)
        self._database = database
        # pattern id -> (group, where its anchor is: from the match's end back for a fixed
        # width, from its start on otherwise, with the start tracked by Hyperscan)
        self._targets: list[tuple[int, int, bool]] = []
        for group, starts in enumerate(groups):
            for start in starts:
                width = start.width
                if width is None:  # offsets in the text, not in the newline-led data
                    self._targets.append((group, start.anchor_at - 1, True))
                else:
                    self._targets.append((group, width - start.anchor_at + 1, False))
        self._local = threading.local()  # one scratch space per thread: Hyperscan requires it

    @classmethod
    def load(cls, groups: Sequence[Sequence[Start]]) -> Prefilter | None:
        """A prefilter for ``groups``, or None without Hyperscan."""
        if _hs is None:
            return None
        flat = [start for starts in groups for start in starts]
        database = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        database.compile(
            expressions=[start.pattern.encode("ascii") for start in flat],
            ids=list(range(len(flat))),
            elements=len(flat),
            flags=[
                (0 if s.width is not None else _hs.HS_FLAG_SOM_LEFTMOST)
                | (_hs.HS_FLAG_CASELESS if s.caseless else 0)
                for s in flat
            ],
        )
        return cls(groups, database)

    def starts(self, text: str) -> list[list[int]]:
        """Per group, the sorted positions in ``text`` where its regex may match."""
        # One byte per character, after a newline: a left boundary for the text's first one.
        data = b"\n" + (text.encode("ascii") if text.isascii() else text.encode("ascii", "replace"))
        found: list[list[int]] = [[] for _ in range(self._groups)]
        targets = self._targets

        def on_match(pattern_id: int, start: int, end: int, _flags: int, _context: Any) -> None:
            group, offset, from_start = targets[pattern_id]
            found[group].append(start + offset if from_start else end - offset)

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return [sorted(set(positions)) if len(positions) > 1 else positions for positions in found]

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = _hs.Scratch(self._database)
        return scratch


class Candidates:
    """``regex.search`` over a text, tried only at a prefilter's positions: the same match, since
    the regex cannot match anywhere else."""

    __slots__ = ("_positions", "_regex")

    def __init__(self, regex: re.Pattern[str], positions: list[int]) -> None:
        self._regex = regex
        self._positions = positions

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        positions = self._positions
        match = self._regex.match
        for at in range(bisect_left(positions, pos), len(positions)):
            m = match(text, positions[at])
            if m is not None:
                return m
        return None
