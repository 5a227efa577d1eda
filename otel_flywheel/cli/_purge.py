"""``otel-flywheel purge``: erase a user's data (``--user``) and apply retention (``--older-than``).

See `otel_flywheel.privacy_ops` and docs/privacy.md.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from datetime import datetime, timezone
from typing import Final

from otel_flywheel.errors import ConfigError, FlywheelError
from otel_flywheel.outbox import Outbox, default_outbox_path
from otel_flywheel.phoenix import PhoenixPurgeError, phoenix_client
from otel_flywheel.privacy_ops import (
    apply_retention,
    is_pseudonym,
    pseudonymize_user,
    purge_user,
)
from otel_flywheel.routing import RoutingStore
from otel_flywheel.times import parse_time_bound

__all__ = ["add_purge_parser"]

_PREFIX: Final = "otel-flywheel purge"

EXAMPLES = """\
erasure (--user / --pseudonym): removes everything keyed by the user's pseudonymized id, in this
order: the outbox (<state dir>/outbox.sqlite: writes not yet delivered), the routing store
(<state dir>/routing.sqlite: traces, feedback, routing records), then the user's examples in
Phoenix datasets (every dataset, or --dataset) and their traces in Phoenix projects (every
project, or --project: each trace with a span whose user.id is the pseudonym, with its spans and
annotations; --keep-traces leaves them), each searched for again to verify they are gone. --user takes the
raw id the application set as user.id and pseudonymizes it with the redaction key
(FLYWHEEL_REDACTION_KEY, or the state directory's key file) as capture did; data stored under the
raw id (captured with FLYWHEEL_REDACTION=off) is removed too. Phoenix keeps earlier dataset
versions readable: the output says how many still hold the deleted examples.

retention (--older-than): removes routing-store traces and waiting feedback, and delivered outbox
writes, older than a duration (90d, 12w, 36h) or an ISO time. It touches local stores only.

examples:
  otel-flywheel purge --user 8c1f2e --phoenix-url http://localhost:6006
  otel-flywheel purge --pseudonym '<USER:1a2b3c4d>' --dataset support/golden
  otel-flywheel purge --user 8c1f2e --dry-run
  otel-flywheel purge --older-than 90d

Run it where the stores are (FLYWHEEL_STATE_DIR), on every instance that has its own.

exit codes: 0 done (also when nothing was found); 1 Phoenix still held examples after deleting
them, or refused; 2 bad options, no redaction key, or Phoenix unreachable.
"""


def add_purge_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "purge",
        help="erase a user's data, or drop local data past a retention period",
        description=(
            "Remove a user's data (by pseudonymized id) from the outbox, the routing store, "
            "Phoenix datasets and Phoenix projects, and say what was removed; or apply "
            "retention to local stores."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", metavar="ID", help="the raw user id (pseudonymized here)")
    who.add_argument("--pseudonym", metavar="TOKEN", help="the pseudonym itself: <USER:xxxxxxxx>")
    parser.add_argument(
        "--older-than", metavar="AGE", help="retention: drop local data older than this (90d)"
    )
    parser.add_argument(
        "--dataset",
        dest="datasets",
        action="append",
        metavar="NAME",
        help="only these Phoenix datasets (repeat; default: every dataset)",
    )
    parser.add_argument(
        "--project",
        dest="projects",
        action="append",
        metavar="NAME",
        help="only these Phoenix projects' traces (repeat; default: every project)",
    )
    parser.add_argument(
        "--keep-traces",
        action="store_true",
        help="leave the user's traces in Phoenix projects; delete dataset examples only",
    )
    parser.add_argument("--phoenix-url", help="Phoenix's base URL, e.g. http://localhost:6006")
    parser.add_argument(
        "--no-phoenix", action="store_true", help="purge the local stores only, not Phoenix"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="find the user's Phoenix examples without deleting anything",
    )
    parser.set_defaults(handler=run_purge)


def run_purge(args: argparse.Namespace) -> int:
    if not (args.user or args.pseudonym or args.older_than):
        return _fail("say what to purge: --user ID, --pseudonym TOKEN or --older-than AGE")
    try:
        older_than = _age_seconds(args.older_than) if args.older_than else None
        user_ids = _user_ids(args)
    except (ValueError, ConfigError) as exc:
        return _fail(str(exc))
    code = 0
    if user_ids:
        code = _erase(args, user_ids)
    if older_than is not None and code == 0 and not args.dry_run:
        code = _retain(older_than)
    return code


def _purge_preference_outbox(user_ids: list[str], *, dry_run: bool) -> int | None:
    """The user's preference pairs still waiting in ``replay --compare``'s own outbox."""
    from otel_flywheel.config import state_path
    from otel_flywheel.replay import PREFERENCES_OUTBOX_FILE

    path = state_path(PREFERENCES_OUTBOX_FILE)
    if dry_run or not path.is_file():
        return None
    with Outbox(path) as outbox:
        return sum(outbox.purge_user(user_id) for user_id in user_ids)


def _erase(args: argparse.Namespace, user_ids: list[str]) -> int:
    print(f"purging {user_ids[0]}" + (" (and the raw id)" if len(user_ids) > 1 else ""))
    try:
        with ExitStack() as stack:
            store = RoutingStore.existing()
            if store is not None:
                stack.callback(store.close)
            outbox_path = default_outbox_path()
            outbox = stack.enter_context(Outbox(outbox_path)) if outbox_path.is_file() else None
            client = None
            if not args.no_phoenix:
                client, _ = stack.enter_context(phoenix_client(args.phoenix_url))
            report = purge_user(
                user_ids,
                store=store,
                outbox=outbox,
                client=client,
                datasets=args.datasets,
                traces=not args.keep_traces,
                projects=args.projects,
                dry_run=args.dry_run,
                progress=_say,
            )
            preference_writes = _purge_preference_outbox(user_ids, dry_run=args.dry_run)
    except PhoenixPurgeError as exc:
        print(f"{_PREFIX}: {exc}", file=sys.stderr)
        return 1
    except (FlywheelError, OSError) as exc:
        return _fail(str(exc))
    if report.routing is None and not args.dry_run:
        print("routing store: none here (nothing to remove)")
    if report.outbox_writes is None and not args.dry_run:
        print("outbox: none here (nothing to remove)")
    for line in report.lines():
        print(line)
    if preference_writes is not None:
        print(f"replay preference outbox: removed {preference_writes} writes")
    if report.phoenix:
        print(
            "Phoenix keeps earlier dataset versions readable by version id; to erase those "
            "too, delete the dataset (DELETE /v1/datasets/{id}; this also deletes its experiments)"
        )
    return 0


def _retain(older_than: float) -> int:
    try:
        with ExitStack() as stack:
            store = RoutingStore.existing()
            if store is not None:
                stack.callback(store.close)
            report = apply_retention(older_than, store=store, outbox_path=default_outbox_path())
    except (FlywheelError, OSError) as exc:
        return _fail(str(exc))
    print(f"retention: removing local data older than {older_than / 86400:g} days")
    for line in report.lines() or ["no local stores here (nothing to remove)"]:
        print(line)
    return 0


def _user_ids(args: argparse.Namespace) -> list[str]:
    if args.pseudonym:
        if not is_pseudonym(args.pseudonym):
            raise ValueError(
                f"--pseudonym {args.pseudonym!r} is not a user pseudonym; they look like "
                "<USER:1a2b3c4d> (or pass the raw id with --user)"
            )
        return [args.pseudonym]
    if args.user:
        # The raw id as well: data captured with redaction off was stored under it.
        return [pseudonymize_user(args.user), args.user]
    return []


def _age_seconds(text: str) -> float:
    now = datetime.now(timezone.utc)
    cutoff = parse_time_bound(text, now=now)
    seconds = (now - cutoff).total_seconds()
    if seconds <= 0:
        raise ValueError(f"--older-than {text!r} is not in the past")
    return seconds


def _say(message: str) -> None:
    print(f"{_PREFIX}: {message}", file=sys.stderr, flush=True)


def _fail(message: str) -> int:
    print(f"{_PREFIX}: {message}", file=sys.stderr)
    return 2
