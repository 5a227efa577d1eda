"""Where ``report`` and ``calibrate`` read from: a Phoenix project, or verdict and label files.

Both commands take the same source options and load through ``otel_flywheel.analysis``; this
module parses them, reads, and turns every failure into a message naming the fix.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from otel_flywheel.analysis import AnalysisData, load_files, load_phoenix
from otel_flywheel.config import RoutingSettings, resolve_settings
from otel_flywheel.errors import ConfigError, FlywheelError
from otel_flywheel.phoenix import phoenix_client
from otel_flywheel.times import parse_time_bound

__all__ = ["DEFAULT_SINCE", "InputError", "add_source_options", "load_inputs"]

DEFAULT_SINCE: Final = "30d"
_ROUTES: Final = ("golden", "regression", "review", "preference")


class InputError(Exception):
    """Bad options or unreadable input: the message says what to change (exit 2)."""


def add_source_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("where the verdicts come from (one of)")
    source.add_argument(
        "--project", help="read verdicts, feedback and labels from this Phoenix project"
    )
    source.add_argument(
        "--verdicts",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="verdict JSON lines, as `evaluate`/`judge` write them (several files: one stream)",
    )
    phoenix = parser.add_argument_group("with --project")
    phoenix.add_argument(
        "--since", help=f"traces started since (duration or RFC 3339; default {DEFAULT_SINCE})"
    )
    phoenix.add_argument("--until", help="traces started before (default: now)")
    phoenix.add_argument("--max-traces", type=int, help="read at most N traces (oldest first)")
    parser.add_argument(
        "--phoenix-url",
        help="Phoenix's base URL (default: what phoenix.client reads); with --verdicts, for links",
    )
    files = parser.add_argument_group("with --verdicts")
    files.add_argument(
        "--labels",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help='reviewers\' labels, JSON lines {"trace_id", "rubric_id", "label", "passed", '
        '"annotator"} (repeatable)',
    )
    files.add_argument(
        "--feedback",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="feedback JSON lines, as POST /v1/feedback takes them (repeatable)",
    )
    files.add_argument(
        "--examples",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="dataset example files, as `export evals` writes them (repeatable)",
    )
    parser.add_argument(
        "--cohort",
        dest="cohorts",
        action="append",
        metavar="ATTR",
        help="cut by this cohort attribute (repeatable; default: every one the verdicts record)",
    )


def load_inputs(args: argparse.Namespace, *, command: str) -> AnalysisData:
    """Read what the options name; raises `InputError` with the message to print."""
    if bool(args.project) == bool(args.verdicts):
        raise InputError("give either --project NAME (Phoenix) or --verdicts FILE...")
    if args.verdicts:
        if args.since or args.until or args.max_traces:
            raise InputError(
                "--since, --until and --max-traces read Phoenix: use --current/--baseline with files"
            )
        try:
            data = load_files(
                args.verdicts,
                labels=args.labels,
                feedback=args.feedback,
                examples=args.examples,
                cohort_attributes=args.cohorts,
            )
        except FileNotFoundError as error:
            raise InputError(f"no such file: {error.filename}") from None
        except (OSError, ConfigError) as error:
            raise InputError(str(error)) from None
        if args.phoenix_url:
            data.phoenix_url = args.phoenix_url.rstrip("/")
        return data
    if args.labels or args.feedback or args.examples:
        raise InputError(
            "--labels, --feedback and --examples go with --verdicts; with --project they are read "
            "from Phoenix"
        )
    now = datetime.now(timezone.utc)
    try:
        since = parse_time_bound(args.since or DEFAULT_SINCE, now=now)
        until = parse_time_bound(args.until, now=now) if args.until else None
    except ValueError as error:
        raise InputError(str(error)) from None
    settings = resolve_settings(RoutingSettings, {"project": args.project})
    try:
        with phoenix_client(args.phoenix_url) as (client, url):
            return load_phoenix(
                client,
                project=args.project,
                since=since,
                until=until,
                datasets=[settings.dataset(route) for route in _ROUTES],
                phoenix_url=url,
                cohort_attributes=args.cohorts,
                max_traces=args.max_traces,
                progress=lambda message: print(
                    f"otel-flywheel {command}: {message}", file=sys.stderr, flush=True
                ),
            )
    except FlywheelError as error:
        raise InputError(str(error)) from None
