"""``otel-flywheel demo``: Phoenix + the sample support agent + the flywheel, end to end."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otel_flywheel.evaluation import TraceEvaluator

__all__ = ["add_demo_parser"]

EXAMPLES = """\
examples:
  make demo                                   # sets up both environments, then runs this
  otel-flywheel demo --phoenix-bin .venv-phoenix/bin/phoenix
  otel-flywheel demo --phoenix-url http://localhost:6006 --exit   # use a Phoenix you already run

exit codes: 0 the demo ran and Phoenix holds its traces; 2 Phoenix could not be started or reached.
"""


def add_demo_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the sample support agent through the flywheel into a local Phoenix",
        description=(
            "Start Phoenix (SQLite in a working dir), run a scripted support agent over 20 "
            "conversations with realistic failures, instrumented with otel_flywheel.register(), "
            "and print what the flywheel captured and where to look in Phoenix."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--phoenix-bin", type=Path, help="the `phoenix` executable to start")
    parser.add_argument(
        "--phoenix-url", help="use this running Phoenix instead of starting one (e.g. :6006)"
    )
    parser.add_argument(
        "--working-dir",
        type=Path,
        default=Path(".flywheel/demo"),
        help="where the demo's Phoenix keeps its database (wiped at each run)",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="Phoenix HTTP port (default: a free one)"
    )
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument(
        "--keep-running",
        dest="keep_running",
        action="store_true",
        default=None,
        help="keep Phoenix up for browsing until Ctrl-C (default when run in a terminal)",
    )
    keep.add_argument(
        "--exit", dest="keep_running", action="store_false", help="stop Phoenix when done"
    )
    parser.set_defaults(handler=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    from otel_flywheel.demo import run_demo
    from otel_flywheel.errors import FlywheelError
    from otel_flywheel.privacy import load_redaction_key
    from otel_flywheel.testing.phoenix import LocalPhoenix, find_phoenix_binary

    keep_running = sys.stdin.isatty() if args.keep_running is None else args.keep_running
    phoenix: LocalPhoenix | None = None
    try:
        # Before any progress output: on a first run this generates the pseudonymization key and
        # warns about it, which belongs at the top, not between the agent's conversations.
        load_redaction_key()
        if args.phoenix_url:
            phoenix_url = args.phoenix_url.rstrip("/")
        else:
            binary = args.phoenix_bin or find_phoenix_binary()
            phoenix_dir = args.working_dir / "phoenix"
            shutil.rmtree(phoenix_dir, ignore_errors=True)
            phoenix_dir.mkdir(parents=True)
            print(f"starting Phoenix ({binary}) ...", flush=True)
            phoenix = LocalPhoenix(binary=binary, working_dir=phoenix_dir, port=args.port).start()
            phoenix_url = phoenix.base_url
            print(f"Phoenix is up at {phoenix_url} (log: {phoenix.log_path})")
    except FlywheelError as exc:
        print(f"otel-flywheel demo: {exc}", file=sys.stderr)
        return 2

    try:
        print(
            "\nrunning the sample support agent (customers' messages as they type them; "
            "what leaves the process is redacted):"
        )
        evaluator = _evaluator()
        result = run_demo(
            phoenix_url=phoenix_url,
            progress=lambda m: print("  " + m, flush=True),
            evaluator=evaluator,
        )
        _print_captured(result)
        stored = _wait_for_phoenix(phoenix_url, result)
        print(f"\nPhoenix holds {stored} spans in project {result.project!r}: {phoenix_url}")
        print("  open Projects -> " + result.project + " to browse the traces the flywheel saw.")
        if phoenix is not None and keep_running:
            print("\nPhoenix keeps running for you to browse; press Ctrl-C to stop it.")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping Phoenix")
    except (FlywheelError, TimeoutError) as exc:
        print(f"otel-flywheel demo: {exc}", file=sys.stderr)
        return 2
    finally:
        if phoenix is not None:
            phoenix.stop()
    return 0


def _print_captured(result: object) -> None:
    from otel_flywheel.demo import DemoResult

    assert isinstance(result, DemoResult)
    print(f"\nthe flywheel captured {len(result.runs)} traces:")
    for run in result.runs:
        trace = run.trace
        calls = [tool for _, tool in trace.tool_calls()]
        flags = []
        if any(step.status == "error" for step in trace.steps):
            flags.append("tool error")
        if any(call.arguments_malformed for call in calls):
            flags.append("malformed arguments")
        retrievals = [s.retrieval for s in trace.steps if s.retrieval is not None]
        if any(not r.documents for r in retrievals):
            flags.append("empty retrieval")
        tools = ", ".join(call.name for call in calls) or "no tools"
        print(f"  {trace.trace_id[:8]}  {len(trace.steps):2d} steps  {tools}")
        print(f"            goal:   {trace.goal}")
        print(f"            answer: {trace.final_output}")
        if flags:
            print(f"            seen:   {'; '.join(flags)}")
        verdict = run.verdict
        if verdict.passed is False:
            culprit = trace.step(verdict.culprit_span_id or "")
            where = f" at {culprit.kind.value} {culprit.name!r}" if culprit else ""
            print(f"            verdict: FAIL {verdict.category}/{verdict.subcategory}{where}")
        else:
            print(f"            verdict: {'pass' if verdict.passed else 'unscored'}")
        observations = [
            e.label for e in verdict.evaluations if e.passed is False and e.category is None
        ]
        if observations:
            print(
                f"            observed: {', '.join(sorted(set(observations)))} (not a badcase by itself)"
            )
        if run.scenario.failure:
            print(f"            planted failure: {run.scenario.failure}")
    planted = sum(1 for run in result.runs if run.scenario.failure)
    failed = sum(1 for run in result.runs if run.verdict.passed is False)
    judged_by = (
        "the deterministic checks and the rubric LLM judge"
        if result.judged
        else "the deterministic checks (set FLYWHEEL_JUDGE_MODEL and FLYWHEEL_JUDGE_BASE_URL to "
        "add the rubric LLM judge)"
    )
    print(
        f"\n{planted} of {len(result.runs)} conversations carry a planted failure; "
        f"{failed} traces failed, judged by {judged_by}."
    )


def _evaluator() -> TraceEvaluator:
    """The rubric judge too when an endpoint is configured; the demo says which it used."""
    import os

    from otel_flywheel import _env
    from otel_flywheel.evaluation import load_trace_evaluator

    return load_trace_evaluator(judge=bool(os.environ.get(_env.FLYWHEEL_JUDGE_MODEL)))


def _wait_for_phoenix(phoenix_url: str, result: object) -> int:
    """Phoenix ingests asynchronously (~125 spans/s): wait until every span is queryable."""
    import httpx
    from phoenix.client import Client

    from otel_flywheel.demo import DemoResult
    from otel_flywheel.testing.phoenix import wait_for_spans

    assert isinstance(result, DemoResult)
    expected = sum(len(run.trace.steps) for run in result.runs)
    with httpx.Client(base_url=phoenix_url, timeout=30) as http:
        spans = wait_for_spans(
            Client(base_url=phoenix_url, http_client=http),
            project=result.project,
            min_count=expected,
            timeout_seconds=60,
            limit=expected + 100,
        )
    return len(spans)
