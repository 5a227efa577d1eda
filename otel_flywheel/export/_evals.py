"""``export_evals``: the examples themselves, in the file ``replay --offline`` reads.

Written with `otel_flywheel.datasets.write_examples` after the consent filter and the PII scan,
with a manifest like every export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otel_flywheel.datasets import LoadedDataset, write_examples
from otel_flywheel.export._curation import CurationLog, CurationSettings, filter_consent
from otel_flywheel.export._rows import TrainingRow
from otel_flywheel.export._run import (
    ExportResult,
    Progress,
    consent_description,
    finish_export,
    pii_scan,
)
from otel_flywheel.export._write import atomic_target, described, file_format

if TYPE_CHECKING:
    from otel_flywheel.config import PrivacySettings

__all__ = ["export_evals"]


def export_evals(
    sources: Sequence[LoadedDataset],
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
    log.record("consent", consent_description(settings), rows_in=len(examples), removals=removed)
    rows = [
        TrainingRow(
            data={"input": e.input, "output": e.output, "metadata": e.metadata},
            example=e,
            input_text="",
            similarity_text="",
        )
        for e in kept
    ]
    pii = pii_scan(rows, privacy, log, say)
    with atomic_target(target) as temporary:
        write_examples(temporary, kept)
    written = described(target, kind, len(kept))
    return finish_export(
        "evals",
        None,
        None,
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
