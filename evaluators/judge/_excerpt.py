"""Cutting a long text to a length, keeping what matters: its head, its tail, and the passages
that share the most distinctive terms with what the judge checks it against (the goal, the answer,
the call that produced it).

A 200 KB page whose one contradicting sentence sits in the middle keeps that sentence: each
passage is scored by the weighted terms it shares with the query, the best ones are kept in their
original order, and every gap says how much was left out (``[... 1234 chars omitted ...]``). With no
passage sharing a term, the text is cut in the middle as before (two thirds head, one third tail).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from ._terms import terms

__all__ = ["Excerpter", "cut_middle"]

_WINDOW_CHARS: Final = 320
_MARKER_CHARS: Final = 32  # the length of a gap marker, roughly


def _marker(omitted: int) -> str:
    return f"[... {omitted} chars omitted ...]"


def cut_middle(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters in the middle, saying how much was omitted."""
    if len(text) <= limit:
        return text
    head = max(1, limit * 2 // 3)
    tail = max(1, limit - head)
    return f"{text[:head]}{_marker(len(text) - head - tail)}{text[-tail:]}"


@dataclass
class Excerpter:
    """Excerpts of one text at any length; the passages are scored once against ``query``."""

    text: str
    query: Mapping[str, float]
    _windows: list[tuple[int, int]] = field(default_factory=list, init=False)
    _scores: list[float] = field(default_factory=list, init=False)
    _scored: bool = field(default=False, init=False)

    def excerpt(self, limit: int) -> str:
        text = self.text
        if len(text) <= limit:
            return text
        self._score()
        if limit < 3 * _WINDOW_CHARS or not any(self._scores):
            return cut_middle(text, limit)
        head = limit // 5
        tail = limit // 10
        budget = limit - head - tail
        chosen: list[tuple[int, int]] = [(0, head), (len(text) - tail, len(text))]
        order = sorted(range(len(self._windows)), key=lambda index: (-self._scores[index], index))
        for index in order:
            if self._scores[index] <= 0:
                break
            start, end = self._windows[index]
            cost = end - start + _MARKER_CHARS
            if start < head or end > len(text) - tail:
                continue
            if cost > budget:
                continue
            chosen.append((start, end))
            budget -= cost
        return _assemble(text, chosen)

    def _score(self) -> None:
        if self._scored:
            return
        self._scored = True
        self._windows, found = _passages(self.text)
        query = self.query
        self._scores = [
            sum(weight for term, weight in query.items() if term in terms_) for terms_ in found
        ]


@lru_cache(maxsize=64)
def _passages(text: str) -> tuple[list[tuple[int, int]], list[frozenset[str]]]:
    """The passages of ``text`` (about `_WINDOW_CHARS` each, ended at a line or sentence break
    where one is near) and their terms. Cached: every rubric excerpts the same long texts."""
    windows: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + _WINDOW_CHARS)
        if end < len(text):
            window = text[start:end]
            cut = max(window.rfind("\n"), window.rfind(". "))
            if cut < _WINDOW_CHARS // 2:
                cut = window.rfind(" ")
            if cut >= _WINDOW_CHARS // 2:
                end = start + cut + 1
        windows.append((start, end))
        start = end
    return windows, [frozenset(terms(text[start:end])) for start, end in windows]


def _assemble(text: str, spans: list[tuple[int, int]]) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces: list[str] = []
    position = 0
    for start, end in merged:
        if start > position:
            pieces.append(_marker(start - position))
        pieces.append(text[start:end])
        position = end
    if position < len(text):
        pieces.append(_marker(len(text) - position))
    return "".join(pieces)
