"""The report's statistics against values computed by hand (and by R where noted)."""

from __future__ import annotations

import pytest

from otel_flywheel.analysis._stats import (
    MIN_PAIRS,
    benjamini_hochberg,
    cohen_kappa,
    compare_proportions,
    kappa_with_interval,
    krippendorff_alpha,
)


def test_small_counts_use_fisher_exact_and_match_r() -> None:
    # Fisher's tea tasting, R: fisher.test(matrix(c(3, 1, 1, 3), 2))$p.value == 0.4857
    test = compare_proportions(3, 4, 1, 4)
    assert test.method == "fisher_exact"
    assert test.p_value == pytest.approx(0.485714, abs=1e-6)
    # By hand: the hypergeometric probabilities (10 failures among 10 + 14 traces) no larger
    # than that of the observed table, summed.
    rare = compare_proportions(1, 10, 9, 14)
    assert rare.method == "fisher_exact"
    assert rare.p_value == pytest.approx(0.0128780, abs=1e-6)


def test_large_counts_use_the_pooled_two_proportion_z_test() -> None:
    # pooled p = 0.375, se = sqrt(.375 * .625 * (1/100 + 1/100)), z = 0.15 / se = 2.1909
    test = compare_proportions(30, 100, 45, 100)
    assert test.method == "two_proportion_z"
    assert test.p_value == pytest.approx(0.02846, abs=1e-4)
    assert compare_proportions(30, 100, 30, 100).p_value == pytest.approx(1.0)


def test_benjamini_hochberg_matches_the_hand_computation() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 (m = 4): p·m/rank = 0.02, 0.02, 0.04, 0.04
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([]) == []


def test_cohen_kappa_matches_the_hand_computation() -> None:
    # 50 pairs: both pass 20, judge pass / person fail 5, judge fail / person pass 10, both fail 15.
    # po = 0.7; judge passes 0.5, people 0.6; pe = 0.5·0.6 + 0.5·0.4 = 0.5; kappa = 0.2/0.5 = 0.4
    judge = [True] * 20 + [True] * 5 + [False] * 10 + [False] * 15
    people = [True] * 20 + [False] * 5 + [True] * 10 + [False] * 15
    assert cohen_kappa(judge, people) == pytest.approx(0.4)
    agreement = kappa_with_interval(judge, people)
    assert agreement.kappa == pytest.approx(0.4)
    assert agreement.observed == pytest.approx(0.7)
    assert agreement.ci95 is not None
    low, high = agreement.ci95
    assert low < 0.4 < high
    assert low > 0.1
    assert high < 0.7
    assert kappa_with_interval(judge, people) == agreement  # seeded: the same every run


def test_kappa_says_not_enough_data_below_the_minimum_or_without_variation() -> None:
    few = kappa_with_interval([True, False] * 4, [True, False] * 4)
    assert few.n == 8 < MIN_PAIRS
    assert (few.kappa, few.ci95) == (None, None)
    constant = kappa_with_interval([True] * 30, [True] * 30)
    assert (constant.kappa, constant.observed) == (None, 1.0)


def test_krippendorff_alpha_matches_the_hand_computation() -> None:
    # Units (T,T), (F,F), (T,F), (T,T): coincidences o_TT 4, o_FF 2, o_TF = o_FT = 1; n_T 5,
    # n_F 3, n 8. D_o = 2/8, D_e = 2·5·3 / (8·7); alpha = 1 - D_o/D_e = 0.5333
    units = [[True, True], [False, False], [True, False], [True, True]]
    assert krippendorff_alpha(units) == pytest.approx(1 - 0.25 / (30 / 56))
    # A unit with one label carries no pair; an item nobody else labelled is ignored.
    assert krippendorff_alpha([*units, [True, None]]) == pytest.approx(1 - 0.25 / (30 / 56))
    assert krippendorff_alpha([[True, None], [False, None]]) is None
    assert krippendorff_alpha([[True, True], [True, True]]) is None
