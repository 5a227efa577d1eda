"""Erasure and retention over the flywheel's stores.

`purge_user` removes everything keyed by a user's pseudonymized id: the outbox first (so no
pending write puts an example back), then the routing store (traces, feedback waiting for them,
routing records), then the user's examples in Phoenix datasets and their traces in Phoenix
projects, each searched for again to verify.
`apply_retention` drops what is older than a cutoff from the local stores: traces and waiting
feedback in the routing store, delivered writes in the outbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from otel_flywheel.phoenix import (
    DatasetPurge,
    ProjectPurge,
    delete_user_examples,
    delete_user_traces,
)
from otel_flywheel.routing import PurgeCounts

if TYPE_CHECKING:
    from otel_flywheel.outbox import Outbox
    from otel_flywheel.phoenix import PhoenixClient
    from otel_flywheel.routing import RoutingStore

__all__ = ["PurgeReport", "RetentionReport", "apply_retention", "purge_user"]

_DEAD_PAGE = 1000


@dataclass(frozen=True, kw_only=True)
class PurgeReport:
    """What a purge removed. ``None`` for a store it was not given."""

    user_ids: tuple[str, ...]
    routing: PurgeCounts | None = None
    outbox_writes: int | None = None
    phoenix: tuple[DatasetPurge, ...] | None = None
    phoenix_traces: tuple[ProjectPurge, ...] | None = None
    dry_run: bool = False

    @property
    def phoenix_examples(self) -> int:
        return sum(p.removed for p in self.phoenix or ())

    def lines(self) -> list[str]:
        """What was removed, one line per store and dataset (ids, never content)."""
        verb = "would remove" if self.dry_run else "removed"
        lines = []
        if self.outbox_writes is not None:
            lines.append(f"outbox: {verb} {self.outbox_writes} writes")
        if self.routing is not None:
            lines.append(
                f"routing store: {verb} {self.routing.traces} traces, "
                f"{self.routing.feedback} pending feedback, {self.routing.routed} routing records"
            )
        if self.phoenix is not None:
            if not self.phoenix:
                lines.append("Phoenix datasets: no examples of this user")
            for purge in self.phoenix:
                state = (
                    f"verified gone from version {purge.version_id}"
                    if purge.verified
                    else "not deleted"
                )
                lines.append(
                    f"Phoenix dataset {purge.dataset!r}: {verb} {purge.removed} examples ({state}); "
                    f"{purge.earlier_versions} earlier versions still hold them"
                )
        if self.phoenix_traces is not None:
            if not self.phoenix_traces:
                lines.append("Phoenix projects: no traces of this user")
            for project in self.phoenix_traces:
                state = "verified gone" if project.verified else "not deleted"
                lines.append(
                    f"Phoenix project {project.project!r}: {verb} {len(project.trace_ids)} "
                    f"traces ({state})"
                )
        return lines


@dataclass(frozen=True, kw_only=True)
class RetentionReport:
    """What retention removed, and the dead outbox writes past the cutoff it kept (never
    delivered to Phoenix: requeue or purge them by user)."""

    older_than_seconds: float
    routing: PurgeCounts | None = None
    outbox_done: int | None = None
    outbox_dead_kept: int | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = []
        if self.routing is not None:
            lines.append(
                f"routing store: removed {self.routing.traces} traces and "
                f"{self.routing.feedback} pending feedback older than the cutoff"
            )
        if self.outbox_done is not None:
            lines.append(f"outbox: removed {self.outbox_done} delivered writes")
        if self.outbox_dead_kept:
            lines.append(
                f"outbox: kept {self.outbox_dead_kept} dead writes older than the cutoff (never "
                "delivered; requeue them or purge their users)"
            )
        return lines + self.notes


def purge_user(
    user_ids: Sequence[str],
    *,
    store: RoutingStore | None = None,
    outbox: Outbox | None = None,
    client: PhoenixClient | None = None,
    datasets: Sequence[str] | None = None,
    traces: bool = True,
    projects: Sequence[str] | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PurgeReport:
    """Remove the data of the user known by any of ``user_ids`` (pseudonyms, see
    `pseudonymize_user`) from the stores given; ``datasets`` limits the Phoenix datasets searched
    (default: all). With ``traces``, their traces are deleted from the Phoenix ``projects``
    (default: all) too: spans, and the annotations on them. ``dry_run`` counts the Phoenix examples without deleting, and leaves the
    local stores alone (reported as ``None``).
    """
    ids = tuple(dict.fromkeys(user_ids))
    if not ids:
        raise ValueError("no user id to purge")
    outbox_writes: int | None = None
    routing: PurgeCounts | None = None
    if not dry_run:
        if outbox is not None:
            outbox_writes = sum(outbox.purge_user(user_id) for user_id in ids)
        if store is not None:
            routing = _sum_counts(store.purge_user(user_id) for user_id in ids)
    phoenix = phoenix_traces = None
    if client is not None:
        # Examples first: they link to the spans about to go.
        phoenix = tuple(
            delete_user_examples(
                client, set(ids), datasets=datasets, dry_run=dry_run, progress=progress
            )
        )
        if traces:
            phoenix_traces = tuple(
                delete_user_traces(
                    client, set(ids), projects=projects, dry_run=dry_run, progress=progress
                )
            )
    return PurgeReport(
        user_ids=ids,
        routing=routing,
        outbox_writes=outbox_writes,
        phoenix=phoenix,
        phoenix_traces=phoenix_traces,
        dry_run=dry_run,
    )


def apply_retention(
    older_than_seconds: float,
    *,
    store: RoutingStore | None = None,
    outbox_path: str | Path | None = None,
    clock: Callable[[], float] = time.time,
) -> RetentionReport:
    """Drop local data older than ``older_than_seconds``: the routing store's traces and waiting
    feedback (its routing records stay: ids and categories that keep dedupe working) and the
    outbox's delivered writes."""
    if not older_than_seconds > 0:
        raise ValueError(f"older_than_seconds must be > 0, got {older_than_seconds!r}")
    routing = store.purge_older_than(older_than_seconds) if store is not None else None
    done = dead_kept = None
    if outbox_path is not None and Path(outbox_path).is_file():
        from otel_flywheel.outbox import Outbox

        # The outbox prunes delivered writes past its retention: opened with this one.
        with Outbox(outbox_path, done_retention_seconds=older_than_seconds, clock=clock) as outbox:
            done = outbox.prune_done()
            cutoff = clock() - older_than_seconds
            dead = outbox.list_entries(state="dead", limit=_DEAD_PAGE)
            dead_kept = sum(1 for entry in dead if entry.created_at < cutoff)
    return RetentionReport(
        older_than_seconds=older_than_seconds,
        routing=routing,
        outbox_done=done,
        outbox_dead_kept=dead_kept,
    )


def _sum_counts(counts: Iterable[PurgeCounts]) -> PurgeCounts:
    traces = feedback = routed = 0
    for item in counts:
        traces += item.traces
        feedback += item.feedback
        routed += item.routed
    return PurgeCounts(traces=traces, feedback=feedback, routed=routed)
