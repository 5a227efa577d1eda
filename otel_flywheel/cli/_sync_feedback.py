"""``otel-flywheel sync-feedback --project NAME``: reviewers' annotations in Phoenix -> routing.

People review traces in the Phoenix UI and annotate them (thumbs, corrections). This command reads
those HUMAN annotations (`otel_flywheel._feedback._sync`), turns them into `Feedback` and routes
them as the flywheel routes feedback from the application: through a `RoutingSink` on the local
state directory (routing store and outbox, shared with `serve` or `register()` there), then
delivers the outbox to Phoenix. Traces the flywheel never evaluated here are read from Phoenix.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Final

from otel_flywheel._feedback import NEGATIVE_LABELS, POSITIVE_LABELS
from otel_flywheel.config import RoutingSettings, resolve_settings
from otel_flywheel.errors import ConfigError, FlywheelError
from otel_flywheel.model import AgentTrace
from otel_flywheel.outbox import Outbox, OutboxStats, OutboxWorker
from otel_flywheel.phoenix import PhoenixSink, phoenix_client, pull_traces, require_project
from otel_flywheel.privacy import build_redactor
from otel_flywheel.routing import (
    FeedbackSyncReport,
    RoutingSink,
    RoutingStore,
    default_routing_store_path,
    sync_feedback,
)
from otel_flywheel.times import parse_time_bound

from ._progress import Progress

if TYPE_CHECKING:
    pass


__all__ = ["add_sync_feedback_parser", "run_sync_feedback"]

DEFAULT_SINCE: Final = "7d"
DEFAULT_TIMEOUT_SECONDS: Final = 60.0
_PREFIX: Final = "otel-flywheel sync-feedback"
_PROGRESS: Final = Progress(_PREFIX)
_PROGRESS_INTERVAL_SECONDS: Final = 1.0


def _labels(labels: frozenset[str]) -> str:
    return ", ".join(sorted(labels, key=lambda label: (not label.isascii(), label)))


EXAMPLES = f"""\
what it reads: the span and trace annotations of kind HUMAN on the traces of --project that
started in [--since, --until) (default --since {DEFAULT_SINCE}), except those otel-flywheel wrote
itself. Durations (30m, 1h, 2d, 1w) count back from now; ISO times (2026-11-21T09:00:00Z) work too.

what counts as feedback:
  thumbs      the label, in any case, spaces and dashes read as underscores:
              {_labels(POSITIVE_LABELS)} (up);
              {_labels(NEGATIVE_LABELS)} (down).
              Without such a label, a score of 1 (up) or 0 (down).
  correction  the `correction` metadata key; an explanation starting "correction:"; or, on a
              thumbs down, the whole explanation (--explanation-is reason turns this off).
  reason      the `reason` metadata key, an explanation starting "reason:", or any other
              explanation.
  preference  the `chosen` and `rejected` metadata keys, together.
An annotation with none of these (say, `hallucination: yes`) is left alone.

where it goes: as feedback from the application does. Thumbs up -> <project>/golden; thumbs down
with a correction -> <project>/regression (expected output = the correction) and
<project>/preference; thumbs down alone -> <project>/review; a preference -> <project>/preference.
Each feedback is written back as a `user_feedback` annotation on its span (or the trace's root)
carrying its feedback_id; that copy is how a later run knows the annotation is synced, so
running it again routes nothing new. Traces come from the routing store in FLYWHEEL_STATE_DIR
(those the flywheel evaluated there, with their verdicts), else from Phoenix, redacted as at
capture. Writes go through the outbox in the same directory, then are delivered to Phoenix.

Phoenix: --phoenix-url, else what phoenix.client reads: PHOENIX_ENDPOINT, PHOENIX_COLLECTOR_ENDPOINT,
OTEL_EXPORTER_OTLP_ENDPOINT, PHOENIX_BASE_URL, then http://localhost:6006. PHOENIX_API_KEY is sent
as a bearer token.

examples:
  otel-flywheel sync-feedback --project support-agent
  otel-flywheel sync-feedback --project support-agent --since 1d --name correctness
  otel-flywheel sync-feedback --project support-agent --explanation-is reason --phoenix-url http://phoenix:6006

exit codes: 0 every feedback found was routed and delivered (also when there was none, or all of
it was synced before); 1 some writes are still waiting in the outbox after --timeout (the next run,
or any flywheel on the same state directory, delivers them), Phoenix rejected some for good
(dead in the outbox), or some traces could not be read (their feedback got annotations only);
2 Phoenix could not be reached or refused, the project does not exist, or the options are wrong.
"""


def add_sync_feedback_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = subparsers.add_parser(
        "sync-feedback",
        help="route the feedback reviewers annotated in Phoenix into the datasets",
        description=(
            "Read the HUMAN annotations reviewers added to a Phoenix project's traces, turn the "
            "ones that are feedback (thumbs, corrections, preferences) into flywheel feedback, "
            "route it into the golden, regression, review and preference datasets, and deliver "
            "the writes to Phoenix."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--project", required=True, help="the Phoenix project (name)")
    parser.add_argument("--since", help=f"traces started from (default: {DEFAULT_SINCE} ago)")
    parser.add_argument("--until", help="traces started before (default: now)")
    parser.add_argument(
        "--name",
        dest="names",
        action="append",
        metavar="NAME",
        help="read only annotations of this name (repeat for more; default: every name)",
    )
    parser.add_argument(
        "--explanation-is",
        choices=("correction", "reason"),
        default="correction",
        help="what the explanation of a thumbs down is (default: correction)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"how long to deliver the writes to Phoenix (default: {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument("--phoenix-url", help="Phoenix's base URL, e.g. http://localhost:6006")
    parser.set_defaults(handler=run_sync_feedback)


def run_sync_feedback(args: argparse.Namespace) -> int:
    try:
        since, until = _window(args.since, args.until)
        settings = resolve_settings(RoutingSettings, {"project": args.project})
    except (ValueError, ConfigError) as exc:
        return _fail(str(exc))
    try:
        # Before the reads: a first run generates the pseudonymization key and says so.
        redactor = build_redactor()
        with ExitStack() as stack:
            pages = stack.enter_context(_PROGRESS.counting("read from Phoenix", unit="requests"))
            client, url = stack.enter_context(phoenix_client(args.phoenix_url, on_response=pages))
            require_project(client, args.project)
            outbox = stack.enter_context(Outbox())
            phoenix = stack.enter_context(PhoenixSink(base_url=url))
            worker = OutboxWorker(outbox, phoenix)  # not started: force_flush delivers inline
            routing = RoutingSink(
                outbox,
                store=RoutingStore(default_routing_store_path()),
                settings=settings,
                worker=worker,
                redactor=redactor,
            )
            stack.callback(routing.shutdown)  # stops the worker, closes the store

            def fetch(trace_ids: Sequence[str]) -> list[AgentTrace]:
                pulled = pull_traces(
                    client,
                    project=args.project,
                    since=None,
                    until=None,
                    trace_ids=trace_ids,
                    redactor=redactor,
                )
                return pulled.traces

            before = outbox.stats()
            report = sync_feedback(
                client,
                project=args.project,
                sink=routing,
                since=since,
                until=until,
                fetch_traces=fetch,
                names=set(args.names) if args.names else None,
                explanation_is=args.explanation_is,
                progress=_say,
            )
            if report.routed or before.depth:
                _say(f"delivering {outbox.stats().depth} writes to Phoenix at {url}")
                worker.force_flush(int(args.timeout * 1000))
            after = outbox.stats()
    except (FlywheelError, OSError) as exc:
        return _fail(str(exc))
    return _summarize(report, routing.counts(), before=before, after=after, args=args)


def _summarize(
    report: FeedbackSyncReport,
    counts: dict[str, int],
    *,
    before: OutboxStats,
    after: OutboxStats,
    args: argparse.Namespace,
) -> int:
    if report.truncated:
        _say(
            f"the window holds more than {report.traces} traces; only the newest were read. "
            "Narrow it with --since/--until."
        )
    for trace_id in report.traces_missing:
        _say(f"trace {trace_id} could not be read; its feedback was routed as an annotation only")
    thumbs = [f.thumbs for f in report.routed]
    corrections = sum(1 for f in report.routed if f.correction is not None)
    _say(
        f"{report.traces} traces from {args.project!r}, {report.annotations} annotations, "
        f"{report.by_people} by people: {len(report.routed)} feedback routed "
        f"({thumbs.count('up')} up, {thumbs.count('down')} down, {corrections} corrections), "
        f"{report.already_synced} synced before, {report.not_feedback} not feedback"
        + (f", {report.skipped_names} other names" if report.skipped_names else "")
    )
    if report.routed:
        examples = {
            name.removeprefix("examples_"): value
            for name, value in sorted(counts.items())
            if name.startswith("examples_")
        }
        _say(
            "examples: "
            + (", ".join(f"{count} {outcome}" for outcome, count in examples.items()) or "none")
            + f"; {report.traces_pulled} traces read from Phoenix"
        )
    delivered = after.done_total - before.done_total
    dead = after.dead - before.dead
    if delivered or after.depth or dead:
        _say(f"outbox: {delivered} writes delivered, {after.depth} waiting, {dead} rejected")
    if dead > 0:
        _say(
            f"Phoenix rejected {dead} writes for good; they are kept as dead in the outbox with "
            "the reason (Outbox.requeue_dead() retries them)"
        )
    if after.depth:
        _say(
            f"{after.depth} writes are still waiting for Phoenix after {args.timeout:g} s; the "
            "next run (or any flywheel on this state directory) delivers them"
        )
    return 1 if after.depth or dead > 0 or report.traces_missing else 0


def _window(since: str | None, until: str | None) -> tuple[datetime, datetime | None]:
    now = datetime.now(timezone.utc)
    start = parse_time_bound(since or DEFAULT_SINCE, now=now)
    end = parse_time_bound(until, now=now) if until else None
    if end is not None and end <= start:
        raise ValueError(
            f"--until ({end.isoformat()}) must be later than --since ({start.isoformat()})"
        )
    return start, end


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _say(message: str) -> None:
    _PROGRESS.say(message)


def _fail(message: str) -> int:
    _say(message)
    return 2
