"""The outbox's records: a stored write (``OutboxEntry``), its summary (``OutboxStats``), and how
a row becomes an entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from otel_flywheel.sinks import Write, write_from_dict

__all__ = ["EntryState", "OutboxEntry", "OutboxStats", "entry_from_row", "key_and_seq"]

EntryState = Literal["pending", "done", "dead"]


@dataclass(frozen=True, kw_only=True)
class OutboxEntry:
    """One write in the outbox, as ``due`` / ``get`` read it. Times are ``clock`` seconds."""

    key: str
    write: Write
    seq: int
    state: EntryState
    attempts: int
    created_at: float
    queued_at: float  # when its current content was put
    next_attempt_at: float
    last_attempt_at: float | None
    last_error: str | None
    leased_until: float | None = None  # claimed by a worker until then
    failures: int = 0  # attempts of this content that failed non-transiently (see mark_failed)


@dataclass(frozen=True, kw_only=True)
class OutboxStats:
    """How the outbox is doing. ``depth`` counts pending writes, ``retrying`` those of them that
    failed at least once; ``oldest_pending_age_seconds`` is 0.0 when nothing is pending."""

    depth: int
    retrying: int
    dead: int
    done_kept: int
    done_total: int
    oldest_pending_age_seconds: float


def key_and_seq(item: OutboxEntry | str) -> tuple[str, int | None]:
    if isinstance(item, OutboxEntry):
        return item.key, item.seq
    return item, None


def entry_from_row(row: tuple[Any, ...]) -> OutboxEntry:
    (
        key,
        seq,
        payload,
        state,
        attempts,
        created,
        queued,
        next_at,
        last_at,
        last_error,
        lease,
        failures,
    ) = row
    try:
        write = write_from_dict(json.loads(payload))
    except Exception as error:  # JSON or validation: either way the row cannot be delivered
        raise ValueError(f"{type(error).__name__}: {error}") from error
    return OutboxEntry(
        key=key,
        write=write,
        seq=seq,
        state=state,
        attempts=attempts,
        created_at=created,
        queued_at=queued,
        next_attempt_at=next_at,
        last_attempt_at=last_at,
        last_error=last_error,
        leased_until=lease,
        failures=failures,
    )
