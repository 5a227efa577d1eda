"""The report as Markdown for CI job summaries: the flags, the plan, what drifted, what regressed,
the stall flags and the judge's calibration; the HTML page has the rest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_markdown"]


def render_markdown(report: Mapping[str, Any], *, top: int = 10) -> str:
    totals = report["totals"]
    windows = report["windows"]
    min_traces = report["options"]["min_traces"]
    lines = [
        "## otel-flywheel report",
        "",
        f"{totals['traces']} traces from {report['source']}: {totals['failed']} failed, "
        f"{totals['unscored']} unscored. Current window {_window(windows['current'])} "
        f"({totals['current_traces']} traces) against baseline {_window(windows['baseline'])} "
        f"({totals['baseline_traces']} traces).",
        "",
        "Flags: "
        + ", ".join(
            f"**{kind}: {'flagged' if on else 'none'}**" if on else f"{kind}: none"
            for kind, on in report["flags"].items()
        ),
        "",
        "### Plan",
        "",
    ]
    if report["plan"]:
        lines += _table(
            ["#", "category", "lever", "failed", "rate", "flags"],
            [
                [
                    str(item["rank"]),
                    item["category"],
                    item["lever"],
                    f"{item['evidence']['failed']} of {item['evidence']['traces']}",
                    _trend(item["evidence"]),
                    ", ".join(item["evidence"]["flags"]),
                ]
                for item in report["plan"][:top]
            ],
        )
    else:
        lines.append("No failures in the current window.")
    flagged = [c for c in report["drift"] if c["flagged"]]
    lines += ["", "### Drift", ""]
    if flagged:
        lines += _table(
            ["category", "cohort", "baseline", "current", "q"],
            [
                [
                    c["category"] or "all",
                    ", ".join(f"{k}={v}" for k, v in c["cohort"].items()) or "everyone",
                    _rate(c["baseline"], min_traces),
                    _rate(c["current"], min_traces),
                    f"{c['q_value']:.2g}",
                ]
                for c in flagged[:top]
            ],
        )
    else:
        tested = sum(1 for c in report["drift"] if c["status"] == "tested")
        lines.append(f"No drift flagged ({tested} cells tested).")
    regressions = [r for r in report["compare"]["regressions"] if r["flagged"]]
    if regressions:
        head = regressions[0]
        lines += ["", f"### Worse in {head['to_version']} than in {head['from_version']}", ""]
        lines += [
            f"- {r['category'] or 'all categories'}: {_rate(r['baseline'], min_traces)} → "
            f"{_rate(r['current'], min_traces)} (q={r['q_value']:.2g})"
            for r in regressions
        ]
    if report["stall"]["flags"]:
        lines += ["", "### Stall", ""] + [f"- {f['message']}" for f in report["stall"]["flags"]]
    uncovered = report["input_mix"]["new_uncovered"]
    if uncovered:
        lines += ["", "### New goals no golden example covers", ""]
        lines += [f"- {c['cluster']} ({c['current']['count']} traces)" for c in uncovered[:top]]
    if report["calibration"]:
        lines += ["", "### Calibration", ""]
        lines += _table(
            ["rubric", "version", "n", "kappa", "judge pass", "human pass"],
            [
                [
                    r["rubric_id"],
                    r["rubric_version"] or "",
                    str(r["n"]),
                    f"{r['kappa']:.2f}" if r["kappa"] is not None else "not enough data",
                    f"{r['judge_pass_rate']:.1%}",
                    f"{r['human_pass_rate']:.1%}",
                ]
                for r in report["calibration"]
            ],
        )
    if report["issues_total"]:
        lines += ["", f"{report['issues_total']} input lines were left out (see the HTML report)."]
    return "\n".join(lines) + "\n"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(cell(str(c)) for c in row) + " |" for row in rows),
    ]


def _rate(figure: Mapping[str, Any], min_traces: int) -> str:
    if figure.get("rate") is None or (figure.get("traces") or 0) < min_traces:
        return f"not enough data ({figure.get('failed', 0)} of {figure.get('traces', 0)})"
    low, high = figure["ci95"]
    return f"{figure['rate']:.1%} ({low:.1%}–{high:.1%})"


def _trend(evidence: Mapping[str, Any]) -> str:
    now = f"{evidence['rate']:.1%}"
    if evidence["baseline_rate"] is None:
        return now
    return f"{evidence['baseline_rate']:.1%} → {now}"


def _window(window: Mapping[str, str] | None) -> str:
    return "(none)" if not window else f"{window['start']} .. {window['end']}"
