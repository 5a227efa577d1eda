"""``otel-flywheel evaluate --traces FILE``: verdicts for traces exported by a Collector."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from otel_flywheel.errors import ConfigError, OTLPDecodeError
from otel_flywheel.model import AgentTrace, Evaluation, Verdict

from ._traces import read_trace_file

__all__ = ["add_evaluate_parser"]

EXAMPLES = """\
examples:
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
    parser.add_argument("--no-judge", action="store_true", help="run only the deterministic checks")
    parser.add_argument("--output", type=Path, help="write verdicts here (default: stdout)")
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    # Evaluators ship in evaluators/ (package-dir mapping): reached at run time, not imported
    # statically (see docs/decisions.md).
    checks = importlib.import_module("otel_flywheel.evaluators.checks")
    verdicts = importlib.import_module("otel_flywheel.evaluators.verdict")
    rubric = importlib.import_module("otel_flywheel.evaluators.rubric")
    references_module = importlib.import_module("otel_flywheel.evaluators.references")

    if not args.no_judge:
        print(
            "otel-flywheel evaluate: the rubric LLM judge is not available in this version; "
            "run with --no-judge for the deterministic checks",
            file=sys.stderr,
        )
        return 2
    try:
        read = read_trace_file(args.traces)
        references = references_module.load_references(args.references) if args.references else {}
        owners = _root_cause_owners(rubric.load_taxonomy())
    except FileNotFoundError as exc:
        print(f"otel-flywheel evaluate: no such file: {exc.filename}", file=sys.stderr)
        return 2
    except (OTLPDecodeError, OSError, ConfigError) as exc:
        print(f"otel-flywheel evaluate: {exc}", file=sys.stderr)
        return 2
    for error in read.unreadable:
        print(f"otel-flywheel evaluate: skipped: {error}", file=sys.stderr)

    with ExitStack() as stack:
        out: TextIO = (
            stack.enter_context(args.output.open("w", encoding="utf-8"))
            if args.output
            else sys.stdout
        )
        for trace in read.traces:
            evaluations = _check(trace, checks, references.get(trace.trace_id))
            verdict = verdicts.roll_up(trace, evaluations, root_cause_owners=owners)
            out.write(json.dumps(verdict_dict(verdict)) + "\n")
    return 1 if read.unreadable else 0


def _check(trace: AgentTrace, checks: Any, references: Any) -> list[Evaluation]:
    active = list(checks.default_checks())
    if references is not None and references.expected_tool_calls is not None:
        active.append(checks.ExpectedToolCallsCheck(references.expected_tool_calls))
    return [evaluation for check in active for evaluation in check.evaluate(trace)]


def _root_cause_owners(taxonomy: Any) -> dict[str, str]:
    return {
        category_id: category.root_cause_owner
        for category_id, category in taxonomy.categories.items()
    }


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    """The JSON line for one verdict; evaluations carry ``name`` (the evaluator) first."""
    return {
        "trace_id": verdict.trace_id,
        "passed": verdict.passed,
        "category": verdict.category,
        "subcategory": verdict.subcategory,
        "culprit_span_id": verdict.culprit_span_id,
        "severity": verdict.severity,
        "root_cause_owner": verdict.root_cause_owner,
        "evaluations": [_evaluation_dict(e) for e in verdict.evaluations],
    }


def _evaluation_dict(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "name": evaluation.evaluator,
        "label": evaluation.label,
        "score": evaluation.score,
        "passed": evaluation.passed,
        "category": evaluation.category,
        "subcategory": evaluation.subcategory,
        "culprit_span_id": evaluation.culprit_span_id,
        "explanation": evaluation.explanation,
        "rubric_id": evaluation.rubric_id,
        "rubric_version": evaluation.rubric_version,
        "judge_model": evaluation.judge_model,
        "confidence": evaluation.confidence,
        "references": evaluation.references,
    }
