"""Replay as an A/B: two variants of the agent over the same examples, side by side.

Each variant is replayed and gated as usual (`evaluate_gate`); the comparison then pairs their
outcomes example by example:

- **Rates.** Each variant's pass rate over its scored runs, with a 95 % Wilson interval.
- **Difference.** Over the examples both variants scored (pass or fail; flaky and erroring ones
  are listed, not counted), B's pass rate minus A's, with a 95 % interval by Newcombe's score
  method for paired proportions (method 10 of Newcombe, 1998: Wilson intervals of both rates and
  the correlation of the pairs), and the exact McNemar test on the examples whose outcome differs.
- **Per example.** Where B passes and A fails (better), where B fails and A passes (worse), and
  those flaky or erroring in either.
- **Per category.** Both variants' rates side by side.

The verdict is "better" or "worse" when McNemar's two-sided p-value is below ``alpha`` (0.05),
else "no significant difference": a handful of examples rarely says more, and the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from otel_flywheel.rates import wilson_interval
from otel_flywheel.replay._gate import ExampleOutcome, GateResult

__all__ = [
    "Comparison",
    "Difference",
    "ExampleDifference",
    "compare_variants",
    "paired_difference_interval",
]

Difference = Literal["better", "worse", "same", "undecided"]
Verdict = Literal["better", "worse", "no significant difference"]
DEFAULT_ALPHA: Final = 0.05


@dataclass(frozen=True, kw_only=True)
class ExampleDifference:
    """One example under both variants: ``difference`` says how B did against A."""

    a: ExampleOutcome
    b: ExampleOutcome

    @property
    def name(self) -> str:
        return self.a.name

    @property
    def difference(self) -> Difference:
        if self.a.status not in ("pass", "fail") or self.b.status not in ("pass", "fail"):
            return "undecided"  # flaky or erroring in one of them: no clean pair
        if self.a.status == self.b.status:
            return "same"
        return "better" if self.b.status == "pass" else "worse"


@dataclass(frozen=True, kw_only=True)
class CategoryComparison:
    category: str
    examples: int
    a_passes: int
    a_scored: int
    b_passes: int
    b_scored: int


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Two replays of the same examples, paired (see the module docstring)."""

    a_name: str
    b_name: str
    a: GateResult
    b: GateResult
    examples: tuple[ExampleDifference, ...]
    alpha: float = DEFAULT_ALPHA

    def with_difference(self, difference: Difference) -> list[ExampleDifference]:
        return [e for e in self.examples if e.difference == difference]

    @property
    def paired(self) -> int:
        """Examples both variants scored cleanly (pass or fail, not flaky, no error)."""
        return sum(1 for e in self.examples if e.difference != "undecided")

    @property
    def rate_difference(self) -> float | None:
        """B's pass rate minus A's over the paired examples."""
        if not self.paired:
            return None
        return (len(self.with_difference("better")) - len(self.with_difference("worse"))) / (
            self.paired
        )

    @property
    def difference_interval(self) -> tuple[float, float] | None:
        counts = self._table()
        return paired_difference_interval(*counts) if self.paired else None

    @property
    def p_value(self) -> float:
        """Exact two-sided McNemar: are B's wins and losses more lopsided than chance?"""
        better, worse = len(self.with_difference("better")), len(self.with_difference("worse"))
        if better + worse == 0:
            return 1.0
        from scipy.stats import binomtest

        return float(binomtest(min(better, worse), better + worse, 0.5).pvalue)

    @property
    def verdict(self) -> Verdict:
        if self.p_value >= self.alpha:
            return "no significant difference"
        better, worse = len(self.with_difference("better")), len(self.with_difference("worse"))
        return "better" if better > worse else "worse"

    @property
    def problems(self) -> tuple[str, ...]:
        """Why either variant's replay could not be decided (more errors than allowed)."""
        return tuple(
            f"{name}: {problem}"
            for name, gate in ((self.a_name, self.a), (self.b_name, self.b))
            for problem in gate.problems
        )

    @property
    def exit_code(self) -> int:
        """0 B is not significantly worse than A; 1 it is; 2 a variant could not be decided."""
        if self.problems:
            return 2
        return 1 if self.verdict == "worse" else 0

    @property
    def categories(self) -> tuple[CategoryComparison, ...]:
        grouped: dict[str, list[ExampleDifference]] = {}
        for pair in self.examples:
            grouped.setdefault(pair.a.category, []).append(pair)
        return tuple(
            CategoryComparison(
                category=category,
                examples=len(pairs),
                a_passes=sum(p.a.passes for p in pairs),
                a_scored=sum(p.a.scored for p in pairs),
                b_passes=sum(p.b.passes for p in pairs),
                b_scored=sum(p.b.scored for p in pairs),
            )
            for category, pairs in sorted(grouped.items())
        )

    def _table(self) -> tuple[int, int, int, int]:
        """(both pass, A only, B only, both fail) over the paired examples."""
        both = sum(1 for e in self.examples if e.difference == "same" and e.a.status == "pass")
        neither = sum(1 for e in self.examples if e.difference == "same" and e.a.status == "fail")
        return (
            both,
            len(self.with_difference("worse")),
            len(self.with_difference("better")),
            neither,
        )


def compare_variants(
    a: GateResult,
    b: GateResult,
    *,
    names: tuple[str, str] = ("A", "B"),
    alpha: float = DEFAULT_ALPHA,
) -> Comparison:
    """Pair ``a`` and ``b``'s outcomes by example id; examples only one of them ran are left out
    (both replays read the same examples, so there are none unless a dataset changed between)."""
    by_id = {outcome.example.example_id: outcome for outcome in b.outcomes}
    pairs = tuple(
        ExampleDifference(a=outcome, b=by_id[outcome.example.example_id])
        for outcome in a.outcomes
        if outcome.example.example_id in by_id
    )
    return Comparison(a_name=names[0], b_name=names[1], a=a, b=b, examples=pairs, alpha=alpha)


def paired_difference_interval(
    both: int, a_only: int, b_only: int, neither: int, *, z: float = 1.959964
) -> tuple[float, float]:
    """95 % interval of ``p_B - p_A`` for paired binary outcomes (Newcombe 1998, method 10:
    Wilson intervals of both rates, combined through their correlation).

    ``both``: pairs where A and B pass; ``a_only``: A passes, B fails; ``b_only``: B passes, A
    fails; ``neither``: both fail.
    """
    n = both + a_only + b_only + neither
    if n == 0:
        return -1.0, 1.0
    p_a, p_b = (both + a_only) / n, (both + b_only) / n
    l_a, u_a = wilson_interval(both + a_only, n, z=z)
    l_b, u_b = wilson_interval(both + b_only, n, z=z)
    denominator = (both + a_only) * (b_only + neither) * (both + b_only) * (a_only + neither)
    # Newcombe's phi, with his continuity adjustment (as in Altman et al., "Statistics with
    # Confidence", 2000, p. 52): a positive correlation is reduced by N/2, a negative one kept.
    association = both * neither - a_only * b_only
    adjusted = association - n / 2 if association > n / 2 else min(association, 0)
    phi = adjusted / math.sqrt(denominator) if denominator else 0.0
    theta = p_b - p_a
    lower = theta - math.sqrt(
        max(0.0, (p_b - l_b) ** 2 - 2 * phi * (p_b - l_b) * (u_a - p_a) + (u_a - p_a) ** 2)
    )
    upper = theta + math.sqrt(
        max(0.0, (u_b - p_b) ** 2 - 2 * phi * (u_b - p_b) * (p_a - l_a) + (p_a - l_a) ** 2)
    )
    return max(-1.0, lower), min(1.0, upper)
