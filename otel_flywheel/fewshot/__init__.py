"""Golden examples as dynamic few-shot: the runs people approved, chosen per request.

``FewShotLibrary`` keeps the golden examples of Phoenix datasets (or an ``export evals`` file)
in memory, reloaded in the background, and for a request returns the ``k`` most similar as chat
messages to put between the system prompt and the request: the user's turn, the tool calls with
their arguments, the tools' results, and the answer (OpenAI's format)::

    library = FewShotLibrary.from_phoenix("support-agent/golden")
    shots = library.select(question, user_id=user, session_id=session)
    messages = [system, *shots.messages, {"role": "user", "content": question}]

Similarity is BM25 over words (``bm25s``), or your embedding function (``embed=``). The examples
chosen are no near-duplicates of each other, never of the request's own user or session, and only
consented examples that pass the privacy scan. The ids of the examples chosen are recorded on the
current span (``flywheel.fewshot.example_ids``), so the trace, the dataset examples routed from it
and the training rows exported from those carry them.
"""

from __future__ import annotations

from otel_flywheel.fewshot._build import DEFAULT_ROUTES, LoadReport, build_examples
from otel_flywheel.fewshot._example import FewShotExample, FewShotSelection, ScoredExample
from otel_flywheel.fewshot._index import EmbeddingFunction, ExampleIndex, tokenize
from otel_flywheel.fewshot._library import FewShotLibrary, FewShotStats
from otel_flywheel.fewshot._phoenix import PhoenixDatasetsSource
from otel_flywheel.fewshot._sources import ExamplesFileSource, FewShotSource, LoadedExample

__all__ = [
    "DEFAULT_ROUTES",
    "EmbeddingFunction",
    "ExampleIndex",
    "ExamplesFileSource",
    "FewShotExample",
    "FewShotLibrary",
    "FewShotSelection",
    "FewShotSource",
    "FewShotStats",
    "LoadReport",
    "LoadedExample",
    "PhoenixDatasetsSource",
    "ScoredExample",
    "build_examples",
    "tokenize",
]
