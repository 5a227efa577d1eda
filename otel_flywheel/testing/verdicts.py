"""Synthetic verdict lines with known effects, for testing and benchmarking ``otel-flywheel report``.

`synthetic_verdicts` writes verdicts as ``otel-flywheel evaluate`` does, over simulated days,
agent versions and cohorts, each category failing at a base rate, and `Effect` plants a change:
a category whose failure rate is multiplied from some day on, for one cohort or everyone. Draws
are vectorized with numpy and seeded, so a million lines take seconds and every run is the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import numpy as np

__all__ = ["DEFAULT_RATES", "Effect", "synthetic_verdicts"]

DEFAULT_RATES: Final = {
    "tool_selection": 0.03,
    "parameter": 0.04,
    "knowledge_context": 0.03,
    "business_rule": 0.01,
    "output_quality": 0.02,
}
_SUBCATEGORY: Final = {
    "tool_selection": ("wrong_tool", "routing / orchestration", "search_kb"),
    "parameter": ("missing_required", "generation / tool schema", "lookup_order"),
    "knowledge_context": ("empty_retrieval", "retrieval / knowledge gap", "search_kb"),
    "business_rule": ("approval", "product / policy", "issue_refund"),
    "output_quality": ("hallucination", "generation", None),
    "task_decomposition": ("missing_subtask", "orchestration", None),
}
_GOALS: Final = (
    "Where is my order A-{n}?",
    "How long does standard shipping take?",
    "Can I cancel order A-{n}?",
    "Refund order A-{n} please",
    "What does the warranty cover?",
)
_RUBRICS: Final = ("tool_selection", "parameters", "grounding")


@dataclass(frozen=True)
class Effect:
    """From ``from_day`` on, ``category`` fails ``factor`` times as often, in ``cohort`` (an
    attribute and value; empty for everyone) and, if set, only in ``version``."""

    category: str
    factor: float
    from_day: int = 0
    cohort: Mapping[str, str] = field(default_factory=dict)
    version: str | None = None


def synthetic_verdicts(
    n: int,
    *,
    start: datetime = datetime(2026, 11, 1, tzinfo=timezone.utc),
    days: int = 14,
    versions: Sequence[str] = ("1.0.0", "1.1.0"),
    cohorts: Mapping[str, Sequence[str]] | None = None,
    rates: Mapping[str, float] = DEFAULT_RATES,
    effects: Sequence[Effect] = (),
    unscored_rate: float = 0.01,
    goals: Sequence[str] = _GOALS,
    seed: int = 0,
    evaluations: bool = True,
) -> Iterator[str]:
    """``n`` verdict JSON lines (no newline), in time order. Versions take over one after the
    other (each new one from an equal share of the days on); cohort values are drawn uniformly."""
    rng = np.random.default_rng(seed)
    cohorts = (
        {"tenant": ("acme", "globex"), "plan": ("free", "pro")} if cohorts is None else cohorts
    )
    offsets = np.sort(rng.uniform(0, days * 86400, size=n))
    day = (offsets // 86400).astype(int)
    version_index = np.minimum(
        (offsets / (days * 86400) * len(versions)).astype(int), len(versions) - 1
    )
    values = {name: rng.integers(0, len(choices), size=n) for name, choices in cohorts.items()}
    categories = list(rates)
    probability = np.zeros((n, len(categories)))
    for column, category in enumerate(categories):
        probability[:, column] = rates[category]
    for effect in effects:
        if effect.category not in categories:
            continue
        mask = day >= effect.from_day
        for name, value in effect.cohort.items():
            mask &= np.asarray(cohorts[name])[values[name]] == value
        if effect.version is not None:
            mask &= np.asarray(versions)[version_index] == effect.version
        probability[mask, categories.index(effect.category)] *= effect.factor
    draws = rng.uniform(size=(n, len(categories)))
    failing = draws < probability
    first_failure = np.where(failing.any(axis=1), failing.argmax(axis=1), -1)
    unscored = rng.uniform(size=n) < unscored_rate
    goal_index = rng.integers(0, len(goals), size=n)
    order_number = rng.integers(1000, 9999, size=n)
    trace_bits = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    for i in range(n):
        failed_category = categories[first_failure[i]] if first_failure[i] >= 0 else None
        passed: bool | None = (
            None if unscored[i] and failed_category is None else failed_category is None
        )
        moment = start + timedelta(seconds=float(offsets[i]))
        line: dict[str, Any] = {
            "trace_id": f"{trace_bits[i, 0]:016x}{trace_bits[i, 1]:016x}",
            "passed": passed,
            "category": failed_category,
            "subcategory": None,
            "culprit_span_id": None,
            "severity": None,
            "root_cause_owner": None,
            "start_time": moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "service": {"name": "support-agent", "version": versions[version_index[i]]},
            "cohort": {name: cohorts[name][values[name][i]] for name in cohorts},
            "culprit": {},
            "tools": ["lookup_order"] if goal_index[i] != 1 else ["search_kb"],
            "goal": goals[goal_index[i]].format(n=order_number[i]),
        }
        if failed_category is not None:
            sub, owner, tool = _SUBCATEGORY.get(failed_category, (None, None, None))
            line.update(
                {
                    "subcategory": sub,
                    "culprit_span_id": f"{trace_bits[i, 0]:016x}",
                    "severity": "medium",
                    "root_cause_owner": owner,
                    "culprit": {"kind": "tool", "name": tool or "agent", "tool": tool},
                }
            )
        if evaluations:
            line["evaluations"] = [
                {
                    "name": rubric,
                    "label": "pass" if passed is not False else "fail",
                    "score": 1.0,
                    "passed": passed if passed is not False else rubric != "grounding",
                    "category": failed_category if rubric == "grounding" else None,
                    "explanation": "The agent called the right tool with the arguments the user "
                    "gave, and its answer is supported by the tool result.",
                    "rubric_id": rubric,
                    "rubric_version": "v1",
                    "judge_model": "judge-1",
                }
                for rubric in _RUBRICS
            ]
        yield json.dumps(line)
