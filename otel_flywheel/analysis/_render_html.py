"""The report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched.

A Content-Security-Policy of ``default-src 'none'`` makes the "opens offline" promise checkable:
the browser would refuse anything the page tried to load. Every value from the data (goals,
cohort values, category names) is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from otel_flywheel.analysis import _html as h
from otel_flywheel.analysis._html_sections import (
    calibration_section,
    datasets_section,
    feedback_section,
    issues_section,
    review_section,
    stall_section,
)
from otel_flywheel.analysis._svg import Band, bar_chart, interval_plot, line_chart

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#1f2937;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;color:#d1d5db}main{padding:8px 28px 40px;max-width:1100px}
nav{padding:8px 28px;background:#eef2f7;font-size:13px}nav a{margin-right:12px;color:#1f4f99}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 18px;margin:16px 0}
h2{margin:0 0 10px;font-size:18px}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.flag{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.on{background:#fde2e1;color:#b42318}.off{background:#e3f6e8;color:#1a7f37}
.note{color:#6b7280}.muted{color:#9ca3af}code{font-size:12px}
"""
_SECTIONS = (
    ("plan", "Plan"),
    ("monitor", "Monitor"),
    ("attribute", "Attribute"),
    ("compare", "Compare"),
    ("drift", "Drift"),
    ("stall", "Stall"),
    ("feedback", "Feedback"),
    ("review", "Review queue"),
    ("datasets", "Datasets"),
    ("calibration", "Calibration"),
    ("issues", "Input issues"),
)


def render_html(report: Mapping[str, Any]) -> str:
    min_traces = report["options"]["min_traces"]
    body = [
        _header(report),
        "<nav>" + "".join(f'<a href="#{key}">{title}</a>' for key, title in _SECTIONS) + "</nav>",
        "<main>",
        _plan(report),
        _monitor(report, min_traces),
        _attribute(report),
        _compare(report, min_traces),
        _drift(report, min_traces),
        stall_section(report),
        feedback_section(report),
        review_section(report),
        datasets_section(report),
        calibration_section(report),
        issues_section(report),
        "</main>",
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>otel-flywheel report: {escape(report.get('project') or report['source'])}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )


# --- sections --------------------------------------------------------------------------------------


def _header(report: Mapping[str, Any]) -> str:
    windows = report["windows"]
    totals = report["totals"]
    flags = " ".join(
        f'<span class="flag {"on" if on else "off"}">{escape(kind)}: {"flagged" if on else "none"}</span>'
        for kind, on in report["flags"].items()
    )
    current = windows["current"]
    baseline = windows["baseline"]
    return (
        "<header><h1>Is the flywheel turning?</h1>"
        f"<p>{escape(report['source'])} · generated {escape(report['generated_at'])} by otel-flywheel "
        f"{escape(report['otel_flywheel_version'])}</p>"
        f"<p>{totals['traces']} traces · {totals['failed']} failed · {totals['unscored']} unscored · "
        f"current window {h.window(current)} ({totals['current_traces']} traces) against baseline "
        f"{h.window(baseline)} ({totals['baseline_traces']} traces)</p><p>{flags}</p></header>"
    )


def _plan(report: Mapping[str, Any]) -> str:
    plan = report["plan"]
    if not plan:
        return h.section(
            "plan", "Plan", "<p>No failures in the current window: nothing to plan.</p>"
        )
    rows = []
    for item in plan:
        evidence = item["evidence"]
        trend = (
            f"{h.pct(evidence['baseline_rate'])} → {h.pct(evidence['rate'])}"
            + (f" (q={evidence['q_value']:.2g})" if evidence["q_value"] is not None else "")
            if evidence["baseline_rate"] is not None
            else h.pct(evidence["rate"])
        )
        rows.append(
            [
                str(item["rank"]),
                item["category"],
                item["root_cause_owner"] or "",
                h.Html(
                    f'<b>{escape(item["lever"])}</b><br><span class="note">{escape(item["why"])}</span>'
                ),
                h.Html(
                    f"{evidence['failed']} of {evidence['traces']} traces<br>{escape(trend)}"
                    + (f"<br>{escape(', '.join(evidence['flags']))}" if evidence["flags"] else "")
                ),
                h.links(item["examples"]),
            ]
        )
    table = h.table(
        ["#", "category", "root-cause owner", "lever", "evidence", "example traces"], rows
    )
    return h.section("plan", "Plan: what to fix next", table)


def _monitor(report: Mapping[str, Any], min_traces: int) -> str:
    monitor = report["monitor"]
    series = monitor["series"]
    labels = [
        point["start"][:13].replace("T", " ")
        if monitor["bucket"] == "hour"
        else point["start"][:10]
        for point in series
    ]
    overall = Band(
        "failure rate",
        [p["rate"] for p in series],
        [p["ci95"][0] if p["ci95"] else None for p in series],
        [p["ci95"][1] if p["ci95"] else None for p in series],
    )
    top = [c["category"] for c in report["categories"][:5]]
    per_category = [
        Band(
            category,
            [h.cat(p, category, "rate") for p in series],
            [h.cat(p, category, "low") for p in series],
            [h.cat(p, category, "high") for p in series],
        )
        for category in top
    ]
    overall_figures = monitor["overall"]
    parts = [
        f"<p>Failure rate over every trace read: <b>{h.rate_text(overall_figures, min_traces)}</b>; "
        f"unscored share {h.pct(overall_figures['unscored_share'])}. One point per {escape(monitor['bucket'])}"
        "; bands are Wilson 95% intervals.</p>",
    ]
    if monitor["without_start_time"]:
        parts.append(
            f'<p class="note">{monitor["without_start_time"]} verdicts have no start_time (written '
            "before verdicts recorded it): counted in totals, left out of every time-based figure.</p>"
        )
    if series:
        parts += [
            "<h3>Failure rate</h3>",
            line_chart("monitor-overall", labels, [overall]),
            "<h3>Failure rate per category</h3>",
            line_chart("monitor-categories", labels, per_category),
            "<h3>Volume and unscored share</h3>",
            h.table(
                [monitor["bucket"], "traces", "failed", "unscored share"],
                [
                    [label, h.num(p["traces"]), h.num(p["failed"]), h.pct(p["unscored_share"])]
                    for label, p in zip(labels, series, strict=True)
                ],
            ),
        ]
    parts.append("<h3>Categories (every trace read)</h3>")
    parts.append(
        h.table(
            ["category", "failed", "failure rate (95% interval)"],
            [
                [c["category"], h.num(c["failed"]), h.rate_text(c, min_traces)]
                for c in report["categories"]
            ],
        )
    )
    return h.section("monitor", "Monitor", "".join(parts))


def _attribute(report: Mapping[str, Any]) -> str:
    attribute = report["attribute"]
    if not attribute["failed"]:
        return h.section("attribute", "Attribute", "<p>No failures to attribute.</p>")
    parts = [
        bar_chart(
            "attribute-categories", [(c["category"], c["failed"]) for c in attribute["categories"]]
        ),
    ]
    rows = []
    for category in attribute["categories"]:
        subs = ", ".join(f"{s['subcategory']} {s['failed']}" for s in category["subcategories"])
        rows.append(
            [
                category["category"],
                category["root_cause_owner"] or "",
                h.num(category["failed"]),
                subs,
                h.links(category["examples"]),
            ]
        )
    parts.append(
        h.table(["category", "root-cause owner", "failed", "subcategories", "example traces"], rows)
    )
    tools = [(t["culprit_tool"], t["failed"]) for t in attribute["culprit_tools"]]
    if tools:
        parts += ["<h3>Tools most often named culprit</h3>", bar_chart("attribute-tools", tools)]
    steps = [
        [
            f"{s['culprit_kind'] or ''} {s['culprit_name'] or ''}",
            h.num(s["failed"]),
            h.pct(s["share"]),
        ]
        for s in attribute["culprit_steps"]
    ]
    if steps:
        parts += [
            "<h3>Steps most often named culprit</h3>",
            h.table(["step", "failed", "share"], steps),
        ]
    return h.section("attribute", "Attribute: what fails, where, who fixes it", "".join(parts))


def _compare(report: Mapping[str, Any], min_traces: int) -> str:
    compare = report["compare"]
    parts = ["<h3>Per agent version (first seen first)</h3>"]
    parts.append(
        h.table(
            ["version", "first seen", "traces", "failure rate"],
            [
                [
                    v["version"],
                    v["first_seen"] or "",
                    h.num(v["traces"]),
                    h.rate_text(v, min_traces),
                ]
                for v in compare["versions"]
            ],
        )
    )
    regressions = compare["regressions"]
    if regressions:
        head = regressions[0]
        worse = [r for r in regressions if r["flagged"]]
        parts.append(
            f"<h3>{escape(str(head['to_version']))} against {escape(str(head['from_version']))}</h3>"
            + (
                "<p><b>Worse in the new version:</b> "
                + escape(", ".join(r["category"] or "all categories" for r in worse))
                + "</p>"
                if worse
                else "<p>No category got significantly worse in the new version.</p>"
            )
        )
        parts.append(
            interval_plot(
                "compare-versions",
                [h.interval(r["category"] or "all categories", r) for r in regressions],
            )
        )
    for attribute, rows in compare["cohorts"].items():
        parts.append(f"<h3>Per {escape(attribute)}</h3>")
        parts.append(
            h.table(
                [attribute, "traces", "failure rate"],
                [
                    [h.value(r["value"]), h.num(r["traces"]), h.rate_text(r, min_traces)]
                    for r in rows[:20]
                ],
            )
        )
    return h.section("compare", "Compare: versions and cohorts", "".join(parts))


def _drift(report: Mapping[str, Any], min_traces: int) -> str:
    cells = report["drift"]
    tested = [c for c in cells if c["status"] == "tested"]
    flagged = [c for c in cells if c["flagged"]]
    parts = [
        f"<p>{len(cells)} cells (category × cohort), {len(tested)} tested, {len(flagged)} flagged at a "
        f"false discovery rate of {report['options']['alpha']:.0%} (Benjamini-Hochberg). Cells with fewer "
        f"than {min_traces} traces on a side are not tested: not enough data.</p>"
    ]
    shown = flagged or sorted(tested, key=lambda c: c["p_value"])[:10]
    if shown:
        parts.append(interval_plot("drift-cells", [h.interval(h.cell(c), c) for c in shown[:25]]))
        parts.append(
            h.table(
                ["category", "cohort", "baseline", "current", "test", "p", "q", "flagged"],
                [
                    [
                        c["category"] or "all",
                        h.cohort(c["cohort"]),
                        h.rate_text(c["baseline"], min_traces),
                        h.rate_text(c["current"], min_traces),
                        c["method"] or "",
                        h.p(c["p_value"]),
                        h.p(c["q_value"]),
                        "yes, " + c["direction"] if c["flagged"] else "no",
                    ]
                    for c in shown
                ],
            )
        )
    mix = report["input_mix"]
    parts.append("<h3>Input mix: tools</h3>")
    parts.append(
        h.table(
            ["tool", "baseline share", "current share", "q", "changed"],
            [
                [
                    t["tool"],
                    h.pct(t["baseline"]["share"]),
                    h.pct(t["current"]["share"]),
                    h.p(t["q_value"]),
                    t["direction"] if t["flagged"] else "no",
                ]
                for t in mix["tools"]
            ],
        )
    )
    parts.append("<h3>Input mix: clusters of similar goals</h3>")
    parts.append(
        h.table(
            [
                "cluster (first goal)",
                "baseline share",
                "current share",
                "q",
                "new",
                "golden covers it",
            ],
            [
                [
                    c["cluster"],
                    h.pct(c["baseline"]["share"]),
                    h.pct(c["current"]["share"]),
                    h.p(c["q_value"]),
                    "new" if c["new"] else "",
                    "yes" if c["covered_by_golden"] else "no",
                ]
                for c in mix["clusters"]
            ],
        )
    )
    if mix["new_uncovered"]:
        parts.append(
            "<p><b>New clusters no golden example covers:</b> "
            + escape("; ".join(c["cluster"] for c in mix["new_uncovered"][:10]))
            + "</p>"
        )
    return h.section("drift", "Drift: current against baseline", "".join(parts))
