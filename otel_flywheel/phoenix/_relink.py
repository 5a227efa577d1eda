"""Moving a dataset example to another source span, which Phoenix cannot do in place.

Phoenix links an example to its span when the example is created, and never again: an append
with the id of an existing example patches its input, output and metadata and keeps the old link,
and no route changes it. Routing moves an example to another trace when a person's feedback on a
later asking of the same question outranks an inferred failure (``ExampleWrite.relink``); left to
a patch, Phoenix would open the first trace's span beside the second trace's content.

So a relinked example is replaced: a new example, linked to the new span, under a Phoenix id that
names the span (``<example id>-<span id>``), then the old one removed. Our own id stays in
``metadata.example_id``, which readers key by. Both steps are safe to repeat: the new example is
created before the old one goes, and each attempt plans from what the dataset holds now, so a
crash between the steps leaves two examples that the next attempt of the write (which the outbox
keeps until both steps are done) brings down to one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from otel_flywheel.sinks import ExampleWrite

__all__ = ["DatasetExamples", "Relink", "current_examples", "plan_relinks"]


@dataclass(frozen=True, slots=True)
class Relink:
    """Where one relinked write goes: the Phoenix example id to upload it under, and the
    examples (Phoenix node ids) it replaces, to be removed once it is uploaded."""

    phoenix_id: str
    replaced: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class DatasetExamples:
    """A dataset's id and its current examples, as ``GET /v1/datasets/{id}/examples`` lists them."""

    dataset_id: str
    examples: Sequence[Mapping[str, Any]]


def plan_relinks(
    examples: Sequence[Mapping[str, Any]], writes: Iterable[tuple[ExampleWrite, str]]
) -> dict[str, Relink]:
    """Per write key, where each ``(write, span id to link)`` goes, given the dataset's current
    ``examples``. An example already linked to the span is patched; with none, a new one is
    created (under the plain example id while nothing holds it) and every other example of the
    same example id is replaced."""
    plans: dict[str, Relink] = {}
    for write, span_id in writes:
        held = [e for e in examples if _example_id_of(e) == write.example_id]
        linked = next((e for e in held if _span_of(e) == span_id), None)
        if linked is not None:
            phoenix_id = str(linked["id"])
        elif held:
            phoenix_id = f"{write.example_id}-{span_id}"
        else:
            phoenix_id = write.example_id
        replaced = tuple(str(e["node_id"]) for e in held if str(e["id"]) != phoenix_id)
        plans[write.key] = Relink(phoenix_id, replaced)
    return plans


def current_examples(
    http: httpx.Client, dataset: str, *, timeout: httpx.Timeout
) -> DatasetExamples | None:
    """The dataset's current examples; ``None`` when Phoenix has no dataset of that name yet.

    Raises ``httpx.TransportError`` (unreachable) or ``httpx.HTTPStatusError`` (any other
    refusal); a body that is not Phoenix's JSON raises ``ValueError``."""
    # A routed dataset's name holds "/", so it goes by id, found by name.
    response = http.get("v1/datasets", params={"name": dataset}, timeout=timeout)
    response.raise_for_status()
    found = [d for d in _data(response) if isinstance(d, Mapping) and d.get("name") == dataset]
    if not found:
        return None
    dataset_id = str(found[0]["id"])
    response = http.get(f"v1/datasets/{quote(dataset_id, safe='')}/examples", timeout=timeout)
    response.raise_for_status()
    body = _data(response)
    if not isinstance(body, Mapping) or not isinstance(body.get("examples"), list):
        raise ValueError("Phoenix's example list has no 'examples'")
    return DatasetExamples(dataset_id, body["examples"])


def _data(response: httpx.Response) -> Any:
    body = response.json()
    if not isinstance(body, Mapping) or "data" not in body:
        raise ValueError("Phoenix's answer has no 'data'")
    return body["data"]


def _example_id_of(example: Mapping[str, Any]) -> str | None:
    metadata = example.get("metadata")
    ours = metadata.get("example_id") if isinstance(metadata, Mapping) else None
    return str(ours) if ours is not None else str(example.get("id"))


def _span_of(example: Mapping[str, Any]) -> str | None:
    source = example.get("source")
    span_id = source.get("span_id") if isinstance(source, Mapping) else None
    return str(span_id) if span_id is not None else None
