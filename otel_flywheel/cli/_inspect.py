"""``otel-flywheel inspect FILE``: show what the flywheel sees in an OTLP traces file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from otel_flywheel.conventions import SpanView, normalize_trace, span_views_from_request
from otel_flywheel.errors import OTLPDecodeError
from otel_flywheel.otlp import read_otlp_file

from ._render import render_tree, trace_summary_dict

__all__ = ["add_inspect_parser"]

EXAMPLES = """\
examples:
  otel-flywheel inspect traces.jsonl                 # a Collector file exporter's output
  otel-flywheel inspect traces.pb --format json | jq '.steps[] | select(.kind == "tool")'

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
    parser.add_argument("file", type=Path, help="OTLP traces file")
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
    parser.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    bad: list[OTLPDecodeError] = []
    spans_by_trace: dict[str, list[SpanView]] = {}
    try:
        for request in read_otlp_file(args.file, on_error=bad.append):
            for view in span_views_from_request(request):
                spans_by_trace.setdefault(view.trace_id, []).append(view)
    except FileNotFoundError:
        print(f"otel-flywheel inspect: no such file: {args.file}", file=sys.stderr)
        return 2
    except (OTLPDecodeError, OSError) as exc:
        print(f"otel-flywheel inspect: {exc}", file=sys.stderr)
        return 2

    for error in bad:
        print(f"otel-flywheel inspect: skipped: {error}", file=sys.stderr)
    # Spans of one trace may sit in several requests (lines); a trace is shown once, assembled.
    for index, views in enumerate(spans_by_trace.values()):
        trace = normalize_trace(views)
        if args.format == "json":
            print(json.dumps(trace_summary_dict(trace, attributes=args.attributes)))
        else:
            if index:
                print()
            print(render_tree(trace))
    if not spans_by_trace and not bad:
        print(f"otel-flywheel inspect: {args.file} holds no spans", file=sys.stderr)
    return 1 if bad else 0
