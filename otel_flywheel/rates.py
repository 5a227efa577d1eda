"""Pass and failure rates with honest intervals, shared by the replay gate and the report.

A rate gets a Wilson score interval (95 %): unlike the normal approximation it stays inside [0, 1]
and keeps its coverage at 0 or n successes, which small datasets and cohorts produce all the time.
A rate a judge measured can be corrected for the judge's measured error (Rogan-Gladen).
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["Z95", "corrected_pass_rate", "wilson_interval"]

Z95: Final = 1.959963984540054
"""The two-sided 95 % normal quantile."""


def wilson_interval(successes: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / n``; ``(0, 1)`` when ``n`` is 0 (nothing is
    known). Raises ``ValueError`` when ``successes`` is not within ``[0, n]``."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within [0, {n}], got {successes}")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def corrected_pass_rate(observed: float, sensitivity: float, specificity: float) -> float | None:
    """The pass rate people would give, from the judge's ``observed`` one (Rogan-Gladen):
    ``(observed + specificity - 1) / (sensitivity + specificity - 1)``, clipped to [0, 1].
    ``None`` when the judge is no better than chance (``sensitivity + specificity <= 1``)."""
    informedness = sensitivity + specificity - 1
    if informedness <= 0:
        return None
    return min(1.0, max(0.0, (observed + specificity - 1) / informedness))
