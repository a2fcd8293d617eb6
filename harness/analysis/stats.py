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
    "fisher_exact",
    "log_ratio_paired",
    "log_ratio_unpaired",
    "mcnemar_exact",
    "mcnemar_midp",
    "mean_ci",
    "paired_mean_difference",
    "paired_risk_difference",
    "paired_table",
    "risk_difference_unpaired",
    "welch_mean_difference",
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
