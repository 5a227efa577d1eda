"""Training exports: SFT, DPO and GRPO rows with curation and lineage, and the offline evals file.

``export_sft`` / ``export_dpo`` / ``export_grpo`` write one file (Parquet or JSON lines) in a row format, the shape
its reader wants: ``openai`` (OpenAI fine-tuning) or ``hf`` (Hugging Face chat templates and TRL;
see `get_row_format`). ``export_evals`` writes the examples themselves. Each writes a
manifest (``<file>.manifest.json``) from dataset examples loaded from Phoenix (``load_source``)
or ``load_examples_file``; source traces come through a ``TraceLookup`` (local routing store,
then Phoenix). ``export_training_data`` does a project's SFT, DPO and GRPO exports in one call. The
``otel-flywheel export`` command wraps these.
"""

from __future__ import annotations

from otel_flywheel.export._conversation import Conversation, conversation_from_trace
from otel_flywheel.export._curation import CurationSettings, StepReport
from otel_flywheel.export._errors import ExportError, PIIFinding, PIIFoundError
from otel_flywheel.export._evals import export_evals
from otel_flywheel.export._export import export_dpo, export_grpo, export_sft
from otel_flywheel.export._format_base import (
    FormatProblem,
    PreferenceRecord,
    PromptRecord,
    RowFormat,
    SFTRecord,
    TrainingKind,
)
from otel_flywheel.export._formats import (
    ROW_FORMATS,
    RowFormatName,
    default_row_format,
    get_row_format,
)
from otel_flywheel.export._grpo import Granularity
from otel_flywheel.export._hf_format import HF_DPO_SCHEMA, HF_GRPO_SCHEMA, HF_SFT_SCHEMA
from otel_flywheel.export._load import (
    TraceLookup,
    load_examples_file,
    load_source,
)
from otel_flywheel.export._manifest import MANIFEST_VERSION, manifest_path_for
from otel_flywheel.export._pii import pii_scanner
from otel_flywheel.export._project import ExportSummary, export_training_data
from otel_flywheel.export._run import ExportKind, ExportResult
from otel_flywheel.export._write import FileFormat, file_format
from otel_flywheel.minhash import NearDuplicateIndex

__all__ = [
    "HF_DPO_SCHEMA",
    "HF_GRPO_SCHEMA",
    "HF_SFT_SCHEMA",
    "MANIFEST_VERSION",
    "ROW_FORMATS",
    "Conversation",
    "CurationSettings",
    "ExportError",
    "ExportKind",
    "ExportResult",
    "ExportSummary",
    "FileFormat",
    "FormatProblem",
    "Granularity",
    "NearDuplicateIndex",
    "PIIFinding",
    "PIIFoundError",
    "PreferenceRecord",
    "PromptRecord",
    "RowFormat",
    "RowFormatName",
    "SFTRecord",
    "StepReport",
    "TraceLookup",
    "TrainingKind",
    "conversation_from_trace",
    "default_row_format",
    "export_dpo",
    "export_evals",
    "export_grpo",
    "export_sft",
    "export_training_data",
    "file_format",
    "get_row_format",
    "load_examples_file",
    "load_source",
    "manifest_path_for",
    "pii_scanner",
]
