"""How a trace becomes a dataset example: its input, the outputs on record, the ids that link back.

An example's ``input`` is what replay hands the agent again: the user's goal (the root span's
input) and the session it belonged to. Outputs depend on the route (the answer given, a
correction, a preference pair); ``expected_tool_calls`` carries the effective tool calls of a trace
judged good (failed attempts left out), so replay can check a new version calls the same tools with
the same arguments.

Example ids are stable: a digest of the dataset and the *normalized* input (Unicode NFKC, case
folded, whitespace collapsed), so the same question routed twice, on two instances or after a
restart, is one example: the dedupe the routing rules ask for.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

from otel_flywheel import __version__
from otel_flywheel import semconv as sc
from otel_flywheel.evaluation import CallScorer
from otel_flywheel.model import AgentTrace, Step, Verdict

__all__ = [
    "example_id",
    "example_input",
    "expected_tool_calls",
    "fewshot_example_ids",
    "normalized_input",
    "source_metadata",
]

_WHITESPACE = re.compile(r"\s+")


def normalized_input(trace: AgentTrace) -> str:
    text = trace.goal or ""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def example_id(dataset: str, trace: AgentTrace) -> str:
    """Stable per (dataset, normalized input); a trace without a goal is keyed by its id."""
    basis = normalized_input(trace) or f"trace:{trace.trace_id}"
    return hashlib.sha256(f"{dataset}\n{basis}".encode()).hexdigest()[:32]


def example_input(trace: AgentTrace) -> dict[str, Any]:
    data: dict[str, Any] = {"input": trace.goal}
    if trace.session_id is not None:
        data["session_id"] = trace.session_id
    return data


def expected_tool_calls(trace: AgentTrace, scorer: CallScorer) -> list[dict[str, Any]]:
    """The trace's effective tool calls as reference calls (name + arguments), in order.

    A call that failed changed nothing, as the evaluators read it (they compare effective calls
    only): one that raised, ended with error status, or returned what the suite's ``scorer``
    reads as an error result. Copying it would make a replay expect the failure, or the retry
    that followed it twice."""
    return [
        {"name": call.name, "arguments": call.arguments}
        for step, call in trace.tool_calls()
        if not call.arguments_malformed and not _failed(step, scorer)
    ]


def _failed(step: Step, scorer: CallScorer) -> bool:
    tool = step.tool
    if step.error or step.status == "error" or (tool is not None and tool.error):
        return True
    name = tool.name if tool is not None else step.name
    result = tool.result if tool is not None and tool.result is not None else step.output
    return scorer.result_failure(name, result) is not None


def source_metadata(trace: AgentTrace, verdict: Verdict | None) -> dict[str, Any]:
    """Lineage every example carries: source trace and span, rubric versions, judge model."""
    root = trace.root
    data: dict[str, Any] = {
        "source_trace_id": trace.trace_id,
        "source_span_id": root.span_id if root is not None else None,
        "session_id": trace.session_id,
        "user_id": trace.user_id,
        "consent": trace.consent,
        "project": trace.project,
        "models": trace.models,
        "flywheel_version": __version__,
    }
    shown = fewshot_example_ids(trace)
    if shown:
        data["fewshot_example_ids"] = shown
    if verdict is not None:
        rubrics = {
            e.rubric_id: e.rubric_version for e in verdict.evaluations if e.rubric_id is not None
        }
        judges = sorted({e.judge_model for e in verdict.evaluations if e.judge_model is not None})
        data.update(
            {
                "verdict_passed": verdict.passed,
                "category": verdict.category,
                "subcategory": verdict.subcategory,
                "culprit_span_id": verdict.culprit_span_id,
                "severity": verdict.severity,
                "rubric_versions": rubrics,
                "judge_models": judges,
            }
        )
    return data


def fewshot_example_ids(trace: AgentTrace) -> list[str]:
    """The golden examples a few-shot library showed the model during the run (the
    ``flywheel.fewshot.example_ids`` of its spans), in order, each once."""
    seen: dict[str, None] = {}
    for step in trace.steps:
        value = step.attributes.get(sc.FLYWHEEL_FEWSHOT_EXAMPLE_IDS)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            seen.update((str(item), None) for item in value if item)
    return list(seen)
