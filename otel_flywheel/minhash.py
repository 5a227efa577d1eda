"""Near-duplicate detection: word shingles, MinHash signatures, LSH banding, exact Jaccard check.

Two texts are near-duplicates when the Jaccard similarity of their word 3-shingle sets reaches a
threshold. Comparing every pair is quadratic, so MinHash finds the candidates: each text gets a
signature of ``num_perm`` minimums of universal hashes ``(a * x + b) mod (2^61 - 1)`` over its
shingle hashes; two texts agree on one signature position with probability equal to their
Jaccard similarity. Signatures are cut into bands of ``r`` rows; texts sharing a whole band are
candidates. ``r`` is chosen so that a pair at the threshold becomes a candidate with probability
>= 0.995. Candidates are then confirmed with the exact Jaccard of their shingle sets, so MinHash
only decides what is compared, never what is removed: no false positives, and false negatives
bounded by that probability.

Standard library only (``datasketch`` does the same with numpy); fast enough for exports of tens of
thousands of rows. Shared by the export's near-duplicate filter and the report's goal clustering
(``NearDuplicateIndex.find_or_add`` keeps the first text of each group: leader clustering).
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections import defaultdict
from typing import Final

__all__ = ["NearDuplicateIndex", "jaccard", "normalize_text", "shingles"]

_PRIME: Final = (1 << 61) - 1
_MAX_HASH: Final = _PRIME  # signature value of an empty set: never equal to a real minimum
_WORD = re.compile(r"\w+")
_WHITESPACE = re.compile(r"\s+")
_TARGET_RECALL: Final = 0.995


def normalize_text(text: str) -> str:
    """NFKC, case folded, whitespace collapsed: the normalization routing uses for example ids."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def shingles(text: str, *, size: int = 3) -> frozenset[int]:
    """64-bit hashes of the text's word ``size``-grams (the whole text when it is shorter)."""
    words = _WORD.findall(normalize_text(text))
    if not words:
        return frozenset()
    grams = (
        [" ".join(words)]
        if len(words) <= size
        else [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]
    )
    return frozenset(
        int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big") % _PRIME
        for gram in grams
    )


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class NearDuplicateIndex:
    """Texts added so far, indexed for near-duplicate lookup; the first of a group is kept.

    ``threshold`` is the Jaccard similarity from which two texts count as near-duplicates.
    Deterministic: the hash functions come from a fixed seed.
    """

    def __init__(self, *, threshold: float, num_perm: int = 64, seed: int = 20261121) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        self.threshold = threshold
        rng = random.Random(seed)
        self._a = [rng.randrange(1, _PRIME) for _ in range(num_perm)]
        self._b = [rng.randrange(0, _PRIME) for _ in range(num_perm)]
        self._ab = list(zip(self._a, self._b, strict=True))
        self._rows = _rows_per_band(threshold, num_perm)
        self._buckets: defaultdict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
        self._keys: list[str] = []
        self._sets: list[frozenset[int]] = []

    def find(
        self, shingle_set: frozenset[int], *, signature: list[int] | None = None
    ) -> tuple[str, float] | None:
        """The earliest added text that ``shingle_set`` nearly duplicates, with the similarity.

        ``signature``: `signature` of the set, when the caller already has it.
        """
        best: tuple[int, float] | None = None
        if signature is None:
            signature = self.signature(shingle_set)
        for band in self._bands(signature):
            for index in self._buckets.get(band, ()):
                if best is not None and index >= best[0]:
                    continue
                similarity = jaccard(shingle_set, self._sets[index])
                if similarity >= self.threshold:
                    best = (index, similarity)
        return (self._keys[best[0]], best[1]) if best is not None else None

    def add(
        self, key: str, shingle_set: frozenset[int], *, signature: list[int] | None = None
    ) -> None:
        index = len(self._keys)
        self._keys.append(key)
        self._sets.append(shingle_set)
        if signature is None:
            signature = self.signature(shingle_set)
        for band in self._bands(signature):
            self._buckets[band].append(index)

    def find_or_add(self, key: str, shingle_set: frozenset[int]) -> tuple[str, float] | None:
        """`find`, and `add` under ``key`` when nothing matched: keeps the first of each group."""
        signature = self.signature(shingle_set)
        match = self.find(shingle_set, signature=signature)
        if match is None:
            self.add(key, shingle_set, signature=signature)
        return match

    def signature(self, shingle_set: frozenset[int]) -> list[int]:
        """The MinHash signature: per hash function, the minimum over the set."""
        if not shingle_set:
            return [_MAX_HASH] * len(self._a)
        hashes = list(shingle_set)
        return [min([(a * x + b) % _PRIME for x in hashes]) for a, b in self._ab]

    def _bands(self, signature: list[int]) -> list[tuple[int, tuple[int, ...]]]:
        r = self._rows
        return [
            (start, tuple(signature[start : start + r])) for start in range(0, len(signature), r)
        ]


def _rows_per_band(threshold: float, num_perm: int) -> int:
    """The most rows per band (fewest candidates) that still catch a pair at ``threshold`` with
    probability >= 0.995: ``1 - (1 - t^r)^(num_perm / r)``."""
    best = 1
    for rows in (1, 2, 4, 8, 16):
        if num_perm % rows:
            continue
        if 1 - (1 - threshold**rows) ** (num_perm // rows) >= _TARGET_RECALL:
            best = rows
    return best
