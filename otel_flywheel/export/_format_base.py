"""`RowFormat`: the reader a training file is written for, and what its rows must look like.

An export builds every row from canonical messages (`_conversation`: OpenAI's chat shape, tool-call
arguments as JSON objects, keys only where they hold something) into a record per kind
(`SFTRecord`, `PreferenceRecord`). A row format then shapes each record for its reader, says how
the rows are laid out in Parquet (if that reader takes Parquet), and checks each shaped row
against the reader's rules (`problems`), so the ``format`` curation step can drop and name a row
the reader would reject or misread.

A new reader is one more `RowFormat` (registered in `_formats`); a new export kind is one more
record type and one more method per format.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pyarrow as pa

from otel_flywheel.export._errors import ExportError
from otel_flywheel.export._write import FileFormat

__all__ = [
    "FormatProblem",
    "PreferenceRecord",
    "PromptRecord",
    "RowFormat",
    "SFTRecord",
    "TrainingKind",
    "json_list_column",
]

TrainingKind = Literal["sft", "dpo", "grpo"]


@dataclass(frozen=True, kw_only=True)
class SFTRecord:
    """One SFT example: the conversation to learn from and the tools the model was offered."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    parallel_tool_calls: bool = True  # False: the messages make at most one call per turn


@dataclass(frozen=True, kw_only=True)
class PreferenceRecord:
    """One preference pair: the shared context, the preferred and the rejected continuation."""

    prompt: list[dict[str, Any]]
    chosen: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    parallel_tool_calls: bool = True


@dataclass(frozen=True, kw_only=True)
class PromptRecord:
    """One prompt-only example for reinforcement learning (GRPO): the context up to a decision,
    what a verifiable reward checks the model's continuation against, and the tools offered.

    ``expected_tool_calls`` is an object in the references format without ``trace_id``
    (``{"expected_tool_calls": [...]}``: the exact set, empty for "answer now, no call");
    ``expected_output`` the answer on record when the decision is the final answer.
    """

    prompt: list[dict[str, Any]]
    expected_tool_calls: dict[str, Any]
    expected_output: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    parallel_tool_calls: bool = True


@dataclass(frozen=True, kw_only=True)
class FormatProblem:
    """A rule a row breaks for its reader: where (a path in the row) and which rule, never the
    value."""

    field: str  # e.g. ``messages[2].tool_calls[0].function.name``
    rule: str  # e.g. ``tool_name_pattern``
    explanation: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "explanation": self.explanation}


class RowFormat(ABC):
    """How one reader wants training rows. Stateless: one instance serves every export."""

    name: ClassVar[str]
    reader: ClassVar[str]  # who reads the file, for messages and the manifest
    file_formats: ClassVar[frozenset[FileFormat]]

    @abstractmethod
    def sft_row(self, record: SFTRecord) -> dict[str, Any]:
        """The row written for an SFT example (its JSON lines form)."""

    @abstractmethod
    def dpo_row(self, record: PreferenceRecord) -> dict[str, Any]:
        """The row written for a preference pair (its JSON lines form)."""

    def grpo_row(self, record: PromptRecord) -> dict[str, Any]:
        """The row written for a prompt-only example; only for readers that train with RL."""
        raise ExportError(
            f"{self.reader} reads no prompt-only (GRPO) rows: write them with --format hf, the "
            "layout TRL's GRPOTrainer reads"
        )

    @abstractmethod
    def problems(self, kind: TrainingKind, row: dict[str, Any]) -> list[FormatProblem]:
        """Every rule of this reader that ``row`` breaks; empty when the reader takes it."""

    def parquet_schema(self, kind: TrainingKind) -> pa.Schema:
        """The Parquet schema of ``kind`` rows; only for formats that list ``parquet``."""
        raise ExportError(f"{self.reader} does not read Parquet: write .jsonl")

    def parquet_table(self, kind: TrainingKind, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        """``rows`` (their JSON lines form) as a table with `parquet_schema` (``kind``)."""
        raise ExportError(f"{self.reader} does not read Parquet: write .jsonl")

    def check_file_format(self, file_format: FileFormat, path: object) -> None:
        """Raise `ExportError` when this reader does not read ``file_format`` files."""
        if file_format not in self.file_formats:
            takes = " or ".join(f".{suffix}" for suffix in sorted(self.file_formats))
            others = "; --format hf writes Parquet" if file_format == "parquet" else ""
            raise ExportError(
                f"{path}: {self.reader} reads {takes} files, not .{file_format}: "
                f"write {takes}{others}"
            )


def json_list_column(rows: Sequence[Mapping[str, Any]], key: str) -> pa.Array:
    """``row[key]`` (a list of JSON values, or ``None``) for every row, as ``list<json>``.

    Each item is stored as its own JSON text under Arrow's canonical JSON extension type (the
    Parquet JSON logical type): items keep exactly their own keys, where an Arrow struct would give
    every item the union of all items' keys. ``datasets`` (>= 4.7) loads it as ``List(Json())``,
    decoding each item back to the object written.
    """
    values = [
        None
        if row.get(key) is None
        else [json.dumps(item, ensure_ascii=False) for item in row[key]]
        for row in rows
    ]
    return pa.array(values, pa.list_(pa.string())).cast(pa.list_(pa.json_()))
