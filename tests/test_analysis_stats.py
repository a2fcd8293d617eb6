"""Statistical wrappers against published worked examples and independent derivations.

Every expected figure names its source. Where a figure is derived here rather
than quoted, the test says so and derives it by a different route (direct
enumeration, another library's implementation).
"""

from __future__ import annotations

import math
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from harness.analysis.stats import (
    TestResult,
    fisher_exact,
    log_ratio_paired,
    log_ratio_unpaired,
    mcnemar_exact,
    mcnemar_midp,
    mean_ci,
    paired_mean_difference,
    paired_risk_difference,
    paired_table,
    risk_difference_unpaired,
    welch_mean_difference,
    wilson_ci,
)

# Student's sleep data (Cushny & Peebles 1905, analysed by Student 1908; R datasets::sleep):
# extra hours of sleep for 10 patients under drug 1 and drug 2.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def _pairs(n11: int, n12: int, n21: int, n22: int) -> tuple[list[int], list[int]]:
    """0/1 outcome vectors for a paired 2×2 table (rows: first arm, columns: second)."""
    a = [1] * (n11 + n12) + [0] * (n21 + n22)
    b = [1] * n11 + [0] * n12 + [1] * n21 + [0] * n22
    return a, b


# --------------------------------------------------------------------------- Wilson


@pytest.mark.parametrize(
    ("x", "n", "lo", "hi"),
    [
        # Newcombe RG (1998) "Two-sided confidence intervals for the single proportion:
        # comparison of seven methods", Stat Med 17:857-872, Table II, method 3 (score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_1998_single_proportion(
    x: int, n: int, lo: float, hi: float
) -> None:
    r = wilson_ci(x, n)
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (lo, hi)
    assert r.estimate == pytest.approx(x / n)
    assert r.method.startswith("Wilson") and r.n == n and r.p_value is None


def test_wilson_agrees_with_statsmodels_on_a_grid() -> None:
    for n in (1, 7, 30, 200):
        for x in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            for alpha in (0.05, 0.1):
                r = wilson_ci(x, n, alpha)
                lo, hi = proportion_confint(x, n, alpha=alpha, method="wilson")
                assert r.ci_low == pytest.approx(lo, abs=1e-12)
                assert r.ci_high == pytest.approx(hi, abs=1e-12)


def test_wilson_rejects_impossible_counts_and_handles_zero_n() -> None:
    with pytest.raises(ValueError):
        wilson_ci(5, 4)
    with pytest.raises(ValueError):
        wilson_ci(1, 4, alpha=1.5)
    assert math.isnan(wilson_ci(0, 0).estimate)


# --------------------------------------------------------------------------- McNemar


def test_mcnemar_statistic_agresti_presidential_approval() -> None:
    # Agresti, Categorical Data Analysis (2nd ed. §10.1): approval of the President in two
    # surveys a month apart, n = 1600; discordant 150 and 86 -> z = 4.17, z² = 17.36.
    r = mcnemar_exact(150, 86)
    assert r.extra["chi2"] == pytest.approx(17.36, abs=0.005)
    assert math.sqrt(r.extra["chi2"]) == pytest.approx(4.17, abs=0.005)
    assert r.p_value < 1e-4 and r.n == 236


def test_mcnemar_cavo_example_fagerland_lydersen_laake() -> None:
    # Fagerland, Lydersen & Laake, Statistical Analysis of Contingency Tables (2017), ch. 8:
    # complete response before/after consolidation therapy (Cavo et al. 2012),
    # table [[59, 6], [16, 80]]. P-values as printed by the authors' R package
    # contingencytables (tests/testthat/test-ch8.R): exact conditional 0.052479,
    # mid-p 0.034690, asymptotic 0.033006.
    exact, mid = mcnemar_exact(6, 16), mcnemar_midp(6, 16)
    assert exact.p_value == pytest.approx(0.052479, abs=5e-7)
    assert mid.p_value == pytest.approx(0.034690, abs=5e-7)
    assert exact.extra["p_asymptotic"] == pytest.approx(0.033006, abs=5e-7)
    assert exact.method == "McNemar exact conditional" and mid.method == "McNemar mid-p"


def test_mcnemar_bentur_example_by_enumeration() -> None:
    # Bentur et al. (2009) airway hyper-responsiveness table [[1, 1], [7, 12]], the worked
    # example of Fagerland et al. (2013) BMC Med Res Methodol 13:91. Derived here by
    # enumerating Bin(8, 1/2) with exact fractions (not quoted): exact = 2·(1+8)/256,
    # mid-p = exact − 8/256.
    exact = Fraction(2 * (comb(8, 0) + comb(8, 1)), 2**8)
    mid = exact - Fraction(comb(8, 1), 2**8)
    assert mcnemar_exact(1, 7).p_value == pytest.approx(float(exact), rel=1e-12)
    assert mcnemar_midp(1, 7).p_value == pytest.approx(float(mid), rel=1e-12)
    assert (round(float(exact), 3), round(float(mid), 3)) == (0.070, 0.039)


def test_mcnemar_symmetric_and_empty_cases() -> None:
    assert mcnemar_exact(5, 5).p_value == 1.0
    # Fagerland et al. (2013): when b = c the mid-p value is 1 − P(X = b)/2.
    assert mcnemar_midp(5, 5).p_value == pytest.approx(1 - 0.5 * comb(10, 5) / 2**10)
    none = mcnemar_exact(0, 0)
    assert none.p_value == 1.0 and none.n == 0 and math.isnan(none.estimate)
    assert mcnemar_exact(7, 1).p_value == mcnemar_exact(1, 7).p_value
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 3)


def test_mcnemar_exact_never_exceeds_its_level_and_midp_is_smaller() -> None:
    # Under H0 the discordant count is Bin(nd, 1/2); the exact test's true size, summed
    # over every outcome, must not exceed alpha (it is conservative by construction).
    for nd in range(1, 61):
        pmf = sps.binom.pmf(np.arange(nd + 1), nd, 0.5)
        pvals = [mcnemar_exact(b, nd - b).p_value for b in range(nd + 1)]
        size = float(sum(p for p, pv in zip(pmf, pvals, strict=True) if pv <= 0.05))
        assert size <= 0.05 + 1e-12, nd
        if nd <= 20:
            for b in range(nd + 1):
                assert mcnemar_midp(b, nd - b).p_value <= pvals[b] + 1e-12


def test_mcnemar_odds_ratio_intervals() -> None:
    r = mcnemar_exact(6, 16)
    assert r.estimate == pytest.approx(6 / 16)
    # Clopper-Pearson on b/(b+c) by scipy's binomtest, transformed to the odds scale.
    ci = sps.binomtest(6, 22).proportion_ci(method="exact")
    assert r.ci_low == pytest.approx(ci.low / (1 - ci.low))
    assert r.ci_high == pytest.approx(ci.high / (1 - ci.high))
    # The mid-p limits solve P(X > b) + P(X = b)/2 = alpha/2 (and the mirror image).
    m = mcnemar_midp(6, 16)
    lo, hi = m.ci_low / (1 + m.ci_low), m.ci_high / (1 + m.ci_high)
    assert sps.binom.sf(6, 22, lo) + 0.5 * sps.binom.pmf(6, 22, lo) == pytest.approx(
        0.025, abs=1e-9
    )
    assert sps.binom.cdf(5, 22, hi) + 0.5 * sps.binom.pmf(6, 22, hi) == pytest.approx(
        0.025, abs=1e-9
    )
    assert r.ci_low < m.ci_low < m.estimate < m.ci_high < r.ci_high  # mid-p is narrower


# --------------------------------------------------------------------------- paired differences


def test_paired_risk_difference_cavo_newcombe_and_wald() -> None:
    # Same source as the McNemar Cavo example: Newcombe square-and-add -0.0621
    # (-0.1186 to -0.0046); Wald -0.0621 (-0.1184 to -0.0058).
    a, b = _pairs(59, 6, 16, 80)
    r = paired_risk_difference(a, b)
    assert (round(r.estimate, 4), round(r.ci_low, 4), round(r.ci_high, 4)) == (
        -0.0621,
        -0.1186,
        -0.0046,
    )
    assert "Newcombe" in r.method and r.p_value is None and r.n == 161
    w = paired_risk_difference(a, b, method="wald")
    assert (round(w.ci_low, 4), round(w.ci_high, 4)) == (-0.1184, -0.0058)


def test_paired_risk_difference_agresti_presidential_wald() -> None:
    # Agresti, CDA §10.1: p1+ − p+1 = 0.59 − 0.55 = 0.04, SE 0.0095, 95% CI (0.02, 0.06).
    a, b = _pairs(794, 150, 86, 570)
    w = paired_risk_difference(a, b, method="wald")
    assert w.estimate == pytest.approx(0.04)
    assert round(w.extra["se"], 4) == 0.0095
    assert (round(w.ci_low, 2), round(w.ci_high, 2)) == (0.02, 0.06)


def test_paired_risk_difference_is_antisymmetric_and_validates() -> None:
    a, b = _pairs(10, 7, 2, 11)
    ab, ba = paired_risk_difference(a, b), paired_risk_difference(b, a)
    assert ab.estimate == pytest.approx(-ba.estimate)
    assert (ab.ci_low, ab.ci_high) == pytest.approx((-ba.ci_high, -ba.ci_low))
    assert paired_table(a, b) == (10, 7, 2, 11)
    with pytest.raises(ValueError):
        paired_risk_difference([1, 0, 0.5], [1, 0, 1])
    with pytest.raises(ValueError):
        paired_risk_difference([1, 0], [1, 0, 1])
    with pytest.raises(ValueError):
        paired_risk_difference([1, float("nan")], [1, 0])


def test_newcombe_paired_interval_has_near_nominal_exact_coverage() -> None:
    # Exact coverage at n = 20: enumerate every 2×2 table, weight by its multinomial
    # probability, count how often the interval contains the true difference p12 − p21.
    n = 20
    tables, cis = [], []
    for n11 in range(n + 1):
        for n12 in range(n + 1 - n11):
            for n21 in range(n + 1 - n11 - n12):
                t = (n11, n12, n21, n - n11 - n12 - n21)
                r = paired_risk_difference(*_pairs(*t))
                tables.append(t)
                cis.append((r.ci_low, r.ci_high))
    counts = np.array(tables)
    lo, hi = np.array(cis).T
    log_coef = math.lgamma(n + 1) - sum(np.vectorize(math.lgamma)(counts + 1).T)
    for probs in [(0.4, 0.2, 0.1, 0.3), (0.2, 0.3, 0.05, 0.45), (0.7, 0.05, 0.15, 0.1)]:
        with np.errstate(divide="ignore"):
            logp = log_coef + (counts * np.log(probs)).sum(axis=1)
        w = np.exp(logp)
        assert w.sum() == pytest.approx(1.0)
        theta = probs[1] - probs[2]
        coverage = float(w[(lo <= theta + 1e-12) & (theta - 1e-12 <= hi)].sum())
        assert 0.93 <= coverage <= 0.995, (probs, coverage)


# ------------------------------------------------------------------ independent proportions


@pytest.mark.parametrize(
    ("xa", "na", "xb", "nb", "lo", "hi"),
    [
        # Newcombe RG (1998) "Interval estimation for the difference between independent
        # proportions: comparison of eleven methods", Stat Med 17:873-890, Table II, method 10.
        (56, 70, 48, 80, 0.0524, 0.3339),
        (0, 10, 0, 10, -0.2775, 0.2775),
        # Fagerland, Lydersen & Laake (2017) ch. 4, Perondi et al. (2004), as printed by
        # contingencytables (tests/testthat/test-ch4.R): 0.1765 (0.0189 to 0.3404).
        (7, 34, 1, 34, 0.0189, 0.3404),
    ],
)
def test_newcombe_hybrid_score_unpaired(
    xa: int, na: int, xb: int, nb: int, lo: float, hi: float
) -> None:
    r = risk_difference_unpaired(xa, na, xb, nb)
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (lo, hi)
    assert r.estimate == pytest.approx(xa / na - xb / nb)


def test_newcombe_unpaired_agrees_with_statsmodels() -> None:
    for xa, na, xb, nb in [(3, 12, 9, 15), (20, 40, 20, 40), (1, 50, 0, 60), (33, 34, 17, 30)]:
        r = risk_difference_unpaired(xa, na, xb, nb)
        lo, hi = confint_proportions_2indep(xa, na, xb, nb, method="newcomb", compare="diff")
        assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), abs=1e-12)


def test_fisher_exact_published_examples() -> None:
    # Fisher's tea-tasting experiment, Agresti CDA §3.5: [[3, 1], [1, 3]], two-sided P = 0.486.
    assert round(fisher_exact(3, 4, 1, 4).p_value, 3) == 0.486
    # Fagerland, Lydersen & Laake (2017) ch. 4, Ritland et al. (2007) [[0, 16], [15, 57]]:
    # Fisher exact P = 0.06287 (contingencytables tests/testthat/test-ch4.R).
    r = fisher_exact(0, 16, 15, 72)
    assert round(r.p_value, 5) == 0.06287
    assert r.estimate == 0.0 and r.method == "Fisher exact test"


# --------------------------------------------------------------------------- t-based


def test_paired_t_on_student_sleep_data() -> None:
    # R: t.test(extra ~ group, data = sleep, paired = TRUE) prints t = -4.0621, df = 9,
    # p-value = 0.002833, 95% CI -2.4598858 -0.7001142, mean difference -1.58.
    r = paired_mean_difference(SLEEP_1, SLEEP_2)
    assert r.estimate == pytest.approx(-1.58)
    assert r.extra["t"] == pytest.approx(-4.0621, abs=5e-5) and r.extra["df"] == 9
    assert r.p_value == pytest.approx(0.002833, abs=5e-7)
    assert (r.ci_low, r.ci_high) == pytest.approx((-2.4598858, -0.7001142), abs=5e-8)
    # Independent implementation: scipy's ttest_rel.
    ref = sps.ttest_rel(SLEEP_1, SLEEP_2)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)


def test_welch_on_student_sleep_data() -> None:
    # R: t.test(extra ~ group, data = sleep) (Welch) prints t = -1.8608, df = 17.776,
    # p-value = 0.07939, 95% CI -3.3654832 0.2054832.
    r = welch_mean_difference(SLEEP_1, SLEEP_2)
    assert r.extra["t"] == pytest.approx(-1.8608, abs=5e-5)
    assert r.extra["df"] == pytest.approx(17.776, abs=5e-4)
    assert r.p_value == pytest.approx(0.07939, abs=5e-6)
    assert (r.ci_low, r.ci_high) == pytest.approx((-3.3654832, 0.2054832), abs=5e-8)


def test_paired_mean_difference_drops_missing_pairs_and_handles_degenerate_cases() -> None:
    r = paired_mean_difference([1.0, 0.5, float("nan"), 0.0], [0.0, 0.5, 1.0, 0.0])
    assert r.n == 3 and r.extra["n_dropped"] == 1
    same = paired_mean_difference([0.5, 0.5], [0.5, 0.5])
    assert same.estimate == 0 and same.p_value == 1.0
    one = paired_mean_difference([1.0], [0.0])
    assert one.n == 1 and one.p_value is None and math.isnan(one.ci_low)


def test_mean_ci_matches_scipy_t_interval() -> None:
    v = np.array([0.3, 0.9, 0.4, 0.7, 0.2, 0.6])
    r = mean_ci(v)
    lo, hi = sps.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=sps.sem(v))
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi))


# --------------------------------------------------------------------------- log ratios


def test_log_ratio_paired_is_exp_of_paired_t_on_logs() -> None:
    rng = np.random.default_rng(7)
    b = rng.lognormal(0, 1, 25)
    a = 3.0 * b * rng.lognormal(0, 0.2, 25)
    r = log_ratio_paired(a, b)
    ref = sps.ttest_rel(np.log(a), np.log(b))
    ci = ref.confidence_interval()
    assert r.estimate == pytest.approx(math.exp(np.mean(np.log(a) - np.log(b))))
    assert (r.ci_low, r.ci_high) == pytest.approx((math.exp(ci.low), math.exp(ci.high)))
    assert r.p_value == pytest.approx(ref.pvalue)
    assert r.ci_low < 3.0 < r.ci_high
    assert r.extra["geomean_a"] / r.extra["geomean_b"] == pytest.approx(r.estimate)


def test_log_ratio_paired_drops_zeros_and_missing_with_counts() -> None:
    a = [2.0, 4.0, 0.0, float("nan"), 6.0, 1.0]
    b = [1.0, 2.0, 5.0, 1.0, 3.1, -1.0]
    r = log_ratio_paired(a, b)
    assert r.n == 3
    assert (r.extra["n_missing"], r.extra["n_nonpositive"], r.extra["n_dropped"]) == (1, 2, 3)
    exact = log_ratio_paired([2.0, 4.0, 8.0], [1.0, 2.0, 4.0])
    assert exact.estimate == pytest.approx(2.0) and exact.ci_high == pytest.approx(2.0)


def test_log_ratio_unpaired_is_welch_on_logs() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.lognormal(1.0, 0.5, 30), rng.lognormal(0.2, 0.9, 20)
    r = log_ratio_unpaired(np.append(a, 0.0), b)
    ref = sps.ttest_ind(np.log(a), np.log(b), equal_var=False)
    ci = ref.confidence_interval()
    assert r.p_value == pytest.approx(ref.pvalue)
    assert (r.ci_low, r.ci_high) == pytest.approx((math.exp(ci.low), math.exp(ci.high)))
    assert r.extra["n_nonpositive_a"] == 1 and r.n == 50


def test_test_result_is_frozen() -> None:
    r = wilson_ci(3, 10)
    assert isinstance(r, TestResult)
    with pytest.raises(AttributeError):
        r.estimate = 0.5  # type: ignore[misc]
