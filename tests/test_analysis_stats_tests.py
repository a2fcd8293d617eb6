"""The added stats wrappers against published worked examples and independent implementations.

Every expected figure names its source. Where no published figure exists (the
bootstraps are random; the clustered SE has no printed worked example with
data), the test says so and checks against an independent implementation
(statsmodels, scipy) or a derivation done here by a different route.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats.proportion import proportions_ztest

from harness.analysis.stats import (
    TestResult,
    bootstrap_quantile_ci,
    cluster_bootstrap_mean,
    clustered_mean,
    clustered_paired_difference,
    mann_whitney,
    mcnemar_asymptotic,
    paired_bootstrap,
    paired_t,
    quantile_ratio,
    two_proportion_ztest,
    welch_t,
    wilcoxon_signed_rank,
)

# R datasets / wilcox.test help page, from Hollander & Wolfe (1973) p. 29:
# Hamilton depression scale factor IV before (x) and after (y) a tranquilizer.
DEPRESSION_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
DEPRESSION_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
# wilcox.test help page, from Hollander & Wolfe (1973) p. 69: permeability constants.
PERM_X = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
PERM_Y = [1.15, 0.88, 0.90, 0.74, 1.21]


# --------------------------------------------------------------------------- McNemar (χ²)


def test_mcnemar_asymptotic_with_and_without_continuity() -> None:
    # Statology "How to Perform McNemar's Test in R" (2020): table [[30, 40], [12, 18]],
    # mcnemar.test(data) prints "McNemar's chi-squared = 14.019" (continuity-corrected).
    cc = mcnemar_asymptotic(40, 12, continuity=True)
    assert cc.statistic == pytest.approx(14.019, abs=5e-4)
    assert cc.p_value == pytest.approx(sps.chi2.sf(27**2 / 52, 1), rel=1e-12)
    assert "Edwards continuity correction" in cc.method
    # Agresti, Categorical Data Analysis §10.1 (presidential approval, discordant 150 and
    # 86): uncorrected z² = 17.36.
    raw = mcnemar_asymptotic(150, 86)
    assert raw.statistic == pytest.approx(17.36, abs=0.005)
    assert "no continuity correction" in raw.method
    # Hand derivation: the corrected statistic of the same table is (|150-86|-1)²/236.
    assert mcnemar_asymptotic(150, 86, continuity=True).statistic == pytest.approx(63**2 / 236)
    assert raw.estimate == pytest.approx(150 / 86) and raw.ci_low < raw.estimate < raw.ci_high


def test_mcnemar_asymptotic_edge_cases() -> None:
    none = mcnemar_asymptotic(0, 0)
    assert none.p_value == 1.0 and math.isnan(none.estimate)
    one_sided = mcnemar_asymptotic(5, 0)
    assert one_sided.estimate == math.inf and math.isnan(one_sided.ci_low)
    assert mcnemar_asymptotic(1, 0, continuity=True).statistic == 0.0  # |1-0|-1 = 0
    with pytest.raises(ValueError):
        mcnemar_asymptotic(-1, 2)


# --------------------------------------------------------------------------- Wilcoxon


def test_wilcoxon_signed_rank_r_depression_example() -> None:
    # R's wilcox.test help (Hollander & Wolfe 1973 p. 29): wilcox.test(x, y, paired = TRUE,
    # alternative = "greater") gives V = 40, p-value = 0.01953. The exact null distribution
    # is symmetric, so the two-sided p-value is twice that: 0.0390625 = 10/256.
    r = wilcoxon_signed_rank(DEPRESSION_X, DEPRESSION_Y)
    assert r.statistic == 40
    assert r.p_value == pytest.approx(2 * 0.01953, abs=1e-5)
    assert r.p_value == pytest.approx(10 / 256, rel=1e-12)
    assert r.extra["exact"] and r.method == "Wilcoxon signed-rank (zeros: wilcox)"


def test_wilcoxon_hodges_lehmann_membrane_example() -> None:
    # Iowa State Stat 403 worked example "membrane" (permeability constants, H0: median
    # 1.10): the median of the 55 Walsh averages is 1.385; the 9th to 47th ordered Walsh
    # averages, 1.13 to 1.67, form a 95.2% interval; two-sided P = 2(0.019) = 0.038
    # (from a table, so to 3 decimals).
    y = [0.90, 1.13, 1.89, 1.14, 1.45, 1.38, 1.91, 1.64, 0.83, 1.46]
    r = wilcoxon_signed_rank(y, [1.10] * len(y))
    assert r.estimate + 1.10 == pytest.approx(1.385, abs=1e-9)
    assert (r.ci_low + 1.10, r.ci_high + 1.10) == pytest.approx((1.13, 1.67), abs=1e-9)
    assert round(r.extra["conf_achieved"], 3) == 0.951  # 1 − 2·P(V ≤ 8) = 1 − 2·25/1024
    assert r.p_value == pytest.approx(0.038, abs=1e-3)
    assert r.extra["n_walsh"] == 55


def test_wilcoxon_zero_handling_is_named_and_passed_to_scipy() -> None:
    d = np.array([0.0, 0.0, 1.0, 2.0, -0.5, 3.0, 1.5, 2.5, -1.0, 4.0])
    for zm in ("wilcox", "pratt", "zsplit"):
        r = wilcoxon_signed_rank(d, zero_method=zm)
        ref = sps.wilcoxon(d, zero_method=zm, method="approx")
        assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)
        assert f"zeros: {zm}" in r.method and r.extra["n_zero"] == 2
        assert not r.extra["exact"]  # zeros present: normal approximation, as R does
    with pytest.raises(ValueError):
        wilcoxon_signed_rank(d, zero_method="drop")
    allzero = wilcoxon_signed_rank([1.0, 2.0], [1.0, 2.0])
    assert allzero.p_value == 1.0 and allzero.estimate == 0.0


# --------------------------------------------------------------------------- Mann-Whitney


def test_mann_whitney_r_permeability_and_sas_hodges_lehmann() -> None:
    # R's wilcox.test help (Hollander & Wolfe 1973 p. 69): wilcox.test(x, y, alternative =
    # "g") gives W = 35, p-value = 0.1272. SAS PROC NPAR1WAY on the same data (reference
    # output stored in the DescrTab2 package's tests): exact two-sided Pr >= |S - Mean| =
    # 0.2544; Hodges-Lehmann location shift (Ctrl - Trt) -0.3050, 95% limits -0.7600 and
    # 0.1700.
    r = mann_whitney(PERM_X, PERM_Y)
    assert r.statistic == 35
    assert r.p_value == pytest.approx(0.2544, abs=5e-5)
    assert r.p_value / 2 == pytest.approx(0.1272, abs=5e-5)
    assert r.estimate == pytest.approx(0.3050, abs=1e-9)
    assert (r.ci_low, r.ci_high) == pytest.approx((-0.1700, 0.7600), abs=1e-9)
    assert r.extra["prob_superiority"] == pytest.approx(35 / 50)


def test_mann_whitney_ties_use_scipy_normal_approximation() -> None:
    a, b = [1, 2, 2, 3, 3, 3, 4], [2, 3, 3, 4, 4, 5, 5, 6]
    r = mann_whitney(a, b)
    ref = sps.mannwhitneyu(a, b, alternative="two-sided", use_continuity=True)
    assert r.p_value == pytest.approx(ref.pvalue) and r.statistic == ref.statistic
    assert math.isnan(mann_whitney([], b).estimate)


# --------------------------------------------------------------------------- two proportions


def test_two_proportion_z_equals_pearson_chi_square() -> None:
    # No printed two-group prop.test output was found to quote; checked against two
    # independent implementations instead: scipy's Pearson χ² (with and without Yates'
    # correction) and statsmodels' pooled z-test. Data: Physicians' Health Study
    # (Agresti, An Introduction to Categorical Data Analysis, §2.2), 189/11034 placebo
    # vs 104/11037 aspirin heart attacks; Agresti's difference is 0.0077.
    table = [[189, 11034 - 189], [104, 11037 - 104]]
    r = two_proportion_ztest(189, 11034, 104, 11037)
    assert r.estimate == pytest.approx(0.0077, abs=5e-5)
    chi2, p = sps.chi2_contingency(table, correction=False)[:2]
    assert r.extra["chi2"] == pytest.approx(chi2) and r.p_value == pytest.approx(p)
    z, pz = proportions_ztest([189, 104], [11034, 11037])
    assert r.statistic == pytest.approx(z) and r.p_value == pytest.approx(pz)
    y = two_proportion_ztest(189, 11034, 104, 11037, continuity=True)
    chi2y, py = sps.chi2_contingency(table, correction=True)[:2]
    assert y.extra["chi2"] == pytest.approx(chi2y) and y.p_value == pytest.approx(py)
    assert "Yates" in y.method and "Newcombe" in y.method
    assert r.ci_low < r.estimate < r.ci_high
    assert two_proportion_ztest(0, 10, 0, 10).p_value == 1.0


def test_t_aliases_are_the_existing_functions() -> None:
    # paired_t / welch_t are the functions already checked against R's sleep data.
    assert paired_t.__name__ == "paired_mean_difference"
    assert welch_t.__name__ == "welch_mean_difference"


# --------------------------------------------------------------------------- bootstrap


def test_paired_bootstrap_is_seeded_and_agrees_with_scipy() -> None:
    # A bootstrap has no published figure to match: checked for reproducibility, against
    # scipy.stats.bootstrap called directly, and against the paired t interval it should
    # roughly agree with on Student's sleep data (R datasets::sleep).
    s1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    s2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    r = paired_bootstrap(s1, s2, n_boot=999, seed=3)
    again = paired_bootstrap(s1, s2, n_boot=999, seed=3)
    assert (r.ci_low, r.ci_high, r.p_value) == (again.ci_low, again.ci_high, again.p_value)
    d = np.subtract(s1, s2)
    ref = sps.bootstrap((d,), np.mean, n_resamples=999, method="BCa", rng=np.random.default_rng(3))
    assert (r.ci_low, r.ci_high) == pytest.approx(
        (ref.confidence_interval.low, ref.confidence_interval.high)
    )
    assert r.estimate == pytest.approx(-1.58)
    t = paired_t(s1, s2)
    assert abs(r.ci_low - t.ci_low) < 0.5 and abs(r.ci_high - t.ci_high) < 0.5
    assert r.p_value < 0.01 and r.p_value >= 2 / 1000  # the +1 rule: never exactly 0
    pct = paired_bootstrap(s1, s2, n_boot=999, seed=3, method="percentile")
    assert "percentile" in pct.method and "BCa" in r.method
    with pytest.raises(ValueError):
        paired_bootstrap(s1, s2, method="studentized")


def test_paired_bootstrap_percentile_coverage_near_nominal() -> None:
    # Coverage check by simulation (the definition of a 95% interval): 300 normal samples
    # of 40 differences with mean 0.3; expect about 95% coverage (binomial SE ~1.3 pts).
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(300):
        d = rng.normal(0.3, 1.0, 40)
        r = paired_bootstrap(d, np.zeros(40), n_boot=400, seed=rng, method="percentile")
        hits += r.ci_low <= 0.3 <= r.ci_high
    assert 0.89 <= hits / 300 <= 0.99


def test_bootstrap_quantile_ci_median_and_p95() -> None:
    # Independent check: the distribution-free order-statistic interval for the median
    # (binomial(n, 1/2) quantiles) should be close to the bootstrap interval.
    rng = np.random.default_rng(5)
    v = rng.lognormal(6.0, 0.8, 400)
    med = bootstrap_quantile_ci(v, 0.5, n_boot=1000, seed=1)
    s = np.sort(v)
    j = int(sps.binom.ppf(0.025, 400, 0.5))
    k = int(sps.binom.isf(0.025, 400, 0.5))
    assert med.estimate == pytest.approx(np.median(v))
    assert med.ci_low == pytest.approx(s[j - 1], rel=0.05)
    assert med.ci_high == pytest.approx(s[k], rel=0.05)
    assert med.ci_low < math.exp(6.0) < med.ci_high  # true median of the lognormal
    p95 = bootstrap_quantile_ci(v, 0.95, n_boot=1000, seed=1)
    assert p95.ci_low < p95.estimate < p95.ci_high and p95.estimate > med.ci_high
    assert bootstrap_quantile_ci(v, 0.95, n_boot=1000, seed=1).ci_low == p95.ci_low
    with pytest.raises(ValueError):
        bootstrap_quantile_ci(v, 95)


def test_quantile_ratio_paired_and_unpaired() -> None:
    rng = np.random.default_rng(2)
    b = rng.lognormal(6.0, 0.7, 150)
    exact = quantile_ratio(2.0 * b, b, 0.95, paired=True, n_boot=200)
    assert exact.estimate == pytest.approx(2.0) and exact.ci_low == pytest.approx(2.0)
    a = rng.lognormal(6.0 + math.log(1.5), 0.7, 150)
    r = quantile_ratio(a, b, 0.5, n_boot=500, seed=4)
    assert r.ci_low < 1.5 < r.ci_high and r.p_value < 0.05
    assert quantile_ratio(a, b, 0.5, n_boot=500, seed=4).ci_high == r.ci_high


# --------------------------------------------------------------------------- clustered


def _clustered_data(n_clusters: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_clusters), size)
    x = 0.2 + rng.normal(0, 0.6, n_clusters)[groups] + rng.normal(0, 1.0, groups.size)
    return x, groups


def test_clustered_mean_matches_statsmodels_cluster_robust_ols() -> None:
    # No printed worked example with data exists for Miller's formula; the independent
    # check is statsmodels' cluster-robust covariance of an intercept-only OLS (CR1 with
    # the G/(G-1) factor; its (N-1)/(N-K) factor is 1 for K = 1), t on G - 1 df.
    x, g = _clustered_data(8, 15, seed=1)
    fit = sm.OLS(x, np.ones_like(x)).fit(
        cov_type="cluster",
        cov_kwds={"groups": g, "use_correction": True, "df_correction": True},
        use_t=True,  # with the cluster covariance statsmodels then uses G - 1 df
    )
    r = clustered_mean(x, g)
    assert r.estimate == pytest.approx(float(fit.params[0]))
    assert r.extra["se"] == pytest.approx(float(fit.bse[0]), rel=1e-10)
    assert r.p_value == pytest.approx(float(fit.pvalues[0]), rel=1e-8)
    lo, hi = fit.conf_int()[0]
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), rel=1e-8)
    assert r.extra["n_clusters"] == 8 and r.extra["df"] == 7
    assert r.extra["design_effect"] > 1.5  # strong within-cluster correlation by design


def test_clustered_mean_is_millers_formula() -> None:
    # Miller (2024) "Adding Error Bars to Evals", arXiv 2411.00640, §2.3 / appendix:
    # SE² = (1/n²) Σ_c Σ_i Σ_j (x_ic − x̄)(x_jc − x̄). Derived here by the explicit double
    # sum (a different route from the per-cluster sums in the code), without the CR1
    # factor.
    x, g = _clustered_data(5, 7, seed=2)
    n, mean = x.size, x.mean()
    double = sum((x[i] - mean) * (x[j] - mean) for i in range(n) for j in range(n) if g[i] == g[j])
    r = clustered_mean(x, g, small_sample=False)
    assert r.extra["se"] == pytest.approx(math.sqrt(double) / n, rel=1e-12)
    assert "CR0, normal" in r.method
    # Singleton clusters: the formula collapses to the CLT SE with an n denominator.
    single = clustered_mean(x, np.arange(n), small_sample=False)
    assert single.extra["se"] == pytest.approx(x.std(ddof=0) / math.sqrt(n), rel=1e-12)


def test_clustered_paired_difference_and_edge_cases() -> None:
    a, g = _clustered_data(6, 10, seed=3)
    b = a - 0.1 + np.random.default_rng(4).normal(0, 0.2, a.size)
    r = clustered_paired_difference(a, b, g)
    ref = clustered_mean(a - b, g)
    assert (r.estimate, r.ci_low, r.ci_high, r.p_value) == pytest.approx(
        (ref.estimate, ref.ci_low, ref.ci_high, ref.p_value)
    )
    assert r.method.startswith("paired difference") and r.estimand == "mean(a - b)"
    one = clustered_mean([1.0, 2.0, 3.0], ["x", "x", "x"])
    assert one.p_value is None and one.extra["note"] == "one cluster"
    with pytest.raises(ValueError):
        clustered_mean([1.0, 2.0], ["x"])


def test_cluster_bootstrap_agrees_with_clustered_se_when_clusters_are_many() -> None:
    # Asymptotic agreement (not a published figure): with 80 clusters the cluster
    # bootstrap SE should be close to Miller's CR0 SE.
    x, g = _clustered_data(80, 5, seed=6)
    boot = cluster_bootstrap_mean(x, g, n_boot=2000, seed=0)
    cr0 = clustered_mean(x, g, small_sample=False)
    assert boot.extra["se"] == pytest.approx(cr0.extra["se"], rel=0.12)
    assert boot.ci_low < boot.estimate < boot.ci_high
    assert cluster_bootstrap_mean(x, g, n_boot=2000, seed=0).ci_low == boot.ci_low
    assert isinstance(boot, TestResult) and boot.extra["n_clusters"] == 80
