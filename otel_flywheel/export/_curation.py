"""Curation: the steps between dataset examples and training rows, each counted with its reasons.

Every step takes the rows the previous one kept and returns what it removed as `Removal` records
(step, reason, example id, and for duplicates and leakage the example it matched), so the manifest
can say of every example that did not become a row where it went and why. Steps keep the first of
equals in source order: list the dataset you trust most first.

- ``consent``: consent withheld (``consent: false``); with ``require_consent`` also examples that
  never stated it.
- ``length``: rows shorter than ``min_chars`` or longer than ``max_chars``, counted on the row as
  written (about four characters per token).
- ``exact_duplicate``: rows equal after normalization (case, whitespace, punctuation, tool-call
  ids), which routing's per-dataset dedupe cannot see across datasets.
- ``near_duplicate``: rows whose word 3-shingles have Jaccard >= ``near_duplicate_threshold``
  (MinHash candidates, exact confirmation; see `otel_flywheel.minhash`). The system prompt and tool schemas are
  left out of the comparison: every row shares them.
- ``leakage``: rows whose user input equals, or nearly duplicates, the input of an example in the
  gating sets (the golden/regression sets CI replays): training on them would inflate the gate.
- ``balance``: at most ``max_per_category`` rows per category, then ``category_ratios``: the named
  categories are cut to the largest sizes that keep those proportions; others are untouched.
- ``format``: rows that break a rule of the file's reader (`RowFormat.problems`: OpenAI's format
  rules, or what chat templates need), with the field and the rule, never the value.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from otel_flywheel.datasets import DatasetExample
from otel_flywheel.export._format_base import RowFormat, TrainingKind
from otel_flywheel.export._rows import Removal, TrainingRow
from otel_flywheel.minhash import NearDuplicateIndex, normalize_text, shingles

__all__ = [
    "CurationLog",
    "CurationSettings",
    "StepReport",
    "balance",
    "consent_reason",
    "drop_exact_duplicates",
    "drop_format_problems",
    "drop_leakage",
    "drop_near_duplicates",
    "filter_consent",
    "filter_length",
]

_WORD = re.compile(r"\w+")
_ID_KEYS = frozenset({"id", "tool_call_id"})


class CurationSettings(BaseModel):
    """How rows are curated. Validated: a bad value raises ``pydantic.ValidationError`` naming it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    require_consent: bool = False
    min_chars: int = Field(default=0, ge=0)
    max_chars: int = Field(default=200_000, gt=0)
    near_duplicate_threshold: float | None = Field(default=0.85, gt=0.0, le=1.0)
    max_per_category: int | None = Field(default=None, gt=0)
    category_ratios: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> CurationSettings:
        if self.min_chars > self.max_chars:
            raise ValueError(
                f"min_chars ({self.min_chars}) must not exceed max_chars ({self.max_chars})"
            )
        negative = {name: w for name, w in self.category_ratios.items() if not w >= 0}
        if negative:
            raise ValueError(f"category_ratios must be >= 0, got {negative}")
        return self


@dataclass(frozen=True, kw_only=True)
class StepReport:
    """What one step did: rows in, rows removed, removals counted by reason."""

    step: str
    description: str
    rows_in: int
    removed: int
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rows_out(self) -> int:
        return self.rows_in - self.removed

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "description": self.description,
            "rows_in": self.rows_in,
            "removed": self.removed,
            "rows_out": self.rows_out,
            "reasons": dict(self.reasons),
        }


@dataclass
class CurationLog:
    """The steps run so far and every removal, in order."""

    steps: list[StepReport] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)

    def record(
        self, step: str, description: str, *, rows_in: int, removals: Sequence[Removal]
    ) -> StepReport:
        report = StepReport(
            step=step,
            description=description,
            rows_in=rows_in,
            removed=len(removals),
            reasons=dict(Counter(r.reason for r in removals)),
        )
        self.steps.append(report)
        self.removals.extend(removals)
        return report


# --- consent ------------------------------------------------------------------------------------


def consent_reason(consent: object, *, require: bool) -> str | None:
    """Why an example with this ``consent`` value may not be trained on, or ``None``."""
    if consent is False:
        return "consent_withheld"
    if require and consent is not True:
        return "no_consent_statement"
    return None


def filter_consent(
    examples: Iterable[DatasetExample], *, require: bool
) -> tuple[list[DatasetExample], list[Removal]]:
    kept: list[DatasetExample] = []
    removed: list[Removal] = []
    for example in examples:
        reason = consent_reason(example.metadata.get("consent"), require=require)
        if reason is None:
            kept.append(example)
        else:
            removed.append(_removal("consent", reason, example))
    return kept, removed


# --- length -------------------------------------------------------------------------------------


def filter_length(
    rows: Iterable[TrainingRow], *, min_chars: int, max_chars: int
) -> tuple[list[TrainingRow], list[Removal]]:
    kept: list[TrainingRow] = []
    removed: list[Removal] = []
    for row in rows:
        length = len(json.dumps(row.data, ensure_ascii=False))
        if length < min_chars:
            removed.append(_removal("length", "too_short", row.example, chars=length))
        elif length > max_chars:
            removed.append(_removal("length", "too_long", row.example, chars=length))
        else:
            kept.append(row)
    return kept, removed


# --- duplicates ---------------------------------------------------------------------------------


def drop_exact_duplicates(rows: Iterable[TrainingRow]) -> tuple[list[TrainingRow], list[Removal]]:
    seen: dict[str, DatasetExample] = {}
    kept: list[TrainingRow] = []
    removed: list[Removal] = []
    for row in rows:
        key = json.dumps(_normalized(row.data), sort_keys=True, ensure_ascii=False)
        first = seen.get(key)
        if first is None:
            seen[key] = row.example
            kept.append(row)
        else:
            removed.append(
                _removal("exact_duplicate", "exact_duplicate", row.example, **_of(first))
            )
    return kept, removed


def drop_near_duplicates(
    rows: Iterable[TrainingRow], *, threshold: float
) -> tuple[list[TrainingRow], list[Removal]]:
    index = NearDuplicateIndex(threshold=threshold)
    examples: dict[str, DatasetExample] = {}
    kept: list[TrainingRow] = []
    removed: list[Removal] = []
    for position, row in enumerate(rows):
        match = index.find_or_add(str(position), shingles(row.similarity_text))
        if match is None:
            examples[str(position)] = row.example
            kept.append(row)
        else:
            key, similarity = match
            removed.append(
                _removal(
                    "near_duplicate",
                    "near_duplicate",
                    row.example,
                    **_of(examples[key]),
                    similarity=round(similarity, 4),
                )
            )
    return kept, removed


# --- leakage ------------------------------------------------------------------------------------


def drop_leakage(
    rows: Iterable[TrainingRow],
    gating: Sequence[DatasetExample],
    *,
    threshold: float | None,
) -> tuple[list[TrainingRow], list[Removal]]:
    """Drop rows whose user input is (nearly) the input of a gating example."""
    exact: dict[str, DatasetExample] = {}
    index = NearDuplicateIndex(threshold=threshold) if threshold is not None else None
    by_key: dict[str, DatasetExample] = {}
    for position, example in enumerate(gating):
        text = _example_input(example)
        if not text:
            continue
        exact.setdefault(_words(text), example)
        if index is not None:
            index.add(str(position), shingles(text))
            by_key[str(position)] = example
    kept: list[TrainingRow] = []
    removed: list[Removal] = []
    for row in rows:
        hit = exact.get(_words(row.input_text)) if row.input_text else None
        similarity = 1.0
        if hit is None and index is not None and row.input_text:
            match = index.find(shingles(row.input_text))
            if match is not None:
                hit, similarity = by_key[match[0]], match[1]
        if hit is None:
            kept.append(row)
            continue
        removed.append(
            _removal(
                "leakage",
                "input_in_gating_set",
                row.example,
                gating_dataset=hit.dataset,
                gating_example_id=hit.example_id,
                similarity=round(similarity, 4),
            )
        )
    return kept, removed


# --- balance ------------------------------------------------------------------------------------


def balance(
    rows: Sequence[TrainingRow],
    *,
    max_per_category: int | None,
    ratios: dict[str, float],
) -> tuple[list[TrainingRow], list[Removal]]:
    removed: list[Removal] = []
    kept = list(rows)
    if max_per_category is not None:
        counts: Counter[str] = Counter()
        capped: list[TrainingRow] = []
        for row in kept:
            counts[row.category] += 1
            if counts[row.category] > max_per_category:
                removed.append(
                    _removal("balance", "category_cap", row.example, category=row.category)
                )
            else:
                capped.append(row)
        kept = capped
    if ratios:
        quota = _ratio_quota(Counter(row.category for row in kept), ratios)
        taken: Counter[str] = Counter()
        proportioned: list[TrainingRow] = []
        for row in kept:
            limit = quota.get(row.category)
            if limit is not None and taken[row.category] >= limit:
                removed.append(
                    _removal("balance", "category_ratio", row.example, category=row.category)
                )
                continue
            taken[row.category] += 1
            proportioned.append(row)
        kept = proportioned
    return kept, removed


def _ratio_quota(counts: Counter[str], ratios: dict[str, float]) -> dict[str, int]:
    """Rows to keep per named category: the largest total whose split follows the ratios.

    Categories named with weight 0 keep nothing; named categories without rows are left out of
    the proportion (they cannot supply their share, and should not zero the others).
    """
    quota = {name: 0 for name, weight in ratios.items() if weight == 0}
    present = {name: w for name, w in ratios.items() if w > 0 and counts.get(name, 0) > 0}
    if not present:
        return quota
    total_weight = sum(present.values())
    shares = {name: w / total_weight for name, w in present.items()}
    total = min(math.floor(counts[name] / share + 1e-9) for name, share in shares.items())
    quota.update({name: math.floor(share * total + 1e-9) for name, share in shares.items()})
    return quota


# --- format -------------------------------------------------------------------------------------


def drop_format_problems(
    rows: Iterable[TrainingRow], row_format: RowFormat, kind: TrainingKind
) -> tuple[list[TrainingRow], list[Removal]]:
    """Drop rows ``row_format``'s reader would reject or misread; the removal names the first
    rule broken (its reason) and every problem's field and rule."""
    kept: list[TrainingRow] = []
    removed: list[Removal] = []
    for row in rows:
        problems = row_format.problems(kind, row.data)
        if not problems:
            kept.append(row)
            continue
        removed.append(
            _removal(
                "format",
                problems[0].rule,
                row.example,
                row_format=row_format.name,
                problems=[problem.to_dict() for problem in problems],
            )
        )
    return kept, removed


# --- helpers ------------------------------------------------------------------------------------


def _normalized(node: Any) -> Any:
    if isinstance(node, str):
        return _words(node)
    if isinstance(node, list):
        return [_normalized(item) for item in node]
    if isinstance(node, dict):
        return {k: _normalized(v) for k, v in node.items() if k not in _ID_KEYS}
    return node


def _words(text: str) -> str:
    return " ".join(_WORD.findall(normalize_text(text)))


def _example_input(example: DatasetExample) -> str:
    value = example.input.get("input")
    if isinstance(value, str):
        return value
    return json.dumps(example.input, sort_keys=True) if example.input else ""


def _of(example: DatasetExample) -> dict[str, Any]:
    return {"duplicate_of": example.example_id, "duplicate_of_dataset": example.dataset}


def _removal(step: str, reason: str, example: DatasetExample, **detail: Any) -> Removal:
    return Removal(
        step=step,
        reason=reason,
        example_id=example.example_id,
        dataset=example.dataset,
        detail=detail,
    )
