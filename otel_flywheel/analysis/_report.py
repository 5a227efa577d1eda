"""`build_report`: every section from one `AnalysisData`, as one JSON-ready document.

The document is the report: the JSON output is it verbatim, and the HTML and Markdown renderers
read only it, so the three outputs can never disagree. Its top-level keys:

``windows``, ``totals``, ``issues``, ``monitor``, ``categories``, ``attribute``, ``compare``,
``drift``, ``input_mix``, ``stall``, ``feedback``, ``review_queue``, ``datasets``,
``calibration`` (with ``calibration_summary``), ``plan`` and ``flags`` (what ``--fail-on``
checks: ``drift``, ``regression``, ``stall``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from otel_flywheel import __version__
from otel_flywheel.analysis._calibration import calibration_section
from otel_flywheel.analysis._data import AnalysisData
from otel_flywheel.analysis._drift import compare_cells, compare_section, drift_cells
from otel_flywheel.analysis._mix import input_mix_section
from otel_flywheel.analysis._monitor import (
    attribute_section,
    categories_figures,
    monitor_section,
    trace_links,
)
from otel_flywheel.analysis._plan import plan_section
from otel_flywheel.analysis._signals import datasets_section, feedback_section, review_queue
from otel_flywheel.analysis._stall import stall_section
from otel_flywheel.analysis._stats import require_statistics
from otel_flywheel.analysis._tally import Tally, in_window, rate, tally
from otel_flywheel.analysis._windows import (
    Window,
    bucket_unit,
    default_windows,
    previous_window,
)

__all__ = ["FLAG_KINDS", "ReportOptions", "build_report"]

FLAG_KINDS: Final = ("drift", "regression", "stall")
_MAX_ISSUES_SHOWN: Final = 100


@dataclass(frozen=True, kw_only=True)
class ReportOptions:
    """How the report cuts and tests.

    ``current`` / ``baseline``: the drift windows (default: see ``_windows``). ``cohorts``: the
    cohort attributes to cut by (default: all the verdicts record). ``alpha``: the false discovery
    rate for drift and the level of the other tests. ``min_traces``: a rate is tested only with at
    least this many traces on each side. ``stall_windows``: how many windows of the current
    window's length the stall check looks back over.
    """

    current: Window | None = None
    baseline: Window | None = None
    cohorts: tuple[str, ...] | None = None
    alpha: float = 0.05
    min_traces: int = 20
    stall_windows: int = 4
    top: int = 10
    now: datetime | None = None


def build_report(data: AnalysisData, options: ReportOptions | None = None) -> dict[str, Any]:
    """Every section's figures as one JSON-ready document. Raises ``ConfigError`` naming the extra
    to install when the statistics libraries are missing."""
    require_statistics()
    options = options or ReportOptions()
    verdicts = data.verdicts
    cohorts = (
        tuple(a for a in options.cohorts if a in data.cohort_attributes)
        if options.cohorts is not None
        else data.cohort_attributes
    )
    missing_cohorts = (
        [a for a in options.cohorts if a not in data.cohort_attributes]
        if options.cohorts is not None
        else []
    )
    baseline, current = _windows(verdicts, options)
    unit = bucket_unit(_span(verdicts))
    base_table = in_window(verdicts, baseline) if baseline else verdicts.slice(0, 0)
    current_table = in_window(verdicts, current) if current else verdicts.slice(0, 0)
    everything = tally(verdicts)
    totals = everything.get((), Tally())

    attribute = attribute_section(verdicts, phoenix_url=data.phoenix_url, top=options.top)
    compare = compare_section(
        verdicts, cohort_attributes=cohorts, alpha=options.alpha, min_traces=options.min_traces
    )
    drift = (
        compare_cells(
            drift_cells(base_table, current_table, cohort_attributes=cohorts),
            alpha=options.alpha,
            min_traces=options.min_traces,
        )
        if current is not None
        else []  # no verdict has a start time: there are no windows to compare
    )
    golden = data.examples.filter(
        pc.fill_null(pc.equal(data.examples.column("route"), "golden"), False)
    )
    input_mix = input_mix_section(
        base_table,
        current_table,
        golden_goals=[g for g in golden.column("goal").to_pylist() if g],
        alpha=options.alpha,
        min_traces=options.min_traces,
    )
    stall: dict[str, Any] = {"windows": [], "categories": [], "flags": []}
    if current is not None and baseline is not None:
        windows = [current]
        while len(windows) < options.stall_windows:
            windows.insert(0, previous_window(windows[0]))
        stall = stall_section(
            verdicts,
            data.examples,
            windows=windows,
            baseline=baseline,
            current=current,
            cohort_attributes=cohorts,
            alpha=options.alpha,
            min_traces=options.min_traces,
        )
    datasets = datasets_section(data.examples, current_table if current else verdicts)
    calibration = calibration_section(
        data.labels, data.judgments, data.rubrics, verdicts, data.feedback
    )
    current_counts = tally(current_table if current else verdicts).get((), Tally())
    owners = {c["category"]: c["root_cause_owner"] for c in attribute["categories"]}
    examples = {
        c["category"]: trace_links(
            current_table.filter(
                pc.fill_null(pc.equal(current_table.column("category"), c["category"]), False)
            ).slice(0, 3),
            phoenix_url=data.phoenix_url,
        )
        or c["examples"]
        for c in attribute["categories"]
    }
    plan = plan_section(
        current_categories={
            category: rate(failed, current_counts.traces)
            for category, failed in current_counts.by_category.items()
        },
        owners=owners,
        drift=drift,
        regressions=compare["regressions"],
        stall_flags=stall["flags"],
        datasets=datasets,
        calibration=calibration["rubrics"],
        examples=examples,
        category_rubrics=data.rubric_categories,
    )
    flags = {
        "drift": any(d["flagged"] and d["direction"] == "worse" for d in drift),
        "regression": any(r["flagged"] for r in compare["regressions"]),
        "stall": bool(stall["flags"]),
    }
    return {
        "otel_flywheel_version": __version__,
        "generated_at": (options.now or datetime.now(timezone.utc))
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "source": data.source,
        "project": data.project,
        "phoenix_url": data.phoenix_url,
        "windows": {
            "baseline": baseline.to_dict() if baseline else None,
            "current": current.to_dict() if current else None,
            "bucket": unit,
        },
        "options": {"alpha": options.alpha, "min_traces": options.min_traces},
        "cohort_attributes": list(cohorts),
        "missing_cohort_attributes": missing_cohorts,
        "totals": {
            "traces": totals.traces,
            "failed": totals.failed,
            "unscored": totals.unscored,
            "passed": totals.traces - totals.failed - totals.unscored,
            "baseline_traces": base_table.num_rows,
            "current_traces": current_table.num_rows,
            "without_start_time": int(verdicts.column("start_time").null_count),
            "labels": data.labels.num_rows,
            "feedback": data.feedback.num_rows,
            "examples": data.examples.num_rows,
        },
        "issues": [
            {"where": i.where, "line": i.line, "message": i.message}
            for i in data.issues[:_MAX_ISSUES_SHOWN]
        ],
        "issues_total": len(data.issues),
        "categories": categories_figures(everything),
        "monitor": monitor_section(verdicts, unit=unit),
        "attribute": attribute,
        "compare": compare,
        "drift": drift,
        "input_mix": input_mix,
        "stall": stall,
        "feedback": feedback_section(verdicts, data.feedback, cohort_attributes=cohorts),
        "review_queue": review_queue(data.examples, data.labels, phoenix_url=data.phoenix_url),
        "datasets": datasets,
        "calibration": calibration["rubrics"],
        "calibration_summary": {k: v for k, v in calibration.items() if k != "rubrics"},
        "plan": plan,
        "flags": flags,
    }


def _windows(verdicts: pa.Table, options: ReportOptions) -> tuple[Window | None, Window | None]:
    current, baseline = options.current, options.baseline
    if current is None:
        start = verdicts.column("start_time")
        first, last = pc.min(start).as_py(), pc.max(start).as_py()
        if first is None or last is None:
            return baseline, None
        default_baseline, current = default_windows(first, last)
        baseline = baseline or default_baseline
    elif baseline is None:
        baseline = previous_window(current)
    return baseline, current


def _span(verdicts: pa.Table) -> timedelta:
    """How much time the verdicts cover (nothing when none has a start time)."""
    start = verdicts.column("start_time")
    first, last = pc.min(start).as_py(), pc.max(start).as_py()
    if first is None or last is None:
        return timedelta(0)
    span: timedelta = last - first
    return span
