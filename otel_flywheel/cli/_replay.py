"""``otel-flywheel replay DATASET --task module:function``: the release gate in CI."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Final

from otel_flywheel.errors import ConfigError, FlywheelError

from ._files import is_stdio

__all__ = ["add_replay_parser"]

DEFAULT_MIN_PASS_RATE: Final = 0.8
DEFAULT_CONCURRENCY: Final = 4

EXAMPLES = f"""\
examples: from the Phoenix dataset DATASET (name or id; --dataset-version pins a version), or with
--offline FILE from a JSONL/Parquet file `otel-flywheel export evals` wrote (DATASET then selects
its rows), so CI can gate without Phoenix.

task: module:function, imported with the working directory on sys.path; sync or async. It gets
the example's input object ({{"input": "<question>", "session_id": ...}}) as its parameter named
`input` (also `expected`, `metadata`, `example` by name) and returns the answer. Instrument the
agent as usual: replay sets a global TracerProvider when none is set, and captures each run's
trace under a root span it starts.

evaluation per run: the deterministic checks; a golden example's expected tool calls; the judge's
answer_correctness against an expected output and the rubrics that failed on the source trace
(FLYWHEEL_JUDGE_MODEL etc., as for `evaluate`; --no-judge gates on the checks alone).

gate: the 95% Wilson lower bound of passes / scored runs must reach --min-pass-rate (default
{DEFAULT_MIN_PASS_RATE}); a golden example that passed in the baseline and fails now fails the
gate; examples that flip between --repetitions are flaky, not regressions. Baseline: "auto" (the
newest replay experiment on the dataset in Phoenix), an experiment id, or a --json file of an
earlier replay; by default each example's origin (golden passed, regression failed).

tools: functions decorated with @otel_flywheel.tool answer from the example's source trace
(metadata.tool_recordings, the local routing store, or the trace in Phoenix). --tool-replay
passthrough (default) calls the real tool when no recording matches, fail raises, off replays
nothing.

A/B: --compare MODULE:FUNCTION replays a second variant (B) over the same examples after --task
(A): with and without few-shot examples, two models, two prompts. Both are gated and recorded as
experiments as above; the report sets them side by side: pass rates with 95% Wilson intervals, B
minus A over the examples both scored with a 95% interval (Newcombe, paired) and McNemar's exact
test, per category, and the examples B does better and worse on. Where one variant passed and the
other failed, the pair goes to the preference dataset (<project>/preference, or
--preference-dataset; --preferences-out FILE writes them to an examples file `export dpo` reads;
--no-preferences writes none). --json writes the comparison, --junit B's test cases.

examples:
  otel-flywheel replay support-agent/golden --task my_agent.replay:answer --no-judge
  otel-flywheel replay support-agent/regression --task my_agent.replay:answer --baseline auto \\
      --repetitions 3 --min-pass-rate 0.9 --junit replay.xml --json replay.json
  otel-flywheel replay support-agent/golden --offline golden.jsonl --task my_agent.replay:answer \\
      --baseline last-replay.json --no-judge
  otel-flywheel replay support-agent/regression --task my_agent.replay:answer \
      --compare my_agent.replay:answer_with_fewshot --names plain,fewshot --repetitions 3

exit codes: 0 the gate passed; 1 the gate failed (pass rate, golden regressions); 2 error: more
runs errored than --max-errors (a task exception, an unscored judgment), Phoenix unreachable,
bad options or examples. With --compare: 0 B is not significantly worse than A, 1 it is
(McNemar p < --alpha), 2 as above, for either variant.
"""


def add_replay_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="re-run a dataset's examples against your agent and gate the release",
        description=(
            "Run a task over the examples of a Phoenix dataset (or an offline export), capture "
            "and evaluate each run as the flywheel would, record a Phoenix experiment, print a "
            "per-category table and decide the release gate."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", metavar="DATASET", help="Phoenix dataset name or id")
    parser.add_argument("--task", required=True, help="the agent entry point, module:function")
    parser.add_argument("--dataset-version", help="a version id of the dataset (default: latest)")
    parser.add_argument(
        "--offline", type=Path, metavar="FILE", help="read examples from this JSONL/Parquet file"
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        help=f"runs at once (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--repetitions", type=_positive_int, default=1, help="runs per example (default 1)"
    )
    parser.add_argument(
        "--min-pass-rate",
        type=_rate,
        default=DEFAULT_MIN_PASS_RATE,
        help=f"minimum for the Wilson lower bound, 0-1 (default {DEFAULT_MIN_PASS_RATE})",
    )
    parser.add_argument(
        "--max-errors",
        type=_non_negative_int,
        default=0,
        help="erroring runs tolerated before the gate errors (default 0)",
    )
    parser.add_argument(
        "--judge-calibration",
        type=Path,
        metavar="FILE",
        help="`otel-flywheel calibrate --json` output: correct the gate for the judge's measured "
        "error (see docs/ci.md, Judge error)",
    )
    parser.add_argument(
        "--calibration-rubric",
        default="flywheel.verdict",
        metavar="ID",
        help="whose error to correct for (default: the verdict as a whole)",
    )
    parser.add_argument("--baseline", metavar="ID|auto|FILE", help="what to compare with")
    parser.add_argument(
        "--junit", type=Path, metavar="FILE", help="write JUnit XML here ('-': stdout)"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="write the JSON summary here ('-': stdout)"
    )
    parser.add_argument("--no-judge", action="store_true", help="run only the deterministic checks")
    parser.add_argument("--rubrics", type=Path, help="a directory of rubric YAML files")
    parser.add_argument(
        "--tool-replay",
        choices=("passthrough", "fail", "off"),
        default="passthrough",
        help="unmatched @tool calls: call the tool (default), fail; or replay nothing",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, metavar="SECONDS", help="per run (default 300)"
    )
    parser.add_argument(
        "--no-experiment", action="store_true", help="do not record a Phoenix experiment"
    )
    parser.add_argument("--phoenix-url", help="Phoenix's base URL, e.g. http://localhost:6006")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-run progress")
    ab = parser.add_argument_group("A/B (--compare)")
    ab.add_argument(
        "--compare",
        metavar="MODULE:FUNCTION",
        help="a second variant (B) to replay over the same examples, beside --task (A)",
    )
    ab.add_argument(
        "--names",
        default="A,B",
        type=_names,
        metavar="A,B",
        help="what to call the two variants in the report (default A,B)",
    )
    ab.add_argument(
        "--alpha", type=_rate, default=0.05, help="significance level of McNemar's test (0.05)"
    )
    ab.add_argument(
        "--preference-dataset",
        metavar="NAME",
        help="where the preference pairs go (default: the project's <project>/preference)",
    )
    ab.add_argument(
        "--preferences-out",
        type=Path,
        metavar="FILE",
        help="also write the pairs to this examples file (.jsonl/.parquet; offline: only here)",
    )
    ab.add_argument("--no-preferences", action="store_true", help="write no preference pairs")
    parser.set_defaults(handler=run_replay_command)


def run_replay_command(args: argparse.Namespace) -> int:
    from otel_flywheel.replay import GateSettings, run_replay, write_junit, write_summary

    # As `python -m` does: the task module is usually next to where CI runs the command.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if args.compare is not None:
        return _run_comparison(args)
    progress = None if args.quiet else _say
    try:
        judge_error = (
            _judge_error(args.judge_calibration, args.calibration_rubric)
            if args.judge_calibration
            else None
        )
        report = run_replay(
            args.dataset,
            args.task,
            offline=args.offline,
            dataset_version=args.dataset_version,
            phoenix_url=args.phoenix_url,
            concurrency=args.concurrency,
            repetitions=args.repetitions,
            gate=GateSettings(
                min_pass_rate=args.min_pass_rate,
                max_errors=args.max_errors,
                judge_error=judge_error,
            ),
            baseline=args.baseline,
            judge=not args.no_judge,
            rubrics_dir=args.rubrics,
            tool_replay=args.tool_replay,
            record_experiment=not args.no_experiment,
            timeout_seconds=args.timeout,
            progress=progress,
        )
    except (FlywheelError, OSError) as exc:
        hint = (
            " (or run only the deterministic checks: --no-judge)"
            if isinstance(exc, ConfigError) and "FLYWHEEL_JUDGE" in str(exc) and not args.no_judge
            else ""
        )
        print(f"otel-flywheel replay: {exc}{hint}", file=sys.stderr)
        return 2
    # With a report on stdout ('-'), the human summary goes to stderr.
    to_stdout = is_stdio(args.junit) or is_stdio(args.json)
    print(report.render(), file=sys.stderr if to_stdout else sys.stdout)
    try:
        if args.junit:
            write_junit(
                sys.stdout if is_stdio(args.junit) else args.junit, report.gate, report.info
            )
        if args.json:
            write_summary(
                sys.stdout if is_stdio(args.json) else args.json, report.gate, report.info
            )
    except OSError as exc:
        print(f"otel-flywheel replay: cannot write a report: {exc}", file=sys.stderr)
        return 2
    return report.exit_code


def _replay_options(args: argparse.Namespace) -> dict[str, Any]:
    from otel_flywheel.replay import GateSettings

    judge_error = (
        _judge_error(args.judge_calibration, args.calibration_rubric)
        if args.judge_calibration
        else None
    )
    return {
        "offline": args.offline,
        "dataset_version": args.dataset_version,
        "phoenix_url": args.phoenix_url,
        "concurrency": args.concurrency,
        "repetitions": args.repetitions,
        "gate": GateSettings(
            min_pass_rate=args.min_pass_rate, max_errors=args.max_errors, judge_error=judge_error
        ),
        "baseline": args.baseline,
        "judge": not args.no_judge,
        "rubrics_dir": args.rubrics,
        "tool_replay": args.tool_replay,
        "record_experiment": not args.no_experiment,
        "timeout_seconds": args.timeout,
    }


def _run_comparison(args: argparse.Namespace) -> int:
    from otel_flywheel.replay import run_comparison, write_comparison, write_junit

    try:
        report = run_comparison(
            args.dataset,
            args.task,
            args.compare,
            names=args.names,
            alpha=args.alpha,
            preferences=not args.no_preferences,
            preference_dataset=args.preference_dataset,
            preferences_out=args.preferences_out,
            progress=None if args.quiet else _say,
            **_replay_options(args),
        )
    except (FlywheelError, OSError) as exc:
        print(f"otel-flywheel replay: {exc}", file=sys.stderr)
        return 2
    print(report.render())
    try:
        if args.junit:
            write_junit(args.junit, report.b.gate, report.info_b)
        if args.json:
            write_comparison(
                args.json, report.comparison, report.info_a, report.info_b, report.preferences
            )
    except OSError as exc:
        print(f"otel-flywheel replay: cannot write a report: {exc}", file=sys.stderr)
        return 2
    return report.exit_code


def _names(text: str) -> tuple[str, str]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise argparse.ArgumentTypeError(
            f"give two different names, e.g. plain,fewshot; got {text!r}"
        )
    return parts[0], parts[1]


def _judge_error(path: Path, rubric_id: str) -> tuple[float, float]:
    """(sensitivity, specificity) of ``rubric_id`` in a calibration file, its most labelled row."""
    import json

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        rows = [r for r in document["calibration"] if r.get("rubric_id") == rubric_id]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"--judge-calibration {path}: not a file `otel-flywheel calibrate --json` wrote ({exc})"
        ) from None
    measured = [
        r for r in rows if r.get("sensitivity") is not None and r.get("specificity") is not None
    ]
    if not measured:
        raise ConfigError(
            f"--judge-calibration {path} has no measured sensitivity and specificity for "
            f"{rubric_id!r}: label more traces (both passes and failures), or choose another "
            "rubric with --calibration-rubric"
        )
    best = max(measured, key=lambda r: r.get("n", 0))
    return float(best["sensitivity"]), float(best["specificity"])


def _say(message: str) -> None:
    print(f"otel-flywheel replay: {message}", file=sys.stderr, flush=True)


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0 and 1 (0.9 for 90%), got {value}")
    return value
