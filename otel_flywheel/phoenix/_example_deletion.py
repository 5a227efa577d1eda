"""Deleting named examples from one Phoenix dataset: GraphQL ``deleteDatasetExamples``.

Phoenix 20.26's REST API has no route that deletes dataset examples (``POST /v1/datasets/upload``
with ``action=update`` deletes what an upload leaves out, but it needs the whole dataset re-sent,
racing with the outbox's appends). The GraphQL mutation, which the Phoenix UI uses, deletes exactly
the examples named (their node ids), scoped to one dataset, as a new dataset version. It refuses
the whole call when one of them was deleted before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import httpx

__all__ = ["ExampleDeletionRefused", "delete_examples"]

_DELETE_MUTATION: Final = (
    "mutation($input: DeleteDatasetExamplesInput!) "
    "{ deleteDatasetExamples(input: $input) { dataset { id } } }"
)


class ExampleDeletionRefused(Exception):
    """Phoenix answered the deletion with GraphQL errors; ``messages`` says what they were."""

    def __init__(self, messages: str) -> None:
        super().__init__(messages)
        self.messages = messages


def delete_examples(
    http: httpx.Client,
    dataset_id: str,
    node_ids: Sequence[str],
    *,
    description: str,
    timeout: httpx.Timeout | float,
) -> None:
    """Delete the examples (node ids) from the dataset as one version, described so in its
    history. Raises ``httpx.HTTPError`` for the request, `ExampleDeletionRefused` for Phoenix's
    refusal, ``ValueError`` for an answer that is not GraphQL's JSON."""
    response = http.post(
        "graphql",
        json={
            "query": _DELETE_MUTATION,
            "variables": {
                "input": {
                    "exampleIds": list(node_ids),
                    "datasetId": dataset_id,  # refuses ids of another dataset
                    "datasetVersionDescription": description,
                }
            },
        },
        timeout=timeout,
    )
    response.raise_for_status()
    body: Any = response.json()
    if not isinstance(body, dict):
        raise ValueError("Phoenix's GraphQL answer is not a JSON object")
    if body.get("errors"):
        raise ExampleDeletionRefused("; ".join(str(e.get("message")) for e in body["errors"]))
