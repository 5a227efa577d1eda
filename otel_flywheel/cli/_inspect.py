"""``otel-flywheel inspect FILE``: show what the flywheel sees in an OTLP traces file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from otel_flywheel.errors import ConfigError, OTLPDecodeError

from ._files import input_source
from ._render import render_tree, trace_summary_dict
from ._traces import read_trace_file

__all__ = ["add_inspect_parser"]

EXAMPLES = """\
examples:
  otel-flywheel inspect traces.jsonl                 # a Collector file exporter's output
  otel-flywheel inspect traces.pb --format json | jq '.steps[] | select(.kind == "tool")'
  gunzip -c traces.jsonl.gz | otel-flywheel inspect -

exit codes: 0 every request decoded; 1 some requests were unreadable (reported on stderr, the rest
shown); 2 the file could not be read at all.
"""


def add_inspect_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="print the normalized agent traces in an OTLP file",
        description=(
            "Read OTLP traces (OTLP/JSON lines as the OTel Collector's file exporter writes them, "
            "or protobuf; gzip accepted) and print each trace as the flywheel normalizes it."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="OTLP traces file ('-': standard input)")
    parser.add_argument(
        "--format",
        choices=("tree", "json"),
        default="tree",
        help="tree (default): readable; json: one trace object per line",
    )
    parser.add_argument(
        "--attributes",
        action="store_true",
        help="with --format json, include every step's raw span attributes",
    )
    parser.add_argument(
        "--no-redact",
        action="store_true",
        help="show the file's values as they are (by default, PII is redacted as the flywheel sees it)",
    )
    parser.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    try:
        read = read_trace_file(input_source(args.file), redact=not args.no_redact)
    except FileNotFoundError:
        print(f"otel-flywheel inspect: no such file: {args.file}", file=sys.stderr)
        return 2
    except (OTLPDecodeError, OSError, ConfigError) as exc:
        print(f"otel-flywheel inspect: {exc}", file=sys.stderr)
        return 2

    for error in read.unreadable:
        print(f"otel-flywheel inspect: skipped: {error}", file=sys.stderr)
    for index, trace in enumerate(read.traces):
        if args.format == "json":
            print(json.dumps(trace_summary_dict(trace, attributes=args.attributes)))
        else:
            if index:
                print()
            print(render_tree(trace))
    if not read.traces and not read.unreadable:
        print(f"otel-flywheel inspect: {args.file} holds no spans", file=sys.stderr)
    return 1 if read.unreadable else 0
