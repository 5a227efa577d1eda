"""``otel-flywheel demo``: Phoenix + the sample support agent + the flywheel, end to end."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otel_flywheel.demo import DemoResult, DemoRun
    from otel_flywheel.evaluation import TraceEvaluator

__all__ = ["add_demo_parser"]

EXAMPLES = """\
examples:
  make demo                                   # sets up both environments, then runs this
  otel-flywheel demo --phoenix-bin .venv-phoenix/bin/phoenix
  otel-flywheel demo --phoenix-url http://localhost:6006 --exit   # use a Phoenix you already run
  FLYWHEEL_JUDGE_MODEL=gpt-4o-mini otel-flywheel demo --timeout 600   # the rubric LLM judge too

exit codes: 0 the loop ran and Phoenix holds its traces, annotations and datasets; 1 it ran, but
some writes did not reach Phoenix (still pending in the outbox, or rejected), the replay gate did
not pass the fix and fail the original, the few-shot variant did worse than the original, or the
export's PII scan stopped it; 2 Phoenix could not be started or reached, or a wait timed out.
"""


def add_demo_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the sample support agent through the flywheel into a local Phoenix",
        description=(
            "Start Phoenix (SQLite in a working dir), run a scripted support agent over 22 "
            "conversations with realistic failures, instrumented with otel_flywheel.register(), "
            "through the whole loop: capture, judge, feedback, annotations and datasets in "
            "Phoenix. Prints what the flywheel decided, what Phoenix holds and where to click."
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
        help="where the demo's Phoenix database and the flywheel's outbox live (wiped at each run)",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="Phoenix HTTP port (default: a free one)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="longest wait for the judge, the outbox and Phoenix's ingest, each (default: 120)",
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
    # The demo's own outbox and routing store: a fresh Phoenix needs fresh routing memory, and
    # the demo's writes must never wait in an application's outbox.
    state_dir = args.working_dir / "state"
    try:
        # Before any progress output: on a first run this generates the pseudonymization key and
        # warns about it, which belongs at the top, not between the agent's conversations.
        load_redaction_key()
        shutil.rmtree(state_dir, ignore_errors=True)
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

    code = 0
    try:
        print(
            "\nthe loop: agent -> captured (redacted) -> judged -> feedback -> routed through the "
            "outbox -> Phoenix annotations and datasets"
        )
        print(
            "\n1. the sample support agent answers its customers (messages as they type them; "
            "what leaves the process is redacted):",
            flush=True,
        )
        result = run_demo(
            phoenix_url=phoenix_url,
            state_dir=state_dir,
            progress=lambda m: print("  " + m, flush=True),
            evaluator=_evaluator(),
            timeout_seconds=args.timeout,
        )
        _print_captured(result)
        _print_feedback(result)
        code = _print_delivery(result)
        _print_phoenix(result)
        code = max(code, _replay(result), _fewshot(result, state_dir), _export(result, state_dir))
        report_path = _report(result, args.working_dir / "report")
        _print_where_to_look(result, report_path)
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
    return code


def _print_captured(result: DemoResult) -> None:
    print(f"\n2. captured and judged: the flywheel saw {len(result.runs)} traces")
    for run in result.runs:
        _print_run(run)
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


def _print_run(run: DemoRun) -> None:
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
        print(f"            verdict: FAIL {verdict.category}/{verdict.subcategory}{_where(run)}")
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
    if run.scenario.feedback is not None:
        print(f"            customer: {run.scenario.feedback.kind}")
    if trace.consent is False:
        print("            consent: withheld (annotated for triage, kept out of every dataset)")


# Where the routing rules send each kind of feedback (otel_flywheel.routing), for the summary.
_ROUTED_TO = {
    "thumbs up": "golden",
    "thumbs down + correction": "regression + preference",
    "thumbs down": "review",
    "preferred another draft": "preference",
}


def _print_feedback(result: DemoResult) -> None:
    given = [run for run in result.runs if run.feedback is not None]
    print(
        f"\n3. feedback: {len(given)} reactions, sent with otel_flywheel.feedback() and routed by "
        "the same rules:"
    )
    for run in given:
        assert run.feedback is not None
        assert run.scenario.feedback is not None
        said = run.scenario.feedback.kind
        routed = (
            "-> none (consent withheld)" if run.trace.consent is False else f"-> {_ROUTED_TO[said]}"
        )
        print(f"  {run.trace.trace_id[:8]}  {said:<24}  {routed:<26}  {_quoted(run.trace.goal)}")
        if run.feedback.correction:
            print(f"            correction: {run.feedback.correction}")
        if run.feedback.chosen:
            print(f"            preferred:  {run.feedback.chosen}")
    implicit = {
        name: count
        for name, count in result.phoenix.span_annotations.items()
        if name.startswith("implicit_feedback.")
    }
    if implicit:
        signals = ", ".join(f"{count} {name.split('.', 1)[1]}" for name, count in implicit.items())
        print(
            f"  and what the flywheel noticed by itself in the sessions: {signals} "
            "(-> review; a customer asking again in other words is a rephrase)"
        )


def _print_delivery(result: DemoResult) -> int:
    stats = result.delivery.outbox
    print(
        f"\n4. delivered to Phoenix through the durable outbox: {stats.done_total} writes done, "
        f"{stats.depth} pending, {stats.dead} rejected"
    )
    if result.delivery.flushed and stats.dead == 0:
        return 0
    print(
        "  some writes did not reach Phoenix: they stay in the outbox "
        f"({stats.depth} pending, {stats.dead} dead); see the Phoenix log",
        file=sys.stderr,
    )
    return 1


def _print_phoenix(result: DemoResult) -> None:
    contents = result.phoenix
    spans = sum(contents.span_annotations.values())
    traces = sum(contents.trace_annotations.values())
    print("\n5. annotated and routed: what Phoenix holds now (read back over its REST API):")
    print(f"  spans:       {contents.spans} in project {result.project!r}")
    print(f"  annotations: {contents.annotations} ({spans} on spans, {traces} on traces)")
    names = sorted({*contents.span_annotations, *contents.trace_annotations})
    width = max((len(name) for name in names), default=0)
    for name in names:
        on = [
            f"{count} on {where}"
            for where, count in (
                ("spans", contents.span_annotations.get(name, 0)),
                ("traces", contents.trace_annotations.get(name, 0)),
            )
            if count
        ]
        print(f"    {name:<{width}}  {', '.join(on)}")
    print("  datasets:")
    width = max(len(name) for name in contents.datasets)
    for name, count in contents.datasets.items():
        held = "not created (nothing routed)" if count is None else f"{count} examples"
        print(f"    {name:<{width}}  {held}")


def _replay(result: DemoResult) -> int:
    """The regression dataset as a release gate: a fixed agent passes it, the original fails it."""
    from otel_flywheel.demo import demo_replay

    print(
        "\n6. replayed in CI: the regression dataset gates a fixed version of the agent, then the "
        "original one",
        flush=True,
    )
    replay = demo_replay(
        phoenix_url=result.phoenix_url,
        project=result.project,
        progress=lambda m: print("  " + m, flush=True),
    )
    for title, report in (("fixed agent", replay.fixed), ("original agent", replay.original)):
        print(f"\n  {title}: exit {report.exit_code}")
        print("\n".join("    " + line for line in report.render().splitlines()))
    if replay.fixed.exit_code == 0 and replay.original.exit_code == 1:
        print("\n  the gate passes the fix and fails the original, as it should")
        return 0
    print("  the replay gate did not behave as expected (see above)", file=sys.stderr)
    return 1


def _fewshot(result: DemoResult, state_dir: Path) -> int:
    """The loop into the agent: golden examples as few-shot, A/B against the original agent."""
    from otel_flywheel.demo import FEWSHOT_K, demo_fewshot_comparison
    from otel_flywheel.routing import ROUTING_STORE_FILE

    print(
        "\n7. the loop closes into the agent: the regression dataset replayed by the original "
        f"agent and by a variant that puts the {FEWSHOT_K} golden examples most like each "
        "question in front of its model (otel_flywheel.fewshot). The demo's model is scripted: "
        "it follows the fix when an example it was shown uses the tool the fix needs, so the "
        "difference below measures what the library retrieved, not what a real model learns",
        flush=True,
    )
    report = demo_fewshot_comparison(
        phoenix_url=result.phoenix_url,
        project=result.project,
        routing_store=state_dir / ROUTING_STORE_FILE,
        # Step 6 showed the runs one by one; here the variants and experiments are enough.
        progress=lambda m: None if m.startswith("[") else print("  " + m, flush=True),
    )
    print("\n".join("    " + line for line in report.render().splitlines()))
    if report.exit_code != 0:
        print("  the few-shot comparison did not complete as expected (see above)", file=sys.stderr)
        return 1
    return 0


def _export(result: DemoResult, state_dir: Path) -> int:
    """SFT and DPO files from the demo's feedback, with their lineage manifests."""
    from otel_flywheel.export import PIIFoundError, export_training_data
    from otel_flywheel.phoenix import phoenix_client
    from otel_flywheel.routing import ROUTING_STORE_FILE, RoutingStore

    print("\n8. exported for training (with lineage back to the source spans):", flush=True)
    store = RoutingStore(state_dir / ROUTING_STORE_FILE)
    try:
        with phoenix_client(result.phoenix_url) as (client, _):
            summary = export_training_data(
                client,
                project=result.project,
                out_dir=state_dir.parent / "exports",
                store=store,
            )
    except PIIFoundError as exc:
        print(f"  the export stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    for line in summary.lines():
        print("  " + line)
    return 0


def _report(result: DemoResult, out_dir: Path) -> Path:
    """The loop's last step: is it turning? The report over what the demo left in Phoenix."""
    from otel_flywheel.demo import REVIEWERS, write_demo_report

    history = result.history
    print(
        f"\n9. analyzed and planned: {len(history)} conversations of the last two weeks (agent "
        f"{' and '.join(sorted({r.version for r in history}))}, tenants "
        f"{' and '.join(sorted({r.tenant for r in history}))}) ran before the ones above; "
        f"{' and '.join(REVIEWERS)} labelled {len({r.trace_id for r in result.reviews})} review "
        f"items in Phoenix ({sum(1 for r in result.reviews if r.reviewer == 'bob' and r.passed != r.verdict_passed)} "
        "of bob's disagree with the checks)",
        flush=True,
    )
    written = write_demo_report(
        phoenix_url=result.phoenix_url,
        project=result.project,
        datasets=list(result.datasets.values()),
        out_dir=out_dir,
        progress=lambda m: print("  " + m, flush=True),
    )
    report = written.report
    flags = [kind for kind, on in report["flags"].items() if on]
    print(f"  flagged: {', '.join(flags) or 'nothing'}")
    for cell in report["drift"]:
        if cell["flagged"] and cell["cohort"] and cell["category"]:
            ((name, value),) = cell["cohort"].items()
            print(
                f"  drift: {cell['category']} for {name}={value}: "
                f"{cell['baseline']['rate']:.0%} -> {cell['current']['rate']:.0%} (q={cell['q_value']:.2g})"
            )
    print("  the plan, top first:")
    for item in report["plan"][:3]:
        evidence = item["evidence"]
        print(
            f"    {item['rank']}. {item['category']} -> {item['lever']}: {evidence['failed']} "
            f"failures in the current window ({evidence['rate']:.0%})"
            + (f"; {', '.join(evidence['flags'])}" if evidence["flags"] else "")
        )
    for row in report["calibration"]:
        if row["kappa"] is not None:
            print(
                f"  judge vs people on {row['rubric_id']}: kappa {row['kappa']:.2f} over {row['n']} labels "
                f"(the checks pass {row['judge_pass_rate']:.0%}, people {row['human_pass_rate']:.0%})"
            )
    print(f"  report: {written.html} (also {written.json.name} and {written.markdown.name})")
    return written.html


def _print_where_to_look(result: DemoResult, report: Path) -> None:
    print("\nwhere to look:")
    print(f"  the report:       {report}")
    print(f"  Phoenix:          {result.phoenix_url}/projects  (project {result.project!r})")
    failing = result.failing_run()
    if failing is not None:
        verdict = failing.verdict
        print(f"  a failing trace:  {result.culprit_url(failing)}")
        print(
            f"                    {verdict.category}/{verdict.subcategory}{_where(failing)}: "
            f"{_quoted(failing.trace.goal)}; its annotations are on the selected span"
        )
    print(f"  datasets:         {result.phoenix_url}/datasets")


def _where(run: DemoRun) -> str:
    culprit = run.trace.step(run.verdict.culprit_span_id or "")
    return f" at {culprit.kind.value} {culprit.name!r}" if culprit else ""


def _quoted(text: str | None) -> str:
    text = text or ""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _evaluator() -> TraceEvaluator:
    """The rubric judge too when an endpoint is configured; the demo says which it used."""
    import os

    from otel_flywheel import _env
    from otel_flywheel.demo import TENANT_ATTRIBUTE
    from otel_flywheel.evaluation import load_trace_evaluator

    return load_trace_evaluator(
        judge=bool(os.environ.get(_env.FLYWHEEL_JUDGE_MODEL)),
        cohort_attributes=(TENANT_ATTRIBUTE,),
    )
