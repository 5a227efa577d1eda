"""Golden datasets in Phoenix as a few-shot source: the few-shot library's one door to Phoenix.

Each load reads the latest version of every named dataset through the Phoenix adapter
(``otel_flywheel.phoenix.load_dataset``) and their source traces (local routing store first, then
Phoenix), with OTel instrumentation suppressed so that the library's own HTTP calls are never
traced into the agent's project. A dataset that does not exist yet (no thumbs up so far) loads as
empty; Phoenix being unreachable raises, and the library keeps its last examples.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from otel_flywheel._worker import suppressed_instrumentation
from otel_flywheel.fewshot._sources import LoadedExample, with_traces
from otel_flywheel.phoenix import DatasetNotFoundError, load_dataset, phoenix_client

__all__ = ["PhoenixDatasetsSource"]


class PhoenixDatasetsSource:
    """The examples of Phoenix datasets ``datasets`` (latest versions), with their traces.

    ``phoenix_url``: Phoenix's base URL, else what ``phoenix.client`` reads from the environment
    (``PHOENIX_COLLECTOR_ENDPOINT``, ...); ``PHOENIX_API_KEY`` and ``PHOENIX_CLIENT_HEADERS`` are
    sent as ``phoenix.client`` sends them.
    """

    def __init__(
        self,
        datasets: Sequence[str],
        *,
        phoenix_url: str | None = None,
        routing_store: str | os.PathLike[str] | None = None,
    ) -> None:
        if isinstance(datasets, str):
            datasets = [datasets]
        if not datasets:
            raise ValueError("name at least one Phoenix dataset, e.g. 'support-agent/golden'")
        self.datasets = tuple(datasets)
        self.phoenix_url = phoenix_url.rstrip("/") if phoenix_url else None
        self.routing_store = Path(routing_store) if routing_store is not None else None

    @property
    def description(self) -> str:
        where = self.phoenix_url or "Phoenix"
        return f"{', '.join(self.datasets)} in {where}"

    def load(self) -> list[LoadedExample]:
        # Our own HTTP calls must never be traced into the agent's project.
        with suppressed_instrumentation(), phoenix_client(self.phoenix_url) as (client, _):
            examples = []
            for name in self.datasets:
                try:
                    examples += load_dataset(client, name).examples
                except DatasetNotFoundError:
                    continue  # not created yet: nothing routed to it so far
            return with_traces(examples, routing_store=self.routing_store, client=client)
