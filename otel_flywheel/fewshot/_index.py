"""Finding the examples most like a request: BM25 by default, the user's embeddings if given.

An `ExampleIndex` is built once per load, in the background, and never changed after: the agent's
threads read it without a lock. A search:

1. scores every example: BM25 (``bm25s``, Lucene's variant) over lowercased words of two or more
   characters without English stopwords (NLTK's list, as bm25s ships it), the same tokens for examples and requests; with an
   ``embed`` function, the cosine similarity of embeddings instead, optionally mixed with the BM25
   score normalized to the request's best (``lexical_weight``);
2. leaves out the examples of the request's user and session, and any excluded ids (leakage);
3. walks the rest best first, skipping one whose word shingles overlap an example already chosen
   by ``max_overlap`` or more (Jaccard): the chosen examples show different things.

Only examples scoring above ``min_score`` are chosen: a request like none of the examples gets
none, rather than three unrelated ones.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from otel_flywheel.fewshot._example import FewShotExample, ScoredExample
from otel_flywheel.minhash import jaccard, shingles

if TYPE_CHECKING:
    import numpy as np

__all__ = ["EmbeddingFunction", "ExampleIndex", "tokenize"]

EmbeddingFunction = Callable[[Sequence[str]], Any]
"""Texts in, one vector per text out (a list of lists, or a 2-D array)."""

_WORD: Final = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern
# A window of candidates wide enough for the diversity walk to find k distinct ones.
_CANDIDATES_PER_PICK: Final = 8


@cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS  # loaded with the first index, not on import

    return frozenset(STOPWORDS_EN_PLUS)


@cache
def _quiet_bm25s() -> None:
    """bm25s sets its own logger to DEBUG on import, which prints "Building index" through any
    handler an application configured; its level goes back to the application's (NOTSET)."""
    logger = logging.getLogger("bm25s")
    if logger.level == logging.DEBUG:
        logger.setLevel(logging.NOTSET)


def tokenize(text: str) -> list[str]:
    """The words BM25 compares: lowercased, two characters or more, English stopwords dropped."""
    stopwords = _stopwords()
    return [word for word in _WORD.findall(text.lower()) if word not in stopwords]


class ExampleIndex:
    """An immutable search index over ``examples`` (see the module docstring)."""

    def __init__(
        self,
        examples: Sequence[FewShotExample],
        *,
        embed: EmbeddingFunction | None = None,
        lexical_weight: float = 0.0,
    ) -> None:
        import bm25s

        self.examples = tuple(examples)
        for example in self.examples:
            example.messages_with_ids("")  # builds its message template here, off the hot path
        self._embed = embed
        self._lexical_weight = lexical_weight
        self._shingles = [shingles(example.text) for example in self.examples]
        # Who each example belongs to, so a request's own are left out in O(its examples).
        self._positions: dict[tuple[str, str], list[int]] = {}
        for index, example in enumerate(self.examples):
            for kind, value in (
                ("user", example.user_id),
                ("session", example.session_id),
                ("id", example.example_id),
            ):
                if value:
                    self._positions.setdefault((kind, value), []).append(index)
        self._bm25: Any = None
        if self.examples and (embed is None or lexical_weight > 0):
            corpus = [tokenize(example.text) or ["\x00"] for example in self.examples]
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)
        self._vectors: np.ndarray | None = None
        if self.examples and embed is not None:
            self._vectors = _normalized(embed([example.text for example in self.examples]))
            if self._vectors.shape[0] != len(self.examples):
                raise ValueError(
                    f"the embedding function returned {self._vectors.shape[0]} vectors for "
                    f"{len(self.examples)} texts"
                )

    def __len__(self) -> int:
        return len(self.examples)

    def search(
        self,
        request: str,
        *,
        k: int,
        exclude_users: Collection[str] = (),
        exclude_sessions: Collection[str] = (),
        exclude_ids: Collection[str] = (),
        min_score: float = 0.0,
        max_overlap: float = 0.6,
    ) -> tuple[ScoredExample, ...]:
        import numpy as np

        if not self.examples or k <= 0:
            return ()
        scores = self._scores(request)
        allowed = scores > min_score
        for kind, values in (
            ("user", exclude_users),
            ("session", exclude_sessions),
            ("id", exclude_ids),
        ):
            for value in values:
                positions = self._positions.get((kind, value))
                if positions:
                    allowed[positions] = False
        candidates = np.flatnonzero(allowed)
        if candidates.size == 0:
            return ()
        window = min(candidates.size, k * _CANDIDATES_PER_PICK)
        if window < candidates.size:
            top = np.argpartition(-scores[candidates], window - 1)[:window]
            candidates = candidates[top]
        # Best first; ties by the order examples were loaded (deterministic).
        ordered = candidates[np.lexsort((candidates, -scores[candidates]))]
        chosen: list[int] = []
        for index in ordered.tolist():
            if any(
                jaccard(self._shingles[index], self._shingles[c]) >= max_overlap for c in chosen
            ):
                continue
            chosen.append(index)
            if len(chosen) == k:
                break
        return tuple(ScoredExample(self.examples[i], float(scores[i])) for i in chosen)

    def _scores(self, request: str) -> np.ndarray:
        import numpy as np

        lexical = None
        if self._bm25 is not None:
            tokens = tokenize(request)
            lexical = (
                np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)
                if tokens
                else np.zeros(len(self.examples))
            )
        if self._vectors is None:
            assert lexical is not None
            return lexical
        assert self._embed is not None
        query = _normalized(self._embed([request]))[0]
        semantic: np.ndarray = self._vectors @ query
        if lexical is None or self._lexical_weight <= 0:
            return semantic
        best = lexical.max()
        scaled = lexical / best if best > 0 else lexical
        weight = self._lexical_weight
        mixed: np.ndarray = (1.0 - weight) * semantic + weight * scaled
        return mixed


def _normalized(vectors: Any) -> np.ndarray:
    import numpy as np

    array = np.asarray(vectors, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(
            f"the embedding function must return one vector per text, got shape {array.shape}"
        )
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    unit: np.ndarray = array / np.where(norms == 0, 1.0, norms)
    return unit
