"""`TrainingRow`: one row of an export, with the dataset example it came from.

``data`` is exactly what is written (the JSONL form); everything else is what curation and the
manifest need: the example (lineage), the user's input (leakage check) and the text compared for
duplicates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from otel_flywheel.datasets import DatasetExample

__all__ = ["UNCATEGORIZED", "Removal", "TrainingRow", "row_sha256"]

UNCATEGORIZED = "uncategorized"


@dataclass(frozen=True, kw_only=True)
class TrainingRow:
    data: dict[str, Any]
    example: DatasetExample
    input_text: str  # what the user asked: compared with the gating sets
    similarity_text: str  # what duplicates are judged on (no system prompt, no tool schemas)
    consent: bool | None = None
    trace_source: str | None = None  # "local_store" | "phoenix" | None (evals)
    # Where in its example the row comes from, when an example gives several (GRPO's decisions).
    lineage: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        value = self.example.metadata.get("category")
        return value if isinstance(value, str) and value else UNCATEGORIZED


@dataclass(frozen=True, kw_only=True)
class Removal:
    """A row a step removed: which example, which step, and why (ids, never content)."""

    step: str
    reason: str
    example_id: str
    dataset: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "reason": self.reason,
            "example_id": self.example_id,
            "dataset": self.dataset,
            **self.detail,
        }


def row_sha256(data: dict[str, Any]) -> str:
    """A digest of a row's canonical JSON: finds a row in the manifest even after shuffling."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
