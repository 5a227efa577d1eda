"""Compare (per agent version and cohort) and Drift (current vs baseline, every category x cohort
cell, with Benjamini-Hochberg control of the false discovery rate over all cells).

A cell is tested when both of its windows hold at least ``min_traces`` traces; below that it is
reported as "not enough data" and kept out of the BH family, so small cells neither raise false
alarms nor dilute the real ones. A version comparison tests the newest agent version against the
one before it (by first appearance), per category, with its own BH family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from otel_flywheel.analysis._stats import benjamini_hochberg, compare_proportions
from otel_flywheel.analysis._tally import Tally, rate, tally
from otel_flywheel.analysis._verdicts import cohort_column

__all__ = ["Cell", "compare_cells", "compare_section", "drift_cells"]

UNKNOWN_VERSION = "(unknown)"


@dataclass
class Cell:
    """One comparison: ``before`` vs ``after`` counts for a category (``None``: all) in a cohort."""

    category: str | None
    cohort: dict[str, str | None]
    before: tuple[int, int]  # failed, traces
    after: tuple[int, int]

    def figures(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "cohort": self.cohort,
            "baseline": rate(*self.before),
            "current": rate(*self.after),
        }


def compare_cells(cells: Sequence[Cell], *, alpha: float, min_traces: int) -> list[dict[str, Any]]:
    """Each cell's figures with ``p_value``, ``q_value`` (BH over the tested cells), ``flagged``
    and ``direction`` (``worse``: the failure rate rose)."""
    results = [cell.figures() for cell in cells]
    tested: list[int] = []
    p_values: list[float] = []
    for index, cell in enumerate(cells):
        (k1, n1), (k2, n2) = cell.before, cell.after
        result = results[index]
        result.update(
            {"p_value": None, "q_value": None, "method": None, "flagged": False, "status": ""}
        )
        result["direction"] = _direction(k1, n1, k2, n2)
        if n1 < min_traces or n2 < min_traces:
            result["status"] = "not enough data"
            continue
        test = compare_proportions(k1, n1, k2, n2)
        result.update({"p_value": test.p_value, "method": test.method, "status": "tested"})
        tested.append(index)
        p_values.append(test.p_value)
    for index, q_value in zip(tested, benjamini_hochberg(p_values), strict=True):
        results[index]["q_value"] = q_value
        results[index]["flagged"] = q_value <= alpha and results[index]["direction"] != "same"
    return results


def drift_cells(
    baseline: pa.Table, current: pa.Table, *, cohort_attributes: Sequence[str]
) -> list[Cell]:
    """Every category (and all categories together) for everyone and for each cohort value."""
    cells: list[Cell] = []
    before_all = tally(baseline).get((), Tally())
    after_all = tally(current).get((), Tally())
    categories = sorted(set(before_all.by_category) | set(after_all.by_category))
    cells += _cells_for({}, before_all, after_all, categories)
    for attribute in cohort_attributes:
        column = cohort_column(attribute)
        before = tally(baseline, [column])
        after = tally(current, [column])
        for (value,) in sorted(set(before) | set(after), key=lambda key: str(key[0])):
            cells += _cells_for(
                {attribute: value},
                before.get((value,), Tally()),
                after.get((value,), Tally()),
                categories,
            )
    return cells


def compare_section(
    table: pa.Table,
    *,
    cohort_attributes: Sequence[str],
    alpha: float,
    min_traces: int,
) -> dict[str, Any]:
    """Pass rate per category per agent version and per cohort; the newest version's regressions."""
    version = pc.fill_null(pc.cast(table.column("service_version"), pa.string()), UNKNOWN_VERSION)
    with_version = table.append_column("version", version)
    groups = tally(with_version, ["version"])
    first_seen = _first_seen(with_version)
    versions = sorted(
        groups,
        key=lambda key: (first_seen.get(key[0]) is None, first_seen.get(key[0]) or 0, key[0]),
    )
    categories = sorted({c for group in groups.values() for c in group.by_category})
    version_rows = [
        _group_row(
            {"version": key[0], "first_seen": _iso(first_seen.get(key[0]))}, groups[key], categories
        )
        for key in versions
    ]
    regressions: list[dict[str, Any]] = []
    if len(versions) >= 2:
        older, newer = groups[versions[-2]], groups[versions[-1]]
        cells = [
            Cell(
                category,
                {},
                (older.failed_in(category), older.traces),
                (newer.failed_in(category), newer.traces),
            )
            for category in [None, *categories]
        ]
        for result in compare_cells(cells, alpha=alpha, min_traces=min_traces):
            result["from_version"] = versions[-2][0]
            result["to_version"] = versions[-1][0]
            result["flagged"] = result["flagged"] and result["direction"] == "worse"
            regressions.append(result)
    cohorts: dict[str, list[dict[str, Any]]] = {}
    for attribute in cohort_attributes:
        by_value = tally(table, [cohort_column(attribute)])
        cohorts[attribute] = [
            _group_row({"value": key[0]}, counts, categories)
            for key, counts in sorted(by_value.items(), key=lambda kv: -kv[1].traces)
        ]
    return {"versions": version_rows, "regressions": regressions, "cohorts": cohorts}


def _cells_for(
    cohort: dict[str, str | None], before: Tally, after: Tally, categories: Sequence[str]
) -> list[Cell]:
    return [
        Cell(
            category,
            dict(cohort),
            (before.failed_in(category), before.traces),
            (after.failed_in(category), after.traces),
        )
        for category in [None, *categories]
    ]


def _group_row(head: dict[str, Any], counts: Tally, categories: Sequence[str]) -> dict[str, Any]:
    return {
        **head,
        **rate(counts.failed, counts.traces),
        "unscored": counts.unscored,
        "categories": {c: rate(counts.failed_in(c), counts.traces) for c in categories},
    }


def _first_seen(table: pa.Table) -> dict[str, Any]:
    timed = table.filter(pc.is_valid(table.column("start_time")))
    if timed.num_rows == 0:
        return {}
    rows = timed.group_by("version", use_threads=False).aggregate([("start_time", "min")])
    return {row["version"]: row["start_time_min"] for row in rows.to_pylist()}


def _direction(k1: int, n1: int, k2: int, n2: int) -> str:
    if not n1 or not n2 or k1 * n2 == k2 * n1:
        return "same"
    return "worse" if k2 * n1 > k1 * n2 else "better"


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None
