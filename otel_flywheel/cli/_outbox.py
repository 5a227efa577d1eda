"""``otel-flywheel outbox status|retry|drop``: see what waits in the outbox and act on dead writes.

Dead writes are the ones the outbox gave up on: Phoenix rejected them (400, 409, 413, 422), or
they failed for a reason waiting alone does not fix (a proxy's HTML page, refused credentials, a
wrong URL) too many times in a row. They are kept with their reason until someone acts:
``retry`` once the cause is fixed, ``drop`` when they should never be delivered.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from otel_flywheel.errors import ConfigError
from otel_flywheel.outbox import Outbox, OutboxEntry, default_outbox_path

__all__ = ["add_outbox_parser"]

_PREFIX: Final = "otel-flywheel outbox"
_REASON_CHARS: Final = 200

EXAMPLES = """\
examples:
  otel-flywheel outbox status                      # depth, dead writes and why, oldest first
  otel-flywheel outbox status --json               # the same for scripts
  otel-flywheel outbox retry --all                 # requeue every dead write (after a fix)
  otel-flywheel outbox retry 'example:support%2Fgolden:9f2c...'
  otel-flywheel outbox drop --all                  # forget every dead write for good

The outbox is <FLYWHEEL_STATE_DIR>/outbox.sqlite (default .flywheel/), or --outbox. It is safe to
run next to a running server: the outbox is shared through SQLite, and a requeued write is
delivered by the server's worker. Only dead writes are retried or dropped: pending ones are on
their way.

exit codes: status: 0 nothing dead, 1 some writes are dead; retry/drop: 0 done, 1 some keys were
not dead writes; 2 no outbox there, or bad options.
"""


def add_outbox_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "outbox",
        help="show what waits in the outbox; retry or drop dead writes",
        description=(
            "Show the outbox's pending and dead writes (with the reason each dead write gave up), "
            "requeue dead writes once their cause is fixed, or drop them."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="depth, age, dead writes and why")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument(
        "--limit", type=int, default=20, help="dead writes to list (default 20; 0: none)"
    )
    status.set_defaults(handler=run_status)
    for name, what in (
        ("retry", "requeue dead writes, due now (once their cause is fixed)"),
        ("drop", "delete dead writes for good"),
    ):
        action = actions.add_parser(name, help=what)
        action.add_argument("keys", nargs="*", metavar="KEY", help="keys of dead writes")
        action.add_argument("--all", action="store_true", help="every dead write")
        action.set_defaults(handler=run_retry if name == "retry" else run_drop)
    for sub in actions.choices.values():
        sub.add_argument(
            "--outbox", type=Path, help="the outbox file (default <state dir>/outbox.sqlite)"
        )


def run_status(args: argparse.Namespace) -> int:
    outbox = _open(args)
    if outbox is None:
        return 2
    with outbox:
        stats = outbox.stats()
        dead = outbox.list_entries(state="dead", limit=max(args.limit, 0)) if args.limit else []
    if args.json:
        print(
            json.dumps(
                {
                    "outbox": str(outbox.path),
                    "pending": stats.depth,
                    "retrying": stats.retrying,
                    "dead": stats.dead,
                    "done_kept": stats.done_kept,
                    "done_total": stats.done_total,
                    "oldest_pending_age_seconds": round(stats.oldest_pending_age_seconds, 3),
                    "dead_writes": [_entry_record(entry) for entry in dead],
                }
            )
        )
        return 1 if stats.dead else 0
    print(f"outbox {outbox.path}")
    print(
        f"  pending    {stats.depth} ({stats.retrying} failed at least once; oldest "
        f"{stats.oldest_pending_age_seconds:.0f} s)"
    )
    print(f"  dead       {stats.dead}")
    print(f"  delivered  {stats.done_total} ({stats.done_kept} kept to dedupe repeats)")
    if dead:
        print(f"dead writes, oldest first ({len(dead)} of {stats.dead}):")
        for entry in dead:
            print(f"  {entry.key}")
            print(f"    {entry.attempts} attempts; {_short(entry.last_error or 'no reason kept')}")
    if stats.dead:
        print(
            "requeue them once the cause is fixed: otel-flywheel outbox retry --all; "
            "or drop them: otel-flywheel outbox drop --all"
        )
    return 1 if stats.dead else 0


def run_retry(args: argparse.Namespace) -> int:
    return _act(args, "requeued", lambda outbox, keys: outbox.requeue_dead(keys))


def run_drop(args: argparse.Namespace) -> int:
    return _act(args, "dropped", lambda outbox, keys: outbox.drop_dead(keys))


def _act(args: argparse.Namespace, done: str, action: Any) -> int:
    if args.all == bool(args.keys):
        print(f"{_PREFIX}: give the keys of dead writes, or --all (not both)", file=sys.stderr)
        return 2
    outbox = _open(args)
    if outbox is None:
        return 2
    keys: list[str] | None = None if args.all else list(dict.fromkeys(args.keys))
    with outbox:
        count = int(action(outbox, keys))
    print(f"{done} {count} dead writes in {outbox.path}")
    if keys is not None and count < len(keys):
        print(
            f"{_PREFIX}: {len(keys) - count} of the keys given are not dead writes there (see "
            "`otel-flywheel outbox status`)",
            file=sys.stderr,
        )
        return 1
    return 0


def _open(args: argparse.Namespace) -> Outbox | None:
    path: Path = args.outbox if args.outbox is not None else default_outbox_path()
    if not path.is_file():
        # Never create an empty outbox just to look at it.
        print(
            f"{_PREFIX}: no outbox at {path}; pass --outbox, or set FLYWHEEL_STATE_DIR to the "
            "server's state directory",
            file=sys.stderr,
        )
        return None
    try:
        return Outbox(path)
    except ConfigError as error:
        print(f"{_PREFIX}: {error}", file=sys.stderr)
        return None


def _entry_record(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "kind": entry.write.to_dict()["type"],
        "attempts": entry.attempts,
        "failures": entry.failures,
        "last_error": entry.last_error,
        "last_attempt_at": entry.last_attempt_at,
    }


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."
