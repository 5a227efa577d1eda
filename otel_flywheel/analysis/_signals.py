"""Feedback (what users said, against what the evaluators said), the review queue (what a
reviewer should label next) and dataset coverage (what the datasets hold against what fails).

Raw thumbs are evidence, never ground truth: the report puts the thumbs-down rate next to the
judged failure rate of the same traces, and counts the conflicts (thumbs up on a failed verdict,
thumbs down on a passed one), which routing sends to review with both signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from otel_flywheel.analysis._tally import Tally, tally
from otel_flywheel.analysis._verdicts import cohort_column
from otel_flywheel.phoenix import trace_url

__all__ = ["datasets_section", "feedback_section", "review_queue"]

_ROUTES = ("golden", "regression", "review", "preference")


def feedback_section(
    verdicts: pa.Table, feedback: pa.Table, *, cohort_attributes: Sequence[str]
) -> dict[str, Any]:
    explicit = feedback.filter(pc.is_null(feedback.column("signal")))
    thumbs = explicit.filter(pc.is_valid(explicit.column("thumbs")))
    # One thumbs per trace: the last one given wins, as in the UI.
    latest = (
        thumbs.append_column("order", pa.array(range(thumbs.num_rows), pa.int64()))
        .group_by("trace_id", use_threads=False)
        .aggregate([("order", "max")])
        .column("order_max")
        if thumbs.num_rows
        else pa.array([], pa.int64())
    )
    thumbs = thumbs.take(latest) if thumbs.num_rows else thumbs
    joined = verdicts.select(
        ["trace_id", "outcome", *(cohort_column(a) for a in cohort_attributes)]
    ).join(thumbs.select(["trace_id", "thumbs"]), "trace_id", join_type="left outer")
    with_feedback_ids = pc.unique(explicit.column("trace_id"))
    cuts: dict[str, list[dict[str, Any]]] = {
        "everyone": [_feedback_row({}, joined, with_feedback_ids)]
    }
    for attribute in cohort_attributes:
        column = cohort_column(attribute)
        rows = []
        for value in pc.unique(joined.column(column)).to_pylist():
            mask = (
                pc.is_null(joined.column(column))
                if value is None
                else pc.fill_null(pc.equal(joined.column(column), value), False)
            )
            rows.append(_feedback_row({attribute: value}, joined.filter(mask), with_feedback_ids))
        cuts[attribute] = sorted(rows, key=lambda r: -r["traces"])
    unmatched = (
        pc.sum(
            pc.invert(pc.is_in(explicit.column("trace_id"), value_set=verdicts.column("trace_id")))
        ).as_py()
        if explicit.num_rows
        else 0
    )
    return {
        "feedback": feedback.num_rows,
        "explicit": explicit.num_rows,
        "implicit": feedback.num_rows - explicit.num_rows,
        "without_verdict": int(unmatched or 0),
        "cuts": cuts,
    }


def _feedback_row(
    cohort: dict[str, Any], joined: pa.Table, with_feedback: pa.Array
) -> dict[str, Any]:
    traces = joined.num_rows
    given = int(pc.sum(pc.is_in(joined.column("trace_id"), value_set=with_feedback)).as_py() or 0)
    thumbs = joined.column("thumbs")
    outcome = joined.column("outcome")
    up = pc.fill_null(pc.equal(thumbs, "up"), False)
    down = pc.fill_null(pc.equal(thumbs, "down"), False)
    rated = pc.or_(up, down)
    failed = pc.equal(outcome, "fail")
    passed = pc.equal(outcome, "pass")
    n_rated = _count(rated)
    return {
        "cohort": cohort,
        "traces": traces,
        "with_explicit_feedback": given,
        "feedback_rate": given / traces if traces else None,
        "thumbs": n_rated,
        "thumbs_down_rate": _count(down) / n_rated if n_rated else None,
        "judged_failure_rate_of_rated": _count(pc.and_(rated, failed)) / n_rated
        if n_rated
        else None,
        "judged_failure_rate": _count(failed) / traces if traces else None,
        "conflicts": {
            "thumbs_up_on_failed": _count(pc.and_(up, failed)),
            "thumbs_down_on_passed": _count(pc.and_(down, passed)),
        },
    }


def review_queue(
    examples: pa.Table, labels: pa.Table, *, phoenix_url: str | None, top: int = 20
) -> dict[str, Any]:
    """The review dataset's examples nobody labelled yet, highest priority first."""
    review = examples.filter(pc.fill_null(pc.equal(examples.column("route"), "review"), False))
    labelled = pc.unique(labels.column("trace_id"))
    waiting = review.filter(
        pc.invert(
            pc.fill_null(pc.is_in(review.column("source_trace_id"), value_set=labelled), False)
        )
    )
    order = pc.sort_indices(waiting, sort_keys=[("priority", "descending")])
    items = []
    for row in waiting.take(order).slice(0, top).to_pylist():
        trace_id = row["source_trace_id"]
        items.append(
            {
                "trace_id": trace_id,
                "priority": row["priority"],
                "reason": row["reason"],
                "category": row["category"],
                "conflict": bool(row["conflict"]),
                "goal": row["goal"],
                "url": trace_url(phoenix_url, trace_id) if phoenix_url and trace_id else None,
            }
        )
    return {
        "in_review": review.num_rows,
        "labelled": review.num_rows - waiting.num_rows,
        "items": items,
    }


def datasets_section(examples: pa.Table, current: pa.Table) -> dict[str, Any]:
    """Examples per dataset and category against the current window's failures per category."""
    failures = tally(current).get((), Tally()).by_category
    per: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}
    if examples.num_rows:
        for row in (
            examples.select(["dataset", "route", "category"])
            .group_by(["dataset", "route", "category"], use_threads=False)
            .aggregate([([], "count_all")])
            .to_pylist()
        ):
            route = row["route"] or "other"
            names[route] = row["dataset"]
            per.setdefault(route, {})
            key = row["category"] or "(none)"
            per[route][key] = per[route].get(key, 0) + row["count_all"]
    categories = sorted(
        set(failures) | {c for counts in per.values() for c in counts if c != "(none)"}
    )
    rows: list[dict[str, Any]] = []
    for category in categories:
        held = {route: per.get(route, {}).get(category, 0) for route in _ROUTES}
        training = held["golden"] + held["regression"]
        rows.append(
            {
                "category": category,
                "production_failures": failures.get(category, 0),
                "examples": held,
                "gap": failures.get(category, 0) > 0 and training == 0,
            }
        )
    rows.sort(key=lambda r: (-r["production_failures"], r["category"]))
    return {
        "datasets": {
            route: {"name": names.get(route), "examples": sum(per.get(route, {}).values())}
            for route in _ROUTES
        },
        "categories": rows,
        "gaps": [r["category"] for r in rows if r["gap"]],
    }


def _count(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)
