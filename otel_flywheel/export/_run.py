"""What every export run shares: its result record, the consent step's wording, the PII scan and
the closing manifest.

SFT, DPO and GRPO (`_training`) and evals (`_evals`) all end the same way: `pii_scan` (anything
found raises `PIIFoundError` and nothing is written), then `finish_export` writes the lineage
manifest beside the file and returns the `ExportResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from otel_flywheel.datasets import LoadedDataset
from otel_flywheel.export._curation import CurationLog, CurationSettings, StepReport
from otel_flywheel.export._errors import PIIFoundError
from otel_flywheel.export._formats import RowFormatName
from otel_flywheel.export._manifest import build_manifest, manifest_path_for, write_manifest
from otel_flywheel.export._pii import pii_scanner, scan_rows
from otel_flywheel.export._rows import TrainingRow
from otel_flywheel.export._write import WrittenFile

if TYPE_CHECKING:
    from otel_flywheel.config import PrivacySettings

__all__ = [
    "ExportKind",
    "ExportResult",
    "Progress",
    "consent_description",
    "finish_export",
    "pii_scan",
]

ExportKind = Literal["sft", "dpo", "grpo", "evals"]
Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    """A written export: the file, its manifest, its rows, and what each step removed."""

    kind: ExportKind
    path: Path
    manifest_path: Path
    rows: int
    sha256: str
    row_format: RowFormatName | None  # None for evals: the examples themselves
    steps: tuple[StepReport, ...] = ()
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)

    def removed(self, step: str) -> int:
        return sum(report.removed for report in self.steps if report.step == step)


def pii_scan(
    rows: list[TrainingRow],
    privacy: PrivacySettings | Mapping[str, Any] | None,
    log: CurationLog,
    say: Progress,
) -> dict[str, Any]:
    say(f"scanning {len(rows)} rows for PII")
    findings = scan_rows(rows, pii_scanner(privacy))
    if findings:
        raise PIIFoundError(findings)
    log.record(
        "pii_scan",
        "every string checked with the privacy detectors; any finding fails the export",
        rows_in=len(rows),
        removals=[],
    )
    return {"rows_scanned": len(rows), "findings": 0}


def finish_export(
    kind: ExportKind,
    row_format_name: RowFormatName | None,
    parallel_tool_calls: bool | None,
    written: WrittenFile,
    *,
    sources: Sequence[LoadedDataset],
    gating: Sequence[LoadedDataset],
    log: CurationLog,
    rows: Sequence[TrainingRow],
    settings: CurationSettings,
    trace_counts: Mapping[str, int],
    pii: Mapping[str, Any],
    say: Progress,
) -> ExportResult:
    notes = [
        source.name + ": dataset not found, read as empty"
        for source in sources
        if source.origin == "missing"
    ]
    manifest = build_manifest(
        kind=kind,
        row_format=row_format_name,
        parallel_tool_calls=parallel_tool_calls,
        output=written,
        sources=sources,
        gating=gating,
        log=log,
        rows=rows,
        settings=settings.model_dump(mode="json"),
        trace_counts=trace_counts,
        pii_scan=pii,
        notes=notes,
    )
    manifest_path = manifest_path_for(written.path)
    write_manifest(manifest_path, manifest)
    say(f"{kind}: wrote {written.rows} rows to {written.path} (manifest {manifest_path})")
    return ExportResult(
        kind=kind,
        path=written.path,
        manifest_path=manifest_path,
        rows=written.rows,
        sha256=written.sha256,
        row_format=row_format_name,
        steps=tuple(log.steps),
        manifest=manifest,
    )


def consent_description(settings: CurationSettings) -> str:
    if settings.require_consent:
        return "consent stated true on the source trace (flywheel.consent)"
    return "consent not withheld on the source trace (flywheel.consent=false)"
