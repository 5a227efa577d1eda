"""Report inputs from files: verdict JSON lines (``evaluate``, ``judge``, ``VerdictFile``), labels,
feedback and dataset example files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import Final

import pyarrow.compute as pc

from otel_flywheel.analysis._data import AnalysisData
from otel_flywheel.analysis._jsonl import DEFAULT_BLOCK_BYTES, LineIssue
from otel_flywheel.analysis._people import (
    EXAMPLE_SCHEMA,
    FEEDBACK_SCHEMA,
    read_example_files,
    read_feedback_files,
    read_label_files,
)
from otel_flywheel.analysis._verdicts import VerdictAccumulator, cohort_column

__all__ = ["discover_cohort_attributes", "load_files"]

_DISCOVERY_LINES: Final = 2000


def load_files(
    verdicts: Sequence[Path],
    *,
    labels: Sequence[Path] = (),
    feedback: Sequence[Path] = (),
    examples: Sequence[Path] = (),
    cohort_attributes: Sequence[str] | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> AnalysisData:
    """Read the files, with the cohort attributes the first verdicts of each file record and
    ``cohort_attributes``; ``AnalysisData.cohort_attributes`` lists those some verdict records.

    Raises ``OSError`` for a file that cannot be read and ``ConfigError`` for a bad example file;
    malformed lines are left out and listed in ``issues`` with their line numbers.
    """
    issues: list[LineIssue] = []
    label_table = read_label_files(labels, issues=issues)
    feedback_records = (
        read_feedback_files(feedback, issues=issues) if feedback else FEEDBACK_SCHEMA.empty_table()
    )
    # What was asked for, and what the first lines record (a name asked for that no verdict
    # records is reported by the report, not read as an empty cohort).
    attributes = tuple(
        dict.fromkeys([*(cohort_attributes or ()), *discover_cohort_attributes(verdicts)])
    )
    accumulator = VerdictAccumulator(
        attributes,
        labelled=[
            *pc.unique(label_table.column("trace_id")).to_pylist(),
            *pc.unique(feedback_records.column("trace_id")).drop_null().to_pylist(),
        ],
        issues=issues,
    )
    for path in verdicts:
        first_line = 1
        with path.open("rb") as file:
            while block := file.read(block_bytes):
                if not block.endswith(b"\n"):
                    block += file.readline()
                accumulator.add_block(block, where=str(path), first_line=first_line)
                first_line += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    verdict_table, judgments, rubrics = accumulator.finish()
    recorded = tuple(
        name
        for name in attributes
        if verdict_table.column(cohort_column(name)).null_count < verdict_table.num_rows
    )
    return AnalysisData(
        verdicts=verdict_table,
        cohort_attributes=recorded,
        judgments=judgments,
        rubrics=rubrics,
        labels=label_table,
        feedback=feedback_records,
        examples=read_example_files(examples) if examples else EXAMPLE_SCHEMA.empty_table(),
        source="verdict files " + ", ".join(str(p) for p in verdicts),
        issues=issues,
        rubric_categories=accumulator.rubric_categories(),
    )


def discover_cohort_attributes(paths: Sequence[Path]) -> tuple[str, ...]:
    """The cohort attributes the first verdicts of each file record, sorted."""
    names: set[str] = set()
    for path in paths:
        with path.open("rb") as file:
            for line in islice(file, _DISCOVERY_LINES):
                try:
                    value = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue
                cohort = value.get("cohort") if isinstance(value, dict) else None
                if isinstance(cohort, dict):
                    names.update(str(name) for name in cohort)
    return tuple(sorted(names))
