"""What the demo left in Phoenix, read back over its REST API: spans, annotations, datasets.

The demo prints these numbers rather than its own intentions, so what a user reads is what Phoenix
holds. Only the demo's own traces are counted: against a Phoenix that already holds earlier runs
(``--phoenix-url``), the span and annotation counts are this run's; dataset counts are whole
datasets, which a rerun patches rather than grows (examples have stable ids).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from otel_flywheel.analysis import span_url, trace_url

__all__ = ["PhoenixContents", "read_phoenix", "span_url", "trace_url"]

_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
_IDS_PER_REQUEST = 50


@dataclass(frozen=True, kw_only=True)
class PhoenixContents:
    """Counts read back from Phoenix. ``datasets`` maps a dataset name to its example count, or to
    ``None`` when the dataset does not exist (nothing was routed to it)."""

    spans: int
    span_annotations: Mapping[str, int]
    trace_annotations: Mapping[str, int]
    datasets: Mapping[str, int | None]

    @property
    def annotations(self) -> int:
        return sum(self.span_annotations.values()) + sum(self.trace_annotations.values())


def read_phoenix(
    phoenix_url: str,
    *,
    project: str,
    trace_steps: Mapping[str, int],
    datasets: Sequence[str],
    api_key: str | None = None,
    timeout_seconds: float = 60.0,
) -> PhoenixContents:
    """Wait until Phoenix holds every span of the traces ``trace_steps`` names (trace id -> its
    span count), then count them and their annotations.

    Raises ``TimeoutError`` when the spans do not all become queryable in time.
    """
    from phoenix.client import Client

    from otel_flywheel.testing.phoenix import wait_for_spans

    headers = {"authorization": f"Bearer {api_key}"} if api_key else None
    trace_ids = list(trace_steps)
    spans: list[Any] = []
    span_annotations: Counter[str] = Counter()
    trace_annotations: Counter[str] = Counter()
    with httpx.Client(base_url=phoenix_url, timeout=_TIMEOUT, headers=headers) as http:
        client = Client(base_url=phoenix_url, http_client=http)
        # Trace ids go into query strings: a few dozen at a time keeps URLs short.
        for start in range(0, len(trace_ids), _IDS_PER_REQUEST):
            chunk = trace_ids[start : start + _IDS_PER_REQUEST]
            count = sum(trace_steps[t] for t in chunk)
            found = wait_for_spans(
                client,
                project=project,
                min_count=count,
                trace_ids=chunk,
                timeout_seconds=timeout_seconds,
                limit=count + 100,
            )
            spans += found
            span_annotations.update(
                annotation["name"]
                for annotation in client.spans.get_span_annotations(
                    spans=found, project_identifier=project
                )
            )
            trace_annotations.update(
                annotation["name"] for annotation in _trace_annotations(http, project, chunk)
            )
        counts = {name: _example_count(client, name) for name in datasets}
    return PhoenixContents(
        spans=len(spans),
        span_annotations=dict(sorted(span_annotations.items())),
        trace_annotations=dict(sorted(trace_annotations.items())),
        datasets=counts,
    )


def _trace_annotations(
    http: httpx.Client, project: str, trace_ids: Sequence[str]
) -> list[dict[str, Any]]:
    # phoenix-client has no getter for trace annotations: the REST route, page by page.
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"trace_ids": list(trace_ids), "limit": 1000}
        if cursor:
            params["cursor"] = cursor
        response = http.get(f"v1/projects/{project}/trace_annotations", params=params)
        response.raise_for_status()
        body = response.json()
        found.extend(body["data"])
        cursor = body.get("next_cursor")
        if not cursor:
            return found


def _example_count(client: Any, dataset: str) -> int | None:
    try:
        return len(client.datasets.get_dataset(dataset=dataset).examples)
    except ValueError:  # phoenix-client: "Dataset not found: <name>"
        return None
