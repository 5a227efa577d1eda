"""What a run left in Phoenix, read back over its REST API: spans, annotations, datasets.

The demo prints these numbers rather than its own intentions, so what a user reads is what Phoenix
holds. Only the named traces are counted: against a Phoenix that already holds earlier runs, the
span and annotation counts are this run's; dataset counts are whole datasets, which a rerun patches
rather than grows (examples have stable ids).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from otel_flywheel.phoenix._annotations import trace_annotations
from otel_flywheel.phoenix._connection import http_of, new_client
from otel_flywheel.phoenix._datasets import example_count
from otel_flywheel.phoenix._traces import wait_for_spans

__all__ = ["PhoenixContents", "read_contents"]

# Trace ids go into query strings: a few dozen at a time keeps URLs short.
_IDS_PER_REQUEST: Final = 50


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


def read_contents(
    phoenix_url: str,
    *,
    project: str,
    trace_steps: Mapping[str, int],
    datasets: Sequence[str],
    api_key: str | None = None,
    timeout_seconds: float = 60.0,
) -> PhoenixContents:
    """Wait until Phoenix holds every span of the traces ``trace_steps`` names (trace id -> its
    span count), then count them and their annotations, and the examples of ``datasets``.

    Raises ``TimeoutError`` when the spans do not all become queryable in time.
    """
    client = new_client(phoenix_url, api_key=api_key)
    trace_ids = list(trace_steps)
    spans: list[Any] = []
    span_names: Counter[str] = Counter()
    trace_names: Counter[str] = Counter()
    with http_of(client):
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
            span_names.update(
                annotation["name"]
                for annotation in client.spans.get_span_annotations(
                    spans=found, project_identifier=project
                )
            )
            trace_names.update(
                annotation["name"]
                for annotation in trace_annotations(client, project=project, trace_ids=chunk)
            )
        counts = {name: example_count(client, name) for name in datasets}
    return PhoenixContents(
        spans=len(spans),
        span_annotations=dict(sorted(span_names.items())),
        trace_annotations=dict(sorted(trace_names.items())),
        datasets=counts,
    )
