"""empty_retrieval: a retrieval that found nothing -> ``knowledge_context / empty_retrieval``.

What counts as a retrieval is declared, never guessed from a tool's name:

- a RETRIEVER step with no documents; culprit = that step;
- a TOOL step of a tool the user declares as retrieval (``ToolCatalog.retrieval``, e.g.
  ``--retrieval-tool search_kb``) whose result is empty (``[]``, ``{}``, ``""``, ``null``, or an
  object whose lists are all empty, such as ``{"documents": []}``), when no RETRIEVER step below
  it already says so; culprit = that TOOL step.

Any other tool may return nothing and be right: a flight search finds no flights on a day without
any, and the agent says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_flywheel.model import AgentTrace, Evaluation, Step, StepKind

from ._base import failing, passing
from ._failure import failure_reason
from ._tools import EMPTY_CATALOG, ToolCatalog, ToolEffects

__all__ = ["EmptyRetrievalCheck"]


class EmptyRetrievalCheck:
    name: str = "empty_retrieval"

    def __init__(self, *, tools: ToolCatalog = EMPTY_CATALOG) -> None:
        self.tools = tools

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        findings = []
        effects = self.tools.effects(trace) if self.tools.retrieval else None
        for step in trace.steps:
            if step.kind is StepKind.RETRIEVER and not (
                step.retrieval and step.retrieval.documents
            ):
                query = step.retrieval.query if step.retrieval else step.input
                findings.append(
                    self._finding(
                        step, f"Retriever {step.name!r} returned no documents for query {query!r}."
                    )
                )
            elif effects is not None and _empty_retrieval_tool(trace, step, effects):
                assert step.tool is not None
                findings.append(
                    self._finding(
                        step,
                        f"Retrieval tool {step.tool.name!r} returned nothing for arguments "
                        f"{step.tool.arguments or step.tool.raw_arguments!r}.",
                    )
                )
        return findings or [passing(self.name, "Every retrieval returned documents.")]

    def _finding(self, step: Step, explanation: str) -> Evaluation:
        return failing(
            self.name,
            category="knowledge_context",
            subcategory="empty_retrieval",
            culprit=step,
            explanation=explanation,
            effect="read_only",
        )


def _empty_retrieval_tool(trace: AgentTrace, step: Step, effects: ToolEffects) -> bool:
    tool = step.tool
    if tool is None or not effects.is_retrieval(tool.name) or failure_reason(step) is not None:
        return False  # a failed call is tool_error's finding, not an empty result
    text = tool.result if tool.result is not None else step.output
    if text is None or not text.strip():
        return not _has_retriever_below(trace, step)
    try:
        result = json.loads(text)
    except ValueError:
        return False
    return _empty(result) and not _has_retriever_below(trace, step)


def _empty(result: Any) -> bool:
    if result in (None, "", [], {}):
        return True
    if isinstance(result, Mapping):
        lists = [value for value in result.values() if isinstance(value, list)]
        return bool(lists) and not any(lists)
    return False


def _has_retriever_below(trace: AgentTrace, step: Step) -> bool:
    pending = [step.span_id]
    while pending:
        for child in trace.children(pending.pop()):
            if child.kind is StepKind.RETRIEVER:
                return True
            pending.append(child.span_id)
    return False
