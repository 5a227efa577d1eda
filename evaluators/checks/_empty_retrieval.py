"""empty_retrieval: a retrieval that found nothing -> ``knowledge_context / empty_retrieval``.

- a RETRIEVER step with no documents; culprit = that step.
- a TOOL step whose name contains ``search`` or ``retriev`` and whose result is an empty JSON list,
  when no RETRIEVER step below it already says so (the demo's ``search_kb`` tool wraps one); culprit =
  that TOOL step.
"""

from __future__ import annotations

import json

from otel_flywheel.model import AgentTrace, Evaluation, Step, StepKind

from ._base import failing, passing

__all__ = ["EmptyRetrievalCheck"]

_SEARCH_WORDS = ("search", "retriev")


class EmptyRetrievalCheck:
    name: str = "empty_retrieval"

    def evaluate(self, trace: AgentTrace) -> list[Evaluation]:
        findings = []
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
            elif _empty_search_tool(trace, step):
                assert step.tool is not None
                findings.append(
                    self._finding(
                        step,
                        f"Search tool {step.tool.name!r} returned an empty list for arguments "
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
        )


def _empty_search_tool(trace: AgentTrace, step: Step) -> bool:
    tool = step.tool
    if tool is None or not any(word in tool.name.lower() for word in _SEARCH_WORDS):
        return False
    try:
        result = json.loads(tool.result or step.output or "null")
    except ValueError:
        return False
    return result == [] and not _has_retriever_below(trace, step)


def _has_retriever_below(trace: AgentTrace, step: Step) -> bool:
    pending = [step.span_id]
    while pending:
        for child in trace.children(pending.pop()):
            if child.kind is StepKind.RETRIEVER:
                return True
            pending.append(child.span_id)
    return False
