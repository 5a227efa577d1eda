"""The HTML report's sections about people and data: stall, feedback, the review queue, dataset
coverage, calibration, and the input lines left out."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from otel_flywheel.analysis import _html as h

__all__ = [
    "calibration_section",
    "datasets_section",
    "feedback_section",
    "issues_section",
    "review_section",
    "stall_section",
]


def stall_section(report: Mapping[str, Any]) -> str:
    stall = report["stall"]
    parts = []
    if stall["flags"]:
        parts.append(
            "<ul>" + "".join(f"<li>{escape(f['message'])}</li>" for f in stall["flags"]) + "</ul>"
        )
    else:
        parts.append(
            "<p>No stall: no category whose data grew without its failure rate falling, and no new cohort failing more while the old ones held.</p>"
        )
    rows = []
    for series in stall["categories"]:
        points = series["points"]
        rows.append(
            [
                series["category"],
                " → ".join(h.pct(p["rate"]) for p in points),
                " → ".join(str(p["examples"]) for p in points),
            ]
        )
    if rows:
        parts.append(
            h.table(
                [
                    "category",
                    f"failure rate over the last {len(stall['windows'])} windows",
                    "golden + regression examples",
                ],
                rows,
            )
        )
    return h.section("stall", "Stall", "".join(parts))


def feedback_section(report: Mapping[str, Any]) -> str:
    feedback = report["feedback"]
    parts = [
        f"<p>{feedback['explicit']} explicit and {feedback['implicit']} implicit feedback; "
        f"{feedback['without_verdict']} explicit feedback on traces without a verdict in this report. "
        "Thumbs are evidence, not ground truth: conflicts with the verdict go to review.</p>"
    ]
    for cut, rows in feedback["cuts"].items():
        parts.append(f"<h3>{escape('Everyone' if cut == 'everyone' else 'Per ' + cut)}</h3>")
        parts.append(
            h.table(
                [
                    "cohort",
                    "traces",
                    "feedback rate",
                    "thumbs",
                    "thumbs-down rate",
                    "judged failure rate (same traces)",
                    "👍 on failed",
                    "👎 on passed",
                ],
                [
                    [
                        h.cohort(r["cohort"]) or "everyone",
                        h.num(r["traces"]),
                        h.pct(r["feedback_rate"]),
                        h.num(r["thumbs"]),
                        h.pct(r["thumbs_down_rate"]),
                        h.pct(r["judged_failure_rate_of_rated"]),
                        h.num(r["conflicts"]["thumbs_up_on_failed"]),
                        h.num(r["conflicts"]["thumbs_down_on_passed"]),
                    ]
                    for r in rows[:20]
                ],
            )
        )
    return h.section("feedback", "Feedback", "".join(parts))


def review_section(report: Mapping[str, Any]) -> str:
    queue = report["review_queue"]
    parts = [
        f"<p>{queue['in_review']} examples in review, {queue['labelled']} labelled. Label these next:</p>"
    ]
    parts.append(
        h.table(
            ["priority", "reason", "category", "goal", "trace"],
            [
                [
                    f"{i['priority']:.3f}" if i["priority"] is not None else "",
                    i["reason"] or "",
                    i["category"] or "",
                    i["goal"] or "",
                    h.links([i]),
                ]
                for i in queue["items"]
            ],
        )
        if queue["items"]
        else "<p>Nothing waits for review.</p>"
    )
    return h.section("review", "Review queue", "".join(parts))


def datasets_section(report: Mapping[str, Any]) -> str:
    datasets = report["datasets"]
    routes = ("golden", "regression", "review", "preference")
    head = ", ".join(f"{r}: {datasets['datasets'][r]['examples']}" for r in routes)
    parts = [f"<p>Examples per dataset: {escape(head)}.</p>"]
    parts.append(
        h.table(
            ["category", "production failures (current window)", *routes, "gap"],
            [
                [
                    r["category"],
                    h.num(r["production_failures"]),
                    *(h.num(r["examples"][route]) for route in routes),
                    "no golden or regression example" if r["gap"] else "",
                ]
                for r in datasets["categories"]
            ],
        )
    )
    return h.section("datasets", "Datasets: coverage", "".join(parts))


def calibration_section(report: Mapping[str, Any]) -> str:
    rows = report["calibration"]
    summary = report["calibration_summary"]
    parts = [
        f"<p>{summary['labels']} human labels, {summary['paired']} paired with a scored judgment; "
        f"{summary['without_verdict']} on traces without a verdict here.</p>"
    ]
    for unknown in summary["unknown_rubrics"]:
        parts.append(
            f'<p class="note">{unknown["labels"]} labels name the unknown rubric {escape(unknown["rubric_id"])!r}; '
            f"known: {escape(', '.join(summary['known_rubrics']))}.</p>"
        )
    if rows:
        parts.append(
            h.table(
                [
                    "rubric",
                    "version",
                    "n",
                    "kappa (95% interval)",
                    "agreement",
                    "judge pass",
                    "human pass",
                    "sensitivity",
                    "specificity",
                    "reviewers' alpha",
                ],
                [
                    [
                        r["rubric_id"],
                        r["rubric_version"] or "",
                        h.num(r["n"]),
                        h.kappa(r),
                        h.pct(r["observed_agreement"]),
                        h.pct(r["judge_pass_rate"]),
                        h.pct(r["human_pass_rate"]),
                        h.pct(r["sensitivity"]),
                        h.pct(r["specificity"]),
                        f"{r['reviewers']['alpha']:.2f} ({r['reviewers']['items_with_two_or_more']} items)"
                        if r["reviewers"]["alpha"] is not None
                        else "not enough data",
                    ]
                    for r in rows
                ],
            )
        )
        for r in rows:
            if r["over_time"]:
                parts.append(f"<h3>{escape(r['rubric_id'])}: agreement over time</h3>")
                parts.append(
                    h.table(
                        ["from", "n", "agreement", "kappa"],
                        [
                            [
                                p["start"][:10],
                                h.num(p["n"]),
                                h.pct(p["agreement"]),
                                f"{p['kappa']:.2f}"
                                if p["kappa"] is not None
                                else "not enough data",
                            ]
                            for p in r["over_time"]
                        ],
                    )
                )
    else:
        parts.append("<p>No human labels paired with judgments: not enough data to calibrate.</p>")
    return h.section("calibration", "Calibration: the judge against people", "".join(parts))


def issues_section(report: Mapping[str, Any]) -> str:
    issues = report["issues"]
    if not issues:
        return h.section("issues", "Input issues", "<p>Every line was read.</p>")
    rows = [[i["where"], str(i["line"]), i["message"]] for i in issues]
    more = report["issues_total"] - len(issues)
    note = f'<p class="note">and {more} more</p>' if more > 0 else ""
    return h.section(
        "issues", "Input issues: lines left out", h.table(["file", "line", "problem"], rows) + note
    )
