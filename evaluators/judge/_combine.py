"""Self-consistency: one evaluation from several samples of the same judgment."""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from collections.abc import Sequence

from otel_flywheel.model import Evaluation

from ..rubric import Rubric  # noqa: TID252 (decisions.md: relative inside evaluators/)

__all__ = ["combine"]


def combine(evaluations: Sequence[Evaluation], rubric: Rubric) -> Evaluation:
    """One evaluation from n samples: the majority label (ties: the lower-scoring label).

    ``confidence`` is the agreement share (samples with the majority label / all samples, unscored
    ones included) times the mean confidence the agreeing samples stated themselves (1 when none
    did). The explanation ends with a note on any disagreement.
    """
    if len(evaluations) == 1:
        return evaluations[0]
    scored = [evaluation for evaluation in evaluations if not evaluation.unscored]
    total = len(evaluations)
    if not scored:
        first = evaluations[0]
        note = f"All {total} self-consistency samples were unscored."
        return dataclasses.replace(first, explanation=f"{first.explanation}\n\n{note}".strip())
    counts = Counter(evaluation.label for evaluation in scored)
    top = max(counts.values())

    def severity(label: str) -> tuple[float, str]:
        return (rubric.choices.get(label, 0.0), label)

    label = min((name for name, count in counts.items() if count == top), key=severity)
    agreeing = [evaluation for evaluation in scored if evaluation.label == label]
    agreement = top / total
    stated = [e.confidence for e in agreeing if e.confidence is not None]
    confidence = agreement * (statistics.fmean(stated) if stated else 1.0)
    others = [f"{name} x{count}" for name, count in counts.most_common() if name != label]
    unscored = total - len(scored)
    if unscored:
        others.append(f"unscored x{unscored}")
    note = f"Self-consistency: {top} of {total} samples gave {label!r}"
    note += f"; disagreement: {', '.join(others)}." if others else " (unanimous)."
    chosen = agreeing[0]
    return dataclasses.replace(
        chosen,
        confidence=round(confidence, 4),
        explanation=f"{chosen.explanation}\n\n{note}".strip(),
    )
