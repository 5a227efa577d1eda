"""``otel-flywheel evaluate --traces FILE``: verdicts for traces exported by a Collector."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from otel_flywheel.errors import ConfigError, OTLPDecodeError
from otel_flywheel.evaluation import (
    evaluate_traces,
    load_tool_catalog,
    load_trace_evaluator,
    read_references,
)
from otel_flywheel.model import Verdict
from otel_flywheel.privacy import build_redactor

from ._files import input_source, open_output
from ._progress import Progress
from ._traces import read_trace_file

__all__ = ["add_evaluate_parser", "judge_cost_line"]

EXAMPLES = """\
judge: any OpenAI-compatible endpoint. FLYWHEEL_JUDGE_MODEL (required), FLYWHEEL_JUDGE_BASE_URL or
OPENAI_BASE_URL, FLYWHEEL_JUDGE_API_KEY or OPENAI_API_KEY; scored judgments are cached.

examples:
  FLYWHEEL_JUDGE_MODEL=gpt-4o-mini otel-flywheel evaluate --traces traces.jsonl
  otel-flywheel evaluate --traces traces.jsonl --no-judge
  otel-flywheel evaluate --traces traces.pb --references refs.jsonl --no-judge --output verdicts.jsonl
  otel-flywheel evaluate --traces runs.jsonl --references refs.jsonl --tools tools.json --no-judge

references (JSON lines, one per trace; JSON Schema: rubrics/references.schema.json). They are
redacted with the traces' redactor and key, so {"email": "ada@example.com"} matches the trace's
<EMAIL:...>, and no raw value reaches the judge or the output.

  version 1 (a line without "version"): the exact set, as in single-turn function calling:
  every expected call once, in any order, and no other call ([] means: no call at all)
    {"trace_id": "0af7...", "expected_output": "...", "policy": "..." or {"path": "policy.md"},
     "expected_tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}

  version 2: "tool_calls" says which calls must happen and which others are free
    the writes must happen, lookups of read-only tools are free (the default, others=read_only):
    {"version": 2, "trace_id": "4bf9...", "tool_calls": {"expected": [
       {"name": "cancel_reservation", "arguments": {"reservation_id": "ZFA04Y"}}]}}
    tools named free, or declared read-only for this trace, by glob or {"$regex": ...}:
    {"version": 2, "trace_id": "...", "tool_calls": {"expected": [...],
       "allow": ["think", "transfer_to_human_agents"], "read_only": ["get_*", "search_*"]}}
    counts (min, max; max null: no bound) and order (calls of one model turn are simultaneous):
    {"version": 2, "trace_id": "...", "tool_calls": {"ordered": true, "expected": [
       {"name": "get_user_details", "arguments": {"user_id": {"$any": true}}, "min": 1, "max": null},
       {"name": "book_reservation", "arguments": {"flight": "HAT170"}}]}}
    only the expected calls matter; a call that must not happen has max 0:
    {"version": 2, "trace_id": "...", "tool_calls": {"others": "allowed", "expected": [
       {"name": "issue_refund", "min": 0, "max": 0}]}}
    the exact set again, with counts: "others": "forbidden"

  argument matchers: {"$any_of": [...]}, {"$optional": v}, {"$regex": "..."} (full match, on the
  redacted value), {"$any": true}, {"$literal": {...}} (plain data holding "$" keys)

  only calls that took effect are compared: a call that failed changed nothing, so a failed write
  retried successfully is one write, and a write that failed every time is a missing call.

tools: which tools only read, and which retrieve knowledge (empty retrievals are reported only
for RETRIEVER spans and for these). A tool is read-only when its definition carries MCP's
annotations {"readOnlyHint": true} (in the trace, or in --tools), or matches --read-only-tool.
  --tools tools.json   an MCP tools/list result {"tools": [...]}, plus optional
                       "read_only": ["get_*"], "retrieval": ["search_kb"]

exit codes: 0 every trace evaluated; 1 some requests in the file were unreadable (reported on
stderr); 2 the input could not be read, the references or options are wrong, or (with
--strict-references) a reference would go unused.
"""


def add_evaluate_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate traces from an OTLP file and write one verdict per trace",
        description=(
            "Run the deterministic checks (and the rubric LLM judge) over the traces in an OTLP "
            "file, redacted as the flywheel sees them, and write one verdict per trace as a JSON "
            "line: trace_id, passed, category, subcategory, culprit_span_id, evaluations."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--traces", type=Path, required=True, help="OTLP traces file ('-': standard input)"
    )
    parser.add_argument("--references", type=Path, help="references, JSON lines by trace_id")
    parser.add_argument(
        "--strict-references",
        action="store_true",
        help="stop (exit 2) when a reference would go unused: an unknown trace id, a tool no "
        "trace offers, an ignored key",
    )
    parser.add_argument(
        "--tools", type=Path, help="tool definitions and declarations (MCP tools/list JSON)"
    )
    parser.add_argument(
        "--read-only-tool",
        action="append",
        default=[],
        metavar="PATTERN",
        help="a tool (glob, e.g. 'get_*') that only reads; repeat for more",
    )
    parser.add_argument(
        "--retrieval-tool",
        action="append",
        default=[],
        metavar="PATTERN",
        help="a tool (glob) whose empty result is an empty retrieval; repeat for more",
    )
    parser.add_argument(
        "--rubrics", type=Path, help="a directory of rubric YAML files (default: the shipped ones)"
    )
    parser.add_argument("--no-judge", action="store_true", help="run only the deterministic checks")
    parser.add_argument(
        "--output", type=Path, help="write verdicts here (default, or '-': standard output)"
    )
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    progress = Progress("otel-flywheel evaluate")
    try:
        tools = load_tool_catalog(
            args.tools, read_only=args.read_only_tool, retrieval=args.retrieval_tool
        )
    except ConfigError as exc:
        return _fail(str(exc))
    try:
        # The judge's settings fail here, before a long read.
        evaluator = load_trace_evaluator(
            judge=not args.no_judge, rubrics_dir=args.rubrics, tools=tools
        )
    except (ConfigError, OSError) as exc:
        hint = "" if args.no_judge else " (or run only the deterministic checks: --no-judge)"
        return _fail(f"{exc}{hint}")
    try:
        # One redactor for traces and references: the same pseudonym for the same value.
        redactor = build_redactor()
        references_file = (
            read_references(args.references, redactor=redactor) if args.references else None
        )
        read = read_trace_file(input_source(args.traces), redactor=redactor)
    except FileNotFoundError as exc:
        asyncio.run(evaluator.aclose())
        return _fail(f"no such file: {exc.filename}")
    except (OTLPDecodeError, OSError, ConfigError) as exc:
        asyncio.run(evaluator.aclose())
        return _fail(str(exc))
    for error in read.unreadable:
        progress.say(f"skipped: {error}")
    references: Mapping[str, Any] = {}
    if references_file is not None:
        warnings = [
            *references_file.warnings,
            *references_file.check_against(read.traces, tools=tools),
        ]
        for warning in warnings:
            progress.say(f"warning: {warning}")
        if warnings and args.strict_references:
            progress.say(
                f"{len(warnings)} reference warning(s) with --strict-references: nothing evaluated"
            )
            asyncio.run(evaluator.aclose())
            return 2
        references = references_file.references

    with progress.counting("evaluated", total=len(read.traces), unit="traces") as evaluated:
        verdicts = asyncio.run(
            evaluate_traces(evaluator, read.traces, references, on_verdict=evaluated)
        )
    with open_output(args.output) as out:
        for verdict in verdicts:
            out.write(json.dumps(verdict.to_dict()) + "\n")
    cost = judge_cost_line(verdicts)
    if cost is not None:
        progress.say(cost)
    return 1 if read.unreadable else 0


def _fail(message: str) -> int:
    print(f"otel-flywheel evaluate: {message}", file=sys.stderr)
    return 2


def judge_cost_line(verdicts: Sequence[Verdict]) -> str | None:
    """What the judge cost and saw, in one line; None when it did not run."""
    judged = [e for v in verdicts for e in v.evaluations if e.coverage is not None]
    if not judged:
        return None
    coverages = [e.coverage for e in judged if e.coverage is not None]
    tokens = sorted(c.prompt_tokens for c in coverages)
    billed_in = sum(e.usage.input_tokens or 0 for e in judged)
    billed_out = sum(e.usage.output_tokens or 0 for e in judged)
    return (
        f"judge: {len(judged)} judgments in {sum(c.requests for c in coverages)} requests, "
        f"prompts ~{sum(tokens)} tokens (median {statistics.median(tokens):.0f} per judgment), "
        f"{sum(c.parts > 0 for c in coverages)} judged in parts, "
        f"{sum(c.mostly_unseen for c in coverages)} with most of the trace unseen; "
        f"billed {billed_in} input and {billed_out} output tokens (cached judgments bill none)"
    )
