"""Drift of the input mix: what users ask for, not only how often the agent fails at it.

- **Tools**: the share of traces that called each tool, baseline vs current.
- **Goals**: similar goals are grouped by lexical leader clustering. Each goal becomes its set of
  words (case-folded, digits masked so ``A-1001`` and ``A-2002`` match); a goal joins the first
  cluster whose leader it overlaps by Jaccard >= ``GOAL_SIMILARITY``, found through MinHash LSH
  (``otel_flywheel.minhash``), else starts its own (a cluster is named by its first goal, with
  its digits masked as ``0``). It needs no model and no training, is
  deterministic, and reads redacted text as well as any. The goals of each window are sampled
  (``MAX_GOALS_PER_WINDOW``, seeded) so the cost stays flat on millions of verdicts.
- A cluster with current traces and none in the baseline is *new*; one that no golden example's
  goal falls into is *uncovered*: new and uncovered clusters are what the golden set is missing.

Shares are compared with the same tests as failure rates, with their own BH family.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from otel_flywheel.analysis._drift import Cell, compare_cells
from otel_flywheel.minhash import NearDuplicateIndex, shingles

__all__ = ["GOAL_SIMILARITY", "MAX_GOALS_PER_WINDOW", "input_mix_section"]

GOAL_SIMILARITY: Final = 0.5
MAX_GOALS_PER_WINDOW: Final = 2000
MIN_NEW_CLUSTER_TRACES: Final = 3
_DIGITS = re.compile(r"\d+")


def input_mix_section(
    baseline: pa.Table,
    current: pa.Table,
    *,
    golden_goals: Sequence[str],
    alpha: float,
    min_traces: int,
    top: int = 15,
) -> dict[str, Any]:
    tools = _tool_shares(baseline, current, alpha=alpha, min_traces=min_traces)[:top]
    clusters = _goal_clusters(baseline, current, golden_goals, alpha=alpha, min_traces=min_traces)
    return {
        "tools": tools,
        "clusters": clusters[:top],
        "new_uncovered": [c for c in clusters if c["new"] and not c["covered_by_golden"]],
        "golden_examples": len(golden_goals),
    }


def _tool_shares(
    baseline: pa.Table, current: pa.Table, *, alpha: float, min_traces: int
) -> list[dict[str, Any]]:
    before, after = _tool_counts(baseline), _tool_counts(current)
    tools = sorted(set(before) | set(after), key=lambda t: -(after.get(t, 0) + before.get(t, 0)))
    cells = [
        Cell(None, {}, (before.get(t, 0), baseline.num_rows), (after.get(t, 0), current.num_rows))
        for t in tools
    ]
    results = compare_cells(cells, alpha=alpha, min_traces=min_traces)
    for tool, result in zip(tools, results, strict=True):
        result.pop("category")
        result.pop("cohort")
        result["tool"] = tool
        _as_shares(result)
        result["direction"] = {"worse": "more", "better": "less"}.get(result["direction"], "same")
    return results


def _as_shares(result: dict[str, Any]) -> None:
    for side in ("baseline", "current"):
        figure = result[side]
        result[side] = {
            "count": figure["failed"],
            "traces": figure["traces"],
            "share": figure["rate"],
            "ci95": figure["ci95"],
        }


def _tool_counts(table: pa.Table) -> dict[str, int]:
    if table.num_rows == 0:
        return {}
    tools = table.column("tools")
    flat = pc.list_flatten(tools)
    if len(flat) == 0:
        return {}
    parents = pc.list_parent_indices(tools)
    # A trace that called a tool twice counts once: distinct (trace, tool) pairs.
    pairs = pa.table({"row": parents, "tool": flat}).group_by(["row", "tool"]).aggregate([])
    counted = pairs.group_by("tool").aggregate([([], "count_all")]).to_pylist()
    return {row["tool"]: row["count_all"] for row in counted if row["tool"] is not None}


def _goal_clusters(
    baseline: pa.Table,
    current: pa.Table,
    golden_goals: Sequence[str],
    *,
    alpha: float,
    min_traces: int,
) -> list[dict[str, Any]]:
    index = NearDuplicateIndex(threshold=GOAL_SIMILARITY)
    leaders: list[str] = []
    counts: dict[str, Counter[str]] = {"baseline": Counter(), "current": Counter()}
    sampled = {"baseline": 0, "current": 0}
    clustered: dict[str, str] = {}  # a goal's words (digits masked) -> its cluster
    for name, table in (("baseline", baseline), ("current", current)):
        goals = _sample_goals(table)
        sampled[name] = len(goals)
        for text, count in Counter(_masked(goal) for goal in goals).items():
            cluster = clustered.get(text)
            if cluster is None:
                cluster = clustered[text] = _cluster_of(index, leaders, text)
            counts[name][cluster] += count
    covered = set()
    for goal in golden_goals:
        match = index.find(_words(goal))
        if match is not None:
            covered.add(match[0])
    clusters = sorted(
        set(counts["baseline"]) | set(counts["current"]),
        key=lambda c: -(counts["current"][c] + counts["baseline"][c]),
    )
    cells = [
        Cell(
            None,
            {},
            (counts["baseline"][c], sampled["baseline"]),
            (counts["current"][c], sampled["current"]),
        )
        for c in clusters
    ]
    results = compare_cells(cells, alpha=alpha, min_traces=min_traces)
    for cluster, result in zip(clusters, results, strict=True):
        result.pop("category")
        result.pop("cohort")
        result["cluster"] = leaders[int(cluster)]
        _as_shares(result)
        result["direction"] = {"worse": "more", "better": "less"}.get(result["direction"], "same")
        result["new"] = (
            counts["baseline"][cluster] == 0
            and counts["current"][cluster] >= MIN_NEW_CLUSTER_TRACES
        )
        result["covered_by_golden"] = cluster in covered
    return results


def _sample_goals(table: pa.Table) -> list[str]:
    goals = table.column("goal").drop_null()
    if len(goals) > MAX_GOALS_PER_WINDOW:
        rng = np.random.default_rng(0)
        picked = np.sort(rng.choice(len(goals), size=MAX_GOALS_PER_WINDOW, replace=False))
        goals = goals.take(pa.array(picked))
    return [goal for goal in goals.to_pylist() if goal]


def _cluster_of(index: NearDuplicateIndex, leaders: list[str], goal: str) -> str:
    key = str(len(leaders))
    match = index.find_or_add(key, _words(goal))
    if match is None:
        leaders.append(goal)
        return key
    return match[0]


def _masked(goal: str) -> str:
    return " ".join(_DIGITS.sub("0", goal).casefold().split())


def _words(goal: str) -> frozenset[int]:
    return shingles(_masked(goal), size=1)
