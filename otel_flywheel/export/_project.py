"""`export_training_data`: a project's SFT, DPO and GRPO exports in one call (the demo's last step).

SFT and GRPO come from the project's golden and regression datasets, DPO from its preference
dataset,
with the dataset names routing uses (`RoutingSettings`: ``<project>/golden`` ...). A routing
dataset that does not exist yet (no feedback of that kind so far) is read as empty and noted in
the manifest, so a young project still gets every file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from otel_flywheel.config import RoutingSettings, resolve_settings
from otel_flywheel.datasets import LoadedDataset
from otel_flywheel.export._curation import CurationSettings
from otel_flywheel.export._export import export_dpo, export_grpo, export_sft
from otel_flywheel.export._formats import RowFormatName, default_row_format
from otel_flywheel.export._load import TraceLookup
from otel_flywheel.export._run import ExportResult
from otel_flywheel.phoenix import DatasetNotFoundError, load_dataset
from otel_flywheel.routing import RoutingStore

if TYPE_CHECKING:
    from otel_flywheel.config import PrivacySettings
    from otel_flywheel.phoenix import PhoenixClient

__all__ = ["ExportSummary", "export_training_data"]


@dataclass(frozen=True, kw_only=True)
class ExportSummary:
    sft: ExportResult
    dpo: ExportResult
    grpo: ExportResult | None = None  # None when the files are JSON lines for OpenAI

    def lines(self) -> list[str]:
        """One line per file: rows written and where the manifest is."""
        return [
            f"{result.kind.upper()}: {result.rows} rows -> {result.path} "
            f"(manifest: {result.manifest_path})"
            for result in (self.sft, self.dpo, self.grpo)
            if result is not None
        ]


def export_training_data(
    client: PhoenixClient,
    *,
    project: str,
    out_dir: str | os.PathLike[str],
    store: RoutingStore | None = None,
    use_local_store: bool = True,
    gating: Sequence[LoadedDataset] = (),
    curation: CurationSettings | None = None,
    privacy: PrivacySettings | Mapping[str, Any] | None = None,
    file_format: Literal["parquet", "jsonl"] = "parquet",
    row_format: RowFormatName | None = None,
    parallel_tool_calls: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ExportSummary:
    """Write ``sft.<format>``, ``dpo.<format>`` and, for ``hf`` rows, ``grpo.<format>`` (each
    with its manifest) into ``out_dir``.

    ``row_format``: ``hf`` or ``openai``; by default ``hf`` for Parquet, ``openai`` for JSON lines.
    ``parallel_tool_calls=False``: one tool call per assistant turn (see `export_sft`).

    Source traces come from ``store``, else the local routing store when ``use_local_store``
    (``<state dir>/routing.sqlite``, if this machine has one), then from Phoenix. Raises
    `PIIFoundError` when the PII scan finds anything (that file is not written).
    """
    settings = resolve_settings(RoutingSettings, {"project": project})
    directory = Path(out_dir)
    with ExitStack() as stack:
        if store is None and use_local_store:
            store = RoutingStore.existing()
            if store is not None:
                stack.callback(store.close)

        def sources(*routes: str) -> list[LoadedDataset]:
            return [_dataset_or_empty(client, settings.dataset(route)) for route in routes]

        def lookup() -> TraceLookup:
            return TraceLookup(store=store, client=client, progress=progress)

        options: dict[str, Any] = {
            "gating": gating,
            "row_format": row_format,
            "parallel_tool_calls": parallel_tool_calls,
            "curation": curation,
            "privacy": privacy,
            "progress": progress,
        }
        sft = export_sft(
            sources("golden", "regression"),
            out=directory / f"sft.{file_format}",
            traces=lookup(),
            **options,
        )
        dpo = export_dpo(
            sources("preference"), out=directory / f"dpo.{file_format}", traces=lookup(), **options
        )
        grpo = None
        if (row_format or default_row_format(file_format)) == "hf":
            grpo = export_grpo(
                sources("golden", "regression"),
                out=directory / f"grpo.{file_format}",
                traces=lookup(),
                **{**options, "row_format": "hf"},
            )
    return ExportSummary(sft=sft, dpo=dpo, grpo=grpo)


def _dataset_or_empty(client: PhoenixClient, name: str) -> LoadedDataset:
    try:
        return load_dataset(client, name)
    except DatasetNotFoundError:
        return LoadedDataset(name=name, origin="missing")
