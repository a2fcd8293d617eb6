"""Power and planning: how many tasks (and replicates) an experiment needs, and what it can detect.

The model is Miller's (2024, "Adding Error Bars to Evals", arXiv 2411.00640,
§ "Power analysis"): tasks are drawn from a super-population, and each arm's
outcome on task *i*, replicate *k* is its task-level mean plus within-task
noise. For two arms run on the same tasks (paired design) with *K* replicates,
the per-task difference of replicate means has variance

    Var(d_i) = σ_b² + σ_w² / K

where σ_b² is the between-task variance of the true per-task difference
(p_Ai − p_Bi) and σ_w² = E[σ²_Ai + σ²_Bi] is the within-task (replicate)
variance of one paired difference. With *n* tasks, the minimum detectable
effect at two-sided level α and power 1 − β is, in the normal approximation,

    MDE = (z_{1−α/2} + z_{1−β}) · sqrt((σ_b² + σ_w²/K) / n).

Replicates shrink only the within-task part: when σ_b² dominates, more tasks
are the only cure. The default ``method="t"`` solves the same equation with
the noncentral t distribution (df = n − 1), i.e. the power of the paired t test
the report runs on per-task means; ``method="z"`` is Miller's closed form.
With K = 1 the t version equals ``statsmodels.stats.power.TTestPower`` with
effect size MDE / sd(d_i).

Split design (each task gets one arm): each arm's per-task mean has variance
σ_b² + σ_w²/K where σ_b² is the between-task variance of that arm's true
per-task rate and σ_w² = E[p_i(1 − p_i)] its within-task variance; the
difference of arm means over n_a and n_b tasks has variance
(σ_b² + σ_w²/K)(1/n_a + 1/n_b) (two-sample t, df = n_a + n_b − 2).

Where the variance components come from: :func:`variance_components` (a pilot
run's trials), :func:`components_from_rates` (assumed success rates), or
:func:`components_from_probabilities` (known per-task probabilities, e.g. the
simulator's behaviour model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

__all__ = [
    "MDE_COLUMNS",
    "achieved_mde_table",
    "components_from_probabilities",
    "components_from_rates",
    "mde_paired",
    "mde_split",
    "power_mcnemar",
    "power_paired",
    "power_split",
    "tasks_needed_paired",
    "tasks_needed_split",
    "variance_components",
]

#: Columns of :func:`achieved_mde_table`, in order (a stable contract for the report).
MDE_COLUMNS: tuple[str, ...] = (
    "arm_a",
    "arm_b",
    "n_tasks",
    "replicates",
    "sd_between",
    "sd_within",
    "mde",
    "method",
)

_METHODS = ("t", "z")
_MAX_TASKS = 10_000_000


def _check(alpha: float, power: float, replicates: float, method: str) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1, got {replicates}")
    if method not in _METHODS:
        raise ValueError(f"method must be 't' or 'z', got {method!r}")


def _unit_var(sd_between: float, sd_within: float, replicates: float) -> float:
    """Variance of one task's mean difference (paired) or mean (split) over K replicates."""
    if sd_between < 0 or sd_within < 0:
        raise ValueError("standard deviations must be >= 0")
    within = 0.0 if sd_within == 0 else sd_within**2 / replicates
    return sd_between**2 + within


def _two_sided_power(nc: float, df: float, alpha: float, method: str) -> float:
    """P(|T| > crit) for a test statistic centred at ``nc`` (t with df, or normal)."""
    if method == "z" or not math.isfinite(df):
        z = sps.norm.ppf(1 - alpha / 2)
        return float(sps.norm.sf(z - nc) + sps.norm.cdf(-z - nc))
    crit = sps.t.ppf(1 - alpha / 2, df)
    return float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))


def power_paired(
    effect: float,
    n_tasks: float,
    *,
    sd_between: float,
    sd_within: float = 0.0,
    replicates: float = 1,
    alpha: float = 0.05,
    method: str = "t",
) -> float:
    """Power of the two-sided paired test on per-task mean differences.

    Args:
        effect: True mean difference between the arms (e.g. 0.05 success rate).
        n_tasks: Tasks, each run by both arms.
        sd_between: Between-task sd of the true per-task difference (σ_b).
        sd_within: Within-task sd of one paired difference per replicate (σ_w).
        replicates: Replicates per (task, arm), K.
        alpha: Two-sided significance level.
        method: ``"t"`` (noncentral t, df = n − 1) or ``"z"`` (normal, Miller's formula).
    """
    _check(alpha, 0.5, replicates, method)
    if n_tasks < 2:
        return float("nan")
    var = _unit_var(sd_between, sd_within, replicates)
    if var == 0:
        return 1.0 if effect != 0 else alpha
    nc = effect * math.sqrt(n_tasks / var)
    return _two_sided_power(nc, n_tasks - 1, alpha, method)


def power_split(
    effect: float,
    n_tasks_a: float,
    n_tasks_b: float,
    *,
    sd_between: float,
    sd_within: float = 0.0,
    replicates: float = 1,
    alpha: float = 0.05,
    method: str = "t",
) -> float:
    """Power of the two-sided two-sample test when each task gets one arm (split design).

    Args:
        effect: True difference of the arms' mean success rates.
        n_tasks_a: Tasks given to the first arm.
        n_tasks_b: Tasks given to the second arm.
        sd_between: Between-task sd of one arm's true per-task rate (both arms alike).
        sd_within: Within-task sd of one trial outcome, sqrt(E[p(1 − p)]) for binary.
        replicates: Replicates per task, K.
        alpha: Two-sided significance level.
        method: ``"t"`` (df = n_a + n_b − 2) or ``"z"``.
    """
    _check(alpha, 0.5, replicates, method)
    if n_tasks_a < 1 or n_tasks_b < 1 or n_tasks_a + n_tasks_b < 3:
        return float("nan")
    var = _unit_var(sd_between, sd_within, replicates) * (1 / n_tasks_a + 1 / n_tasks_b)
    if var == 0:
        return 1.0 if effect != 0 else alpha
    nc = effect / math.sqrt(var)
    return _two_sided_power(nc, n_tasks_a + n_tasks_b - 2, alpha, method)


def power_mcnemar(
    n_tasks: int, p_ab: float, p_ba: float, *, alpha: float = 0.05, midp: bool = False
) -> float:
    """Power of the exact (or mid-p) McNemar test the report runs with one replicate.

    The normal-theory formulas above overstate the power of the exact
    conditional test, which is conservative. Here the number of discordant
    tasks is m ~ Binomial(n, p_ab + p_ba) and, given m, the tasks only arm A
    solved are W ~ Binomial(m, p_ab / (p_ab + p_ba)); the power is
    Σ_m P(m) · P(W in the test's rejection region at level α | m), exactly
    (Fagerland, Lydersen & Laake 2013 for the tests; the same conditioning
    as Miettinen 1968 for McNemar power).

    Args:
        n_tasks: Tasks, one trial per task and arm.
        p_ab: P(arm A succeeds and B fails) on a random task.
        p_ba: P(B succeeds and A fails).
        alpha: Two-sided level.
        midp: The mid-p version of the test instead of the exact one.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if p_ab < 0 or p_ba < 0 or p_ab + p_ba > 1:
        raise ValueError(f"need p_ab, p_ba >= 0 with p_ab + p_ba <= 1, got {p_ab}, {p_ba}")
    disc = p_ab + p_ba
    if n_tasks < 1 or disc == 0:
        return 0.0
    theta = p_ab / disc
    total = 0.0
    weights = sps.binom.pmf(np.arange(n_tasks + 1), n_tasks, disc)
    for m in range(1, n_tasks + 1):
        if weights[m] < 1e-14:
            continue
        w = np.arange(m + 1)
        k = np.minimum(w, m - w)
        p = np.minimum(1.0, 2.0 * sps.binom.cdf(k, m, 0.5))
        if midp:
            pk = sps.binom.pmf(k, m, 0.5)
            p = np.where(w == m - w, 1.0 - 0.5 * pk, p - pk)
        reject = p < alpha  # as the calibration and the report read a p-value
        total += weights[m] * float(sps.binom.pmf(w[reject], m, theta).sum())
    return total


def _solve_effect(power_of: Any, power: float, scale: float) -> float:
    """Smallest effect > 0 whose power reaches ``power`` (power rises with the effect)."""
    if scale == 0:
        return 0.0
    hi = scale
    while (p_hi := power_of(hi)) < power:
        hi *= 2
        if hi > 1e6 * scale:
            return float("inf")
    if not math.isfinite(p_hi):
        # scipy's noncentral t returns NaN far in its tail at tiny df (2 tasks): no answer
        return float("nan")
    try:
        return float(optimize.brentq(lambda e: power_of(e) - power, 0.0, hi, xtol=1e-12 * scale))
    except ValueError:  # a NaN met inside the bracket
        return float("nan")


def mde_paired(
    n_tasks: float,
    *,
    sd_between: float,
    sd_within: float = 0.0,
    replicates: float = 1,
    alpha: float = 0.05,
    power: float = 0.8,
    method: str = "t",
) -> float:
    """Minimum detectable effect of a paired design with ``n_tasks`` tasks and K replicates.

    The smallest true mean difference detected with probability ``power`` by
    the two-sided test at ``alpha`` (see the module docstring for the model).

    Returns:
        The MDE on the outcome's scale (a success-rate difference for binary
        outcomes); NaN for fewer than 2 tasks.
    """
    _check(alpha, power, replicates, method)
    if n_tasks < 2:
        return float("nan")
    var = _unit_var(sd_between, sd_within, replicates)
    se = math.sqrt(var / n_tasks)
    if method == "z":
        return (sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)) * se

    def power_of(e: float) -> float:
        return power_paired(
            e,
            n_tasks,
            sd_between=sd_between,
            sd_within=sd_within,
            replicates=replicates,
            alpha=alpha,
            method=method,
        )

    return _solve_effect(power_of, power, 3.0 * se)


def mde_split(
    n_tasks_a: float,
    n_tasks_b: float,
    *,
    sd_between: float,
    sd_within: float = 0.0,
    replicates: float = 1,
    alpha: float = 0.05,
    power: float = 0.8,
    method: str = "t",
) -> float:
    """Minimum detectable effect of a split design (arguments as :func:`power_split`)."""
    _check(alpha, power, replicates, method)
    if n_tasks_a < 1 or n_tasks_b < 1 or n_tasks_a + n_tasks_b < 3:
        return float("nan")
    var = _unit_var(sd_between, sd_within, replicates) * (1 / n_tasks_a + 1 / n_tasks_b)
    se = math.sqrt(var)
    if method == "z":
        return (sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)) * se

    def power_of(e: float) -> float:
        return power_split(
            e,
            n_tasks_a,
            n_tasks_b,
            sd_between=sd_between,
            sd_within=sd_within,
            replicates=replicates,
            alpha=alpha,
            method=method,
        )

    return _solve_effect(power_of, power, 3.0 * se)


def _smallest_n(power_at: Any, power: float, start: int) -> int:
    """Smallest integer n >= start with power_at(n) >= power (power rises with n)."""
    if power_at(start) >= power:
        return start
    lo, hi = start, start * 2
    while power_at(hi) < power:
        lo, hi = hi, hi * 2
        if hi > _MAX_TASKS:
            raise ValueError("more than 10 million tasks needed: is the effect 0?")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if power_at(mid) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def tasks_needed_paired(
    mde: float,
    *,
    sd_between: float,
    sd_within: float = 0.0,
    replicates: float = 1,
    alpha: float = 0.05,
    power: float = 0.8,
    method: str = "t",
) -> int:
    """Tasks a paired design needs to detect ``mde`` with ``power`` at ``alpha``.

    With ``method="z"`` this is Miller's n = (z_{1−α/2} + z_{1−β})² (σ_b² + σ_w²/K) / δ²
    rounded up; with ``"t"`` the smallest n whose paired-t power reaches the target.

    Raises:
        ValueError: ``mde`` is not > 0.
    """
    _check(alpha, power, replicates, method)
    if not mde > 0:
        raise ValueError(f"mde must be > 0, got {mde}")
    var = _unit_var(sd_between, sd_within, replicates)
    if method == "z":
        z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
        return max(2, math.ceil(z**2 * var / mde**2 - 1e-9))
    return _smallest_n(
        lambda n: power_paired(
            mde,
            n,
            sd_between=sd_between,
            sd_within=sd_within,
            replicates=replicates,
            alpha=alpha,
            method=method,
        ),
        power,
        2,
    )


def tasks_needed_split(
    mde: float,
    *,
    sd_between: float,
    sd_within: float = 0.0,
    replicates: float = 1,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 0.5,
    method: str = "t",
) -> int:
    """Total tasks a split design needs (``ratio`` of them to the first arm).

    Raises:
        ValueError: ``mde`` is not > 0 or ``ratio`` not in (0, 1).
    """
    _check(alpha, power, replicates, method)
    if not mde > 0:
        raise ValueError(f"mde must be > 0, got {mde}")
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")

    def power_at(n: int) -> float:
        return power_split(
            mde,
            n * ratio,
            n * (1 - ratio),
            sd_between=sd_between,
            sd_within=sd_within,
            replicates=replicates,
            alpha=alpha,
            method=method,
        )

    return _smallest_n(power_at, power, 4)


# --- variance components -----------------------------------------------------------------------


def components_from_rates(
    rate_a: float,
    rate_b: float,
    *,
    icc: float = 1.0,
    task_corr: float = 0.5,
) -> dict[str, float]:
    """Variance components implied by assumed success rates.

    A binary outcome with rate p has variance p(1 − p). ``icc`` is the share of
    it that lies between tasks (1: a task is always solved or always failed, as
    at temperature 0, so replicates add nothing; lower when the models sample);
    ``task_corr`` is the correlation of the two arms' per-task success
    probabilities (how much the arms find the same tasks hard).

    Returns:
        ``effect`` (rate_a − rate_b), paired ``sd_between``/``sd_within`` (of the
        difference) and split ``sd_between_split``/``sd_within_split`` (per arm,
        pooled).
    """
    for name, v in (("rate_a", rate_a), ("rate_b", rate_b), ("icc", icc)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {v}")
    if not -1.0 <= task_corr <= 1.0:
        raise ValueError(f"task_corr must be in [-1, 1], got {task_corr}")
    va, vb = rate_a * (1 - rate_a), rate_b * (1 - rate_b)
    ba, bb = icc * va, icc * vb
    cov = task_corr * math.sqrt(ba * bb)
    return {
        "effect": rate_a - rate_b,
        "rate_a": rate_a,
        "rate_b": rate_b,
        "sd_between": math.sqrt(max(0.0, ba + bb - 2 * cov)),
        "sd_within": math.sqrt((1 - icc) * (va + vb)),
        "sd_between_split": math.sqrt((ba + bb) / 2),
        "sd_within_split": math.sqrt((1 - icc) * (va + vb) / 2),
    }


def components_from_probabilities(
    p_a: Sequence[float] | np.ndarray, p_b: Sequence[float] | np.ndarray
) -> dict[str, float]:
    """Exact variance components from known per-task success probabilities.

    For ground truth such as the simulator's behaviour model, where the two
    arms' draws on a task are independent given the task. Moments are over the
    given tasks (population, ddof = 0).

    Returns:
        As :func:`components_from_rates`, with ``n_tasks``.
    """
    a, b = np.asarray(p_a, dtype=float), np.asarray(p_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("p_a and p_b must be equal-length, non-empty 1-d sequences")
    wa, wb = a * (1 - a), b * (1 - b)
    return {
        "effect": float((a - b).mean()),
        "rate_a": float(a.mean()),
        "rate_b": float(b.mean()),
        "sd_between": float((a - b).std()),
        "sd_within": float(np.sqrt((wa + wb).mean())),
        "sd_between_split": float(np.sqrt((a.var() + b.var()) / 2)),
        "sd_within_split": float(np.sqrt((wa.mean() + wb.mean()) / 2)),
        "n_tasks": int(a.size),
    }


def _outcome_column(trials: pd.DataFrame) -> pd.Series:
    return pd.to_numeric(trials["success"], errors="coerce").astype(float)


def _replicates(verified: pd.DataFrame) -> int:
    counts = verified.groupby(["task_id", "arm"]).size()
    return round(float(counts.median())) if len(counts) else 0


def _detect_design(trials: pd.DataFrame, arm_a: str, arm_b: str) -> str:
    """Split when the run hash-assigned arms (``assign_u``) or the arms share no task."""
    if "assign_u" in trials and trials["assign_u"].notna().any():
        return "split"
    tasks = trials.groupby("arm")["task_id"].agg(set)
    shared = tasks.get(arm_a, set()) & tasks.get(arm_b, set())
    return "paired" if shared else "split"


def variance_components(
    trials: pd.DataFrame, arm_a: str, arm_b: str, *, design: str | None = None
) -> dict[str, Any]:
    """Between- and within-task variance of two arms' success, from per-trial data.

    Trials without a verifier outcome (``success`` NaN) are left out. Within-task
    variance needs replicates: a task's sample variance over its replicates
    (ddof = 1, unbiased) is averaged over tasks. With one replicate per task it
    cannot be separated from the between-task part, so ``sd_within`` is NaN and
    ``sd_between`` is the total sd of a task's difference (planning other K
    from it assumes replicates do not help: conservative).

    Paired: σ_w² = mean over tasks of (s²_A,i + s²_B,i); σ_b² = var(d_i) − σ_w²/K
    (floored at 0), d_i the per-task difference of replicate means.
    Split: the same per arm, pooled over the two arms.

    Args:
        trials: A frame from :func:`~harness.analysis.frames.trials_frame`.
        arm_a: First arm (differences are a − b).
        arm_b: Second arm.
        design: ``"paired"`` or ``"split"``; default: split when ``assign_u`` is
            set or the arms share no task, else paired.

    Returns:
        dict with ``design, n_tasks, n_tasks_a, n_tasks_b, replicates, mean_a,
        mean_b, effect, sd_between, sd_within, sd_total``.
    """
    design = design or _detect_design(trials, arm_a, arm_b)
    if design not in ("paired", "split"):
        raise ValueError(f"design must be 'paired' or 'split', got {design!r}")
    t = trials[trials["arm"].isin([arm_a, arm_b])].copy()
    t["_y"] = _outcome_column(t)
    t = t[t["_y"].notna()]
    k = _replicates(t)
    grouped = t.groupby(["task_id", "arm"])["_y"]
    means = grouped.mean().unstack("arm").reindex(columns=[arm_a, arm_b])
    # Sample variance over replicates, one per (task, arm); NaN with a single replicate.
    var_rep = grouped.var(ddof=1).unstack("arm").reindex(columns=[arm_a, arm_b])
    out: dict[str, Any] = {"design": design, "replicates": k}
    if design == "paired":
        both = means.dropna()
        d = both[arm_a] - both[arm_b]
        n = len(d)
        sd_total = float(d.std(ddof=1)) if n >= 2 else float("nan")
        within_cells = var_rep.loc[both.index].dropna()
        sd_within = float("nan")
        if k >= 2 and len(within_cells):
            w2 = float((within_cells[arm_a] + within_cells[arm_b]).mean())
            sd_within = math.sqrt(w2)
            sd_between = math.sqrt(max(0.0, sd_total**2 - w2 / k)) if n >= 2 else float("nan")
        else:
            sd_between = sd_total
        out.update(
            n_tasks=n,
            n_tasks_a=n,
            n_tasks_b=n,
            mean_a=float(both[arm_a].mean()) if n else float("nan"),
            mean_b=float(both[arm_b].mean()) if n else float("nan"),
            sd_between=sd_between,
            sd_within=sd_within,
            sd_total=sd_total,
        )
    else:
        ma, mb = means[arm_a].dropna(), means[arm_b].dropna()
        pooled_total = _pooled_var([ma, mb])
        wa, wb = var_rep[arm_a].dropna(), var_rep[arm_b].dropna()
        sd_within = float("nan")
        if k >= 2 and len(wa) + len(wb):
            w2 = float(pd.concat([wa, wb]).mean())
            sd_within = math.sqrt(w2)
            sd_between = math.sqrt(max(0.0, pooled_total - w2 / k))
        else:
            sd_between = math.sqrt(pooled_total) if math.isfinite(pooled_total) else float("nan")
        out.update(
            n_tasks=len(ma) + len(mb),
            n_tasks_a=len(ma),
            n_tasks_b=len(mb),
            mean_a=float(ma.mean()) if len(ma) else float("nan"),
            mean_b=float(mb.mean()) if len(mb) else float("nan"),
            sd_between=sd_between,
            sd_within=sd_within,
            sd_total=math.sqrt(pooled_total) if math.isfinite(pooled_total) else float("nan"),
        )
    out["effect"] = out["mean_a"] - out["mean_b"]
    return out


def _pooled_var(groups: Sequence[pd.Series]) -> float:
    """Pooled within-group sample variance (df-weighted); NaN without 2 values in a group."""
    ss, df = 0.0, 0
    for g in groups:
        if len(g) >= 2:
            ss += float(g.var(ddof=1)) * (len(g) - 1)
            df += len(g) - 1
    return ss / df if df else float("nan")


def achieved_mde_table(
    trials: pd.DataFrame,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    control: str | None = None,
    arms: Sequence[str] | None = None,
    design: str | None = None,
) -> pd.DataFrame:
    """The minimum detectable effect each comparison of a finished run had.

    For each pair of arms (every arm against ``control`` when given, else all
    pairs in ``arms`` order), the variance components are estimated from the
    run itself (:func:`variance_components`) and the MDE on the success rate is
    computed for the run's own design: tasks used × replicates, at ``alpha``
    and ``power`` (t version of Miller's formula).

    Args:
        trials: A frame from :func:`~harness.analysis.frames.trials_frame` (one run).
        alpha: Two-sided significance level.
        power: Target power.
        control: Compare every other arm against this one (arm_b = control).
        arms: Arm order (default: sorted); pairs are (arms[i], arms[j]), i < j.
        design: ``"paired"`` or ``"split"``; default as :func:`variance_components`.

    Returns:
        DataFrame with :data:`MDE_COLUMNS`; ``mde`` NaN when it cannot be
        computed (fewer than 2 usable tasks), ``method`` says how it was computed.
    """
    order = list(arms) if arms is not None else sorted(trials["arm"].dropna().unique())
    if control is not None:
        if control not in order:
            raise ValueError(f"control arm {control!r} has no trials (arms: {order})")
        pairs = [(a, control) for a in order if a != control]
    else:
        pairs = list(combinations(order, 2))
    rows = [_mde_row(trials, a, b, alpha, power, design) for a, b in pairs]
    return pd.DataFrame(rows, columns=list(MDE_COLUMNS))


def _mde_row(
    trials: pd.DataFrame, a: str, b: str, alpha: float, power: float, design: str | None
) -> dict[str, Any]:
    vc = variance_components(trials, a, b, design=design)
    k = max(1, vc["replicates"])
    sd_b, sd_w = vc["sd_between"], vc["sd_within"]
    sd_w_used = 0.0 if not math.isfinite(sd_w) else sd_w
    note = "" if math.isfinite(sd_w) else "; one replicate: sd_between is the total sd"
    mde = float("nan")
    if vc["design"] == "paired":
        if vc["n_tasks"] >= 2 and math.isfinite(sd_b):
            mde = mde_paired(
                vc["n_tasks"],
                sd_between=sd_b,
                sd_within=sd_w_used,
                replicates=k,
                alpha=alpha,
                power=power,
            )
        method = f"paired t power on per-task differences, σ_b² + σ_w²/K (Miller 2024){note}"
    else:
        if vc["n_tasks_a"] >= 1 and vc["n_tasks_b"] >= 1 and math.isfinite(sd_b):
            mde = mde_split(
                vc["n_tasks_a"],
                vc["n_tasks_b"],
                sd_between=sd_b,
                sd_within=sd_w_used,
                replicates=k,
                alpha=alpha,
                power=power,
            )
        method = (
            f"two-sample t power on per-task means, split {vc['n_tasks_a']}/{vc['n_tasks_b']} "
            f"tasks, pooled per-arm σ_b² + σ_w²/K (Miller 2024){note}"
        )
    return {
        "arm_a": a,
        "arm_b": b,
        "n_tasks": vc["n_tasks"],
        "replicates": vc["replicates"],
        "sd_between": sd_b,
        "sd_within": sd_w,
        "mde": mde,
        "method": method,
    }
