"""Rates and their intervals, against published and hand-computed values."""

from __future__ import annotations

import pytest

from otel_flywheel.rates import Z95, corrected_pass_rate, wilson_interval


def test_wilson_interval_matches_the_published_values() -> None:
    # Wilson (1927) / Newcombe (1998) example: 81 of 263 -> [0.2553, 0.3662] at 95 %.
    lower, upper = wilson_interval(81, 263)
    assert lower == pytest.approx(0.2553, abs=1e-4)
    assert upper == pytest.approx(0.3662, abs=1e-4)


def test_wilson_interval_matches_the_hand_computation() -> None:
    # p = 0.2, n = 10: centre (0.2 + z²/20) / (1 + z²/10), half-width z·sqrt(pq/n + z²/4n²) / (...)
    low, high = wilson_interval(2, 10)
    assert low == pytest.approx(0.05668, abs=1e-5)
    assert high == pytest.approx(0.50984, abs=1e-5)
    # None or all: the interval still has width, and stays within [0, 1].
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)
    assert wilson_interval(10, 10)[0] == pytest.approx(10 / (10 + Z95**2), abs=1e-9)


def test_nothing_known_is_the_whole_range_and_impossible_counts_are_refused() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="within"):
        wilson_interval(11, 10)


@pytest.mark.parametrize(
    ("observed", "sensitivity", "specificity", "expected"),
    [
        (0.8, 1.0, 1.0, 0.8),  # a perfect judge needs no correction
        (0.7, 0.9, 0.8, (0.7 + 0.8 - 1) / (0.9 + 0.8 - 1)),
        (0.05, 0.9, 0.8, 0.0),  # clipped to [0, 1]
        (0.99, 0.9, 0.8, 1.0),
        (0.6, 0.5, 0.5, None),  # no better than chance: no correction is possible
    ],
)
def test_a_judge_measured_rate_is_corrected_for_the_judge_error(
    observed: float, sensitivity: float, specificity: float, expected: float | None
) -> None:
    result = corrected_pass_rate(observed, sensitivity, specificity)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)
