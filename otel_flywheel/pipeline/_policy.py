"""Which traces the LLM judge sees: every suspect one, and a share of the rest.

Deterministic checks run on every trace (they are free). The judge costs a request per rubric, so
the policy spends it where it is most likely to find something: a trace a check failed, or one a
user complained about, is always judged; of the others, a configurable share is.

The share is decided per trace id, so every instance and every retry makes the same decision for
the same trace. The hash is salted: capture's own ``sample_ratio`` reads the trace id's low bits
as ``TraceIdRatioBased`` does, and reusing them would make the two ratios overlap instead of
multiply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from otel_flywheel.errors import ConfigError
from otel_flywheel.model import AgentTrace, Evaluation

__all__ = ["JudgeDecision", "JudgeReason", "JudgeSamplingPolicy"]

JudgeReason = Literal["check_failed", "negative_feedback", "sampled", "not_sampled", "no_judge"]

_SALT = b"otel-flywheel/judge-sample/"


@dataclass(frozen=True, slots=True)
class JudgeDecision:
    judge: bool
    reason: JudgeReason


@dataclass(frozen=True, slots=True)
class JudgeSamplingPolicy:
    """``ratio`` of the traces that passed every check (and drew no complaint) get judged."""

    ratio: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.ratio <= 1.0:
            raise ConfigError(f"judge sample ratio must be within [0, 1], got {self.ratio}")

    def decide(
        self,
        trace: AgentTrace,
        check_evaluations: Sequence[Evaluation],
        *,
        negative_feedback: bool = False,
    ) -> JudgeDecision:
        if any(evaluation.passed is False for evaluation in check_evaluations):
            return JudgeDecision(True, "check_failed")
        if negative_feedback:
            return JudgeDecision(True, "negative_feedback")
        if self.ratio >= 1.0 or (self.ratio > 0.0 and _unit_interval(trace.trace_id) < self.ratio):
            return JudgeDecision(True, "sampled")
        return JudgeDecision(False, "not_sampled")


def _unit_interval(trace_id: str) -> float:
    digest = hashlib.blake2b(_SALT + trace_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
