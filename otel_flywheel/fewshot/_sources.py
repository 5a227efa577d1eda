"""Where a few-shot library's examples come from: Phoenix datasets, or an ``export evals`` file.

A source's ``load()`` returns dataset examples with their source traces (``None`` where a trace is
not found), read afresh each time; the library turns them into few-shot examples (`_build`). Each
runs on the library's background thread, never on the agent's.

Source traces come from the local routing store first (``<state dir>/routing.sqlite``: the
redacted trace exactly as the pipeline judged it), then, for Phoenix sources, from Phoenix (redacted
as capture would): the loader exports use (``otel_flywheel.export.TraceLookup``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    from otel_flywheel.datasets import DatasetExample
    from otel_flywheel.model import AgentTrace

__all__ = ["ExamplesFileSource", "FewShotSource", "LoadedExample", "with_traces"]

LoadedExample: TypeAlias = "tuple[DatasetExample, AgentTrace | None]"


@runtime_checkable
class FewShotSource(Protocol):
    """Examples to choose from, read afresh at every refresh."""

    @property
    def description(self) -> str:
        """What the source is, for logs and `FewShotLibrary.stats` (no secrets)."""
        ...

    def load(self) -> list[LoadedExample]:
        """The examples and their source traces; raises when the source cannot be read (the
        library keeps what it has and tries again later)."""
        ...


class ExamplesFileSource:
    """An examples file ``otel-flywheel export evals`` wrote (JSON lines or Parquet), with source
    traces from the local routing store (``routing_store``, default the state directory's)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        routing_store: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.routing_store = Path(routing_store) if routing_store is not None else None

    @property
    def description(self) -> str:
        return str(self.path)

    def load(self) -> list[LoadedExample]:
        from otel_flywheel.datasets import read_examples

        return with_traces(read_examples(self.path), routing_store=self.routing_store)


def with_traces(
    examples: Sequence[DatasetExample],
    *,
    routing_store: Path | None = None,
    client: object | None = None,
) -> list[LoadedExample]:
    """``examples`` each with its source trace: the local routing store, then (with a Phoenix
    ``client``) Phoenix; ``None`` where neither has it."""
    from otel_flywheel.export import TraceLookup
    from otel_flywheel.routing import RoutingStore

    store = RoutingStore.existing(routing_store)
    try:
        lookup = TraceLookup(store=store, client=client)  # type: ignore[arg-type]
        found = lookup.fetch(examples)
    finally:
        if store is not None:
            store.close()
    loaded: list[LoadedExample] = []
    for example in examples:
        trace_id = example.metadata.get("source_trace_id")
        hit = found.get(trace_id) if isinstance(trace_id, str) else None
        loaded.append((example, hit[0] if hit is not None else None))
    return loaded
