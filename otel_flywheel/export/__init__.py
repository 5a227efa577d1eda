"""Training exports: SFT and DPO rows with curation and lineage, and the offline evals file.

``export_sft`` / ``export_dpo`` / ``export_evals`` write one file (Parquet or JSON lines) and its
manifest (``<file>.manifest.json``) from dataset examples loaded with ``load_dataset`` (Phoenix)
or ``load_examples_file``; source traces come through a ``TraceLookup`` (local routing store,
then Phoenix). ``export_training_data`` does a project's SFT and DPO exports in one call. The
``otel-flywheel export`` command wraps these.
"""

from __future__ import annotations

from otel_flywheel.export._conversation import Conversation, conversation_from_trace
from otel_flywheel.export._curation import CurationSettings, StepReport
from otel_flywheel.export._dpo import DPO_SCHEMA
from otel_flywheel.export._errors import ExportError, PIIFinding, PIIFoundError
from otel_flywheel.export._export import (
    ExportKind,
    ExportResult,
    export_dpo,
    export_evals,
    export_sft,
)
from otel_flywheel.export._load import (
    DatasetNotFoundError,
    SourceDataset,
    TraceLookup,
    load_dataset,
    load_examples_file,
    load_source,
    open_routing_store,
)
from otel_flywheel.export._manifest import MANIFEST_VERSION, manifest_path_for
from otel_flywheel.export._minhash import NearDuplicateIndex
from otel_flywheel.export._project import ExportSummary, export_training_data
from otel_flywheel.export._sft import MESSAGE_TYPE, SFT_SCHEMA

__all__ = [
    "DPO_SCHEMA",
    "MANIFEST_VERSION",
    "MESSAGE_TYPE",
    "SFT_SCHEMA",
    "Conversation",
    "CurationSettings",
    "DatasetNotFoundError",
    "ExportError",
    "ExportKind",
    "ExportResult",
    "ExportSummary",
    "NearDuplicateIndex",
    "PIIFinding",
    "PIIFoundError",
    "SourceDataset",
    "StepReport",
    "TraceLookup",
    "conversation_from_trace",
    "export_dpo",
    "export_evals",
    "export_sft",
    "export_training_data",
    "load_dataset",
    "load_examples_file",
    "load_source",
    "manifest_path_for",
    "open_routing_store",
]
