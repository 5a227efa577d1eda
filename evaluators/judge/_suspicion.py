"""Which steps to keep when not all fit: a suspicion score per step, and each text's budget weight.

A step scores for what makes evidence likely there:

- the deterministic checks flagged it (their failed findings' culprit spans): +4, never elided;
- it failed (error status, a tool error, malformed arguments): +4, never elided;
- it produced the final answer: +3, never elided;
- its output is used later: the distinctive terms of its result, documents or text that later
  steps' inputs or the final answer repeat (figures, ids, rare words), up to +2;
- it is about what the answer says: the weighted terms it shares with the goal and the answer, up
  to +2;
- its neighbours are suspicious: half the higher score of the step before and after it.

A text's weight is its view part's weight for the rubric (focus 1, context 0.5, the rest 0.25)
times ``1 + suspicion / 4`` (at most 3x), so a suspicious step's texts are cut last. Long texts get
an `Excerpter` whose query is the goal, the answer and the step's own call, so a cut keeps the
passages that bear on them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from otel_flywheel.model import AgentTrace, Step

from ..rubric import RubricView  # noqa: TID252 (decisions.md: relative inside evaluators/)
from ._blocks import Block, Item, failed
from ._excerpt import Excerpter
from ._terms import TermWeights, terms

__all__ = ["rank"]

_FLAGGED = 4.0
_FAILED = 4.0
_ANSWER = 3.0
_USED_LATER = 2.0
_RELEVANT = 2.0
_MAX_FACTOR_SUSPICION = 8.0
_EXCERPT_OVER_CHARS = 1200
# Parts of a step that feed later steps (inputs) versus what it produced (outputs).
_INPUT_PARTS = frozenset({"tool_calls", "model_input", "retrieved_documents_query"})
_OUTPUT_PARTS = frozenset({"tool_results", "retrieved_documents", "model_output", "step_outcomes"})
_LATER_PARTS = _INPUT_PARTS | {"model_output"}


def rank(
    trace: AgentTrace,
    blocks: Sequence[Block],
    view: RubricView,
    *,
    flagged: Collection[str] = (),
    extra: Sequence[Block] = (),
) -> None:
    """Score ``blocks`` (one per step, in order) and weigh every item, in place.

    ``flagged`` holds span ids the deterministic checks found at fault; ``extra`` blocks (head,
    shared, references) get their items weighed and excerpted too, without a suspicion.
    """
    terms_of = _Terms([list(block.items) for block in blocks])
    weights = TermWeights(terms_of.steps)
    answer = weights.query(trace.goal or "", trace.final_output or "")
    raw = [
        _RELEVANT * relevance + _USED_LATER * used
        for relevance, used in zip(
            _normalized([weights.overlap(found, answer) for found in terms_of.steps]),
            _normalized(terms_of.used_later(weights, trace.final_output or "")),
            strict=True,
        )
    ]
    final_step = _final_step(trace)
    if final_step is None and blocks:
        final_step = len(blocks) - 1  # no model turn wrote the answer: the last step did
    for index, (block, step) in enumerate(zip(blocks, trace.steps, strict=True)):
        for reason, bonus in (
            (step.span_id in flagged, _FLAGGED),
            (failed(step), _FAILED),
            (index == final_step, _ANSWER),
        ):
            if reason:
                raw[index] += bonus
                block.protected = True
        if index == 0:
            block.protected = True  # the root frames the run; its texts are the goal and answer
    for index, block in enumerate(blocks):
        neighbours = [raw[j] for j in (index - 1, index + 1) if 0 <= j < len(raw)]
        block.suspicion = raw[index] + 0.5 * max(neighbours, default=0.0)

    for block, step in zip(blocks, trace.steps, strict=True):
        factor = 1 + min(block.suspicion, _MAX_FACTOR_SUSPICION) / 4
        local = weights.query(*_local_texts(step))
        for item in block.items:
            item.weight = view.weight(item.part) * factor
            _excerpt(item, {**answer, **local})
    for block in extra:
        for item in block.items:
            if item.part in ("goal", "answer", "reference"):
                continue  # weights set where they are built
            item.weight = view.weight(item.part)
            _excerpt(item, answer)


class _Terms:
    """The terms of each step's texts; a text the history repeats is tokenized once."""

    def __init__(self, texts: list[list[Item]]) -> None:
        self.texts = texts
        by_text: dict[str, set[str]] = {}
        self._found: dict[int, set[str]] = {}
        for items in texts:
            for item in items:
                known = by_text.get(item.text)
                if known is None:
                    known = by_text[item.text] = terms(item.text)
                self._found[id(item)] = known
        self.steps = [self.union(items) for items in texts]

    def union(self, items: list[Item], parts: frozenset[str] | None = None) -> set[str]:
        out: set[str] = set()
        for item in items:
            if parts is None or item.part in parts:
                out |= self._found[id(item)]
        return out

    def used_later(self, weights: TermWeights, final_output: str) -> list[float]:
        """Per step: the weight of its output's terms that later inputs or the answer repeat."""
        later = terms(final_output)
        used = [0.0] * len(self.texts)
        for index in range(len(self.texts) - 1, -1, -1):
            outputs = self.union(self.texts[index], _OUTPUT_PARTS)
            used[index] = sum(weights.weight(term) for term in outputs & later)
            later = later | self.union(self.texts[index], _LATER_PARTS)
        return used


def _normalized(values: list[float]) -> list[float]:
    top = max(values, default=0.0) or 1.0
    return [value / top for value in values]


def _excerpt(item: Item, query: dict[str, float]) -> None:
    if len(item.text) > _EXCERPT_OVER_CHARS:
        item.excerpter = Excerpter(item.text, query)


def _local_texts(step: Step) -> list[str]:
    """What a step's own long texts are read against, besides the goal and the answer."""
    local: list[str] = []
    if step.tool is not None:
        local.append(step.tool.raw_arguments or " ".join(map(str, step.tool.arguments.values())))
    if step.retrieval is not None and step.retrieval.query:
        local.append(step.retrieval.query)
    return local


def _final_step(trace: AgentTrace) -> int | None:
    """The index of the step that wrote the final answer: the last model turn with text, or the
    last one whose output equals the answer."""
    last_text: int | None = None
    for index, step in enumerate(trace.steps):
        if step.llm is not None and any(m.content for m in step.llm.output_messages):
            last_text = index
            if trace.final_output is not None and any(
                m.content == trace.final_output for m in step.llm.output_messages
            ):
                return index
    return last_text
