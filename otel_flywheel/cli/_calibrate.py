"""``otel-flywheel calibrate``: how far to trust the judge, measured against people."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from otel_flywheel.analysis import ReportOptions, build_report
from otel_flywheel.errors import ConfigError

from ._analysis_inputs import InputError, add_source_options, load_inputs
from ._files import is_stdio, open_output

__all__ = ["add_calibrate_parser"]

EXAMPLES = """\
human labels: reviewers' HUMAN annotations in Phoenix named after a rubric (tool_selection), a
check (argument_schema) or flywheel.verdict, whose label says pass or fail (pass/fail,
correct/incorrect, up/down, ...; or a score of 1 or 0); and explicit feedback (thumbs), as labels
of the verdict as a whole. With --verdicts: --labels FILE (JSON lines {"trace_id", "rubric_id",
"label", "passed", "annotator"}) and --feedback FILE.

per rubric and rubric version: Cohen's kappa with a bootstrap 95% interval, the confusion matrix,
the judge's pass rate against people's (its bias), sensitivity and specificity, agreement over
time (judge drift, reviewer fatigue) and per reviewer, and Krippendorff's alpha among reviewers
on the traces two or more labelled. Below 10 labelled pairs it says "not enough data".

a replay gate can correct for a rubric's measured error: see docs/ci.md ("Judge error").

examples:
  otel-flywheel calibrate --project support-agent --since 30d
  otel-flywheel calibrate --verdicts verdicts.jsonl --labels labels.jsonl --json calibration.json
  otel-flywheel calibrate --project support-agent --min-kappa 0.6      # exit 1 below it

exit codes: 0 measured (or not enough data, said plainly); 1 with --min-kappa, some rubric's kappa
is below it; 2 bad options or input, or Phoenix could not be reached.
"""


def add_calibrate_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="agreement between the LLM judge and people, per rubric and version",
        description=(
            "Measure the judge (and the checks, and the verdict as a whole) against reviewers' "
            "labels and users' explicit feedback: kappa with intervals, bias, drift over time, "
            "and agreement among reviewers."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_options(parser)
    parser.add_argument(
        "--json", dest="json_path", type=Path, help="write the figures as JSON ('-': stdout)"
    )
    parser.add_argument(
        "--min-kappa", type=float, help="exit 1 when a measured rubric's kappa is below this"
    )
    parser.set_defaults(handler=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    try:
        data = load_inputs(args, command="calibrate")
    except InputError as error:
        print(f"otel-flywheel calibrate: {error}", file=sys.stderr)
        return 2
    try:
        report = build_report(data, ReportOptions(cohorts=()))
    except ConfigError as error:
        print(f"otel-flywheel calibrate: {error}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = report["calibration"]
    summary = report["calibration_summary"]
    document = {"source": report["source"], "calibration": rows, **summary}
    if args.json_path is not None:
        with open_output(args.json_path) as out:
            out.write(json.dumps(document, indent=2, allow_nan=False) + "\n")
    if not is_stdio(args.json_path):
        _print(rows, summary)
    for issue in report["issues"][:20]:
        print(
            f"otel-flywheel calibrate: {issue['where']}:{issue['line']}: {issue['message']} (line left out)",
            file=sys.stderr,
        )
    for unknown in summary["unknown_rubrics"]:
        print(
            f"otel-flywheel calibrate: {unknown['labels']} labels name the unknown rubric "
            f"{unknown['rubric_id']!r} (left out); known: {', '.join(summary['known_rubrics'])}",
            file=sys.stderr,
        )
    if args.min_kappa is not None:
        low = [r for r in rows if r["kappa"] is not None and r["kappa"] < args.min_kappa]
        if low:
            names = ", ".join(f"{r['rubric_id']} ({r['kappa']:.2f})" for r in low)
            print(
                f"otel-flywheel calibrate: kappa below {args.min_kappa}: {names}", file=sys.stderr
            )
            return 1
    return 0


def _print(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    print(
        f"{summary['labels']} human labels, {summary['paired']} paired with a scored judgment"
        + (
            f"; {summary['without_verdict']} on traces without a verdict"
            if summary["without_verdict"]
            else ""
        )
    )
    if not rows:
        print("not enough data: no human label matches a judged trace and rubric")
        return
    print(
        f"{'rubric':<22} {'version':<14} {'n':>5}  {'kappa (95% CI)':<22} {'judge pass':>10} {'human pass':>10}  reviewers' alpha"
    )
    for row in rows:
        if row["kappa"] is None:
            kappa = "not enough data"
        elif row["kappa_ci95"]:
            kappa = f"{row['kappa']:.2f} ({row['kappa_ci95'][0]:.2f}-{row['kappa_ci95'][1]:.2f})"
        else:
            kappa = f"{row['kappa']:.2f}"
        reviewers = row["reviewers"]
        alpha = f"{reviewers['alpha']:.2f}" if reviewers["alpha"] is not None else "not enough data"
        print(
            f"{row['rubric_id']:<22} {(row['rubric_version'] or '-')[:14]:<14} {row['n']:>5}  {kappa:<22} "
            f"{row['judge_pass_rate']:>10.1%} {row['human_pass_rate']:>10.1%}  {alpha}"
        )
        confusion = row["confusion"]
        print(
            f"{'':<22} judge pass/person pass {confusion['judge_pass_human_pass']}, judge pass/person fail "
            f"{confusion['judge_pass_human_fail']}, judge fail/person pass {confusion['judge_fail_human_pass']}, "
            f"judge fail/person fail {confusion['judge_fail_human_fail']}"
        )
