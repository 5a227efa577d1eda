"""Calibration: how far the judge (and the checks) can be trusted, measured against people.

Per rubric and rubric version (a rubric's version is its content hash, so an edited rubric starts
a new row): every human label of a trace is paired with the judge's result for that rubric on
that trace. Unscored judgments are left out (they are neither pass nor fail). Then:

- Cohen's kappa with a bootstrap 95 % interval, and the plain agreement;
- the confusion matrix, the judge's and people's pass rates (the judge's bias is the difference);
- ``sensitivity`` (the judge passes what people pass) and ``specificity`` (it fails what people
  fail), which a replay gate can use to correct an observed pass rate for the judge's error
  (`otel_flywheel.rates.corrected_pass_rate`);
- agreement over time (judge drift, reviewer fatigue) and per reviewer;
- Krippendorff's alpha among reviewers, on the traces two or more of them labelled.

``rubric_id`` ``flywheel.verdict`` compares people with the verdict as a whole; a check's name
compares them with that check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from otel_flywheel.analysis._stats import kappa_with_interval, krippendorff_alpha
from otel_flywheel.analysis._verdicts import VERDICT_ANNOTATION_KEY
from otel_flywheel.analysis._windows import bucket_unit

__all__ = ["calibration_section"]


def calibration_section(
    labels: pa.Table,
    judgments: pa.Table,
    rubrics: pa.Table,
    verdicts: pa.Table,
    feedback: pa.Table | None = None,
) -> dict[str, Any]:
    known = set(rubrics.column("rubric_id").drop_null().to_pylist()) | {VERDICT_ANNOTATION_KEY}
    if feedback is not None and feedback.num_rows:
        labels = pa.concat_tables([labels, _feedback_labels(feedback, known, labels.schema)])
    label_ids = labels.column("rubric_id")
    unknown_mask = pc.invert(pc.is_in(label_ids, value_set=pa.array(sorted(known))))
    unknown = labels.filter(unknown_mask)
    unknown_rubrics = (
        [
            {"rubric_id": row["rubric_id"], "labels": row["count_all"]}
            for row in unknown.group_by("rubric_id").aggregate([([], "count_all")]).to_pylist()
        ]
        if unknown.num_rows
        else []
    )
    usable = labels.filter(pc.invert(unknown_mask))
    scored = (
        judgments.filter(pc.is_valid(judgments.column("passed")))
        .select(["trace_id", "rubric_id", "rubric_version", "judge_model", "passed"])
        .rename_columns(["trace_id", "rubric_id", "rubric_version", "judge_model", "judge_passed"])
    )
    pairs = usable.join(scored, ["trace_id", "rubric_id"], join_type="inner")
    times = verdicts.select(["trace_id", "start_time"])
    pairs = pairs.join(times, "trace_id", join_type="left outer")
    without_verdict = (
        usable.num_rows
        - int(
            pc.sum(
                pc.is_in(usable.column("trace_id"), value_set=verdicts.column("trace_id"))
            ).as_py()
            or 0
        )
        if usable.num_rows
        else 0
    )
    rows = []
    grouped: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)
    for pair in pairs.to_pylist():
        grouped[(pair["rubric_id"], pair["rubric_version"])].append(pair)
    for (rubric_id, version), items in sorted(
        grouped.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
    ):
        rows.append(_rubric_row(rubric_id, version, items))
    return {
        "rubrics": rows,
        "labels": labels.num_rows,
        "paired": pairs.num_rows,
        "without_verdict": without_verdict,
        "unknown_rubrics": unknown_rubrics,
        "known_rubrics": sorted(known),
    }


def _feedback_labels(feedback: pa.Table, known: set[str], schema: pa.Schema) -> pa.Table:
    """Explicit thumbs as labels of the verdict as a whole (annotator ``user`` or theirs). A
    reviewer's annotation synced from Phoenix under a rubric's name is a label already."""
    rows = []
    for record in feedback.select(
        ["trace_id", "thumbs", "signal", "annotator", "created_at_unix"]
    ).to_pylist():
        if record["signal"] is not None or record["thumbs"] not in ("up", "down"):
            continue
        annotator = record["annotator"] or "user"
        parts = annotator.split(":")
        if parts[0] == "phoenix" and len(parts) >= 3 and parts[2] in known:
            continue
        created = record["created_at_unix"]
        rows.append(
            {
                "trace_id": record["trace_id"],
                "rubric_id": VERDICT_ANNOTATION_KEY,
                "label": record["thumbs"],
                "passed": record["thumbs"] == "up",
                "annotator": f"feedback:{annotator}",
                "created_at": datetime.fromtimestamp(created, tz=timezone.utc) if created else None,
            }
        )
    return pa.Table.from_pylist(rows, schema=schema)


def _rubric_row(rubric_id: str, version: str | None, items: list[dict[str, Any]]) -> dict[str, Any]:
    judge = [bool(i["judge_passed"]) for i in items]
    human = [bool(i["passed"]) for i in items]
    agreement = kappa_with_interval(judge, human)
    n = len(items)
    confusion = {
        "judge_pass_human_pass": sum(1 for j, h in zip(judge, human, strict=True) if j and h),
        "judge_pass_human_fail": sum(1 for j, h in zip(judge, human, strict=True) if j and not h),
        "judge_fail_human_pass": sum(1 for j, h in zip(judge, human, strict=True) if not j and h),
        "judge_fail_human_fail": sum(
            1 for j, h in zip(judge, human, strict=True) if not j and not h
        ),
    }
    human_pass = confusion["judge_pass_human_pass"] + confusion["judge_fail_human_pass"]
    human_fail = n - human_pass
    judge_pass_rate = sum(judge) / n
    human_pass_rate = human_pass / n
    return {
        "rubric_id": rubric_id,
        "rubric_version": version,
        "judge_models": sorted({i["judge_model"] for i in items if i["judge_model"]}),
        "n": n,
        "kappa": agreement.kappa,
        "kappa_ci95": list(agreement.ci95) if agreement.ci95 is not None else None,
        "observed_agreement": agreement.observed,
        "status": "measured" if agreement.kappa is not None else "not enough data",
        "confusion": confusion,
        "judge_pass_rate": judge_pass_rate,
        "human_pass_rate": human_pass_rate,
        "bias": judge_pass_rate - human_pass_rate,
        "sensitivity": confusion["judge_pass_human_pass"] / human_pass if human_pass else None,
        "specificity": confusion["judge_fail_human_fail"] / human_fail if human_fail else None,
        "over_time": _over_time(items),
        "annotators": _annotators(items),
        "reviewers": _reviewers(items),
    }


def _over_time(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    stamped: list[tuple[datetime, dict[str, Any]]] = []
    for item in items:
        moment = item.get("created_at") or item.get("start_time")
        if isinstance(moment, datetime):
            stamped.append((moment, item))
    if not stamped:
        return []
    first = min(t for t, _ in stamped)
    last = max(t for t, _ in stamped)
    unit = bucket_unit(last - first)
    buckets: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for moment, item in stamped:
        buckets[_floor(moment, unit)].append(item)
    series = []
    for start, bucket in sorted(buckets.items()):
        judge = [bool(i["judge_passed"]) for i in bucket]
        human = [bool(i["passed"]) for i in bucket]
        agreement = kappa_with_interval(judge, human)
        series.append(
            {
                "start": start.isoformat().replace("+00:00", "Z"),
                "n": len(bucket),
                "agreement": agreement.observed,
                "kappa": agreement.kappa,
            }
        )
    return series


def _annotators(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    per: dict[str, list[bool]] = defaultdict(list)
    for item in items:
        per[item["annotator"] or "(unnamed)"].append(
            bool(item["judge_passed"]) == bool(item["passed"])
        )
    return [
        {"annotator": name, "n": len(agree), "agreement_with_judge": sum(agree) / len(agree)}
        for name, agree in sorted(per.items())
    ]


def _reviewers(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    by_trace: dict[str, dict[str, bool]] = defaultdict(dict)
    for item in items:
        by_trace[item["trace_id"]][item["annotator"] or "(unnamed)"] = bool(item["passed"])
    shared = {trace: marks for trace, marks in by_trace.items() if len(marks) >= 2}
    reviewers = sorted({name for marks in shared.values() for name in marks})
    units = [[marks.get(name) for name in reviewers] for marks in shared.values()]
    alpha = krippendorff_alpha(units) if units else None
    return {
        "items_with_two_or_more": len(shared),
        "reviewers": reviewers,
        "alpha": alpha,
        "status": "measured" if alpha is not None else "not enough data",
    }


def _floor(moment: datetime, unit: str) -> datetime:
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        return day.fromordinal(day.toordinal() - day.weekday()).replace(tzinfo=day.tzinfo)
    return day
