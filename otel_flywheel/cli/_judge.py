"""``otel-flywheel judge --project NAME``: verdicts for traces already in Phoenix.

Pull, then judge, then write: the spans of a time window (or of named traces) come from Phoenix's
REST API through ``phoenix.client``, are assembled into whole traces, redacted as the capture path
would (nothing raw reaches the judge), evaluated with `evaluate_traces` and written as verdict lines.
Writing the verdicts back to Phoenix is one more step after evaluation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from otel_flywheel.errors import ConfigError, FlywheelError
from otel_flywheel.evaluation import (
    TraceEvaluator,
    evaluate_traces,
    load_references,
    load_trace_evaluator,
)
from otel_flywheel.model import Verdict
from otel_flywheel.phoenix import (
    MAX_WINDOW_SPANS,
    describe_window,
    phoenix_client,
    pull_traces,
)
from otel_flywheel.privacy import build_redactor
from otel_flywheel.times import parse_time_bound

from ._evaluate import judge_cost_line
from ._files import open_output
from ._progress import Progress

if TYPE_CHECKING:
    import httpx

__all__ = ["add_judge_parser", "summarize"]

DEFAULT_SINCE: Final = "1h"
_TRACE_ID = re.compile(r"[0-9a-f]{32}")

EXAMPLES = f"""\
which traces: every trace with a span that started in [--since, --until), read whole (a trace
that began before --since is judged complete). --since and --until take a duration back from now
(45s, 30m, 1h, 2d, 1w, 1h30m) or an ISO time (2026-11-21T09:00:00Z; no zone means UTC). Default:
--since {DEFAULT_SINCE}. --trace-id judges the named traces instead, whatever their time.

Phoenix: --phoenix-url, else what phoenix.client reads: PHOENIX_ENDPOINT, PHOENIX_COLLECTOR_ENDPOINT,
OTEL_EXPORTER_OTLP_ENDPOINT, PHOENIX_BASE_URL, then http://localhost:6006. PHOENIX_API_KEY is sent
as a bearer token.

judge: as for `otel-flywheel evaluate`: FLYWHEEL_JUDGE_MODEL (required), FLYWHEEL_JUDGE_BASE_URL or
OPENAI_BASE_URL, FLYWHEEL_JUDGE_API_KEY or OPENAI_API_KEY. Traces are redacted before judging.

examples:
  otel-flywheel judge --project support-agent --no-judge
  FLYWHEEL_JUDGE_MODEL=gpt-4o-mini otel-flywheel judge --project support-agent --since 2d --limit 200
  otel-flywheel judge --project support-agent --since 2026-11-20 --until 2026-11-21 --output v.jsonl
  otel-flywheel judge --project support-agent --trace-id 0af7651916cd43dd8448eb211c80319c --no-judge

output: one verdict per trace as a JSON line (as `evaluate` writes them), earliest trace first; a
summary and progress on stderr.

exit codes: 0 every trace evaluated (also when the window holds none: said on stderr); 1 some
--trace-id were not found in the project (named on stderr, the rest judged); 2 Phoenix could not
be reached or refused, the project does not exist, the judge is not configured, or the options
are wrong.
"""


def add_judge_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "judge",
        help="evaluate traces already in Phoenix and write one verdict per trace",
        description=(
            "Read the traces of a Phoenix project (a time window, or named traces), redact them "
            "as the flywheel would, run the deterministic checks and the rubric LLM judge, and "
            "write one verdict per trace as a JSON line."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--project", required=True, help="the Phoenix project (name or id)")
    parser.add_argument("--since", help=f"start of the window (default: {DEFAULT_SINCE} ago)")
    parser.add_argument("--until", help="end of the window, exclusive (default: now)")
    parser.add_argument(
        "--limit", type=_positive_int, help="judge at most N traces, the most recent ones"
    )
    parser.add_argument(
        "--trace-id",
        dest="trace_ids",
        action="append",
        metavar="ID",
        help="judge this trace (32 hex digits; repeat for more) instead of a window",
    )
    parser.add_argument("--references", type=Path, help="references, JSON lines by trace_id")
    parser.add_argument(
        "--rubrics", type=Path, help="a directory of rubric YAML files (default: the shipped ones)"
    )
    parser.add_argument("--no-judge", action="store_true", help="run only the deterministic checks")
    parser.add_argument(
        "--output", type=Path, help="write verdicts here (default, or '-': standard output)"
    )
    parser.add_argument("--phoenix-url", help="Phoenix's base URL, e.g. http://localhost:6006")
    parser.set_defaults(handler=run_judge)


def run_judge(args: argparse.Namespace) -> int:
    try:
        since, until = _window(args.since, args.until, named=bool(args.trace_ids))
        trace_ids = [_trace_id(value) for value in args.trace_ids or ()]
    except ValueError as exc:
        return _fail(str(exc))
    # The judge's settings fail here, before a long pull from Phoenix.
    try:
        references = load_references(args.references) if args.references else {}
        evaluator = load_trace_evaluator(judge=not args.no_judge, rubrics_dir=args.rubrics)
    except FileNotFoundError as exc:
        return _fail(f"no such file: {exc.filename}")
    except (OSError, ConfigError) as exc:
        hint = "" if args.no_judge else " (or run only the deterministic checks: --no-judge)"
        return _fail(f"{exc}{hint}")
    try:
        return _pull_and_judge(
            args, evaluator, references=references, since=since, until=until, trace_ids=trace_ids
        )
    finally:
        asyncio.run(evaluator.aclose())  # idempotent: evaluate_traces closed it when it ran


def _pull_and_judge(
    args: argparse.Namespace,
    evaluator: TraceEvaluator,
    *,
    references: Mapping[str, Any],
    since: datetime | None,
    until: datetime | None,
    trace_ids: list[str],
) -> int:
    progress = Progress("otel-flywheel judge")
    try:
        # Before the pull: a first run generates the pseudonymization key and says so, which
        # belongs at the top of the output, not between progress lines.
        redactor = build_redactor()
        with progress.counting("read from Phoenix", unit="pages of spans") as pages:

            def on_response(response: httpx.Response) -> None:
                if response.request.url.path.endswith("/spans"):
                    pages()

            with phoenix_client(args.phoenix_url, on_response=on_response) as (client, url):
                pulled = pull_traces(
                    client,
                    project=args.project,
                    since=since,
                    until=until,
                    trace_ids=trace_ids,
                    limit=args.limit,
                    redactor=redactor,
                    progress=progress.say,
                )
    except (FlywheelError, OSError) as exc:
        return _fail(str(exc))

    for missing in pulled.missing_trace_ids:
        progress.say(f"trace {missing} not found in project {args.project!r}")
    if pulled.truncated:
        progress.say(
            f"the window holds more than {MAX_WINDOW_SPANS} spans; only the traces of the newest "
            "were read. Narrow it with --since/--until."
        )
    if not pulled.traces:
        if trace_ids:
            return 1
        progress.say(
            f"no spans in project {args.project!r} at {url} {describe_window(since, until)}; "
            "nothing to judge. Widen the window, e.g. --since 1d"
        )
        return 0

    judged_by = f"judge {evaluator.judge_model}" if evaluator.judge_model else "checks only"
    progress.say(f"evaluating {len(pulled.traces)} traces ({judged_by})")
    with progress.counting("evaluated", total=len(pulled.traces), unit="traces") as evaluated:
        verdicts = asyncio.run(
            evaluate_traces(evaluator, pulled.traces, references, on_verdict=evaluated)
        )
    with open_output(args.output) as out:
        for verdict in verdicts:
            out.write(json.dumps(verdict.to_dict()) + "\n")
    progress.say(summarize(verdicts, project=args.project))
    cost = judge_cost_line(verdicts)
    if cost is not None:
        progress.say(cost)
    return 1 if pulled.missing_trace_ids else 0


def _fail(message: str) -> int:
    print(f"otel-flywheel judge: {message}", file=sys.stderr)
    return 2


# --- options --------------------------------------------------------------------------------------


def _window(
    since: str | None, until: str | None, *, named: bool
) -> tuple[datetime | None, datetime | None]:
    if named:
        if since or until:
            raise ValueError(
                "--trace-id judges the named traces whatever their time: drop --since/--until"
            )
        return None, None
    now = datetime.now(timezone.utc)
    start = parse_time_bound(since or DEFAULT_SINCE, now=now)
    end = parse_time_bound(until, now=now) if until else None
    if end is not None and end <= start:
        raise ValueError(
            f"--until ({end.isoformat()}) must be later than --since ({start.isoformat()})"
        )
    return start, end


def _trace_id(value: str) -> str:
    trace_id = value.strip().lower()
    if not _TRACE_ID.fullmatch(trace_id):
        raise ValueError(f"--trace-id {value!r} is not a trace id (32 hex digits)")
    return trace_id


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# --- output ---------------------------------------------------------------------------------------


def summarize(verdicts: Sequence[Verdict], *, project: str) -> str:
    """One line: how many traces, failed, unscored, and the failures by category."""
    failed = [v for v in verdicts if v.passed is False]
    unscored = sum(1 for v in verdicts if v.passed is None)
    categories = Counter(v.category or "uncategorized" for v in failed)
    by_category = ", ".join(f"{name} {count}" for name, count in categories.most_common())
    return f"{len(verdicts)} traces from {project!r}: {len(failed)} failed, {unscored} unscored" + (
        f"; failed by category: {by_category}" if by_category else ""
    )
