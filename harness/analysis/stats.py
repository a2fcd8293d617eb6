"""Small, tested statistical procedures for comparing arms.

Every function returns a frozen :class:`TestResult` that names its method, so a
report can say exactly what was computed. The unit of inference is the task:
callers average replicates per (task, arm) before calling anything here.

Procedures and their sources:

- :func:`wilson_ci` — Wilson score interval for one proportion
  (Newcombe 1998, Stat Med 17:857, method 3).
- :func:`mcnemar_exact`, :func:`mcnemar_midp` — exact conditional McNemar test
  (binomial test on the discordant pairs) and its mid-p version
  (Fagerland, Lydersen & Laake 2013, BMC Med Res Methodol 13:91).
- :func:`paired_risk_difference` — difference of paired proportions with
  Newcombe's square-and-add interval (Newcombe 1998, Stat Med 17:2635,
  method 10) or the Wald interval (Agresti, Categorical Data Analysis §10.1).
- :func:`risk_difference_unpaired` — Newcombe's hybrid score interval for two
  independent proportions (Newcombe 1998, Stat Med 17:873, method 10);
  :func:`fisher_exact` — Fisher's exact test.
- :func:`paired_mean_difference`, :func:`welch_mean_difference` — paired t and
  Welch t on (per-task) means.
- :func:`log_ratio_paired`, :func:`log_ratio_unpaired` — ratio of geometric
  means for positive, skewed measures (cost, latency): t on the log scale.
- :func:`mcnemar_asymptotic` — χ² McNemar, with or without Edwards' continuity
  correction (R's ``mcnemar.test``).
- :func:`wilcoxon_signed_rank` (zero handling named), :func:`mann_whitney` —
  rank tests via scipy, with Hodges–Lehmann estimates and intervals.
- :func:`two_proportion_ztest` — pooled z (Pearson χ²), optional Yates.
- :func:`paired_bootstrap`, :func:`bootstrap_quantile_ci`,
  :func:`quantile_ratio` — seeded bootstrap intervals (BCa or percentile) for
  paired differences, medians and p95s.
- :func:`clustered_mean`, :func:`clustered_paired_difference`,
  :func:`cluster_bootstrap_mean` — cluster-robust SE of a mean or a paired
  difference (Miller 2024, "Adding Error Bars to Evals", arXiv 2411.00640)
  and a cluster bootstrap.

Effect sizes live in :mod:`harness.analysis.effects`, multiplicity corrections
in :mod:`harness.analysis.multiple`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize
from scipy import stats as sps

__all__ = [
    "TestResult",
    "bootstrap_quantile_ci",
    "cluster_bootstrap_mean",
    "clustered_mean",
    "clustered_paired_difference",
    "fisher_exact",
    "log_ratio_paired",
    "log_ratio_unpaired",
    "mann_whitney",
    "mcnemar_asymptotic",
    "mcnemar_exact",
    "mcnemar_midp",
    "mean_ci",
    "paired_bootstrap",
    "paired_mean_difference",
    "paired_risk_difference",
    "paired_t",
    "paired_table",
    "quantile_ratio",
    "risk_difference_unpaired",
    "two_proportion_ztest",
    "welch_mean_difference",
    "welch_t",
    "wilcoxon_signed_rank",
    "wilson_ci",
]

NAN = float("nan")


@dataclass(frozen=True)
class TestResult:
    """One estimate with its confidence interval and (optionally) a test.

    Attributes:
        method: What was computed, in words a reader can look up.
        estimate: Point estimate (a proportion, difference or ratio).
        ci_low: Lower confidence limit (NaN when not computable).
        ci_high: Upper confidence limit.
        p_value: Two-sided p-value of the method's null hypothesis, or None
            when the method is an interval only.
        n: Units used (tasks, pairs or trials, as the function says).
        extra: Method-specific details (counts, statistics, dropped units).
        alpha: 1 − confidence level of the interval.
        estimand: What ``estimate`` estimates, e.g. ``"p_a - p_b"`` or
            ``"ratio of geometric means a / b"`` ("" when the method says it).
        statistic: The test statistic (t, z, χ², V, U …) when there is one.
    """

    __test__ = False  # not a pytest test class despite its name

    method: str
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float | None
    n: int
    extra: dict[str, Any] = field(default_factory=dict)
    alpha: float = 0.05
    estimand: str = ""
    statistic: float | None = None

    @property
    def ci(self) -> tuple[float, float]:
        """(ci_low, ci_high)."""
        return self.ci_low, self.ci_high

    def significant(self, alpha: float | None = None) -> bool:
        """True when the p-value exists and is below ``alpha`` (default: the result's own)."""
        level = self.alpha if alpha is None else alpha
        return self.p_value is not None and math.isfinite(self.p_value) and self.p_value < level

    def as_dict(self) -> dict[str, Any]:
        """Flat dict of the headline fields (``extra`` left out), for DataFrames."""
        return {
            "method": self.method,
            "estimand": self.estimand,
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": math.nan if self.p_value is None else self.p_value,
            "statistic": math.nan if self.statistic is None else self.statistic,
            "n": self.n,
            "alpha": self.alpha,
        }


# --------------------------------------------------------------------------- helpers


def _z(alpha: float) -> float:
    return float(sps.norm.ppf(1 - alpha / 2))


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def _binary(x: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if np.isnan(arr).any():
        raise ValueError(f"{name} has missing values: drop the task before pairing")
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError(f"{name} must hold 0/1 outcomes (one per task)")
    return arr


def _floats(x: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    return arr


def _wilson_bounds(x: float, n: float, alpha: float) -> tuple[float, float]:
    if n <= 0:
        return NAN, NAN
    z = _z(alpha)
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At x = 0 or x = n the formula gives the exact bound up to rounding; pin it.
    lo = 0.0 if x == 0 else max(0.0, centre - half)
    hi = 1.0 if x == n else min(1.0, centre + half)
    return lo, hi


def _exp(x: float) -> float:
    return math.exp(x) if math.isfinite(x) else NAN


def _t_summary(values: np.ndarray, alpha: float) -> tuple[float, float, float, float | None, dict]:
    """Mean, t CI and one-sample t p-value (H0: mean 0) of ``values``."""
    n = values.size
    mean = float(values.mean()) if n else NAN
    if n < 2:
        return mean, NAN, NAN, None, {"df": max(n - 1, 0), "se": NAN}
    sd = float(values.std(ddof=1))
    df = n - 1
    se = sd / math.sqrt(n)
    if se <= 1e-12 * max(1.0, abs(mean)):
        # Every unit moved by the same amount: the t statistic is undefined
        # (infinite unless the mean is zero); say so instead of printing NaN.
        p = 1.0 if mean == 0 else 0.0
        return mean, mean, mean, p, {"df": df, "se": 0.0, "note": "zero variance"}
    tcrit = float(sps.t.ppf(1 - alpha / 2, df))
    tstat = mean / se
    p = float(2 * sps.t.sf(abs(tstat), df))
    return mean, mean - tcrit * se, mean + tcrit * se, p, {"df": df, "se": se, "t": tstat}


# --------------------------------------------------------------------------- proportions


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> TestResult:
    """Wilson score interval for a single proportion.

    Args:
        successes: Number of successes (0 ≤ successes ≤ n).
        n: Number of trials (or tasks).
        alpha: 1 − confidence level.

    Returns:
        TestResult with the observed proportion and its interval; NaN when n = 0.
    """
    _check_alpha(alpha)
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    lo, hi = _wilson_bounds(successes, n, alpha)
    est = successes / n if n > 0 else NAN
    return TestResult(
        "Wilson score interval", est, lo, hi, None, int(n), {"successes": successes}, alpha
    )


def _midp_proportion_ci(x: int, n: int, alpha: float) -> tuple[float, float]:
    """Mid-p exact interval for a binomial proportion (Berry & Armitage 1995)."""

    def lower_eq(pi: float) -> float:
        return float(sps.binom.sf(x, n, pi) + 0.5 * sps.binom.pmf(x, n, pi)) - alpha / 2

    def upper_eq(pi: float) -> float:
        return float(sps.binom.cdf(x - 1, n, pi) + 0.5 * sps.binom.pmf(x, n, pi)) - alpha / 2

    eps = 1e-12
    lo = 0.0 if x == 0 else optimize.brentq(lower_eq, eps, 1 - eps, xtol=1e-12)
    hi = 1.0 if x == n else optimize.brentq(upper_eq, eps, 1 - eps, xtol=1e-12)
    return lo, hi


def _odds(pi: float) -> float:
    return math.inf if pi >= 1 else pi / (1 - pi)


def _mcnemar(b: int, c: int, alpha: float, mid: bool) -> TestResult:
    _check_alpha(alpha)
    if b < 0 or c < 0 or int(b) != b or int(c) != c:
        raise ValueError(f"discordant counts must be non-negative integers, got b={b}, c={c}")
    b, c = int(b), int(c)
    nd = b + c
    extra: dict[str, Any] = {"b": b, "c": c, "n_discordant": nd}
    if nd == 0:
        extra["note"] = "no discordant pairs"
        name = "McNemar mid-p" if mid else "McNemar exact conditional"
        return TestResult(name, NAN, NAN, NAN, 1.0, 0, extra, alpha)
    k = min(b, c)
    exact = min(1.0, 2.0 * float(sps.binom.cdf(k, nd, 0.5)))
    if mid:
        # Fagerland et al. (2013): mid-p = exact − P(X = k); when b = c the
        # observed point is the only one "as extreme", so 1 − P(X = k)/2.
        pk = float(sps.binom.pmf(k, nd, 0.5))
        p = 1.0 - 0.5 * pk if b == c else exact - pk
        lo_pi, hi_pi = _midp_proportion_ci(b, nd, alpha)
        method = "McNemar mid-p"
        ci_name = "mid-p interval"
    else:
        p = exact
        # Clopper-Pearson limits from the beta quantiles.
        lo_pi = 0.0 if b == 0 else float(sps.beta.ppf(alpha / 2, b, nd - b + 1))
        hi_pi = 1.0 if b == nd else float(sps.beta.ppf(1 - alpha / 2, b + 1, nd - b))
        method = "McNemar exact conditional"
        ci_name = "Clopper-Pearson interval"
    stat = (b - c) ** 2 / nd
    extra.update(
        estimand=f"conditional odds ratio b/c ({ci_name} on b/(b+c))",
        chi2=stat,
        p_asymptotic=float(sps.chi2.sf(stat, 1)),
        p_exact=exact,
    )
    est = math.inf if c == 0 else b / c
    return TestResult(method, est, _odds(lo_pi), _odds(hi_pi), p, nd, extra, alpha)


def mcnemar_exact(b: int, c: int, alpha: float = 0.05) -> TestResult:
    """Exact conditional McNemar test: two-sided binomial test of b ~ Bin(b + c, 1/2).

    Args:
        b: Pairs where the first arm succeeded and the second failed.
        c: Pairs where the second arm succeeded and the first failed.
        alpha: 1 − confidence level for the odds-ratio interval.

    Returns:
        TestResult: ``p_value`` = min(1, 2·P(X ≤ min(b, c))); ``estimate`` the
        conditional odds ratio b/c with a Clopper–Pearson-based interval;
        ``extra`` holds the asymptotic statistic ``chi2`` = (b − c)²/(b + c).
    """
    return _mcnemar(b, c, alpha, mid=False)


def mcnemar_midp(b: int, c: int, alpha: float = 0.05) -> TestResult:
    """Mid-p McNemar test (Fagerland, Lydersen & Laake 2013).

    Args:
        b: Pairs where the first arm succeeded and the second failed.
        c: Pairs where the second arm succeeded and the first failed.
        alpha: 1 − confidence level for the odds-ratio interval.

    Returns:
        TestResult: ``p_value`` = exact p − P(X = min(b, c)) (1 − P(X = b)/2 when
        b = c); ``estimate`` b/c with a mid-p interval; ``extra`` as for
        :func:`mcnemar_exact`.
    """
    return _mcnemar(b, c, alpha, mid=True)


def paired_table(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray
) -> tuple[int, int, int, int]:
    """Cross-tabulate paired 0/1 outcomes.

    Returns:
        (n11, n12, n21, n22): both succeeded, only ``a``, only ``b``, neither.
    """
    x, y = _binary(a, "a"), _binary(b, "b")
    if x.size != y.size:
        raise ValueError(f"paired arrays differ in length: {x.size} vs {y.size}")
    n11 = int(((x == 1) & (y == 1)).sum())
    n12 = int(((x == 1) & (y == 0)).sum())
    n21 = int(((x == 0) & (y == 1)).sum())
    n22 = int(((x == 0) & (y == 0)).sum())
    return n11, n12, n21, n22


def _newcombe_paired(n11: int, n12: int, n21: int, n22: int, alpha: float) -> tuple[float, float]:
    n = n11 + n12 + n21 + n22
    r1, r2, c1, c2 = n11 + n12, n21 + n22, n11 + n21, n12 + n22
    p1, p2 = r1 / n, c1 / n
    l1, u1 = _wilson_bounds(r1, n, alpha)
    l2, u2 = _wilson_bounds(c1, n, alpha)
    # Newcombe's phi: the correlation of the two margins, shrunk by N/2 when
    # positive so the interval is not made too narrow by chance agreement.
    if min(r1, r2, c1, c2) == 0:
        phi = 0.0
    else:
        a = n11 * n22 - n12 * n21
        num = a - n / 2 if a > n / 2 else (0.0 if a >= 0 else a)
        phi = num / math.sqrt(r1 * r2 * c1 * c2)
    d = p1 - p2
    dl = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    du = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return max(-1.0, d - dl), min(1.0, d + du)


def paired_risk_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    alpha: float = 0.05,
    method: str = "newcombe",
) -> TestResult:
    """Difference p_a − p_b of two proportions measured on the same tasks.

    Args:
        a: One 0/1 outcome per task for the first arm.
        b: The second arm's outcome on the same tasks, in the same order.
        alpha: 1 − confidence level.
        method: ``"newcombe"`` — square-and-add interval from Wilson limits with
            the corrected phi (Newcombe 1998, Stat Med 17:2635, method 10), the
            default; or ``"wald"`` — asymptotic interval (Agresti, CDA §10.1).

    Returns:
        TestResult with ``p_value`` None (use :func:`mcnemar_exact` or
        :func:`mcnemar_midp` for the test) and the 2×2 table in ``extra``.
    """
    _check_alpha(alpha)
    n11, n12, n21, n22 = paired_table(a, b)
    n = n11 + n12 + n21 + n22
    extra = {"n11": n11, "n12": n12, "n21": n21, "n22": n22}
    if n == 0:
        return TestResult(
            f"paired risk difference ({method})", NAN, NAN, NAN, None, 0, extra, alpha
        )
    d = (n12 - n21) / n
    extra.update(p_a=(n11 + n12) / n, p_b=(n11 + n21) / n)
    if method == "newcombe":
        lo, hi = _newcombe_paired(n11, n12, n21, n22, alpha)
        name = "Newcombe square-and-add (1998 method 10)"
    elif method == "wald":
        se = math.sqrt(max(0.0, (n12 + n21) - (n12 - n21) ** 2 / n)) / n
        extra["se"] = se
        lo, hi = d - _z(alpha) * se, d + _z(alpha) * se
        name = "Wald (paired)"
    else:
        raise ValueError(f"method must be 'newcombe' or 'wald', got {method!r}")
    return TestResult(name, d, lo, hi, None, n, extra, alpha)


def risk_difference_unpaired(
    successes_a: int, n_a: int, successes_b: int, n_b: int, alpha: float = 0.05
) -> TestResult:
    """Difference p_a − p_b of two independent proportions, Newcombe's hybrid score interval.

    Args:
        successes_a: Successes in arm a.
        n_a: Units (tasks) in arm a.
        successes_b: Successes in arm b.
        n_b: Units in arm b.
        alpha: 1 − confidence level.

    Returns:
        TestResult (Newcombe 1998, Stat Med 17:873, method 10) with ``p_value``
        None; use :func:`fisher_exact` for the test.
    """
    _check_alpha(alpha)
    for x, m in ((successes_a, n_a), (successes_b, n_b)):
        if m < 0 or not 0 <= x <= max(m, 0):
            raise ValueError(f"need 0 <= successes <= n, got {x}/{m}")
    extra = {"successes_a": successes_a, "n_a": n_a, "successes_b": successes_b, "n_b": n_b}
    name = "Newcombe hybrid score (1998 method 10)"
    if n_a == 0 or n_b == 0:
        return TestResult(name, NAN, NAN, NAN, None, int(n_a + n_b), extra, alpha)
    p1, p2 = successes_a / n_a, successes_b / n_b
    l1, u1 = _wilson_bounds(successes_a, n_a, alpha)
    l2, u2 = _wilson_bounds(successes_b, n_b, alpha)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return TestResult(name, d, max(-1.0, lo), min(1.0, hi), None, int(n_a + n_b), extra, alpha)


def fisher_exact(
    successes_a: int, n_a: int, successes_b: int, n_b: int, alpha: float = 0.05
) -> TestResult:
    """Fisher's exact test of equal success probabilities in two independent groups.

    Args:
        successes_a: Successes in arm a.
        n_a: Units in arm a.
        successes_b: Successes in arm b.
        n_b: Units in arm b.
        alpha: 1 − confidence level for the odds-ratio interval.

    Returns:
        TestResult: two-sided p-value (tables no more probable than the one
        observed, as R's ``fisher.test``), ``estimate`` the conditional maximum
        likelihood odds ratio with its exact interval.
    """
    _check_alpha(alpha)
    table = [[successes_a, n_a - successes_a], [successes_b, n_b - successes_b]]
    if min(min(row) for row in table) < 0:
        raise ValueError(f"need 0 <= successes <= n, got {successes_a}/{n_a}, {successes_b}/{n_b}")
    p = float(sps.fisher_exact(table).pvalue)
    orr = sps.contingency.odds_ratio(table, kind="conditional")
    ci = orr.confidence_interval(confidence_level=1 - alpha)
    extra = {"table": table, "estimand": "conditional MLE odds ratio"}
    est, lo, hi = float(orr.statistic), float(ci.low), float(ci.high)
    return TestResult("Fisher exact test", est, lo, hi, p, int(n_a + n_b), extra, alpha)


# --------------------------------------------------------------------------- means and ratios


def mean_ci(values: Sequence[float] | np.ndarray, alpha: float = 0.05) -> TestResult:
    """Mean with a one-sample t interval; missing values dropped.

    Used on per-task means (tasks as clusters), e.g. mean cost per trial.
    ``p_value`` tests mean = 0, which is rarely of interest and reported
    only for completeness.
    """
    _check_alpha(alpha)
    v = _floats(values, "values")
    keep = np.isfinite(v)
    mean, lo, hi, p, extra = _t_summary(v[keep], alpha)
    extra["n_dropped"] = int((~keep).sum())
    return TestResult("t interval", mean, lo, hi, p, int(keep.sum()), extra, alpha)


def paired_mean_difference(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, alpha: float = 0.05
) -> TestResult:
    """Mean of the per-task differences a − b with a paired t interval and test.

    The primary success comparison when replicates > 1: ``a`` and ``b`` are
    per-task success fractions. Pairs with a missing value are dropped and
    counted in ``extra["n_dropped"]``.

    Returns:
        TestResult (paired t, df = n − 1).
    """
    _check_alpha(alpha)
    x, y = _floats(a, "a"), _floats(b, "b")
    if x.size != y.size:
        raise ValueError(f"paired arrays differ in length: {x.size} vs {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    d = x[keep] - y[keep]
    mean, lo, hi, p, extra = _t_summary(d, alpha)
    extra["n_dropped"] = int((~keep).sum())
    if d.size:
        extra.update(mean_a=float(x[keep].mean()), mean_b=float(y[keep].mean()))
    return TestResult("paired t (per-task differences)", mean, lo, hi, p, int(d.size), extra, alpha)


def welch_mean_difference(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, alpha: float = 0.05
) -> TestResult:
    """Difference of means of two independent samples, Welch t interval and test.

    Missing values are dropped (counted in ``extra``).

    Returns:
        TestResult with Welch–Satterthwaite degrees of freedom in ``extra["df"]``.
    """
    _check_alpha(alpha)
    x, y = _floats(a, "a"), _floats(b, "b")
    dropped = int((~np.isfinite(x)).sum() + (~np.isfinite(y)).sum())
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    return _welch(x, y, alpha, "Welch t", {"n_dropped": dropped})


def _welch(x: np.ndarray, y: np.ndarray, alpha: float, method: str, extra: dict) -> TestResult:
    n = int(x.size + y.size)
    extra = {**extra, "n_a": int(x.size), "n_b": int(y.size)}
    if x.size < 2 or y.size < 2:
        est = float(x.mean() - y.mean()) if x.size and y.size else NAN
        return TestResult(method, est, NAN, NAN, None, n, extra, alpha)
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    est = float(x.mean() - y.mean())
    se = math.sqrt(va + vb)
    if se <= 1e-12 * max(1.0, abs(est)):
        p = 1.0 if est == 0 else 0.0
        return TestResult(method, est, est, est, p, n, {**extra, "note": "zero variance"}, alpha)
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    tcrit = float(sps.t.ppf(1 - alpha / 2, df))
    tstat = est / se
    p = float(2 * sps.t.sf(abs(tstat), df))
    extra.update(df=float(df), se=se, t=tstat)
    return TestResult(method, est, est - tcrit * se, est + tcrit * se, p, n, extra, alpha)


def log_ratio_paired(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, alpha: float = 0.05
) -> TestResult:
    """Ratio of geometric means a / b for paired positive values (cost, latency).

    Takes logs, runs a paired t on the per-task log differences and
    exponentiates: estimate = exp(mean(log a − log b)). Pairs where either
    value is missing or not positive are dropped and counted
    (``extra["n_missing"]``, ``extra["n_nonpositive"]``): a zero cost has no
    log, and silently imputing one would invent a ratio.

    Returns:
        TestResult on the ratio scale; ``extra["mean_log_ratio"]`` and ``se`` on
        the log scale.
    """
    _check_alpha(alpha)
    x, y = _floats(a, "a"), _floats(b, "b")
    if x.size != y.size:
        raise ValueError(f"paired arrays differ in length: {x.size} vs {y.size}")
    finite = np.isfinite(x) & np.isfinite(y)
    positive = finite & (x > 0) & (y > 0)
    d = np.log(x[positive]) - np.log(y[positive])
    mean, lo, hi, p, extra = _t_summary(d, alpha)
    extra.update(
        mean_log_ratio=mean,
        n_missing=int((~finite).sum()),
        n_nonpositive=int((finite & ~positive).sum()),
    )
    extra["n_dropped"] = extra["n_missing"] + extra["n_nonpositive"]
    if d.size:
        extra.update(
            geomean_a=float(np.exp(np.log(x[positive]).mean())),
            geomean_b=float(np.exp(np.log(y[positive]).mean())),
        )
    name = "ratio of geometric means, paired t on logs"
    return TestResult(name, _exp(mean), _exp(lo), _exp(hi), p, int(d.size), extra, alpha)


def log_ratio_unpaired(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, alpha: float = 0.05
) -> TestResult:
    """Ratio of geometric means a / b for two independent samples (split design).

    Welch t on the logs; missing or non-positive values are dropped from each
    sample and counted in ``extra``.

    Returns:
        TestResult on the ratio scale.
    """
    _check_alpha(alpha)
    x, y = _floats(a, "a"), _floats(b, "b")
    counts: dict[str, int] = {}
    logs = []
    for name, v in (("a", x), ("b", y)):
        finite = np.isfinite(v)
        positive = finite & (v > 0)
        counts[f"n_missing_{name}"] = int((~finite).sum())
        counts[f"n_nonpositive_{name}"] = int((finite & ~positive).sum())
        logs.append(np.log(v[positive]))
    counts["n_dropped"] = sum(counts.values())
    r = _welch(logs[0], logs[1], alpha, "ratio of geometric means, Welch t on logs", counts)
    extra = {**r.extra, "mean_log_ratio": r.estimate}
    est, lo, hi = _exp(r.estimate), _exp(r.ci_low), _exp(r.ci_high)
    return TestResult(r.method, est, lo, hi, r.p_value, r.n, extra, alpha)


# =========================================================================== added tests
#
# Each wrapper below names its method (and its handling of ties, zeros or
# continuity) in ``TestResult.method`` so the report can quote it verbatim.


def mcnemar_asymptotic(b: int, c: int, alpha: float = 0.05, continuity: bool = False) -> TestResult:
    """Asymptotic McNemar test: χ² = (|b − c| − k)² / (b + c) on 1 df.

    Args:
        b: Pairs where the first arm succeeded and the second failed.
        c: Pairs where the second arm succeeded and the first failed.
        alpha: 1 − confidence level of the odds-ratio interval.
        continuity: Apply Edwards' continuity correction (k = 1), as R's
            ``mcnemar.test`` does by default; without it k = 0 (McNemar 1947).

    Returns:
        TestResult: ``statistic`` the χ² value; ``estimate`` the conditional
        odds ratio b/c with a Wald interval on the log scale (NaN when b or c
        is 0). Prefer :func:`mcnemar_exact` or :func:`mcnemar_midp` when b + c
        is small (< 25, Fagerland et al. 2013).
    """
    _check_alpha(alpha)
    if b < 0 or c < 0 or int(b) != b or int(c) != c:
        raise ValueError(f"discordant counts must be non-negative integers, got b={b}, c={c}")
    b, c = int(b), int(c)
    nd = b + c
    name = "McNemar asymptotic chi-square, " + (
        "Edwards continuity correction" if continuity else "no continuity correction"
    )
    extra: dict[str, Any] = {"b": b, "c": c, "n_discordant": nd, "continuity": continuity}
    if nd == 0:
        return TestResult(
            name,
            NAN,
            NAN,
            NAN,
            1.0,
            0,
            {**extra, "note": "no discordant pairs"},
            alpha,
            "conditional odds ratio b/c",
        )
    diff = abs(b - c) - (1 if continuity else 0)
    stat = max(diff, 0) ** 2 / nd
    p = float(sps.chi2.sf(stat, 1))
    if b and c:
        lo_g, se = math.log(b / c), math.sqrt(1 / b + 1 / c)
        est, lo, hi = b / c, math.exp(lo_g - _z(alpha) * se), math.exp(lo_g + _z(alpha) * se)
    else:
        est, lo, hi = (math.inf if c == 0 else 0.0), NAN, NAN
    return TestResult(name, est, lo, hi, p, nd, extra, alpha, "conditional odds ratio b/c", stat)


def _signrank_cdf(n: int) -> np.ndarray:
    """CDF of the Wilcoxon signed-rank statistic V (no ties), V = 0 … n(n+1)/2."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()
    return np.cumsum(counts) / 2.0**n


def wilcoxon_signed_rank(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray | None = None,
    alpha: float = 0.05,
    zero_method: str = "wilcox",
    continuity: bool = False,
) -> TestResult:
    """Wilcoxon signed-rank test of a − b (or of a alone) with the Hodges–Lehmann estimate.

    Args:
        a: Per-task values of the first arm (or the differences when ``b`` is None).
        b: The second arm's values on the same tasks, same order.
        alpha: 1 − confidence level.
        zero_method: How zero differences are handled, passed to
            ``scipy.stats.wilcoxon``: ``"wilcox"`` (dropped before ranking, R's
            default), ``"pratt"`` (ranked, then dropped) or ``"zsplit"`` (split
            between the signs). Named in ``method``.
        continuity: Continuity correction in the normal approximation.

    Returns:
        TestResult: ``p_value`` two-sided from scipy (exact distribution when
        n ≤ 50 with no ties or zeros, else normal approximation — ``extra``
        says which); ``statistic`` V, the sum of the positive ranks (R's V);
        ``estimate`` the Hodges–Lehmann (pseudo)median of the differences,
        the median of the Walsh averages, with the distribution-free interval
        of order statistics of the Walsh averages (exact critical value when
        the exact distribution applies, else the normal approximation).
    """
    _check_alpha(alpha)
    if zero_method not in ("wilcox", "pratt", "zsplit"):
        raise ValueError(f"zero_method must be 'wilcox', 'pratt' or 'zsplit', got {zero_method!r}")
    x = _floats(a, "a")
    if b is not None:
        y = _floats(b, "b")
        if x.size != y.size:
            raise ValueError(f"paired arrays differ in length: {x.size} vs {y.size}")
        keep = np.isfinite(x) & np.isfinite(y)
        d = x[keep] - y[keep]
    else:
        keep = np.isfinite(x)
        d = x[keep]
    n_dropped = int((~keep).sum())
    n_zero = int((d == 0).sum())
    name = f"Wilcoxon signed-rank (zeros: {zero_method})"
    extra: dict[str, Any] = {"n_dropped": n_dropped, "n_zero": n_zero, "zero_method": zero_method}
    nz = d[d != 0]
    if nz.size == 0:
        return TestResult(
            name,
            0.0 if d.size else NAN,
            NAN,
            NAN,
            1.0 if d.size else None,
            int(d.size),
            {**extra, "note": "no non-zero differences"},
            alpha,
            "Hodges-Lehmann pseudomedian of a - b",
        )
    ranks = sps.rankdata(np.abs(nz))
    ties = bool(np.unique(np.abs(nz)).size < nz.size)
    exact = nz.size <= 50 and not ties and n_zero == 0
    res = sps.wilcoxon(
        d, zero_method=zero_method, correction=continuity, method="exact" if exact else "approx"
    )
    v = float(ranks[nz > 0].sum())
    walsh = np.add.outer(d, d)[np.triu_indices(d.size)] / 2.0
    walsh.sort()
    m = walsh.size
    if exact:
        cdf = _signrank_cdf(d.size)
        k = int(np.searchsorted(cdf, alpha / 2 - 1e-12))  # smallest v with P(V ≤ v) ≥ alpha/2
        k = max(k, 1)
        extra["ci_kind"] = "exact critical value"
        extra["conf_achieved"] = 1 - 2 * float(cdf[k - 1])
    else:
        nn = d.size
        half = _z(alpha) * math.sqrt(nn * (nn + 1) * (2 * nn + 1) / 24)
        k = max(math.floor(nn * (nn + 1) / 4 - half), 1)
        extra["ci_kind"] = "normal-approximation critical value"
    lo, hi = float(walsh[k - 1]), float(walsh[m - k])
    extra.update(exact=exact, ties=ties, scipy_statistic=float(res.statistic), n_walsh=m)
    return TestResult(
        name,
        float(np.median(walsh)),
        lo,
        hi,
        float(res.pvalue),
        int(d.size),
        extra,
        alpha,
        "Hodges-Lehmann pseudomedian of a - b",
        v,
    )


def mann_whitney(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    alpha: float = 0.05,
    continuity: bool = True,
) -> TestResult:
    """Mann–Whitney U (Wilcoxon rank-sum) test of two independent samples.

    Args:
        a: Values of arm a (missing dropped).
        b: Values of arm b.
        alpha: 1 − confidence level.
        continuity: Continuity correction in the normal approximation (R's default).

    Returns:
        TestResult: ``p_value`` two-sided from ``scipy.stats.mannwhitneyu``
        (exact when both samples are small and untied, else normal with tie
        correction); ``statistic`` U of sample a (R's W); ``estimate`` the
        Hodges–Lehmann shift, the median of all differences a_i − b_j, with the
        order-statistic interval at the normal-approximation critical value
        k = ⌊mn/2 − z·√(mn(m+n+1)/12)⌋ (as SAS NPAR1WAY prints it);
        ``extra["prob_superiority"]`` is U/(mn) = P(A > B) + ½P(A = B).
    """
    _check_alpha(alpha)
    x, y = _floats(a, "a"), _floats(b, "b")
    n_dropped = int((~np.isfinite(x)).sum() + (~np.isfinite(y)).sum())
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    name = "Mann-Whitney U (Wilcoxon rank-sum)"
    extra: dict[str, Any] = {"n_a": int(x.size), "n_b": int(y.size), "n_dropped": n_dropped}
    if x.size == 0 or y.size == 0:
        return TestResult(
            name,
            NAN,
            NAN,
            NAN,
            None,
            int(x.size + y.size),
            extra,
            alpha,
            "Hodges-Lehmann shift a - b",
        )
    res = sps.mannwhitneyu(x, y, alternative="two-sided", use_continuity=continuity)
    diffs = np.sort(np.subtract.outer(x, y).ravel())
    m, n = x.size, y.size
    k = math.floor(m * n / 2 - _z(alpha) * math.sqrt(m * n * (m + n + 1) / 12))
    if k >= 1:
        lo, hi = float(diffs[k - 1]), float(diffs[m * n - k])
    else:
        lo, hi = NAN, NAN
    extra.update(prob_superiority=float(res.statistic) / (m * n), k=k)
    return TestResult(
        name,
        float(np.median(diffs)),
        lo,
        hi,
        float(res.pvalue),
        int(m + n),
        extra,
        alpha,
        "Hodges-Lehmann shift a - b",
        float(res.statistic),
    )


def two_proportion_ztest(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    alpha: float = 0.05,
    continuity: bool = False,
) -> TestResult:
    """Two-proportion z-test (pooled variance) with Newcombe's interval for p_a − p_b.

    The statistic is z = (p_a − p_b) / √(p̄(1 − p̄)(1/n_a + 1/n_b)); z² equals
    Pearson's χ² of the 2×2 table (R's ``prop.test(correct = FALSE)``). With
    ``continuity`` Yates' correction shrinks |p_a − p_b| by ½(1/n_a + 1/n_b)
    (R's default ``prop.test``). The interval is Newcombe's hybrid score
    interval (better coverage than the Wald interval R prints).

    Returns:
        TestResult with ``statistic`` z (signed) and ``extra["chi2"]`` = z².
    """
    _check_alpha(alpha)
    rd = risk_difference_unpaired(successes_a, n_a, successes_b, n_b, alpha)
    name = (
        "two-proportion z-test (pooled), "
        + ("Yates continuity correction" if continuity else "no continuity correction")
        + "; Newcombe hybrid score CI"
    )
    if n_a == 0 or n_b == 0:
        return TestResult(name, NAN, NAN, NAN, None, int(n_a + n_b), rd.extra, alpha, "p_a - p_b")
    pa, pb = successes_a / n_a, successes_b / n_b
    pool = (successes_a + successes_b) / (n_a + n_b)
    se0 = math.sqrt(pool * (1 - pool) * (1 / n_a + 1 / n_b))
    diff = pa - pb
    if continuity:
        diff = math.copysign(max(0.0, abs(diff) - 0.5 * (1 / n_a + 1 / n_b)), diff)
    if se0 == 0:
        z, p = 0.0, 1.0
    else:
        z = diff / se0
        p = float(2 * sps.norm.sf(abs(z)))
    extra = {**rd.extra, "chi2": z * z, "continuity": continuity}
    return TestResult(
        name, rd.estimate, rd.ci_low, rd.ci_high, p, rd.n, extra, alpha, "p_a - p_b", z
    )


#: Explicit names for the t-based wrappers above (same functions).
paired_t = paired_mean_difference
welch_t = welch_mean_difference


# --------------------------------------------------------------------------- bootstrap


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _boot_method(method: str) -> str:
    m = method.lower()
    if m not in ("percentile", "bca", "basic"):
        raise ValueError(f"method must be 'percentile', 'bca' or 'basic', got {method!r}")
    return "BCa" if m == "bca" else m


def _boot_p(dist: np.ndarray, null: float) -> float:
    """Two-sided bootstrap p-value by inverting the percentile interval.

    The smallest α at which the percentile interval excludes ``null``:
    2·min(P*(θ* ≤ null), P*(θ* ≥ null)), capped at 1, with the +1 convention
    (#{θ* ≤ null} + 1)/(B + 1) so a finite bootstrap never reports p = 0
    (Davison & Hinkley 1997, §4.2).
    """
    dist = dist[np.isfinite(dist)]
    if dist.size == 0:
        return NAN
    b = dist.size
    lo = (float((dist <= null).sum()) + 1) / (b + 1)
    hi = (float((dist >= null).sum()) + 1) / (b + 1)
    return min(1.0, 2 * min(lo, hi))


_STATS = {
    "mean": lambda v, axis=-1: np.mean(v, axis=axis),
    "median": lambda v, axis=-1: np.median(v, axis=axis),
}


def paired_bootstrap(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    alpha: float = 0.05,
    statistic: str = "mean",
    n_boot: int = 2000,
    seed: int | np.random.Generator | None = 0,
    method: str = "bca",
) -> TestResult:
    """Bootstrap interval for the mean (or median) of paired differences a − b.

    Tasks are resampled with replacement with their pair intact
    (``scipy.stats.bootstrap`` on the differences). Seeded, so a report is
    reproducible.

    Args:
        a: Per-task values of the first arm.
        b: The second arm's values on the same tasks, same order.
        alpha: 1 − confidence level.
        statistic: ``"mean"`` or ``"median"`` of the differences.
        n_boot: Resamples.
        seed: Seed (or a numpy Generator).
        method: ``"bca"`` (bias-corrected and accelerated, default),
            ``"percentile"`` or ``"basic"``.

    Returns:
        TestResult: ``p_value`` from inverting the percentile interval
        (2·min(P*(θ* ≤ 0), P*(θ* ≥ 0))); ``extra["se"]`` the bootstrap SE.
    """
    _check_alpha(alpha)
    if statistic not in _STATS:
        raise ValueError(f"statistic must be one of {sorted(_STATS)}, got {statistic!r}")
    kind = _boot_method(method)
    x, y = _floats(a, "a"), _floats(b, "b")
    if x.size != y.size:
        raise ValueError(f"paired arrays differ in length: {x.size} vs {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    d = x[keep] - y[keep]
    name = f"paired bootstrap ({kind}, {statistic} of per-task differences, {n_boot} resamples)"
    extra: dict[str, Any] = {"n_dropped": int((~keep).sum()), "n_boot": n_boot, "method": kind}
    fn = _STATS[statistic]
    if d.size < 2:
        est = float(fn(d)) if d.size else NAN
        return TestResult(
            name, est, NAN, NAN, None, int(d.size), extra, alpha, f"{statistic}(a - b)"
        )
    est = float(fn(d))
    if np.ptp(d) == 0:
        return TestResult(
            name,
            est,
            est,
            est,
            1.0 if est == 0 else 0.0,
            int(d.size),
            {**extra, "note": "zero variance"},
            alpha,
            f"{statistic}(a - b)",
        )
    res = sps.bootstrap(
        (d,),
        fn,
        n_resamples=n_boot,
        confidence_level=1 - alpha,
        method=kind,
        rng=_rng(seed),
        vectorized=True,
    )
    dist = np.asarray(res.bootstrap_distribution)
    extra["se"] = float(res.standard_error)
    return TestResult(
        name,
        est,
        float(res.confidence_interval.low),
        float(res.confidence_interval.high),
        _boot_p(dist, 0.0),
        int(d.size),
        extra,
        alpha,
        f"{statistic}(a - b)",
    )


def bootstrap_quantile_ci(
    values: Sequence[float] | np.ndarray,
    q: float = 0.5,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int | np.random.Generator | None = 0,
    method: str = "percentile",
) -> TestResult:
    """Bootstrap interval of one quantile (the median, p95 …) of a skewed sample.

    For cost and latency, where the mean is dominated by a few slow or
    expensive trials. Percentile interval by default (BCa is unreliable for
    extreme quantiles of discrete-looking data). Missing values dropped.

    Args:
        values: The sample (e.g. per-trial or per-task latency of one arm).
        q: Quantile in (0, 1): 0.5 for the median, 0.95 for p95.
        alpha: 1 − confidence level.
        n_boot: Resamples.
        seed: Seed (or a numpy Generator).
        method: ``"percentile"`` (default), ``"bca"`` or ``"basic"``.

    Returns:
        TestResult with ``p_value`` None; the estimate is ``numpy.quantile``
        (linear interpolation, R's type 7).
    """
    _check_alpha(alpha)
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    kind = _boot_method(method)
    v = _floats(values, "values")
    keep = np.isfinite(v)
    v = v[keep]
    name = f"bootstrap {kind} interval of the {q:g} quantile ({n_boot} resamples)"
    extra: dict[str, Any] = {"n_dropped": int((~keep).sum()), "q": q, "n_boot": n_boot}
    if v.size < 2:
        est = float(v[0]) if v.size else NAN
        return TestResult(name, est, NAN, NAN, None, int(v.size), extra, alpha, f"quantile {q:g}")
    est = float(np.quantile(v, q))
    if np.ptp(v) == 0:
        return TestResult(name, est, est, est, None, int(v.size), extra, alpha, f"quantile {q:g}")
    res = sps.bootstrap(
        (v,),
        lambda s, axis=-1: np.quantile(s, q, axis=axis),
        n_resamples=n_boot,
        confidence_level=1 - alpha,
        method=kind,
        rng=_rng(seed),
        vectorized=True,
    )
    extra["se"] = float(res.standard_error)
    return TestResult(
        name,
        est,
        float(res.confidence_interval.low),
        float(res.confidence_interval.high),
        None,
        int(v.size),
        extra,
        alpha,
        f"quantile {q:g}",
    )


def quantile_ratio(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    q: float = 0.5,
    alpha: float = 0.05,
    paired: bool = False,
    n_boot: int = 2000,
    seed: int | np.random.Generator | None = 0,
) -> TestResult:
    """Ratio of quantiles Q_a(q) / Q_b(q) (e.g. p95 latency of a over b), bootstrap interval.

    Resamples tasks jointly when ``paired`` (a[i], b[i] are the same task), else
    each sample on its own. Percentile interval on the log ratio; ``p_value``
    inverts it (H0: ratio 1). Non-positive and missing values are dropped.
    """
    _check_alpha(alpha)
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    x, y = _floats(a, "a"), _floats(b, "b")
    if paired:
        if x.size != y.size:
            raise ValueError(f"paired arrays differ in length: {x.size} vs {y.size}")
        keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
        x, y = x[keep], y[keep]
        dropped = int((~keep).sum())
    else:
        kx, ky = np.isfinite(x) & (x > 0), np.isfinite(y) & (y > 0)
        dropped = int((~kx).sum() + (~ky).sum())
        x, y = x[kx], y[ky]
    kind = "paired" if paired else "independent"
    name = f"ratio of {q:g} quantiles, {kind} bootstrap percentile interval ({n_boot} resamples)"
    extra: dict[str, Any] = {"n_dropped": dropped, "q": q, "n_boot": n_boot}
    n = int(x.size if paired else x.size + y.size)
    if x.size < 2 or y.size < 2:
        return TestResult(name, NAN, NAN, NAN, None, n, extra, alpha, f"Q{q:g}(a) / Q{q:g}(b)")
    est = float(np.quantile(x, q) / np.quantile(y, q))
    rng = _rng(seed)
    if paired:
        idx = rng.integers(0, x.size, size=(n_boot, x.size))
        qa, qb = np.quantile(x[idx], q, axis=1), np.quantile(y[idx], q, axis=1)
    else:
        qa = np.quantile(x[rng.integers(0, x.size, size=(n_boot, x.size))], q, axis=1)
        qb = np.quantile(y[rng.integers(0, y.size, size=(n_boot, y.size))], q, axis=1)
    logr = np.log(qa / qb)
    lo, hi = np.quantile(logr, [alpha / 2, 1 - alpha / 2])
    extra["se_log"] = float(logr.std(ddof=1))
    return TestResult(
        name,
        est,
        float(np.exp(lo)),
        float(np.exp(hi)),
        _boot_p(logr, 0.0),
        n,
        extra,
        alpha,
        f"Q{q:g}(a) / Q{q:g}(b)",
    )


# --------------------------------------------------------------------------- clustered


def _clusters(values: np.ndarray, clusters: Sequence[Any] | np.ndarray) -> np.ndarray:
    c = np.asarray(clusters, dtype=object)
    if c.shape != values.shape:
        raise ValueError(f"clusters must match values in length: {c.size} vs {values.size}")
    return c


def clustered_mean(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[Any] | np.ndarray,
    alpha: float = 0.05,
    small_sample: bool = True,
) -> TestResult:
    """Mean with a cluster-robust standard error (Miller 2024, "Adding Error Bars to Evals").

    With residuals e_i = x_i − x̄ and clusters c, Miller's clustered variance
    of the mean is

        Var = (1/n²) Σ_c (Σ_{i∈c} e_i)²
            = SE_CLT²-like diagonal + (1/n²) Σ_c Σ_{i≠j∈c} e_i e_j,

    the sandwich (CR0) variance of an intercept-only regression. With
    ``small_sample`` it is multiplied by C/(C − 1) (CR1, as Stata and
    statsmodels do; inspect_ai uses the same factor), and the interval and
    p-value use a t distribution on C − 1 degrees of freedom (Cameron &
    Miller 2015), because with few clusters — six task categories — the
    normal approximation is far too optimistic.

    Args:
        values: One value per unit (per task: replicates already averaged).
        clusters: The cluster of each unit (e.g. its task category).
        alpha: 1 − confidence level.
        small_sample: CR1 factor and t on C − 1 df (default); False gives
            Miller's formula as printed, with a normal interval.

    Returns:
        TestResult (p_value tests mean = 0); ``extra`` holds ``se``,
        ``se_naive`` (sd/√n), ``design_effect`` (Var / naive Var),
        ``n_clusters`` and ``df``.
    """
    _check_alpha(alpha)
    x = _floats(values, "values")
    c = _clusters(x, clusters)
    keep = np.isfinite(x)
    x, c = x[keep], c[keep]
    n = x.size
    groups = _factorize(c)
    k = int(groups.max() + 1) if n else 0
    name = "mean, cluster-robust SE (Miller 2024" + (
        "; CR1, t on C-1 df)" if small_sample else "; CR0, normal)"
    )
    extra: dict[str, Any] = {"n_clusters": k, "n_dropped": int((~keep).sum())}
    if n == 0:
        return TestResult(name, NAN, NAN, NAN, None, 0, extra, alpha, "mean")
    mean = float(x.mean())
    if k < 2:
        return TestResult(
            name, mean, NAN, NAN, None, n, {**extra, "note": "one cluster"}, alpha, "mean"
        )
    e = x - mean
    sums = np.bincount(groups, weights=e, minlength=k)
    var = float((sums**2).sum()) / n**2
    if small_sample:
        var *= k / (k - 1)
    se = math.sqrt(var)
    se_naive = float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else NAN
    df = k - 1
    extra.update(
        se=se,
        se_naive=se_naive,
        df=df if small_sample else math.inf,
        design_effect=var / se_naive**2 if se_naive and se_naive > 0 else NAN,
    )
    if se <= 1e-12 * max(1.0, abs(mean)):
        return TestResult(
            name,
            mean,
            mean,
            mean,
            1.0 if mean == 0 else 0.0,
            n,
            {**extra, "note": "zero variance"},
            alpha,
            "mean",
        )
    crit = float(sps.t.ppf(1 - alpha / 2, df)) if small_sample else _z(alpha)
    stat = mean / se
    p = float(2 * (sps.t.sf(abs(stat), df) if small_sample else sps.norm.sf(abs(stat))))
    return TestResult(
        name, mean, mean - crit * se, mean + crit * se, p, n, extra, alpha, "mean", stat
    )


def _factorize(c: np.ndarray) -> np.ndarray:
    """Integer codes 0..C−1 for arbitrary (hashable) cluster labels, first-seen order."""
    codes: dict[Any, int] = {}
    return np.array([codes.setdefault(v, len(codes)) for v in c], dtype=int)


def clustered_paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    clusters: Sequence[Any] | np.ndarray,
    alpha: float = 0.05,
    small_sample: bool = True,
) -> TestResult:
    """Mean paired difference a − b with a cluster-robust SE (Miller 2024, §4 with §3's clusters).

    The per-task differences d_i = a_i − b_i are the units; their mean is
    tested with :func:`clustered_mean`. Pairs with a missing value are dropped.
    """
    x, y = _floats(a, "a"), _floats(b, "b")
    if x.size != y.size:
        raise ValueError(f"paired arrays differ in length: {x.size} vs {y.size}")
    c = _clusters(x, clusters)
    keep = np.isfinite(x) & np.isfinite(y)
    r = clustered_mean(x[keep] - y[keep], c[keep], alpha, small_sample)
    extra = {**r.extra, "n_dropped": int((~keep).sum())}
    return TestResult(
        "paired difference, " + r.method,
        r.estimate,
        r.ci_low,
        r.ci_high,
        r.p_value,
        r.n,
        extra,
        alpha,
        "mean(a - b)",
        r.statistic,
    )


def cluster_bootstrap_mean(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[Any] | np.ndarray,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int | np.random.Generator | None = 0,
) -> TestResult:
    """Mean with a cluster bootstrap percentile interval: whole clusters resampled.

    Each resample draws C clusters with replacement and takes the mean of all
    their units (so cluster sizes vary as in the data). Pass per-task
    differences to get the paired version. ``p_value`` inverts the percentile
    interval (H0: mean 0). With very few clusters (< ~20) the interval is too
    narrow; prefer :func:`clustered_mean` with its t on C − 1 df there.
    """
    _check_alpha(alpha)
    x = _floats(values, "values")
    c = _clusters(x, clusters)
    keep = np.isfinite(x)
    x, c = x[keep], c[keep]
    groups = _factorize(c)
    k = int(groups.max() + 1) if x.size else 0
    name = f"mean, cluster bootstrap percentile interval ({n_boot} resamples)"
    extra: dict[str, Any] = {"n_clusters": k, "n_boot": n_boot, "n_dropped": int((~keep).sum())}
    if x.size == 0 or k < 2:
        est = float(x.mean()) if x.size else NAN
        return TestResult(name, est, NAN, NAN, None, int(x.size), extra, alpha, "mean")
    sums = np.bincount(groups, weights=x, minlength=k)
    sizes = np.bincount(groups, minlength=k).astype(float)
    draws = _rng(seed).integers(0, k, size=(n_boot, k))
    boots = sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    extra["se"] = float(boots.std(ddof=1))
    return TestResult(
        name,
        float(x.mean()),
        float(lo),
        float(hi),
        _boot_p(boots, 0.0),
        int(x.size),
        extra,
        alpha,
        "mean",
    )
