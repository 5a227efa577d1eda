"""Golden datasets in Phoenix as a few-shot source: the few-shot library's one door to Phoenix.

Each load reads the latest version of every named dataset with the loader exports use
(``otel_flywheel.export.load_dataset``) and their source traces (local routing store first, then
Phoenix), with OTel instrumentation suppressed so that the library's own HTTP calls are never
traced into the agent's project. A dataset that does not exist yet (no thumbs up so far) loads as
empty; Phoenix being unreachable raises, and the library keeps its last examples.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

from otel_flywheel.fewshot._sources import LoadedExample, with_traces

__all__ = ["PhoenixDatasetsSource"]

REQUEST_TIMEOUT_SECONDS: Final = 60.0
CONNECT_TIMEOUT_SECONDS: Final = 5.0


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
        import httpx
        from phoenix.client import Client
        from phoenix.client.utils.config import get_base_url, get_env_client_headers

        from otel_flywheel.export import DatasetNotFoundError, load_dataset

        base_url = self.phoenix_url or str(get_base_url()).rstrip("/")
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            with httpx.Client(
                base_url=base_url,
                headers=get_env_client_headers(),
                timeout=httpx.Timeout(REQUEST_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
            ) as http:
                client = Client(http_client=http)
                examples = []
                for name in self.datasets:
                    try:
                        examples += load_dataset(client, name).examples
                    except DatasetNotFoundError:
                        continue  # not created yet: nothing routed to it so far
                return with_traces(examples, routing_store=self.routing_store, client=client)
        finally:
            detach(token)
