"""Export runs: examples in, curated rows out, the file and its manifest written together.

``export_sft`` / ``export_dpo`` run the steps in this order, each recorded in the manifest:

1. ``selection``: examples that are SFT (golden, corrected regressions) or DPO (preference pairs)
   material; the rest is counted by route;
2. ``consent`` (`CurationSettings.require_consent`), before any trace is read;
3. ``source_trace``: the trace read (local store, then Phoenix) and its conversation built;
   examples whose trace is gone or unusable are counted by reason;
4. ``length``, ``exact_duplicate``, ``near_duplicate``, ``leakage`` (against ``gating`` sets),
   ``balance``;
5. ``pii_scan``: anything found raises `PIIFoundError` and nothing is written.

``export_evals`` writes the examples themselves in the format ``replay --offline`` reads
(`otel_flywheel.datasets.write_examples`), after the consent filter and the PII scan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from otel_flywheel.datasets import DatasetExample, write_examples
from otel_flywheel.export._conversation import Conversation, conversation_from_trace
from otel_flywheel.export._curation import (
    CurationLog,
    CurationSettings,
    StepReport,
    balance,
    drop_exact_duplicates,
    drop_leakage,
    drop_near_duplicates,
    filter_consent,
    filter_length,
)
from otel_flywheel.export._dpo import DPO_SCHEMA, build_dpo_row, dpo_pair, not_dpo_reason
from otel_flywheel.export._errors import PIIFoundError
from otel_flywheel.export._load import SourceDataset, TraceLookup
from otel_flywheel.export._manifest import build_manifest, manifest_path_for, write_manifest
from otel_flywheel.export._pii import pii_scanner, scan_rows
from otel_flywheel.export._rows import Removal, TrainingRow
from otel_flywheel.export._sft import (
    SFT_SCHEMA,
    build_sft_row,
    not_sft_reason,
    parquet_row,
    sft_kind,
)
from otel_flywheel.export._write import (
    WrittenFile,
    atomic_target,
    described,
    file_format,
    write_rows,
)

if TYPE_CHECKING:
    from otel_flywheel.config import PrivacySettings

__all__ = ["ExportKind", "ExportResult", "export_dpo", "export_evals", "export_sft"]

logger = logging.getLogger(__name__)

ExportKind = Literal["sft", "dpo", "evals"]
Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    """A written export: the file, its manifest, its rows, and what each step removed."""

    kind: ExportKind
    path: Path
    manifest_path: Path
    rows: int
    sha256: str
    steps: tuple[StepReport, ...] = ()
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)

    def removed(self, step: str) -> int:
        return sum(report.removed for report in self.steps if report.step == step)


def export_sft(
    sources: Sequence[SourceDataset],
    *,
    out: str | Path,
    traces: TraceLookup,
    gating: Sequence[SourceDataset] = (),
    curation: CurationSettings | None = None,
    privacy: PrivacySettings | Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write SFT rows (``{"messages", "tools"}``) for the golden and corrected-regression
    examples of ``sources`` to ``out`` (``.parquet`` or ``.jsonl``), with its manifest.

    Raises `PIIFoundError` (nothing written) when the PII scan finds anything, `ExportError` for a
    bad output path.
    """

    def build(example: DatasetExample, conversation: Conversation) -> TrainingRow | str:
        kind = sft_kind(example)
        assert kind is not None  # selected below
        return build_sft_row(example, kind, conversation)

    return _training_export(
        "sft",
        sources,
        out=out,
        traces=traces,
        gating=gating,
        curation=curation,
        privacy=privacy,
        progress=progress,
        select=lambda e: None if sft_kind(e) is not None else not_sft_reason(e),
        build=build,
    )


def export_dpo(
    sources: Sequence[SourceDataset],
    *,
    out: str | Path,
    traces: TraceLookup,
    gating: Sequence[SourceDataset] = (),
    curation: CurationSettings | None = None,
    privacy: PrivacySettings | Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write DPO rows (``{"prompt", "chosen", "rejected"}``) for the preference examples of
    ``sources``; as `export_sft` otherwise."""

    def build(example: DatasetExample, conversation: Conversation) -> TrainingRow | str:
        pair = dpo_pair(example)
        assert pair is not None  # selected below
        return build_dpo_row(example, pair, conversation)

    return _training_export(
        "dpo",
        sources,
        out=out,
        traces=traces,
        gating=gating,
        curation=curation,
        privacy=privacy,
        progress=progress,
        select=lambda e: None if dpo_pair(e) is not None else not_dpo_reason(e),
        build=build,
    )


def export_evals(
    sources: Sequence[SourceDataset],
    *,
    out: str | Path,
    curation: CurationSettings | None = None,
    privacy: PrivacySettings | Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the examples of ``sources`` as the offline file ``replay --offline`` reads, after the
    consent filter and the PII scan, with a manifest."""
    settings = curation or CurationSettings()
    say = progress or (lambda message: None)
    target = Path(out)
    kind = file_format(target)
    log = CurationLog()
    examples = [example for source in sources for example in source.examples]
    kept, removed = filter_consent(examples, require=settings.require_consent)
    log.record("consent", _consent_description(settings), rows_in=len(examples), removals=removed)
    rows = [
        TrainingRow(
            data={"input": e.input, "output": e.output, "metadata": e.metadata},
            example=e,
            input_text="",
            similarity_text="",
        )
        for e in kept
    ]
    pii = _pii_scan(rows, privacy, log, say)
    with atomic_target(target) as temporary:
        write_examples(temporary, kept)
    written = described(target, kind, len(kept))
    return _finish(
        "evals",
        written,
        sources=sources,
        gating=(),
        log=log,
        rows=rows,
        settings=settings,
        trace_counts={},
        pii=pii,
        say=say,
    )


# --- the shared SFT/DPO run -----------------------------------------------------------------------


def _training_export(
    kind: Literal["sft", "dpo"],
    sources: Sequence[SourceDataset],
    *,
    out: str | Path,
    traces: TraceLookup,
    gating: Sequence[SourceDataset],
    curation: CurationSettings | None,
    privacy: PrivacySettings | Mapping[str, Any] | None,
    progress: Progress | None,
    select: Callable[[DatasetExample], str | None],
    build: Callable[[DatasetExample, Conversation], TrainingRow | str],
) -> ExportResult:
    settings = curation or CurationSettings()
    say = progress or (lambda message: None)
    target = Path(out)
    file_format(target)  # a bad suffix fails before any work
    log = CurationLog()

    examples = [example for source in sources for example in source.examples]
    say(f"{kind}: {len(examples)} examples from {len(sources)} datasets")
    selected: list[DatasetExample] = []
    not_selected: list[Removal] = []
    for example in examples:
        reason = select(example)
        if reason is None:
            selected.append(example)
        else:
            not_selected.append(_removal("selection", reason, example))
    material = "golden and corrected regressions" if kind == "sft" else "preference pairs"
    log.record(
        "selection", f"{kind} material: {material}", rows_in=len(examples), removals=not_selected
    )

    consenting, refused = filter_consent(selected, require=settings.require_consent)
    log.record("consent", _consent_description(settings), rows_in=len(selected), removals=refused)

    rows, unusable = _build_rows(consenting, traces, build)
    log.record(
        "source_trace",
        "source trace found (local store, then Phoenix) and its conversation usable",
        rows_in=len(consenting),
        removals=unusable,
    )

    rows = _step(
        log,
        "length",
        f"row length within [{settings.min_chars}, {settings.max_chars}] characters",
        rows,
        lambda r: filter_length(r, min_chars=settings.min_chars, max_chars=settings.max_chars),
    )
    rows = _step(
        log,
        "exact_duplicate",
        "identical after normalizing case, whitespace, punctuation and tool-call ids",
        rows,
        drop_exact_duplicates,
    )
    threshold = settings.near_duplicate_threshold
    if threshold is not None:
        rows = _step(
            log,
            "near_duplicate",
            f"word 3-shingle Jaccard >= {threshold} (MinHash LSH, exact check)",
            rows,
            lambda r: drop_near_duplicates(r, threshold=threshold),
        )
    else:
        log.record(
            "near_duplicate", "off (near_duplicate_threshold unset)", rows_in=len(rows), removals=[]
        )
    gating_examples = [example for source in gating for example in source.examples]
    rows = _step(
        log,
        "leakage",
        (
            f"user input (or a near-duplicate) in the gating sets: {_names(gating)}"
            if gating
            else "off: no gating sets named, so training rows may overlap what CI gates on"
        ),
        rows,
        lambda r: drop_leakage(r, gating_examples, threshold=threshold),
    )
    rows = _step(
        log,
        "balance",
        _balance_description(settings),
        rows,
        lambda r: balance(
            r, max_per_category=settings.max_per_category, ratios=settings.category_ratios
        ),
    )
    pii = _pii_scan(rows, privacy, log, say)

    schema = SFT_SCHEMA if kind == "sft" else DPO_SCHEMA
    written = write_rows(
        target,
        [row.data for row in rows],
        schema=schema,
        to_parquet=parquet_row if kind == "sft" else dict,
    )
    return _finish(
        kind,
        written,
        sources=sources,
        gating=gating,
        log=log,
        rows=rows,
        settings=settings,
        trace_counts={
            where: traces.counts.get(where, 0) for where in ("local_store", "phoenix", "missing")
        },
        pii=pii,
        say=say,
    )


def _build_rows(
    examples: Sequence[DatasetExample],
    traces: TraceLookup,
    build: Callable[[DatasetExample, Conversation], TrainingRow | str],
) -> tuple[list[TrainingRow], list[Removal]]:
    """A row per example whose source trace is found and usable; the others as removals."""
    found = traces.fetch(examples)
    conversations: dict[str, Conversation] = {}
    rows: list[TrainingRow] = []
    unusable: list[Removal] = []
    for example in examples:
        trace_id = example.metadata.get("source_trace_id")
        hit = found.get(trace_id) if isinstance(trace_id, str) else None
        if hit is None:
            unusable.append(_removal("source_trace", "source_trace_not_found", example))
            continue
        trace, source = hit
        if trace.consent is False:
            # Routing never routes such traces; an example that says otherwise is stale.
            unusable.append(_removal("source_trace", "consent_withheld_on_trace", example))
            continue
        if trace.trace_id not in conversations:
            conversations[trace.trace_id] = conversation_from_trace(trace)
        built = build(example, conversations[trace.trace_id])
        if isinstance(built, str):
            unusable.append(_removal("source_trace", built, example))
            continue
        rows.append(_with_source(built, source, trace.consent))
    return rows, unusable


def _step(
    log: CurationLog,
    name: str,
    description: str,
    rows: list[TrainingRow],
    run: Callable[[list[TrainingRow]], tuple[list[TrainingRow], list[Removal]]],
) -> list[TrainingRow]:
    kept, removed = run(rows)
    log.record(name, description, rows_in=len(rows), removals=removed)
    return kept


def _pii_scan(
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


def _finish(
    kind: ExportKind,
    written: WrittenFile,
    *,
    sources: Sequence[SourceDataset],
    gating: Sequence[SourceDataset],
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
        steps=tuple(log.steps),
        manifest=manifest,
    )


def _with_source(row: TrainingRow, source: str, trace_consent: bool | None) -> TrainingRow:
    consent = row.example.metadata.get("consent")
    return replace(
        row,
        trace_source=source,
        consent=consent if isinstance(consent, bool) else trace_consent,
    )


def _consent_description(settings: CurationSettings) -> str:
    if settings.require_consent:
        return "consent stated true on the source trace (flywheel.consent)"
    return "consent not withheld on the source trace (flywheel.consent=false)"


def _balance_description(settings: CurationSettings) -> str:
    parts = []
    if settings.max_per_category is not None:
        parts.append(f"at most {settings.max_per_category} rows per category")
    if settings.category_ratios:
        ratios = ", ".join(f"{k}={v:g}" for k, v in sorted(settings.category_ratios.items()))
        parts.append(f"category ratios {ratios}")
    return "; ".join(parts) or "off (no cap or ratios set)"


def _names(sources: Sequence[SourceDataset]) -> str:
    return ", ".join(source.name for source in sources)


def _removal(step: str, reason: str, example: DatasetExample) -> Removal:
    return Removal(step=step, reason=reason, example_id=example.example_id, dataset=example.dataset)
