"""Dataset examples outside Phoenix: the record replay and export share, as files and from Phoenix.

Routing writes examples into Phoenix datasets (``<project>/golden``, ``/regression``, ``/review``,
``/preference``). Replay reads them back to re-run an agent; ``export evals`` writes them to a file
that ``replay --offline`` reads, so CI can gate without Phoenix. Both go through `DatasetExample`
and the two functions here, so the file format has one definition.

Files are JSON lines or Parquet (by suffix). Parquet has an explicit schema: ids and names as
strings, and ``input``/``output``/``metadata`` as JSON text, since their shape varies by route.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from otel_flywheel.errors import ConfigError

__all__ = [
    "EXAMPLES_SCHEMA",
    "DatasetExample",
    "LoadedDataset",
    "example_from_phoenix",
    "read_examples",
    "write_examples",
]

EXAMPLES_SCHEMA = pa.schema(
    [
        pa.field("example_id", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("dataset_version", pa.string()),
        pa.field("span_id", pa.string()),
        pa.field("input", pa.string(), nullable=False),  # JSON object
        pa.field("output", pa.string(), nullable=False),  # JSON object
        pa.field("metadata", pa.string(), nullable=False),  # JSON object
    ]
)


@dataclass(frozen=True, kw_only=True)
class DatasetExample:
    """One example: ``input`` replays the run, ``output`` holds what is on record for the route
    (an expected output, a preference pair, the original answer), ``metadata`` the lineage
    (``source_trace_id``, ``source_span_id``, ``category``, ``failing_rubrics``, ...)."""

    example_id: str
    dataset: str
    input: dict[str, Any]
    output: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    span_id: str | None = None
    dataset_version: str | None = None

    @property
    def route(self) -> str | None:
        route = self.metadata.get("route")
        return route if isinstance(route, str) else None

    @property
    def expected_output(self) -> str | None:
        """The output a correct run gives, when one is known (golden, corrected regressions)."""
        if self.metadata.get("expected_output_known") is False:
            return None
        value = self.output.get("output")
        return value if isinstance(value, str) else None

    def to_row(self) -> dict[str, Any]:
        return {
            "example_id": self.example_id,
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "span_id": self.span_id,
            "input": json.dumps(self.input, sort_keys=True),
            "output": json.dumps(self.output, sort_keys=True),
            "metadata": json.dumps(self.metadata, sort_keys=True),
        }

    @staticmethod
    def from_row(row: Mapping[str, Any]) -> DatasetExample:
        def obj(name: str) -> dict[str, Any]:
            value = row.get(name)
            parsed = json.loads(value) if isinstance(value, str) else (value or {})
            if not isinstance(parsed, dict):
                raise ValueError(f"{name} must be a JSON object, got {type(parsed).__name__}")
            return parsed

        return DatasetExample(
            example_id=str(row["example_id"]),
            dataset=str(row["dataset"]),
            dataset_version=row.get("dataset_version"),
            span_id=row.get("span_id"),
            input=obj("input"),
            output=obj("output"),
            metadata=obj("metadata"),
        )


@dataclass(frozen=True, kw_only=True)
class LoadedDataset:
    """The examples of one dataset version (in Phoenix) or of one examples file, with what
    identifies them (an export's manifest records it; an experiment is tied to the version).

    ``origin``: ``"phoenix"``, ``"missing"`` (a routing dataset nothing was routed to yet) or the
    file's path. ``node_ids``: example id -> Phoenix's own id for it, which experiment runs name.
    """

    name: str
    examples: list[DatasetExample] = field(default_factory=list)
    dataset_id: str | None = None
    version_id: str | None = None
    origin: str = "phoenix"
    node_ids: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "dataset": self.name,
            "dataset_id": self.dataset_id,
            "version_id": self.version_id,
            "origin": self.origin,
            "examples": len(self.examples),
        }


def example_from_phoenix(
    example: Mapping[str, Any], *, dataset: str, version_id: str | None = None
) -> DatasetExample:
    """A Phoenix dataset example (``client.datasets.get_dataset(...).examples``) as ours."""
    metadata = dict(example.get("metadata") or {})
    source = example.get("source") or {}
    span_id = metadata.get("source_span_id") or (
        source.get("span_id") if isinstance(source, Mapping) else None
    )
    return DatasetExample(
        example_id=str(metadata.get("example_id") or example["id"]),
        dataset=dataset,
        dataset_version=version_id,
        span_id=span_id if isinstance(span_id, str) else None,
        input=dict(example.get("input") or {}),
        output=dict(example.get("output") or {}),
        metadata=metadata,
    )


def write_examples(path: str | os.PathLike[str], examples: Iterable[DatasetExample]) -> int:
    """Write ``examples`` as JSON lines (``.jsonl``) or Parquet (``.parquet``); returns the count."""
    target = Path(path)
    rows = [example.to_row() for example in examples]
    target.parent.mkdir(parents=True, exist_ok=True)
    if _is_parquet(target):
        pq.write_table(pa.Table.from_pylist(rows, schema=EXAMPLES_SCHEMA), target)
    else:
        with target.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
    return len(rows)


def read_examples(path: str | os.PathLike[str]) -> list[DatasetExample]:
    """Examples from a file ``write_examples`` (``export evals``) wrote; errors name the line."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(
            f"{source}: no such examples file. Fix: write one with `otel-flywheel export evals`"
        )
    if _is_parquet(source):
        try:
            rows = pq.read_table(source).to_pylist()
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{source}: not a Parquet examples file ({exc})") from None
        return [_from_row(row, f"{source} row {index}") for index, row in enumerate(rows, 1)]
    examples = []
    with source.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{source}:{number}: not JSON ({exc.msg})") from None
            examples.append(_from_row(row, f"{source}:{number}"))
    return examples


def _from_row(row: Any, where: str) -> DatasetExample:
    try:
        return DatasetExample.from_row(row)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{where}: not an example row ({exc}); rows need example_id, dataset, input, "
            "output, metadata"
        ) from None


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")
