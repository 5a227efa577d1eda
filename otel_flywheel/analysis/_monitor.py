"""Monitor (pass rate over time, volume, unscored share) and Attribute (what fails, where, who
fixes it, with example traces)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from otel_flywheel.analysis._tally import Tally, rate, tally
from otel_flywheel.phoenix import span_url, trace_url

__all__ = ["attribute_section", "categories_figures", "monitor_section", "trace_links"]

EXAMPLES_PER_CATEGORY: Final = 3


def categories_figures(groups: dict[tuple[Any, ...], Tally]) -> list[dict[str, Any]]:
    """The JSON contract's ``categories``: every failing category's rate over all traces read."""
    everything = groups.get((), Tally())
    return [
        {"category": category, **rate(failed, everything.traces)}
        for category, failed in sorted(everything.by_category.items(), key=lambda kv: -kv[1])
    ]


def monitor_section(table: pa.Table, *, unit: str) -> dict[str, Any]:
    """Pass and failure rates per time bucket, overall and per category."""
    timed = table.filter(pc.is_valid(table.column("start_time")))
    everything = tally(table).get((), Tally())
    series: list[dict[str, Any]] = []
    if timed.num_rows:
        bucket = pc.floor_temporal(timed.column("start_time"), multiple=1, unit=unit)
        groups = tally(timed.append_column("bucket", bucket), ["bucket"])
        for (start,), counts in sorted(groups.items(), key=lambda kv: kv[0][0]):
            series.append(
                {
                    "start": start.isoformat().replace("+00:00", "Z"),
                    **rate(counts.failed, counts.traces),
                    "pass_rate": (counts.traces - counts.failed - counts.unscored) / counts.traces,
                    "unscored": counts.unscored,
                    "unscored_share": counts.unscored / counts.traces,
                    "categories": {
                        category: rate(failed, counts.traces)
                        for category, failed in sorted(counts.by_category.items())
                    },
                }
            )
    traces = everything.traces
    return {
        "bucket": unit,
        "overall": {
            **rate(everything.failed, traces),
            "pass_rate": (traces - everything.failed - everything.unscored) / traces
            if traces
            else None,
            "unscored": everything.unscored,
            "unscored_share": everything.unscored / traces if traces else None,
        },
        "without_start_time": table.num_rows - timed.num_rows,
        "series": series,
    }


def attribute_section(table: pa.Table, *, phoenix_url: str | None, top: int = 10) -> dict[str, Any]:
    """Failures by category -> subcategory -> owner, the culprits named most, example traces."""
    failed = table.filter(pc.equal(table.column("outcome"), "fail"))
    total_failed = failed.num_rows
    rows = (
        failed.select(["category", "subcategory", "root_cause_owner"])
        .group_by(["category", "subcategory", "root_cause_owner"], use_threads=False)
        .aggregate([([], "count_all")])
        .to_pylist()
        if total_failed
        else []
    )
    by_category: dict[str, dict[str, Any]] = {}
    for row in rows:
        category = row["category"] or "(uncategorized)"
        entry = by_category.setdefault(
            category,
            {"category": category, "root_cause_owner": None, "failed": 0, "subcategories": []},
        )
        entry["failed"] += row["count_all"]
        entry["root_cause_owner"] = entry["root_cause_owner"] or row["root_cause_owner"]
        entry["subcategories"].append(
            {"subcategory": row["subcategory"] or "(none)", "failed": row["count_all"]}
        )
    categories = sorted(by_category.values(), key=lambda e: -e["failed"])
    ordered = _newest_first(failed) if total_failed else failed
    for entry in categories:
        entry["share"] = entry["failed"] / total_failed
        entry["subcategories"].sort(key=lambda s: -s["failed"])
        for sub in entry["subcategories"]:
            sub["share"] = sub["failed"] / entry["failed"]
        mine = ordered.filter(pc.equal(ordered.column("category"), entry["category"]))
        entry["examples"] = trace_links(
            mine.slice(0, EXAMPLES_PER_CATEGORY), phoenix_url=phoenix_url
        )
    return {
        "failed": total_failed,
        "categories": categories,
        "culprit_tools": _ranked(failed, ["culprit_tool"], top),
        "culprit_steps": _ranked(failed, ["culprit_kind", "culprit_name"], top),
    }


def trace_links(table: pa.Table, *, phoenix_url: str | None) -> list[dict[str, Any]]:
    """Each row's trace (and culprit span), with Phoenix UI links when Phoenix's URL is known."""
    links = []
    for row in table.select(
        ["trace_id", "culprit_span_id", "start_time", "category", "subcategory"]
    ).to_pylist():
        link: dict[str, Any] = {
            "trace_id": row["trace_id"],
            "culprit_span_id": row["culprit_span_id"],
            "start_time": row["start_time"].isoformat().replace("+00:00", "Z")
            if row["start_time"]
            else None,
            "label": "/".join(p for p in (row["category"], row["subcategory"]) if p) or None,
            "url": None,
        }
        if phoenix_url:
            link["url"] = (
                span_url(phoenix_url, row["culprit_span_id"])
                if row["culprit_span_id"]
                else trace_url(phoenix_url, row["trace_id"])
            )
        links.append(link)
    return links


def _newest_first(table: pa.Table) -> pa.Table:
    order = pc.sort_indices(table, sort_keys=[("start_time", "descending")])
    return table.take(order)


def _ranked(table: pa.Table, keys: list[str], top: int) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    counts: Counter[tuple[Any, ...]] = Counter()
    for row in (
        table.select(keys)
        .group_by(keys, use_threads=False)
        .aggregate([([], "count_all")])
        .to_pylist()
    ):
        key = tuple(row[k] for k in keys)
        if all(part is None for part in key):
            continue
        counts[key] = row["count_all"]
    return [
        {**dict(zip(keys, key, strict=True)), "failed": count, "share": count / table.num_rows}
        for key, count in counts.most_common(top)
    ]
