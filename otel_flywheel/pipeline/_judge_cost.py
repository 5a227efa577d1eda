"""What the LLM judge's judgments cost and how much of each trace they saw, per rubric.

Fed with every judge evaluation the pipeline emits; read by `PipelineCollector` as Prometheus
metrics: estimated prompt tokens per judgment (a histogram), the requests judgments took, how many
were judged in parts, the share of the trace's text shown, and how many verdicts were made with
most of the trace unseen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from otel_flywheel.model import Evaluation

__all__ = ["PROMPT_TOKEN_BUCKETS", "JudgeCost", "JudgeCostCounter"]

PROMPT_TOKEN_BUCKETS: Final = (1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000)
"""Upper bounds of the prompt-token histogram (``+Inf`` follows)."""


@dataclass(kw_only=True)
class JudgeCost:
    """One rubric's judgments since start. ``prompt_token_counts[i]`` counts judgments of at most
    ``PROMPT_TOKEN_BUCKETS[i]`` estimated prompt tokens (not cumulative; the last entry is the
    rest)."""

    judgments: int = 0
    prompt_tokens: int = 0
    prompt_token_counts: list[int] = field(
        default_factory=lambda: [0] * (len(PROMPT_TOKEN_BUCKETS) + 1)
    )
    requests: int = 0
    in_parts: int = 0
    mostly_unseen: int = 0
    share_shown: float = 0.0
    """Summed over judgments: divide by ``judgments`` for the mean share of text shown."""


class JudgeCostCounter:
    """Accumulates `JudgeCost` per rubric; the caller serializes access (the pipeline's lock)."""

    def __init__(self) -> None:
        self._by_rubric: dict[str, JudgeCost] = {}

    def add(self, evaluation: Evaluation) -> None:
        coverage = evaluation.coverage
        if coverage is None:
            return
        cost = self._by_rubric.setdefault(evaluation.rubric_id or evaluation.evaluator, JudgeCost())
        cost.judgments += 1
        cost.prompt_tokens += coverage.prompt_tokens
        bucket = next(
            (i for i, bound in enumerate(PROMPT_TOKEN_BUCKETS) if coverage.prompt_tokens <= bound),
            len(PROMPT_TOKEN_BUCKETS),
        )
        cost.prompt_token_counts[bucket] += 1
        cost.requests += coverage.requests
        cost.in_parts += coverage.parts > 0
        cost.mostly_unseen += coverage.mostly_unseen
        cost.share_shown += coverage.share_shown

    def snapshot(self) -> Mapping[str, JudgeCost]:
        return {
            rubric: JudgeCost(
                judgments=cost.judgments,
                prompt_tokens=cost.prompt_tokens,
                prompt_token_counts=list(cost.prompt_token_counts),
                requests=cost.requests,
                in_parts=cost.in_parts,
                mostly_unseen=cost.mostly_unseen,
                share_shown=cost.share_shown,
            )
            for rubric, cost in self._by_rubric.items()
        }
