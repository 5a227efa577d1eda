"""The lineage manifest written beside every export (``<file>.manifest.json``).

It answers, for the file next to it: which reader its rows are shaped for (``row_format``:
``openai`` or ``hf``; ``null`` for an evals file) and whether a turn may make several tool calls
(``parallel_tool_calls``), what went in (source datasets with their Phoenix ids and
versions, the gating sets checked for leakage, where source traces came from), what curation did
(every step with rows in, rows removed and why, and every removed example), and where each row
came from (example -> source trace and span, the route and the feedback or verdict behind its
label, with rubric versions and judge models). The output's sha256 ties the manifest to the file;
each row's own sha256 finds it again after the file is shuffled or split.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from otel_flywheel import __version__
from otel_flywheel.datasets import LoadedDataset
from otel_flywheel.export._curation import CurationLog
from otel_flywheel.export._rows import TrainingRow, row_sha256
from otel_flywheel.export._write import WrittenFile, atomic_target

__all__ = [
    "MANIFEST_VERSION",
    "build_manifest",
    "manifest_path_for",
    "row_lineage",
    "write_manifest",
]

MANIFEST_VERSION: Final = 2  # 2: row_format

# Routes whose label is a person's (feedback) rather than the evaluators' verdict.
_HUMAN_REASONS: Final = frozenset({"thumbs_up", "thumbs_down", "correction", "pairwise_feedback"})


def manifest_path_for(output: str | Path) -> Path:
    """``sft.parquet`` -> ``sft.parquet.manifest.json``: beside the file, unambiguous per format."""
    path = Path(output)
    return path.with_name(path.name + ".manifest.json")


def build_manifest(
    *,
    kind: str,
    row_format: str | None,
    parallel_tool_calls: bool | None,
    output: WrittenFile,
    sources: Sequence[LoadedDataset],
    gating: Sequence[LoadedDataset],
    log: CurationLog,
    rows: Sequence[TrainingRow],
    settings: Mapping[str, Any],
    trace_counts: Mapping[str, int],
    pii_scan: Mapping[str, Any],
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "kind": kind,
        "row_format": row_format,
        "parallel_tool_calls": parallel_tool_calls,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "otel_flywheel_version": __version__,
        "output": {
            "file": output.path.name,
            "format": output.format,
            "rows": output.rows,
            "bytes": output.bytes,
            "sha256": output.sha256,
        },
        "sources": [source.describe() for source in sources],
        "gating_sets": [source.describe() for source in gating],
        "source_traces": dict(trace_counts),
        "curation": {
            "settings": dict(settings),
            "steps": [step.to_dict() for step in log.steps],
            "removed": [removal.to_dict() for removal in log.removals],
        },
        "pii_scan": dict(pii_scan),
        "notes": list(notes),
        "rows": [row_lineage(row, index) for index, row in enumerate(rows)],
    }


def row_lineage(row: TrainingRow, index: int) -> dict[str, Any]:
    """Row ``index`` back to its production span: example, trace, span, and who labeled it how."""
    example = row.example
    meta = example.metadata
    reason = meta.get("route_reason")
    label: dict[str, Any] = {
        "by": "human" if reason in _HUMAN_REASONS else "evaluators",
        "route_reason": reason,
        "feedback_id": meta.get("feedback_id"),
        "annotator": meta.get("annotator"),
        "verdict_passed": meta.get("verdict_passed"),
        "rubric_versions": meta.get("rubric_versions") or {},
        "judge_models": meta.get("judge_models") or [],
    }
    return {
        "row": index,
        "row_sha256": row_sha256(row.data),
        "example_id": example.example_id,
        "dataset": example.dataset,
        "dataset_version": example.dataset_version,
        "source_trace_id": meta.get("source_trace_id"),
        "source_span_id": meta.get("source_span_id") or example.span_id,
        "project": meta.get("project"),
        "route": example.route,
        "category": row.category,
        "user_id": meta.get("user_id"),
        "trace_from": row.trace_source,
        "label": label,
        # The golden examples a few-shot library put in front of the model in the source run.
        "fewshot_example_ids": list(meta.get("fewshot_example_ids") or []),
        **row.lineage,
    }


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    with atomic_target(path) as temporary:
        temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
