"""The run SFT, DPO and GRPO exports share: examples in, curated rows out, file and manifest.

`run_training_export` runs the steps in this order, each recorded in the manifest:

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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from otel_flywheel.datasets import DatasetExample, LoadedDataset
from otel_flywheel.export._conversation import Conversation, conversation_from_trace
from otel_flywheel.export._curation import (
    CurationLog,
    CurationSettings,
    balance,
    drop_exact_duplicates,
    drop_format_problems,
    drop_leakage,
    drop_near_duplicates,
    filter_consent,
    filter_length,
)
from otel_flywheel.export._format_base import RowFormat
from otel_flywheel.export._formats import RowFormatName, default_row_format, get_row_format
from otel_flywheel.export._load import TraceLookup
from otel_flywheel.export._rows import Removal, TrainingRow
from otel_flywheel.export._run import (
    ExportResult,
    Progress,
    consent_description,
    finish_export,
    pii_scan,
)
from otel_flywheel.export._write import file_format, write_rows

if TYPE_CHECKING:
    from otel_flywheel.config import PrivacySettings

__all__ = ["run_training_export"]


def run_training_export(
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


def _with_source(row: TrainingRow, source: str, trace_consent: bool | None) -> TrainingRow:
    consent = row.example.metadata.get("consent")
    return replace(
        row,
        trace_source=source,
        consent=consent if isinstance(consent, bool) else trace_consent,
    )


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
