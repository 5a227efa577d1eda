"""Deleting a user's examples and traces from Phoenix, and checking that they are gone.

Examples are deleted by GraphQL (see ``_example_deletion``): we read the latest version, delete
the user's examples (``metadata.user_id``, which routing sets on every example), and read the
dataset back to verify.

Traces: every trace with a span whose ``user.id`` is the user's pseudonym (capture puts it on the
spans of their runs) is deleted with ``DELETE /v1/traces/{trace_id}``, spans and annotations
included, then searched for again.

What Phoenix keeps: earlier dataset versions stay readable by version id and still hold the deleted
examples. The report counts those versions; erasing them means deleting the dataset
(``DELETE /v1/datasets/{id}``), which also deletes its experiments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from otel_flywheel import semconv as sc
from otel_flywheel.phoenix._connection import REQUEST_TIMEOUT_SECONDS, PhoenixAccessError, http_of
from otel_flywheel.phoenix._datasets import dataset_names
from otel_flywheel.phoenix._example_deletion import ExampleDeletionRefused, delete_examples

if TYPE_CHECKING:
    from phoenix.client import Client

__all__ = [
    "DatasetPurge",
    "PhoenixPurgeError",
    "ProjectPurge",
    "delete_user_examples",
    "delete_user_traces",
]

logger = logging.getLogger(__name__)

_TIMEOUT: Final = int(REQUEST_TIMEOUT_SECONDS)
_EXAMPLES_PER_MUTATION: Final = 500
_MAX_SPANS: Final = 100_000
USER_ID: Final = sc.SpanAttributes.USER_ID


class PhoenixPurgeError(PhoenixAccessError):
    """Phoenix refused to delete examples, or they were still there when read back."""


@dataclass(frozen=True, kw_only=True)
class DatasetPurge:
    """A user's examples deleted from one dataset. ``verified``: read back and absent from the
    latest version. ``earlier_versions``: versions that still hold them (Phoenix keeps history)."""

    dataset: str
    dataset_id: str
    removed: int
    example_ids: tuple[str, ...]
    version_id: str | None
    verified: bool
    earlier_versions: int


def delete_user_examples(
    client: Client,
    user_ids: Collection[str],
    *,
    datasets: Sequence[str] | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[DatasetPurge]:
    """Delete the examples whose ``metadata.user_id`` is one of ``user_ids`` from ``datasets``
    (default: every dataset in Phoenix); one `DatasetPurge` per dataset that held any.

    ``dry_run`` finds them without deleting (``verified`` false, ``version_id`` None). Raises
    `PhoenixPurgeError` when a deletion is refused or does not hold on read-back.
    """
    say = progress or (lambda message: None)
    names = list(datasets) if datasets is not None else dataset_names(client)
    say(f"looking for the user's examples in {len(names)} datasets")
    results: list[DatasetPurge] = []
    for name in names:
        dataset = client.datasets.get_dataset(dataset=name, timeout=_TIMEOUT)
        victims = [e for e in dataset.examples if _user_of(e) in user_ids]
        if not victims:
            continue
        versions_before = len(client.datasets.get_dataset_versions(dataset=name, timeout=_TIMEOUT))
        ids = tuple(str(e["id"]) for e in victims)
        if dry_run:
            results.append(
                DatasetPurge(
                    dataset=name,
                    dataset_id=dataset.id,
                    removed=len(victims),
                    example_ids=ids,
                    version_id=None,
                    verified=False,
                    earlier_versions=versions_before,
                )
            )
            continue
        node_ids = [str(e["node_id"]) for e in victims]
        for start in range(0, len(node_ids), _EXAMPLES_PER_MUTATION):
            _delete(client, dataset.id, node_ids[start : start + _EXAMPLES_PER_MUTATION])
        after = client.datasets.get_dataset(dataset=name, timeout=_TIMEOUT)
        left = [e for e in after.examples if str(e["node_id"]) in set(node_ids)]
        if left:
            raise PhoenixPurgeError(
                f"dataset {name!r} still holds {len(left)} of the user's examples after deleting "
                "them; run the purge again, and stop writers to it (otel-flywheel serve, agents) "
                "if they keep coming back"
            )
        say(f"{name}: deleted {len(victims)} examples (new version {after.version_id})")
        results.append(
            DatasetPurge(
                dataset=name,
                dataset_id=dataset.id,
                removed=len(victims),
                example_ids=ids,
                version_id=after.version_id,
                verified=True,
                earlier_versions=versions_before,
            )
        )
    return results


@dataclass(frozen=True, kw_only=True)
class ProjectPurge:
    """A user's traces deleted from one Phoenix project (all their spans, annotations on them)."""

    project: str
    trace_ids: tuple[str, ...]
    verified: bool


def delete_user_traces(
    client: Client,
    user_ids: Collection[str],
    *,
    projects: Sequence[str] | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[ProjectPurge]:
    """Delete the traces with a span whose ``user.id`` is one of ``user_ids`` from ``projects``
    (default: every project); one `ProjectPurge` per project that held any.

    Capture sets ``user.id`` (pseudonymized) on the spans of a user's run, so this finds every
    trace of theirs that Phoenix holds, routed to a dataset or not. Raises `PhoenixPurgeError`
    when spans of those traces are still there afterwards.
    """

    say = progress or (lambda message: None)
    names = (
        list(projects)
        if projects is not None
        else sorted(p["name"] for p in client.projects.list())
    )
    http = http_of(client)  # the REST route has no phoenix-client method
    results: list[ProjectPurge] = []
    for project in names:
        trace_ids = _user_trace_ids(client, project, user_ids)
        if not trace_ids:
            continue
        if not dry_run:
            for trace_id in trace_ids:
                response = http.delete(f"v1/traces/{trace_id}", timeout=_TIMEOUT)
                if response.status_code != 404:  # 404: deleted meanwhile
                    response.raise_for_status()
            left = _user_trace_ids(client, project, user_ids)
            if left:
                raise PhoenixPurgeError(
                    f"project {project!r} still holds {len(left)} of the user's traces after "
                    "deleting them; run the purge again (their agent may still be running)"
                )
            say(f"{project}: deleted {len(trace_ids)} traces")
        results.append(
            ProjectPurge(project=project, trace_ids=tuple(sorted(trace_ids)), verified=not dry_run)
        )
    return results


def _user_trace_ids(client: Client, project: str, user_ids: Collection[str]) -> set[str]:
    found: set[str] = set()
    for user_id in user_ids:
        spans = client.spans.get_spans(
            project_identifier=project,
            attributes={USER_ID: user_id},
            limit=_MAX_SPANS,
            timeout=_TIMEOUT,
        )
        found.update(span["context"]["trace_id"] for span in spans)
    return found


def _delete(client: Client, dataset_id: str, node_ids: list[str]) -> None:
    try:
        delete_examples(
            http_of(client),  # phoenix-client has no public GraphQL call
            dataset_id,
            node_ids,
            description="otel-flywheel purge: a user's data erased",
            timeout=_TIMEOUT,
        )
    except ExampleDeletionRefused as refused:
        raise PhoenixPurgeError(
            f"Phoenix refused to delete {len(node_ids)} examples of dataset {dataset_id}: "
            f"{refused.messages}. Another purge may have deleted some of them: run the purge again"
        ) from None


def _user_of(example: Any) -> str | None:
    metadata = example.get("metadata") or {}
    value = metadata.get("user_id") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) else None
