"""Distinctive terms of a trace's texts: what ties a step to the answer, and a long text's middle
to the question.

A term is a lower-cased word of three or more letters that is not a stop word, or any token with a
digit in it (figures, dates, ids such as ``A-1003``, amounts such as ``$900``): the things an answer
repeats from its sources and a reviewer quotes as evidence. Terms are weighted by inverse document
frequency over the trace's steps, so words every step carries (the product name, JSON keys of a
repeated record) count for little and a figure only one step holds counts for much.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = ["TermWeights", "terms"]

# Words of three or more letters; tokens with a digit in them, with their joining punctuation.
_WORD: Final = re.compile(r"[^\W\d_]{3,}")
# Tokens are found first and then kept if they hold a digit: a pattern requiring the digit would
# backtrack quadratically over a long run of letters.
_TOKEN: Final = re.compile(r"[\w$€£.,:/%-]+")
_DIGIT: Final = re.compile(r"\d")
_MAX_FIGURE_CHARS: Final = 64
_STOP: Final = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "your",
        "yours",
        "with",
        "this",
        "that",
        "these",
        "those",
        "from",
        "have",
        "has",
        "had",
        "was",
        "were",
        "will",
        "would",
        "can",
        "could",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "our",
        "ours",
        "their",
        "theirs",
        "they",
        "them",
        "then",
        "than",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "only",
        "own",
        "same",
        "too",
        "very",
        "just",
        "into",
        "onto",
        "over",
        "under",
        "about",
        "above",
        "below",
        "again",
        "once",
        "also",
        "been",
        "being",
        "does",
        "did",
        "doing",
        "its",
        "it's",
        "itself",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "as",
        "or",
        "if",
        "is",
        "be",
        "an",
        "a",
        "no",
        "nor",
        "so",
        "up",
        "out",
        "off",
        "null",
        "true",
        "false",
        "none",
        "please",
        "thanks",
        "thank",
        "yes",
    ]
)
_TRAILING: Final = ".,:/-%"


def terms(text: str) -> set[str]:
    """The distinctive terms of ``text`` (see the module docstring)."""
    lowered = text.lower()
    found = set(_WORD.findall(lowered))
    found -= _STOP
    has_digit = _DIGIT.search
    for token in _TOKEN.findall(lowered):
        if len(token) <= _MAX_FIGURE_CHARS and has_digit(token):
            figure = token.strip(_TRAILING)
            if figure:
                found.add(figure)
    return found


class TermWeights:
    """Inverse document frequency of terms over a set of documents (a trace's steps)."""

    def __init__(self, documents: Iterable[set[str]]) -> None:
        frequency: Counter[str] = Counter()
        count = 0
        for document in documents:
            count += 1
            frequency.update(document)
        self._frequency = frequency
        self._count = max(count, 1)

    def weight(self, term: str) -> float:
        """``log(1 + N / df)``: a term in every document weighs ~0.7, one in a single document of
        a 60-step trace ~4.1; a term no document holds weighs as a rare one."""
        return math.log(1 + self._count / max(self._frequency.get(term, 0), 1))

    def query(self, *texts: str) -> dict[str, float]:
        """The weighted terms of ``texts``: what an excerpt or a ranking looks for."""
        wanted: dict[str, float] = {}
        for text in texts:
            for term in terms(text):
                wanted[term] = self.weight(term)
        return wanted

    def overlap(self, found: set[str], query: Mapping[str, float]) -> float:
        """The summed weight of the ``query`` terms that ``found`` holds."""
        if len(found) > len(query):
            return sum(weight for term, weight in query.items() if term in found)
        return sum(query[term] for term in found if term in query)
