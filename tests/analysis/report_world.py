"""Verdict, label and example files with planted effects, for the report's tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from otel_flywheel.analysis import AnalysisData, ReportOptions, build_report, load_files
from otel_flywheel.datasets import DatasetExample, write_examples
from otel_flywheel.testing.verdicts import Effect, synthetic_verdicts


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def verdict_file(path: Path, n: int, **options: Any) -> Path:
    return write_lines(path, synthetic_verdicts(n, **options))


def report_of(
    path: Path, *, labels: Sequence[Path] = (), examples: Sequence[Path] = (), **options: Any
) -> dict[str, Any]:
    data: AnalysisData = load_files([path], labels=labels, examples=examples)
    return build_report(data, ReportOptions(**options))


def flagged_cells(report: Mapping[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    return [(c["category"], c["cohort"]) for c in report["drift"] if c["flagged"]]


def examples_file(path: Path, rows: Sequence[tuple[str, str, str]]) -> Path:
    """``rows``: (route, category, routed_at RFC 3339)."""
    write_examples(
        path,
        [
            DatasetExample(
                example_id=f"e{i}",
                dataset=f"support/{route}",
                input={"input": f"question {i}"},
                metadata={
                    "route": route,
                    "category": category,
                    "routed_at": routed_at,
                    "source_trace_id": f"{i:032x}",
                },
            )
            for i, (route, category, routed_at) in enumerate(rows)
        ],
    )
    return path


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


__all__ = ["Effect"]
