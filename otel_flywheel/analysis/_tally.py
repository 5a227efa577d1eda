"""Counting verdicts by any cut, in Arrow; and the one shape every rate takes in the report.

`tally` groups the verdict table by some keys and the outcome and category in one hash
aggregation (C++), then folds the few resulting groups in Python: the cost is one pass over the
rows, whatever the number of cuts. `rate` is the figure the JSON, HTML and Markdown all print:
failed, traces, the rate and its Wilson 95 % interval.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from otel_flywheel.analysis._windows import Window
from otel_flywheel.rates import wilson_interval

__all__ = ["Tally", "in_window", "rate", "tally"]


@dataclass
class Tally:
    """Verdict counts of one group: all traces, failed, unscored, failures by category."""

    traces: int = 0
    failed: int = 0
    unscored: int = 0
    by_category: Counter[str] = field(default_factory=Counter)

    def failed_in(self, category: str | None) -> int:
        return self.failed if category is None else self.by_category.get(category, 0)


def tally(table: pa.Table, keys: Sequence[str] = ()) -> dict[tuple[Any, ...], Tally]:
    """Counts per distinct value of ``keys`` (``()`` -> one group for everything)."""
    groups: dict[tuple[Any, ...], Tally] = {}
    if table.num_rows == 0:
        return groups
    names = [*keys, "outcome", "category"]
    counted = (
        table.select(names)
        .group_by(names, use_threads=False)
        .aggregate([([], "count_all")])
        .to_pylist()
    )
    for row in counted:
        key = tuple(row[name] for name in keys)
        group = groups.setdefault(key, Tally())
        count = row["count_all"]
        group.traces += count
        if row["outcome"] == "fail":
            group.failed += count
            group.by_category[row["category"] or "(uncategorized)"] += count
        elif row["outcome"] == "unscored":
            group.unscored += count
    return groups


def rate(failed: int, traces: int) -> dict[str, Any]:
    """``{failed, traces, rate, ci95}``; ``rate`` and ``ci95`` are ``None`` without traces."""
    return {
        "failed": failed,
        "traces": traces,
        "rate": failed / traces if traces else None,
        "ci95": list(wilson_interval(failed, traces)) if traces else None,
    }


def in_window(table: pa.Table, window: Window) -> pa.Table:
    """The verdicts whose trace started in ``window`` (those without a start time never do)."""
    start = table.column("start_time")
    mask = pc.and_(
        pc.greater_equal(start, _scalar(window.start)), pc.less(start, _scalar(window.end))
    )
    return table.filter(pc.fill_null(mask, False))


def _scalar(moment: datetime) -> pa.Scalar:
    return pa.scalar(moment, type=pa.timestamp("us", tz="UTC"))
