"""Power and planning (harness.analysis.power) vs statsmodels, published tables, hand sums."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import TTestIndPower, TTestPower

from harness.analysis.power import (
    MDE_COLUMNS,
    achieved_mde_table,
    components_from_probabilities,
    components_from_rates,
    mde_paired,
    mde_split,
    power_mcnemar,
    power_paired,
    power_split,
    tasks_needed_paired,
    tasks_needed_split,
    variance_components,
)

Z975 = 1.959963984540054  # qnorm(0.975)
Z80 = 0.8416212335729143  # qnorm(0.80)


# --- against statsmodels (K = 1: the paired t on differences is a one-sample t) ----------------


@pytest.mark.parametrize("n", [10, 50, 164, 400])
@pytest.mark.parametrize("alpha,power", [(0.05, 0.8), (0.01, 0.9)])
def test_mde_paired_equals_statsmodels_ttestpower(n: int, alpha: float, power: float) -> None:
    sd = 0.42
    d = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power)
    got = mde_paired(n, sd_between=sd, replicates=1, alpha=alpha, power=power)
    # statsmodels' root finder stops at ~1e-5 relative; ours solves to 1e-12 (its power
    # function, evaluated at our root, gives the target to 1e-12).
    assert got == pytest.approx(d * sd, rel=2e-5)
    assert TTestPower().power(got / sd, n, alpha) == pytest.approx(power, abs=1e-9)


@pytest.mark.parametrize("effect,n", [(0.05, 164), (0.1, 40), (0.02, 1000)])
def test_power_paired_equals_statsmodels(effect: float, n: int) -> None:
    sd = 0.35
    want = TTestPower().power(effect_size=effect / sd, nobs=n, alpha=0.05)
    assert power_paired(effect, n, sd_between=sd) == pytest.approx(want, rel=1e-9)


def test_split_equals_statsmodels_ttestindpower() -> None:
    sd = 0.45
    d = TTestIndPower().solve_power(nobs1=30, ratio=50 / 30, alpha=0.05, power=0.8)
    assert mde_split(30, 50, sd_between=sd) == pytest.approx(d * sd, rel=1e-6)
    want = TTestIndPower().power(effect_size=0.1 / sd, nobs1=80, ratio=1.0, alpha=0.05)
    assert power_split(0.1, 80, 80, sd_between=sd) == pytest.approx(want, rel=1e-9)


# --- published worked examples ------------------------------------------------------------------


def test_paired_t_sample_size_matches_gpower_example() -> None:
    # G*Power 3 (Faul et al. 2007), "Means: difference between two dependent means (matched
    # pairs)", d = 0.5, α = 0.05 two-tailed, power 0.80 -> total sample size 34.
    assert tasks_needed_paired(0.5, sd_between=1.0) == 34
    # Normal approximation: n = ((1.96 + 0.842) / 0.5)² = 31.4 -> 32.
    assert tasks_needed_paired(0.5, sd_between=1.0, method="z") == 32


def test_two_sample_size_matches_cohen_table() -> None:
    # Cohen (1988), Statistical Power Analysis, Table 2.4.1: d = 0.50, α₂ = 0.05, power 0.80
    # -> n = 64 per group; the split design counts both groups.
    assert tasks_needed_split(0.5, sd_between=1.0) == 128


def test_miller_formula_by_hand() -> None:
    # Miller (2024) §Power analysis: δ = (z_{α/2} + z_β) sqrt((σ_b² + σ_w²/K) / n).
    # σ_b = 0.3, σ_w = 0.5, K = 4, n = 200: sqrt((0.09 + 0.0625) / 200) = 0.027614;
    # × (1.959964 + 0.841621) = 0.077361.
    got = mde_paired(200, sd_between=0.3, sd_within=0.5, replicates=4, method="z")
    assert got == pytest.approx((Z975 + Z80) * math.sqrt((0.09 + 0.25 / 4) / 200), rel=1e-12)
    assert got == pytest.approx(0.077361, abs=1e-6)
    # n = (z + z)² (σ_b² + σ_w²/K) / δ², rounded up: 7.849 × 0.1525 / 0.05² = 478.8 -> 479.
    assert tasks_needed_paired(
        0.05, sd_between=0.3, sd_within=0.5, replicates=4, method="z"
    ) == math.ceil((Z975 + Z80) ** 2 * 0.1525 / 0.0025)


def test_replicates_shrink_only_the_within_part() -> None:
    kw = {"sd_between": 0.2, "sd_within": 0.6}
    m1 = mde_paired(100, replicates=1, **kw)
    m4 = mde_paired(100, replicates=4, **kw)
    m_inf = mde_paired(100, replicates=1e9, **kw)
    assert m1 > m4 > m_inf
    assert m_inf == pytest.approx(mde_paired(100, sd_between=0.2, sd_within=0.0), rel=1e-6)
    # Tasks needed falls with K but never below what the between-task part alone needs.
    n = [tasks_needed_paired(0.05, replicates=k, **kw) for k in (1, 2, 5, 1000)]
    assert n == sorted(n, reverse=True)
    assert n[-1] >= tasks_needed_paired(0.05, sd_between=0.2)


def test_tasks_needed_is_the_smallest_n_reaching_power() -> None:
    kw = {"sd_between": 0.3, "sd_within": 0.4, "replicates": 3}
    n = tasks_needed_paired(0.06, **kw)
    assert power_paired(0.06, n, **kw) >= 0.8 > power_paired(0.06, n - 1, **kw)
    assert mde_paired(n, **kw) <= 0.06 < mde_paired(n - 1, **kw)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="alpha"):
        mde_paired(10, sd_between=1, alpha=1.5)
    with pytest.raises(ValueError, match="mde"):
        tasks_needed_paired(0.0, sd_between=1)
    with pytest.raises(ValueError, match="method"):
        mde_paired(10, sd_between=1, method="exact")
    assert math.isnan(mde_paired(1, sd_between=1))


# --- variance components -----------------------------------------------------------------------


def test_components_from_rates_binary_variance() -> None:
    c = components_from_rates(0.8, 0.7, icc=1.0, task_corr=0.0)
    # Independent arms, all variance between tasks: Var(d) = .8·.2 + .7·.3 = 0.37.
    assert c["sd_between"] ** 2 == pytest.approx(0.37)
    assert c["sd_within"] == 0.0
    c = components_from_rates(0.8, 0.7, icc=0.0)
    assert c["sd_between"] == 0.0 and c["sd_within"] ** 2 == pytest.approx(0.37)
    c = components_from_rates(0.5, 0.5, icc=1.0, task_corr=1.0)
    assert c["sd_between"] == pytest.approx(0.0, abs=1e-12)


def _trials(p_a: np.ndarray, p_b: np.ndarray, k: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for arm, p in (("a", p_a), ("b", p_b)):
        y = rng.random((p.size, k)) < p[:, None]
        for i in range(p.size):
            for r in range(k):
                rows.append((f"T/{i}", arm, r, float(y[i, r])))
    return pd.DataFrame(rows, columns=["task_id", "arm", "replicate", "success"])


def test_variance_components_recover_the_truth() -> None:
    # Known per-task probabilities (logit model with shared difficulty): the estimates from
    # simulated trials match the exact components within sampling error.
    # The arms share half their task difficulty, so the per-task difference varies.
    rng = np.random.default_rng(3)
    diff = rng.normal(0, 1.5, 3000)
    p_a = 1 / (1 + np.exp(-(0.8 - diff)))
    p_b = 1 / (1 + np.exp(-(0.2 - 0.5 * diff - rng.normal(0, 1.2, 3000))))
    truth = components_from_probabilities(p_a, p_b)
    assert truth["sd_between"] > 0.25  # a case where between and within both matter
    est = variance_components(_trials(p_a, p_b, k=4, seed=4), "a", "b")
    assert est["design"] == "paired" and est["replicates"] == 4 and est["n_tasks"] == 3000
    # Over 20 seeds the estimates were unbiased with sd 0.003 (sd_w), 0.004 (σ_b²), 0.007
    # (effect); the tolerances are 4–6 of those sds.
    assert est["sd_within"] == pytest.approx(truth["sd_within"], abs=0.015)
    assert est["sd_between"] ** 2 == pytest.approx(truth["sd_between"] ** 2, abs=0.02)
    assert est["effect"] == pytest.approx(truth["effect"], abs=0.03)


def test_one_replicate_has_no_within_estimate() -> None:
    p = np.full(50, 0.6)
    est = variance_components(_trials(p, p, k=1, seed=1), "a", "b")
    assert math.isnan(est["sd_within"])
    assert est["sd_between"] == pytest.approx(est["sd_total"])


def test_achieved_mde_counts_tasks_not_trials() -> None:
    # 40 tasks × 5 replicates, arms that disagree on which tasks are hard (large between-task
    # variance): the MDE is for 40 units, not 200 independent ones.
    rng = np.random.default_rng(0)
    p_a = 1 / (1 + np.exp(-rng.normal(0, 2.5, 40)))
    p_b = 1 / (1 + np.exp(-rng.normal(0, 2.5, 40)))
    trials = _trials(p_a, p_b, k=5, seed=2)
    table = achieved_mde_table(trials)
    assert list(table.columns) == list(MDE_COLUMNS)
    row = table.iloc[0]
    assert (row.arm_a, row.arm_b, row.n_tasks, row.replicates) == ("a", "b", 40, 5)
    want = mde_paired(40, sd_between=row.sd_between, sd_within=row.sd_within, replicates=5)
    assert row.mde == pytest.approx(want)
    as_tasks = mde_paired(200, sd_between=math.sqrt(row.sd_between**2 + row.sd_within**2))
    assert row.mde > 1.5 * as_tasks
    assert "Miller" in row.method


def test_achieved_mde_control_and_split() -> None:
    rng = np.random.default_rng(1)
    p = 1 / (1 + np.exp(-rng.normal(0, 1, 60)))
    t = _trials(p, p, k=1, seed=5)
    t3 = pd.concat([t, t[t.arm == "a"].assign(arm="c")], ignore_index=True)
    table = achieved_mde_table(t3, control="a")
    assert list(zip(table.arm_a, table.arm_b, strict=True)) == [("b", "a"), ("c", "a")]
    # Split: every task has one arm.
    split = t[(t.task_id.str[2:].astype(int) % 2 == 0) == (t.arm == "a")]
    row = achieved_mde_table(split).iloc[0]
    assert row.n_tasks == 60 and "split 30/30" in row.method
    assert row.mde == pytest.approx(mde_split(30, 30, sd_between=row.sd_between))
    with pytest.raises(ValueError, match="control"):
        achieved_mde_table(t, control="zzz")


@pytest.mark.parametrize("midp", [False, True])
def test_power_mcnemar_equals_enumerating_every_outcome(midp: bool) -> None:
    # Brute force: every multinomial outcome (b tasks only A solved, c only B, the rest
    # concordant) of n = 14 tasks, each tested with the report's own McNemar function.
    from scipy.stats import multinomial

    from harness.analysis.stats import mcnemar_exact, mcnemar_midp

    n, p_ab, p_ba = 14, 0.3, 0.1
    test = mcnemar_midp if midp else mcnemar_exact
    want = 0.0
    for b in range(n + 1):
        for c in range(n + 1 - b):
            if b + c and test(b, c).p_value < 0.05:
                want += multinomial.pmf([b, c, n - b - c], n, [p_ab, p_ba, 1 - p_ab - p_ba])
    assert power_mcnemar(n, p_ab, p_ba, midp=midp) == pytest.approx(want, rel=1e-10)


def test_power_mcnemar_size_and_conservatism() -> None:
    # Under H0 (p_ab = p_ba) the exact test's rejection rate is below α (it is conservative,
    # Fagerland et al. 2013), the mid-p's closer to it; the normal-theory plan overstates power.
    size = power_mcnemar(164, 0.18, 0.18)
    assert 0.03 < size < 0.05
    assert size < power_mcnemar(164, 0.18, 0.18, midp=True) <= 0.055
    sd = math.sqrt(0.28 + 0.12 - 0.16**2)  # Var(d) of a paired 0/1 difference
    assert power_mcnemar(164, 0.28, 0.12) < power_paired(0.16, 164, sd_between=sd)


def test_mde_with_two_tasks_is_nan_not_an_error() -> None:
    # df = 1: scipy's noncentral t is NaN far in the tail; the report must still build
    from harness.analysis.power import mde_paired

    assert math.isnan(mde_paired(2, sd_between=0.7071, replicates=1))
    assert math.isfinite(mde_paired(3, sd_between=0.7071, replicates=1))
