"""Export runs: examples in, curated rows out, the file and its manifest written together.

``export_sft`` / ``export_dpo`` / ``export_grpo`` run the steps in this order, each recorded in
the manifest:

1. ``selection``: examples that are SFT and GRPO (golden, corrected regressions) or DPO
   (preference pairs) material; the rest is counted by route;
2. ``consent`` (`CurationSettings.require_consent`), before any trace is read;
3. ``source_trace``: the trace read (local store, then Phoenix) and its conversation built;
   examples whose trace is gone or unusable are counted by reason;
4. ``length``, ``exact_duplicate``, ``near_duplicate``, ``leakage`` (against ``gating`` sets),
   ``balance``;
5. ``format``: rows the file's reader would reject or misread (`RowFormat.problems`);
6. ``pii_scan``: anything found raises `PIIFoundError` and nothing is written.

Every row is built in its row format (``row_format``: ``openai`` or ``hf``, by default ``hf`` for
Parquet and ``openai`` for JSON lines; see `_formats`), which the manifest records.

``export_evals`` (`_evals`) shares the manifest and the PII scan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from otel_flywheel.datasets import DatasetExample, LoadedDataset
from otel_flywheel.export._conversation import Conversation, conversation_from_trace
from otel_flywheel.export._curation import (
    CurationLog,
    CurationSettings,
    StepReport,
    balance,
    drop_exact_duplicates,
    drop_format_problems,
    drop_leakage,
    drop_near_duplicates,
    filter_consent,
    filter_length,
)
from otel_flywheel.export._dpo import build_dpo_row, carried_dpo_row, dpo_pair, not_dpo_reason
from otel_flywheel.export._errors import PIIFoundError
from otel_flywheel.export._format_base import RowFormat
from otel_flywheel.export._formats import RowFormatName, default_row_format, get_row_format
from otel_flywheel.export._grpo import Granularity, build_grpo_rows
from otel_flywheel.export._load import TraceLookup
from otel_flywheel.export._manifest import build_manifest, manifest_path_for, write_manifest
from otel_flywheel.export._pii import pii_scanner, scan_rows
from otel_flywheel.export._rows import Removal, TrainingRow
from otel_flywheel.export._sft import build_sft_row, not_sft_reason, sft_kind
from otel_flywheel.export._write import (
    WrittenFile,
    file_format,
    write_rows,
)

if TYPE_CHECKING:
    from otel_flywheel.config import PrivacySettings

__all__ = ["ExportKind", "ExportResult", "Progress", "export_dpo", "export_grpo", "export_sft"]

logger = logging.getLogger(__name__)

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


def export_sft(
    sources: Sequence[LoadedDataset],
    *,
    out: str | Path,
    traces: TraceLookup,
    gating: Sequence[LoadedDataset] = (),
    row_format: RowFormatName | None = None,
    parallel_tool_calls: bool = True,
    curation: CurationSettings | None = None,
    privacy: PrivacySettings | Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write SFT rows (``{"messages", "tools"}``) for the golden and corrected-regression
    examples of ``sources`` to ``out`` (``.parquet`` or ``.jsonl``), with its manifest.

    ``row_format``: ``"openai"`` (OpenAI fine-tuning, JSON lines) or ``"hf"`` (Hugging Face chat
    templates and TRL); by default ``hf`` for Parquet, ``openai`` for JSON lines.
    ``parallel_tool_calls=False`` splits an assistant turn that made several tool calls into one
    turn per call (`Conversation.one_call_per_turn`), for models that call one tool at a time.

    Raises `PIIFoundError` (nothing written) when the PII scan finds anything, `ExportError` for a
    bad output path or a format that cannot be written to it.
    """

    def build(
        example: DatasetExample, conversation: Conversation, shape: RowFormat
    ) -> TrainingRow | str:
        kind = sft_kind(example)
        assert kind is not None  # selected below
        return build_sft_row(example, kind, conversation, shape)

    return _training_export(
        "sft",
        sources,
        out=out,
        traces=traces,
        gating=gating,
        row_format=row_format,
        parallel_tool_calls=parallel_tool_calls,
        curation=curation,
        privacy=privacy,
        progress=progress,
        select=lambda e: None if sft_kind(e) is not None else not_sft_reason(e),
        build=build,
    )


def export_dpo(
    sources: Sequence[LoadedDataset],
    *,
    out: str | Path,
    traces: TraceLookup,
    gating: Sequence[LoadedDataset] = (),
    row_format: RowFormatName | None = None,
    parallel_tool_calls: bool = True,
    curation: CurationSettings | None = None,
    privacy: PrivacySettings | Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write DPO rows for the preference examples of ``sources``: ``{"prompt", "chosen",
    "rejected", "tools"}`` (``hf``, TRL's format) or ``{"input", "preferred_output",
    "non_preferred_output"}`` (``openai``); as `export_sft` otherwise."""

    def build(
        example: DatasetExample, conversation: Conversation, shape: RowFormat
    ) -> TrainingRow | str:
        pair = dpo_pair(example)
        assert pair is not None  # selected below
        return build_dpo_row(example, pair, conversation, shape)

    return _training_export(
        "dpo",
        sources,
        out=out,
        traces=traces,
        gating=gating,
        row_format=row_format,
        parallel_tool_calls=parallel_tool_calls,
        curation=curation,
        privacy=privacy,
        progress=progress,
        select=lambda e: None if dpo_pair(e) is not None else not_dpo_reason(e),
        build=build,
        carried=carried_dpo_row,
    )


def export_grpo(
    sources: Sequence[LoadedDataset],
    *,
    out: str | Path,
    traces: TraceLookup,
    gating: Sequence[LoadedDataset] = (),
    granularity: Granularity = "turn",
    row_format: RowFormatName | None = None,
    parallel_tool_calls: bool = True,
    curation: CurationSettings | None = None,
    privacy: PrivacySettings | Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write prompt-only GRPO rows (``{"prompt", "tools", "expected_tool_calls",
    "expected_output"}``, the ``hf`` layout TRL's ``GRPOTrainer`` reads) for the golden and
    corrected-regression examples of ``sources``: one per decision of each conversation
    (``granularity="turn"``) or per user request (``"conversation"``); see `_grpo`. The reward
    that reads them is ``otel_flywheel.rewards.tool_call_reward``. As `export_sft` otherwise;
    ``row_format="openai"`` raises `ExportError` (OpenAI reads no such rows).
    """

    def build(
        example: DatasetExample, conversation: Conversation, shape: RowFormat
    ) -> list[TrainingRow] | str:
        kind = sft_kind(example)
        assert kind is not None  # selected below
        return build_grpo_rows(example, kind, conversation, shape, granularity=granularity)

    return _training_export(
        "grpo",
        sources,
        out=out,
        traces=traces,
        gating=gating,
        row_format=row_format or "hf",
        parallel_tool_calls=parallel_tool_calls,
        curation=curation,
        privacy=privacy,
        progress=progress,
        select=lambda e: None if sft_kind(e) is not None else not_sft_reason(e),
        build=build,
    )


# --- the shared SFT/DPO/GRPO run ------------------------------------------------------------------


def _training_export(
    kind: Literal["sft", "dpo", "grpo"],
    sources: Sequence[LoadedDataset],
    *,
    out: str | Path,
    traces: TraceLookup,
    gating: Sequence[LoadedDataset],
    row_format: RowFormatName | None,
    parallel_tool_calls: bool,
    curation: CurationSettings | None,
    privacy: PrivacySettings | Mapping[str, Any] | None,
    progress: Progress | None,
    select: Callable[[DatasetExample], str | None],
    build: Callable[
        [DatasetExample, Conversation, RowFormat], TrainingRow | list[TrainingRow] | str
    ],
    carried: Callable[[DatasetExample, RowFormat], TrainingRow | str | None] | None = None,
) -> ExportResult:
    settings = curation or CurationSettings()
    say = progress or (lambda message: None)
    target = Path(out)
    suffix = file_format(target)  # a bad suffix, or a format its reader cannot take, fails now
    format_name = row_format if row_format is not None else default_row_format(suffix)
    shape = get_row_format(format_name)
    shape.check_file_format(suffix, target)
    if kind == "grpo":
        _refuse_without_grpo(shape)
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
    material = "preference pairs" if kind == "dpo" else "golden and corrected regressions"
    log.record(
        "selection", f"{kind} material: {material}", rows_in=len(examples), removals=not_selected
    )

    consenting, refused = filter_consent(selected, require=settings.require_consent)
    log.record("consent", consent_description(settings), rows_in=len(selected), removals=refused)

    rows, unusable = _build_rows(
        consenting,
        traces,
        lambda example, conversation: build(
            example,
            conversation if parallel_tool_calls else conversation.one_call_per_turn(),
            shape,
        ),
        carried=(lambda example: carried(example, shape)) if carried is not None else None,
    )
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
    rows = _step(
        log,
        "format",
        f"{shape.name} format, for {shape.reader}: rows that break none of its rules",
        rows,
        lambda r: drop_format_problems(r, shape, kind),
    )
    pii = pii_scan(rows, privacy, log, say)

    written = write_rows(
        target,
        [row.data for row in rows],
        to_table=lambda data: shape.parquet_table(kind, data),
    )
    return finish_export(
        kind,
        format_name,
        parallel_tool_calls,
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
    build: Callable[[DatasetExample, Conversation], TrainingRow | list[TrainingRow] | str],
    *,
    carried: Callable[[DatasetExample], TrainingRow | str | None] | None = None,
) -> tuple[list[TrainingRow], list[Removal]]:
    """The rows of each example whose source trace is found and usable (one, or for GRPO one per
    decision), or that carries its own conversation; the others as removals."""
    own = {e.example_id: carried(e) for e in examples} if carried is not None else {}
    found = traces.fetch([e for e in examples if own.get(e.example_id) is None])
    conversations: dict[str, Conversation] = {}
    rows: list[TrainingRow] = []
    unusable: list[Removal] = []
    for example in examples:
        kept = own.get(example.example_id)
        if isinstance(kept, str):
            unusable.append(_removal("source_trace", kept, example))
            continue
        if kept is not None:
            consent = example.metadata.get("consent")
            rows.append(
                replace(
                    kept,
                    trace_source="example",
                    consent=consent if isinstance(consent, bool) else None,
                )
            )
            continue
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
        for row in built if isinstance(built, list) else [built]:
            rows.append(_with_source(row, source, trace.consent))
    return rows, unusable


def _refuse_without_grpo(shape: RowFormat) -> None:
    """`ExportError` now, before any trace is read, when ``shape`` writes no GRPO rows."""
    probe = type(shape).grpo_row
    if probe is RowFormat.grpo_row:
        RowFormat.grpo_row(shape, None)  # type: ignore[arg-type]  # raises, naming the fix


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


def _with_source(row: TrainingRow, source: str, trace_consent: bool | None) -> TrainingRow:
    consent = row.example.metadata.get("consent")
    return replace(
        row,
        trace_source=source,
        consent=consent if isinstance(consent, bool) else trace_consent,
    )


def consent_description(settings: CurationSettings) -> str:
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


def _names(sources: Sequence[LoadedDataset]) -> str:
    return ", ".join(source.name for source in sources)


def _removal(step: str, reason: str, example: DatasetExample) -> Removal:
    return Removal(step=step, reason=reason, example_id=example.example_id, dataset=example.dataset)
