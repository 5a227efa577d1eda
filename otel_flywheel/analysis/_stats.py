"""The statistics the report states, each chosen for the counts it will see.

- Rates get a Wilson score interval (95 %, `otel_flywheel.rates`).
- Two rates are compared with Fisher's exact test when an expected cell count is below 5, else
  with the pooled two-proportion z-test (two-sided); the method is recorded with the p-value.
- Many comparisons at once (every category x cohort cell) are controlled with Benjamini-Hochberg:
  the expected share of false flags among the flagged stays at or below ``alpha``.
- Agreement between the judge and people is Cohen's kappa with a percentile bootstrap interval;
  agreement among reviewers is Krippendorff's alpha (nominal), which allows missing labels.

Below ``MIN_PAIRS`` labelled pairs, or without variation in the labels, kappa is ``None`` and the
report says "not enough data" instead of printing a number nobody should act on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Final, Literal

import numpy as np

from otel_flywheel.errors import ConfigError

__all__ = [
    "MIN_PAIRS",
    "Agreement",
    "ProportionTest",
    "benjamini_hochberg",
    "cohen_kappa",
    "compare_proportions",
    "kappa_with_interval",
    "krippendorff_alpha",
    "require_statistics",
]

MIN_PAIRS: Final = 10
BOOTSTRAP_SAMPLES: Final = 2000
_FISHER_BELOW_EXPECTED: Final = 5.0


@dataclass(frozen=True)
class ProportionTest:
    """``p_value`` of "the two rates are equal" (two-sided) and which test gave it."""

    p_value: float
    method: Literal["fisher_exact", "two_proportion_z"]


def require_statistics() -> None:
    """Raise ``ConfigError`` naming the extra when the report's statistics libraries are missing
    (SciPy for Fisher's exact test and FDR control, ``krippendorff`` for agreement among
    reviewers): an agent that only captures need not carry them."""
    missing = [name for name in ("scipy", "krippendorff") if find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"the report's statistics need {' and '.join(missing)}. Fix: pip install "
            "'otel-flywheel[report]'"
        )


def compare_proportions(k1: int, n1: int, k2: int, n2: int) -> ProportionTest:
    """Is ``k2/n2`` different from ``k1/n1``? Fisher exact for small expected counts, else z."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both groups need at least one trace")
    total = n1 + n2
    failures = k1 + k2
    expected = min(
        n1 * failures / total,
        n2 * failures / total,
        n1 * (total - failures) / total,
        n2 * (total - failures) / total,
    )
    if expected < _FISHER_BELOW_EXPECTED:
        from scipy.stats import fisher_exact

        result = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided")
        return ProportionTest(min(1.0, float(result.pvalue)), "fisher_exact")
    pooled = failures / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (k2 / n2 - k1 / n1) / se
    return ProportionTest(math.erfc(abs(z) / math.sqrt(2)), "two_proportion_z")


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH-adjusted p-values (q-values), in the order given: flag where ``q <= alpha``."""
    if not p_values:
        return []
    from scipy.stats import false_discovery_control

    adjusted = false_discovery_control(np.asarray(p_values, dtype=float), method="bh")
    return [float(q) for q in np.atleast_1d(adjusted)]


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    """Cohen's kappa of two raters' pass/fail labels; ``None`` when chance agreement is total."""
    x = np.asarray(a, dtype=bool)
    y = np.asarray(b, dtype=bool)
    if len(x) == 0 or len(x) != len(y):
        return None
    value = _kappa(x[np.newaxis, :], y[np.newaxis, :])[0]
    return None if math.isnan(value) else float(value)


@dataclass(frozen=True)
class Agreement:
    """Judge against people: ``kappa`` with its bootstrap 95 % interval, both ``None`` below
    ``MIN_PAIRS`` pairs or without variation; ``observed`` is the plain share that agree."""

    n: int
    observed: float | None
    kappa: float | None
    ci95: tuple[float, float] | None


def kappa_with_interval(
    a: Sequence[bool], b: Sequence[bool], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> Agreement:
    """Cohen's kappa and a percentile bootstrap interval over resampled pairs (seeded)."""
    x = np.asarray(a, dtype=bool)
    y = np.asarray(b, dtype=bool)
    n = len(x)
    observed = float(np.mean(x == y)) if n else None
    if n < MIN_PAIRS:
        return Agreement(n=n, observed=observed, kappa=None, ci95=None)
    kappa = cohen_kappa(x.tolist(), y.tolist())
    if kappa is None:
        return Agreement(n=n, observed=observed, kappa=None, ci95=None)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, size=(samples, n))
    boot = _kappa(x[index], y[index])
    # A resample without variation has no kappa; the interval is over those that have one.
    boot = boot[~np.isnan(boot)]
    if len(boot) < samples // 2:
        return Agreement(n=n, observed=observed, kappa=kappa, ci95=None)
    low, high = np.percentile(boot, [2.5, 97.5])
    return Agreement(n=n, observed=observed, kappa=kappa, ci95=(float(low), float(high)))


def krippendorff_alpha(units: Sequence[Sequence[bool | None]]) -> float | None:
    """Krippendorff's alpha (nominal) among reviewers: ``units[i][j]`` is reviewer ``j``'s label
    of item ``i`` (``None`` where they gave none). ``None`` without two labels on some item or
    without variation."""
    if not units:
        return None
    import krippendorff

    width = max(len(row) for row in units)
    matrix = np.full((width, len(units)), np.nan)
    for column, row in enumerate(units):
        for coder, value in enumerate(row):
            if value is not None:
                matrix[coder, column] = float(value)
    pairable = np.sum(~np.isnan(matrix), axis=0) >= 2
    values = matrix[~np.isnan(matrix)]
    if not pairable.any() or len(np.unique(values)) < 2:
        return None
    alpha = float(
        krippendorff.alpha(reliability_data=matrix[:, pairable], level_of_measurement="nominal")
    )
    return None if math.isnan(alpha) else alpha


def _kappa(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise kappa of boolean matrices (one row per sample); NaN where chance agreement is 1."""
    po = np.mean(x == y, axis=1)
    px = np.mean(x, axis=1)
    py = np.mean(y, axis=1)
    pe = px * py + (1 - px) * (1 - py)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(pe < 1.0, (po - pe) / (1.0 - pe), np.nan)
    return np.asarray(kappa, dtype=float)
