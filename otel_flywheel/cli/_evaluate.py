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
    # Evaluators ship in evaluators/ (package-dir mapping): reached at run time, not imported
    # statically (see docs/decisions.md).
    checks = importlib.import_module("otel_flywheel.evaluators.checks")
    verdicts = importlib.import_module("otel_flywheel.evaluators.verdict")
    rubric = importlib.import_module("otel_flywheel.evaluators.rubric")
    references_module = importlib.import_module("otel_flywheel.evaluators.references")

    try:
        read = read_trace_file(args.traces)
        references = references_module.load_references(args.references) if args.references else {}
        taxonomy = rubric.load_taxonomy()
        owners = _root_cause_owners(taxonomy)
        rubrics = (
            []
            if args.no_judge
            else list(rubric.load_rubrics(args.rubrics, taxonomy=taxonomy).values())
        )
        judge = None if args.no_judge else _judge_module().LLMJudge(taxonomy=taxonomy)
    except FileNotFoundError as exc:
        print(f"otel-flywheel evaluate: no such file: {exc.filename}", file=sys.stderr)
        return 2
    except (OTLPDecodeError, OSError, ConfigError) as exc:
        hint = "" if args.no_judge else " (or run only the deterministic checks: --no-judge)"
        print(f"otel-flywheel evaluate: {exc}{hint}", file=sys.stderr)
        return 2
    for error in read.unreadable:
        print(f"otel-flywheel evaluate: skipped: {error}", file=sys.stderr)

    with ExitStack() as stack:
        out: TextIO = (
            stack.enter_context(args.output.open("w", encoding="utf-8"))
            if args.output
            else sys.stdout
        )
        judged = _judge(judge, read.traces, rubrics, references) if judge is not None else {}
        for trace in read.traces:
            evaluations = _check(trace, checks, references.get(trace.trace_id))
            evaluations += judged.get(trace.trace_id, [])
            verdict = verdicts.roll_up(trace, evaluations, root_cause_owners=owners)
            out.write(json.dumps(verdict_dict(verdict)) + "\n")
    return 1 if read.unreadable else 0


def _judge_module() -> Any:
    return importlib.import_module("otel_flywheel.evaluators.judge")


# References a trace carries itself; the others must come from the references file.
_TRACE_REFERENCES = frozenset(
    {"retrieved_documents", "tool_schemas", "tool_results", "conversation"}
)


def _judge(
    judge: Any, traces: list[AgentTrace], rubrics: list[Any], references: dict[str, Any]
) -> dict[str, list[Evaluation]]:
    """Every trace against every rubric whose required references it has, concurrently."""
    items = []
    for trace in traces:
        supplied = references.get(trace.trace_id)
        available = _TRACE_REFERENCES | set(supplied.names if supplied is not None else ())
        for candidate in rubrics:
            if set(candidate.required_references) <= available:
                items.append((trace, candidate, supplied) if supplied else (trace, candidate))
    try:
        results = judge.judge_many_sync(items)
    finally:
        judge.close()
    judged: dict[str, list[Evaluation]] = {}
    for item, evaluation in zip(items, results, strict=True):
        judged.setdefault(item[0].trace_id, []).append(evaluation)
    return judged


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
