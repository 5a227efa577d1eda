"""``export_sft`` / ``export_dpo`` / ``export_grpo``: what each training export selects and builds.

Each names its material (SFT and GRPO: golden and corrected-regression examples; DPO: preference
pairs) and how one example becomes rows; the run they share (curation, PII scan, file and
manifest) is `_training.run_training_export`. ``export_evals`` (`_evals`) writes the examples
themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otel_flywheel.datasets import DatasetExample, LoadedDataset
from otel_flywheel.export._conversation import Conversation
from otel_flywheel.export._curation import CurationSettings
from otel_flywheel.export._dpo import build_dpo_row, carried_dpo_row, dpo_pair, not_dpo_reason
from otel_flywheel.export._format_base import RowFormat
from otel_flywheel.export._formats import RowFormatName
from otel_flywheel.export._grpo import Granularity, build_grpo_rows
from otel_flywheel.export._load import TraceLookup
from otel_flywheel.export._rows import TrainingRow
from otel_flywheel.export._run import ExportResult, Progress
from otel_flywheel.export._sft import build_sft_row, not_sft_reason, sft_kind
from otel_flywheel.export._training import run_training_export

if TYPE_CHECKING:
    from otel_flywheel.config import PrivacySettings

__all__ = ["export_dpo", "export_grpo", "export_sft"]


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

    return run_training_export(
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

    return run_training_export(
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

    return run_training_export(
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
