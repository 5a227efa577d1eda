"""The ``otel-flywheel`` command. The CLI does the talking; the library never prints."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from otel_flywheel import __version__

from ._calibrate import add_calibrate_parser
from ._demo import add_demo_parser
from ._evaluate import add_evaluate_parser
from ._export import add_export_parser
from ._inspect import add_inspect_parser
from ._judge import add_judge_parser
from ._outbox import add_outbox_parser
from ._purge import add_purge_parser
from ._replay import add_replay_parser
from ._report import add_report_parser
from ._serve import add_serve_parser
from ._sync_feedback import add_sync_feedback_parser

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otel-flywheel",
        description="The OpenTelemetry-native data flywheel for AI agents.",
        epilog="Run `otel-flywheel COMMAND --help` for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    add_inspect_parser(subparsers)
    add_evaluate_parser(subparsers)
    add_judge_parser(subparsers)
    add_replay_parser(subparsers)
    add_demo_parser(subparsers)
    add_serve_parser(subparsers)
    add_export_parser(subparsers)
    add_purge_parser(subparsers)
    add_outbox_parser(subparsers)
    add_sync_feedback_parser(subparsers)
    add_report_parser(subparsers)
    add_calibrate_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
