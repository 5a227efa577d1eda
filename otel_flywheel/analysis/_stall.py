"""Stall: the two ways a flywheel stops turning, per category.

- **Diminishing data value**: the golden and regression datasets grew for a category across the
  last windows, but its failure rate did not fall. Flagged when the examples grew by at least
  ``MIN_GROWTH`` (and half again what there was), the category still fails at least
  ``MIN_FAILURES`` times in the last window, and the last window's rate is not significantly lower
  than the first's (one-sided, ``alpha``). More of the same data is not the lever any more.
- **Distribution shift**: cohorts seen for the first time in the current window fail the category
  significantly more than the cohorts already there, while those old cohorts stayed stable
  between the baseline and the current window (no significant change). The agent did not get
  worse; its users changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from otel_flywheel.analysis._stats import compare_proportions
from otel_flywheel.analysis._tally import Tally, in_window, rate, tally
from otel_flywheel.analysis._verdicts import cohort_column
from otel_flywheel.analysis._windows import Window

__all__ = ["stall_section"]

MIN_GROWTH: Final = 5
MIN_FAILURES: Final = 5
_TRAINING_ROUTES: Final = ("golden", "regression")


def stall_section(
    table: pa.Table,
    examples: pa.Table,
    *,
    windows: Sequence[Window],
    baseline: Window,
    current: Window,
    cohort_attributes: Sequence[str],
    alpha: float,
    min_traces: int,
) -> dict[str, Any]:
    per_window = [tally(in_window(table, window)).get((), Tally()) for window in windows]
    categories = sorted({c for counts in per_window for c in counts.by_category})
    training = examples.filter(
        pc.is_in(examples.column("route"), value_set=pa.array(_TRAINING_ROUTES))
    )
    series = []
    flags: list[dict[str, Any]] = []
    for category in categories:
        points = [
            {
                "window": window.to_dict(),
                **rate(counts.failed_in(category), counts.traces),
                "examples": _examples_by(training, category, window.end),
            }
            for window, counts in zip(windows, per_window, strict=True)
        ]
        series.append({"category": category, "points": points})
        flag = _diminishing(category, points, alpha=alpha, min_traces=min_traces)
        if flag is not None:
            flags.append(flag)
    for attribute in cohort_attributes:
        flags += _shift(table, attribute, baseline, current, alpha=alpha, min_traces=min_traces)
    return {
        "windows": [window.to_dict() for window in windows],
        "categories": series,
        "flags": flags,
    }


def _examples_by(training: pa.Table, category: str, end: datetime) -> int:
    mine = training.filter(pc.equal(training.column("category"), category))
    if mine.num_rows == 0:
        return 0
    routed = mine.column("routed_at")
    # An example without a time (older metadata) counts as there from the start.
    before = pc.or_(
        pc.is_null(routed), pc.less(routed, pa.scalar(end, pa.timestamp("us", tz="UTC")))
    )
    return int(pc.sum(pc.cast(pc.fill_null(before, True), pa.int64())).as_py() or 0)


def _diminishing(
    category: str, points: list[dict[str, Any]], *, alpha: float, min_traces: int
) -> dict[str, Any] | None:
    first, last = points[0], points[-1]
    growth = last["examples"] - first["examples"]
    if growth < MIN_GROWTH or growth < 0.5 * first["examples"]:
        return None
    if last["failed"] < MIN_FAILURES or min(first["traces"], last["traces"]) < min_traces:
        return None
    test = compare_proportions(first["failed"], first["traces"], last["failed"], last["traces"])
    fell = last["rate"] < first["rate"]
    one_sided = test.p_value / 2 if fell else 1 - test.p_value / 2
    if one_sided < alpha:
        return None  # the rate fell: the data is working
    return {
        "kind": "diminishing_data_value",
        "category": category,
        "examples_from": first["examples"],
        "examples_to": last["examples"],
        "rate_from": first["rate"],
        "rate_to": last["rate"],
        "p_value_decrease": one_sided,
        "message": (
            f"{category}: the golden and regression examples grew from {first['examples']} to "
            f"{last['examples']}, but the failure rate went from {first['rate']:.1%} to "
            f"{last['rate']:.1%} (no significant fall): more of the same data is not helping"
        ),
    }


def _shift(
    table: pa.Table,
    attribute: str,
    baseline: Window,
    current: Window,
    *,
    alpha: float,
    min_traces: int,
) -> list[dict[str, Any]]:
    column = cohort_column(attribute)
    before = tally(in_window(table, baseline), [column])
    after = tally(in_window(table, current), [column])
    old_values = {key for key, counts in before.items() if counts.traces and key[0] is not None}
    new_values = [key for key in after if key not in before and key[0] is not None]
    if not old_values or not new_values:
        return []
    old_before, old_after, new_after = Tally(), Tally(), Tally()
    for key in old_values:
        _add(old_before, before[key])
        _add(old_after, after.get(key, Tally()))
    for key in new_values:
        _add(new_after, after[key])
    flags = []
    for category in sorted(set(new_after.by_category)):
        k_old1, n_old1 = old_before.failed_in(category), old_before.traces
        k_old2, n_old2 = old_after.failed_in(category), old_after.traces
        k_new, n_new = new_after.failed_in(category), new_after.traces
        if min(n_old1, n_old2, n_new) < min_traces or k_new * n_old2 <= k_old2 * n_new:
            continue
        stable = compare_proportions(k_old1, n_old1, k_old2, n_old2).p_value >= alpha
        worse = compare_proportions(k_old2, n_old2, k_new, n_new)
        if stable and worse.p_value < alpha:
            flags.append(
                {
                    "kind": "distribution_shift",
                    "category": category,
                    "attribute": attribute,
                    "new_cohorts": sorted(str(key[0]) for key in new_values),
                    "old": rate(k_old2, n_old2),
                    "new": rate(k_new, n_new),
                    "p_value": worse.p_value,
                    "message": (
                        f"{category}: cohorts new in the current window ({attribute} = "
                        f"{', '.join(sorted(str(k[0]) for k in new_values))}) fail at "
                        f"{k_new / n_new:.1%} against {k_old2 / n_old2:.1%} for the cohorts "
                        "already there, which stayed stable: the users changed, not the agent"
                    ),
                }
            )
    return flags


def _add(total: Tally, part: Tally) -> None:
    total.traces += part.traces
    total.failed += part.failed
    total.unscored += part.unscored
    total.by_category.update(part.by_category)
