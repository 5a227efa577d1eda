"""``otel-flywheel evaluate --traces FILE``: verdicts for traces exported by a Collector."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from otel_flywheel.errors import ConfigError, OTLPDecodeError
from otel_flywheel.evaluation import TraceEvaluator, load_references, load_trace_evaluator
from otel_flywheel.model import AgentTrace, Verdict

from ._traces import read_trace_file

__all__ = ["add_evaluate_parser", "evaluate_all", "judge_cost_line"]

EXAMPLES = """\
judge: any OpenAI-compatible endpoint. FLYWHEEL_JUDGE_MODEL (required), FLYWHEEL_JUDGE_BASE_URL or
OPENAI_BASE_URL, FLYWHEEL_JUDGE_API_KEY or OPENAI_API_KEY; scored judgments are cached.

examples:
  FLYWHEEL_JUDGE_MODEL=gpt-4o-mini otel-flywheel evaluate --traces traces.jsonl
  otel-flywheel evaluate --traces traces.jsonl --no-judge
  otel-flywheel evaluate --traces traces.pb --references refs.jsonl --no-judge --output verdicts.jsonl

references (JSON lines, one per trace, every key but trace_id optional):
  {"trace_id": "0af7...", "expected_output": "...", "policy": "..." or {"path": "policy.md"},
   "expected_tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1001"}}]}
  argument matchers: {"$any_of": [...]}, {"$optional": v}, {"$regex": "..."}, {"$any": true}

exit codes: 0 every trace evaluated; 1 some requests in the file were unreadable (reported on
stderr); 2 the input could not be read or the options are wrong.
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
    parser.add_argument("--traces", type=Path, required=True, help="OTLP traces file")
    parser.add_argument("--references", type=Path, help="references, JSON lines by trace_id")
    parser.add_argument(
        "--rubrics", type=Path, help="a directory of rubric YAML files (default: the shipped ones)"
    )
    parser.add_argument("--no-judge", action="store_true", help="run only the deterministic checks")
    parser.add_argument("--output", type=Path, help="write verdicts here (default: stdout)")
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    try:
        read = read_trace_file(args.traces)
        references = load_references(args.references) if args.references else {}
        evaluator = load_trace_evaluator(judge=not args.no_judge, rubrics_dir=args.rubrics)
    except FileNotFoundError as exc:
        print(f"otel-flywheel evaluate: no such file: {exc.filename}", file=sys.stderr)
        return 2
    except (OTLPDecodeError, OSError, ConfigError) as exc:
        hint = "" if args.no_judge else " (or run only the deterministic checks: --no-judge)"
        print(f"otel-flywheel evaluate: {exc}{hint}", file=sys.stderr)
        return 2
    for error in read.unreadable:
        print(f"otel-flywheel evaluate: skipped: {error}", file=sys.stderr)

    verdicts = asyncio.run(evaluate_all(evaluator, read.traces, references))
    with ExitStack() as stack:
        out: TextIO = (
            stack.enter_context(args.output.open("w", encoding="utf-8"))
            if args.output
            else sys.stdout
        )
        for verdict in verdicts:
            out.write(json.dumps(verdict.to_dict()) + "\n")
    cost = judge_cost_line(verdicts)
    if cost is not None:
        print(f"otel-flywheel evaluate: {cost}", file=sys.stderr)
    return 1 if read.unreadable else 0


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


async def evaluate_all(
    evaluator: TraceEvaluator,
    traces: Sequence[AgentTrace],
    references: Mapping[str, Any] | None = None,
) -> list[Verdict]:
    """Verdicts for ``traces`` in order; judge requests of all traces run concurrently."""
    references = references or {}

    async def one(trace: AgentTrace) -> Verdict:
        supplied = references.get(trace.trace_id)
        evaluations = evaluator.check(trace, supplied)
        judged = await evaluator.judge(trace, supplied)
        return evaluator.roll_up(trace, evaluations + judged.evaluations)

    try:
        return list(await asyncio.gather(*(one(trace) for trace in traces)))
    finally:
        await evaluator.aclose()
