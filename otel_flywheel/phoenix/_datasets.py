"""Datasets read from Phoenix: a version's examples, the names Phoenix knows, an example count.

Writing examples is the sink's job (``PhoenixSink``: appends with stable ids, never
``create_dataset``, which replaces an existing dataset's contents).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from otel_flywheel.datasets import LoadedDataset, example_from_phoenix
from otel_flywheel.phoenix._connection import (
    REQUEST_TIMEOUT_SECONDS,
    DatasetNotFoundError,
    PhoenixAccessError,
)

if TYPE_CHECKING:
    from phoenix.client import Client

__all__ = ["dataset_names", "example_count", "load_dataset"]


def load_dataset(client: Client, name: str, *, version_id: str | None = None) -> LoadedDataset:
    """The examples of dataset ``name`` (a name or id) at ``version_id`` (default: the latest).

    Raises `DatasetNotFoundError` (naming the known datasets) when there is no such dataset, and
    `PhoenixAccessError` when it has no such version.
    """
    try:
        dataset = client.datasets.get_dataset(
            dataset=name, version_id=version_id, timeout=int(REQUEST_TIMEOUT_SECONDS)
        )
    except (ValueError, httpx.HTTPStatusError) as exc:
        # phoenix-client raises ValueError("Dataset not found: ...") for an unknown name.
        if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code not in (404, 422):
            raise
        known = dataset_names(client)
        if version_id is not None and name in known:
            raise PhoenixAccessError(
                f"dataset {name!r} has no version {version_id!r}. Fix: pick one of its versions in "
                "the Phoenix UI, or leave the version out for the latest"
            ) from None
        raise DatasetNotFoundError(name, known) from None
    examples = []
    node_ids = {}
    for raw in dataset.examples:
        example = example_from_phoenix(raw, dataset=dataset.name, version_id=dataset.version_id)
        examples.append(example)
        node_ids[example.example_id] = str(raw.get("node_id") or raw["id"])
    return LoadedDataset(
        name=dataset.name,
        examples=examples,
        dataset_id=dataset.id,
        version_id=dataset.version_id,
        node_ids=node_ids,
    )


def dataset_names(client: Client) -> list[str]:
    """The names of every dataset Phoenix holds, sorted."""
    return sorted(d["name"] for d in client.datasets.list(timeout=int(REQUEST_TIMEOUT_SECONDS)))


def example_count(client: Client, name: str) -> int | None:
    """How many examples the latest version of ``name`` holds; ``None`` when it does not exist."""
    try:
        return len(
            client.datasets.get_dataset(dataset=name, timeout=int(REQUEST_TIMEOUT_SECONDS)).examples
        )
    except ValueError:  # phoenix-client: "Dataset not found: <name>"
        return None
