"""Plan: the evidence of every section turned into a ranked list of interventions.

One intervention per failing category of the current window. Its **lever** follows from who owns
the root cause (taxonomy.yaml) and from what the other sections found:

==============================  ==============================================================
root-cause owner                lever
==============================  ==============================================================
retrieval / knowledge gap       knowledge base / retrieval
generation / tool schema        prompt or tool schema
routing / orchestration         orchestration
orchestration                   orchestration
product / policy                policy
generation                      fine-tuning with the exports when the regression and
                                preference datasets hold enough examples, else prompt
==============================  ==============================================================

Overrides: a category whose judge disagrees with people (kappa below ``LOW_KAPPA``) is first a
*judge calibration* task, since its failure counts cannot be trusted yet; a category flagged for
diminishing data value never gets "fine-tuning" (more of the same data is not helping).

**Score** = failures in the current window x severity weight x (1 + the relative rise against the
baseline, when significant) x 1.5 when a drift, version regression or stall flag names it. The
evidence (count, rate and interval, trend, q-value, flags, example traces) travels with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["plan_section"]

LOW_KAPPA: Final = 0.4
MIN_TRAINING_EXAMPLES: Final = 20
_LEVERS: Final = {
    "retrieval / knowledge gap": "knowledge base / retrieval",
    "generation / tool schema": "prompt or tool schema",
    "routing / orchestration": "orchestration",
    "orchestration": "orchestration",
    "product / policy": "policy",
}
_SEVERITY_WEIGHT: Final = {"business_rule": 2.0, "output_quality": 1.5}


def plan_section(
    *,
    current_categories: Mapping[str, Mapping[str, Any]],
    owners: Mapping[str, str | None],
    drift: Sequence[Mapping[str, Any]],
    regressions: Sequence[Mapping[str, Any]],
    stall_flags: Sequence[Mapping[str, Any]],
    datasets: Mapping[str, Any],
    calibration: Sequence[Mapping[str, Any]],
    examples: Mapping[str, list[dict[str, Any]]],
    category_rubrics: Mapping[str, Sequence[str]],
) -> list[dict[str, Any]]:
    """``current_categories``: category -> rate figure of the current window."""
    overall = {d["category"]: d for d in drift if not d["cohort"] and d["category"] is not None}
    flagged_cohorts = {
        d["category"]: d
        for d in drift
        if d["cohort"] and d["flagged"] and d["direction"] == "worse"
    }
    regressed = {r["category"]: r for r in regressions if r["flagged"]}
    stalls: dict[str, list[Mapping[str, Any]]] = {}
    for flag in stall_flags:
        stalls.setdefault(flag["category"], []).append(flag)
    coverage = {row["category"]: row for row in datasets.get("categories", [])}
    kappas = {row["rubric_id"]: row for row in calibration if row.get("kappa") is not None}
    items = []
    for category, figure in current_categories.items():
        failed = figure["failed"]
        if not failed:
            continue
        owner = owners.get(category)
        trend = overall.get(category)
        flags = []
        if trend is not None and trend["flagged"] and trend["direction"] == "worse":
            flags.append("drift")
        if category in flagged_cohorts:
            flags.append("cohort drift")
        if category in regressed:
            flags.append("version regression")
        flags += [flag["kind"] for flag in stalls.get(category, [])]
        held = coverage.get(category, {}).get("examples", {})
        lever, why = _lever(category, owner, held, stalls.get(category, []))
        low = [
            kappas[r]
            for r in category_rubrics.get(category, ())
            if kappas.get(r, {}).get("kappa", 1) < LOW_KAPPA
        ]
        if low:
            lever = "judge calibration"
            why = (
                f"the judge agrees poorly with people on {', '.join(r['rubric_id'] for r in low)} "
                f"(kappa {min(r['kappa'] for r in low):.2f}): fix the rubric before trusting these counts"
            )
        rise = 0.0
        if trend is not None and trend["flagged"] and trend["direction"] == "worse":
            before = trend["baseline"]["rate"] or 0.0
            after = trend["current"]["rate"] or 0.0
            rise = (after - before) / before if before else 1.0
        score = failed * _SEVERITY_WEIGHT.get(category, 1.0) * (1 + min(rise, 4.0))
        if flags:
            score *= 1.5
        items.append(
            {
                "category": category,
                "root_cause_owner": owner,
                "lever": lever,
                "why": why,
                "score": round(score, 3),
                "evidence": {
                    "failed": failed,
                    "traces": figure["traces"],
                    "rate": figure["rate"],
                    "ci95": figure["ci95"],
                    "baseline_rate": trend["baseline"]["rate"] if trend else None,
                    "q_value": trend["q_value"] if trend else None,
                    "flags": flags,
                    "cohort": flagged_cohorts[category]["cohort"]
                    if category in flagged_cohorts
                    else None,
                    "examples_in_datasets": held,
                },
                "examples": examples.get(category, []),
            }
        )
    items.sort(key=lambda item: (-item["score"], item["category"]))
    for rank, item in enumerate(items, start=1):
        item["rank"] = rank
    return items


def _lever(
    category: str, owner: str | None, held: Mapping[str, int], stalls: Sequence[Mapping[str, Any]]
) -> tuple[str, str]:
    diminishing = any(flag["kind"] == "diminishing_data_value" for flag in stalls)
    shift = any(flag["kind"] == "distribution_shift" for flag in stalls)
    training = held.get("regression", 0) + held.get("preference", 0)
    if owner in _LEVERS:
        lever = _LEVERS[owner]
        why = f"failures of {category} are usually fixed by {owner}"
    elif owner == "generation" and training >= MIN_TRAINING_EXAMPLES and not diminishing:
        lever = "fine-tuning with the exports"
        why = (
            f"{training} regression and preference examples are ready: "
            "otel-flywheel export sft|dpo, then replay the regression set"
        )
    else:
        lever = "prompt or tool schema"
        why = (
            f"failures of {category} come from generation" if owner else "no owner in the taxonomy"
        )
    if diminishing:
        why += (
            "; the datasets grew without the rate falling: change the approach, not the data volume"
        )
    if shift:
        why += "; new cohorts fail more: cover them (knowledge, examples) before retraining"
    return lever, why
