"""Effect sizes and multiplicity corrections against published worked examples.

Sources are named next to each expected figure; hand derivations say so.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from harness.analysis.effects import cliffs_delta, odds_ratio, paired_cliffs_delta, risk_difference
from harness.analysis.multiple import adjust_pvalues, correction_name
from harness.analysis.stats import TestResult, risk_difference_unpaired

# Benjamini & Hochberg (1995) J R Stat Soc B 57:289, §4: the 15 p-values of Neuhaus et al.
BH_1995 = [
    0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
    0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000,
]  # fmt: skip


# --------------------------------------------------------------------------- odds ratio


def test_odds_ratio_agresti_aspirin() -> None:
    # Agresti, An Introduction to Categorical Data Analysis (2nd ed.) §2.3.3, Physicians'
    # Health Study: 189/11034 placebo vs 104/11037 aspirin myocardial infarctions;
    # sample odds ratio 1.832, 95% Woolf interval (1.44, 2.33).
    r = odds_ratio(189, 11034, 104, 11037)
    assert round(r.estimate, 3) == 1.832
    assert (round(r.ci_low, 2), round(r.ci_high, 2)) == (1.44, 2.33)
    assert r.extra["log_or"] == pytest.approx(0.605, abs=5e-4)
    assert not r.extra["haldane"] and "Haldane" not in r.method and r.p_value is None


def test_odds_ratio_haldane_correction_for_a_zero_cell() -> None:
    # Hand derivation: cells 0, 10, 5, 5 become 0.5, 10.5, 5.5, 5.5; OR = 0.5·5.5/(10.5·5.5)
    # and SE(log) = √(1/0.5 + 1/10.5 + 1/5.5 + 1/5.5).
    r = odds_ratio(0, 10, 5, 10)
    assert r.estimate == pytest.approx(0.5 / 10.5)
    se = math.sqrt(1 / 0.5 + 1 / 10.5 + 2 / 5.5)
    assert r.extra["se_log"] == pytest.approx(se)
    assert r.ci_low == pytest.approx(math.exp(math.log(0.5 / 10.5) - 1.959963984540054 * se))
    assert r.extra["haldane"] and "Haldane-Anscombe +0.5" in r.method
    assert math.isnan(odds_ratio(0, 0, 1, 2).estimate)
    with pytest.raises(ValueError):
        odds_ratio(3, 2, 1, 2)


def test_risk_difference_is_newcombe_hybrid_score() -> None:
    # Newcombe (1998) Stat Med 17:873, Table II, method 10: 56/70 vs 48/80 -> (0.0524, 0.3339).
    r = risk_difference(56, 70, 48, 80)
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (0.0524, 0.3339)
    assert r == risk_difference_unpaired(56, 70, 48, 80)


# --------------------------------------------------------------------------- Cliff's delta


def test_cliffs_delta_effsize_reference_outputs() -> None:
    # R package effsize (Torchiano), tests/testCliff.Rout.save: cliff.delta(x1, x2) with
    # the defaults (unbiased variance, Student t) prints delta = -0.06666667 and 95% CI
    # -0.6082254 to 0.5172431; tests/testthat/testCliff.R: cliff.delta(treatment, control)
    # has delta = -0.25.
    x1 = [10, 20, 20, 20, 30, 30, 30, 40, 50, 100]
    x2 = [10, 20, 30, 40, 40, 50]
    r = cliffs_delta(x1, x2)
    assert r.estimate == pytest.approx(-0.06666667, abs=5e-9)
    assert (r.ci_low, r.ci_high) == pytest.approx((-0.6082254, 0.5172431), abs=5e-8)
    treatment = [10, 10, 20, 20, 20, 30, 30, 30, 40, 50]
    control = [10, 20, 30, 40, 40, 50]
    assert cliffs_delta(treatment, control).estimate == pytest.approx(-0.25)


def test_cliffs_delta_equals_dominance_matrix_and_mann_whitney_u() -> None:
    # Two other routes to the same number: the explicit sign matrix, and 2U/(mn) − 1.
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 8, 23).astype(float), rng.integers(2, 10, 17).astype(float)
    r = cliffs_delta(a, b)
    assert r.estimate == pytest.approx(np.sign(np.subtract.outer(a, b)).mean())
    u = sps.mannwhitneyu(a, b).statistic
    assert r.estimate == pytest.approx(2 * u / (a.size * b.size) - 1)
    assert -1 <= r.ci_low < r.estimate < r.ci_high <= 1


def test_cliffs_delta_complete_separation_stays_in_range() -> None:
    r = cliffs_delta([5, 6, 7, 8], [1, 2, 3])
    assert r.estimate == 1.0 and r.ci_high == 1.0 and 0 < r.ci_low < 1
    assert r.extra["var"] > r.extra["var_unbiased"]  # Cliff's floor applied
    assert math.isnan(cliffs_delta([], [1.0]).estimate)
    with pytest.raises(ValueError):
        cliffs_delta([1, 2], [3, 4], dist="z")


def test_paired_cliffs_delta_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 40)
    a, b = base + 0.5 + rng.normal(0, 0.3, 40), base
    r = paired_cliffs_delta(a, b, n_boot=300, seed=2)
    assert r.estimate == pytest.approx(cliffs_delta(a, b).estimate)
    assert r.ci_low <= r.estimate <= r.ci_high
    assert paired_cliffs_delta(a, b, n_boot=300, seed=2).ci_low == r.ci_low
    with pytest.raises(ValueError):
        paired_cliffs_delta([1.0], [1.0, 2.0])


# --------------------------------------------------------------------------- multiplicity


def test_holm_and_bh_on_benjamini_hochberg_1995_example() -> None:
    # Benjamini & Hochberg (1995) §4: at level 0.05 the Bonferroni-type procedures reject
    # the three smallest p-values (p <= 0.0019), the FDR procedure the four smallest
    # (p <= 0.0095).
    holm = adjust_pvalues(BH_1995, "holm")
    bh = adjust_pvalues(BH_1995, "bh")
    assert int((holm <= 0.05).sum()) == 3 and int((bh <= 0.05).sum()) == 4
    assert (holm >= np.array(BH_1995) - 1e-15).all() and (holm <= 1).all()
    assert int((adjust_pvalues(BH_1995, "bonferroni") <= 0.05).sum()) == 3


def test_adjusted_values_by_hand_and_missing_values() -> None:
    # Hand derivation for p = (0.01, 0.04, 0.03, 0.005): Holm sorts (0.005, 0.01, 0.03,
    # 0.04), multiplies by (4, 3, 2, 1) -> (0.02, 0.03, 0.06, 0.04), makes it monotone
    # -> (0.02, 0.03, 0.06, 0.06); BH multiplies by m/i -> (0.02, 0.02, 0.04, 0.04).
    p = [0.01, 0.04, 0.03, 0.005]
    assert adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust_pvalues(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust_pvalues(p, "none") == pytest.approx(p)
    with_nan = adjust_pvalues([0.01, None, float("nan"), 0.04], "holm")
    assert with_nan[0] == pytest.approx(0.02) and with_nan[3] == pytest.approx(0.04)
    assert math.isnan(with_nan[1]) and math.isnan(with_nan[2])  # not counted in the family
    assert correction_name("holm") == "Holm step-down (FWER)"
    with pytest.raises(ValueError):
        adjust_pvalues(p, "sidak")
    with pytest.raises(ValueError):
        adjust_pvalues([1.5], "holm")


def test_test_result_extension_is_backwards_compatible() -> None:
    old = TestResult("m", 0.1, 0.0, 0.2, 0.03, 10, {"k": 1}, 0.05)
    assert old.estimand == "" and old.statistic is None
    assert old.ci == (0.0, 0.2) and old.significant() and not old.significant(0.01)
    assert old.as_dict()["p_value"] == 0.03 and math.isnan(old.as_dict()["statistic"])
    assert not TestResult("m", 0.1, 0.0, 0.2, None, 10).significant()
