"""``otel-flywheel report``: is the flywheel turning? One HTML page, a JSON document, Markdown."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from otel_flywheel.analysis import (
    FLAG_KINDS,
    ReportOptions,
    build_report,
    parse_window,
    render_html,
    render_markdown,
)
from otel_flywheel.errors import ConfigError

from ._analysis_inputs import DEFAULT_SINCE, InputError, add_source_options, load_inputs
from ._files import is_stdio, open_output

__all__ = ["add_report_parser"]

DEFAULT_HTML = Path("otel-flywheel-report.html")

EXAMPLES = f"""\
sections: Plan (ranked interventions), Monitor (failure rate over time with Wilson 95% intervals,
volume, unscored share), Attribute (category -> subcategory -> root-cause owner, culprit tools and
steps, example traces), Compare (per agent version and cohort; a category worse in the newest
version), Drift (current vs baseline per category x cohort, Fisher exact or two-proportion z,
Benjamini-Hochberg over all cells; input mix by tool and by cluster of similar goals), Stall
(data grows but the rate does not fall; new cohorts worse while old ones hold), Feedback, Review
queue, Datasets (coverage gaps), Calibration (judge vs people).

windows: --current and --baseline take START..END with RFC 3339 times or durations back from now
(2026-11-01T00:00:00Z..2026-11-08T00:00:00Z, 14d..7d), or one duration (7d = the last 7 days).
Default: the latest half of the data, at most 7 days, against the same length just before.
With --project, --since (default {DEFAULT_SINCE}) and --until choose the traces read.

examples:
  otel-flywheel report --project support-agent --since 28d --html report.html --json report.json
  otel-flywheel report --verdicts verdicts.jsonl --labels labels.jsonl --current 7d --cohort tenant
  otel-flywheel report --project support-agent --markdown - --fail-on drift --fail-on regression

exit codes: 0 the report was written; 1 --fail-on named a kind of flag the report raised
(drift, regression, stall; for a scheduled CI job); 2 bad options or input, or Phoenix could not be
reached (the message names the URL). Malformed input lines are left out and listed with their line
numbers (stderr and the report's Input issues), never fatal.
"""


def add_report_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="is the flywheel turning? trends, drift, stall, judge vs people and a ranked plan",
        description=(
            "Read verdicts (from Phoenix or verdict files), feedback, reviewers' labels and the "
            "routed datasets, and write one self-contained HTML page with plots, a JSON document "
            "with every figure, and a Markdown summary."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_options(parser)
    windows = parser.add_argument_group("windows and tests")
    windows.add_argument("--current", help="the window under test: START..END or a duration")
    windows.add_argument("--baseline", help="the window to compare with (default: just before)")
    windows.add_argument(
        "--alpha", type=float, default=0.05, help="false discovery rate for drift (default 0.05)"
    )
    windows.add_argument(
        "--min-traces",
        type=int,
        default=20,
        help="test a rate only with at least N traces on each side (default 20)",
    )
    out = parser.add_argument_group("outputs")
    out.add_argument(
        "--html", type=Path, help=f"the HTML page (default: {DEFAULT_HTML}; '-': stdout)"
    )
    out.add_argument("--json", dest="json_path", type=Path, help="the JSON document ('-': stdout)")
    out.add_argument("--markdown", type=Path, help="a Markdown summary for CI ('-': stdout)")
    parser.add_argument(
        "--fail-on",
        action="append",
        default=[],
        choices=FLAG_KINDS,
        help="exit 1 when the report flags this (repeatable)",
    )
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    now = datetime.now(timezone.utc)
    try:
        if not 0 < args.alpha < 1:
            raise InputError(f"--alpha must be between 0 and 1, got {args.alpha}")
        if args.min_traces < 1:
            raise InputError(f"--min-traces must be at least 1, got {args.min_traces}")
        current = parse_window(args.current, now=now, option="--current") if args.current else None
        baseline = (
            parse_window(args.baseline, now=now, option="--baseline") if args.baseline else None
        )
        data = load_inputs(args, command="report")
    except (InputError, ValueError) as error:
        print(f"otel-flywheel report: {error}", file=sys.stderr)
        return 2
    try:
        report = build_report(
            data,
            ReportOptions(
                current=current,
                baseline=baseline,
                cohorts=tuple(args.cohorts) if args.cohorts else None,
                alpha=args.alpha,
                min_traces=args.min_traces,
            ),
        )
    except ConfigError as error:
        print(f"otel-flywheel report: {error}", file=sys.stderr)
        return 2
    _say_issues(report)
    try:
        written = _write(report, args)
    except OSError as error:
        print(
            f"otel-flywheel report: cannot write {error.filename}: {error.strerror}",
            file=sys.stderr,
        )
        return 2
    for path in written:
        print(f"otel-flywheel report: wrote {path}", file=sys.stderr)
    _summary(report)
    raised = [kind for kind in args.fail_on if report["flags"][kind]]
    if raised:
        print(f"otel-flywheel report: flagged: {', '.join(raised)} (--fail-on)", file=sys.stderr)
        return 1
    return 0


def _write(report: dict[str, Any], args: argparse.Namespace) -> list[str]:
    written = []
    html_path = args.html or (DEFAULT_HTML if not (args.json_path or args.markdown) else None)
    if html_path is not None:
        _put(html_path, render_html(report))
        written.append(str(html_path))
    if args.json_path is not None:
        _put(args.json_path, json.dumps(report, indent=2, allow_nan=False) + "\n")
        written.append(str(args.json_path))
    if args.markdown is not None:
        _put(args.markdown, render_markdown(report))
        written.append(str(args.markdown))
    return [path for path in written if not is_stdio(path)]


def _put(path: Path, text: str) -> None:
    with open_output(path) as out:
        out.write(text)


def _say_issues(report: dict[str, Any]) -> None:
    for issue in report["issues"][:20]:
        print(
            f"otel-flywheel report: {issue['where']}:{issue['line']}: {issue['message']} (line left out)",
            file=sys.stderr,
        )
    more = report["issues_total"] - min(20, len(report["issues"]))
    if more > 0:
        print(f"otel-flywheel report: ... and {more} more lines left out", file=sys.stderr)
    for name in report["missing_cohort_attributes"]:
        print(
            f"otel-flywheel report: no verdict records the cohort attribute {name!r}; "
            f"set FLYWHEEL_COHORT_ATTRIBUTES where verdicts are made (recorded: "
            f"{', '.join(report['cohort_attributes']) or 'none'})",
            file=sys.stderr,
        )


def _summary(report: dict[str, Any]) -> None:
    totals = report["totals"]
    if not totals["traces"]:
        print(
            f"otel-flywheel report: no verdicts in {report['source']}: not enough data for any "
            "figure. Judge traces first (the flywheel, or `otel-flywheel judge`), or widen --since",
            file=sys.stderr,
        )
        return
    flags = [kind for kind, on in report["flags"].items() if on]
    print(
        f"otel-flywheel report: {totals['traces']} traces, {totals['failed']} failed, "
        f"{totals['unscored']} unscored; flagged: {', '.join(flags) or 'nothing'}",
        file=sys.stderr,
    )
    for item in report["plan"][:3]:
        print(
            f"  {item['rank']}. {item['category']} -> {item['lever']} "
            f"({item['evidence']['failed']} failures; {', '.join(item['evidence']['flags']) or 'no flags'})",
            file=sys.stderr,
        )
