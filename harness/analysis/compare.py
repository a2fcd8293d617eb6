"""Compare arms on success, cost and latency, with the method named on every row.

The unit of inference is the task. Replicates are averaged per (task, arm)
first; on the paired design the arms are then paired on the task.

Success:
    paired, one replicate — risk difference with Newcombe's square-and-add
    interval, tested by the exact conditional McNemar test (mid-p alongside);
    paired, several replicates — paired t on per-task success fractions;
    split, one replicate — Newcombe hybrid score interval, Fisher's exact test;
    split, several replicates — Welch t on per-task success fractions.
Cost and latency (positive, right-skewed):
    ratio of geometric means, t on the log scale (paired t, or Welch for split).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.frames import per_task
from harness.analysis.stats import (
    TestResult,
    fisher_exact,
    log_ratio_paired,
    log_ratio_unpaired,
    mcnemar_exact,
    mcnemar_midp,
    paired_mean_difference,
    paired_risk_difference,
    risk_difference_unpaired,
    welch_mean_difference,
)

__all__ = ["COLUMNS", "RATIO_METRICS", "compare_arms", "compare_paired", "compare_unpaired"]

#: Measures compared as ratios of geometric means (when the column has data).
RATIO_METRICS: tuple[str, ...] = ("cost_usd", "latency_ms", "ttft_ms")

#: Columns of every comparison frame, in order.
COLUMNS: tuple[str, ...] = (
    "arm_a",
    "arm_b",
    "metric",
    "estimand",
    "estimate",
    "ci_low",
    "ci_high",
    "ci_method",
    "test",
    "p_value",
    "p_value_midp",
    "value_a",
    "value_b",
    "n_tasks",
    "n_dropped",
    "detail",
)


def _row(a: str, b: str, metric: str, estimand: str, r: TestResult, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS, np.nan)
    row.update(
        arm_a=a,
        arm_b=b,
        metric=metric,
        estimand=estimand,
        estimate=r.estimate,
        ci_low=r.ci_low,
        ci_high=r.ci_high,
        ci_method=r.method,
        test=r.method,
        p_value=np.nan if r.p_value is None else r.p_value,
        n_tasks=r.n,
        detail="",
    )
    row.update(kw)
    return row


def _verified(trials: pd.DataFrame) -> pd.DataFrame:
    return trials[trials["success"].notna()]


def _one_replicate(verified: pd.DataFrame, arms: Sequence[str], tasks: pd.Index) -> bool:
    counts = verified[verified["arm"].isin(arms)].groupby(["task_id", "arm"]).size()
    sub = counts[counts.index.get_level_values("task_id").isin(tasks)]
    return bool(len(sub)) and bool((sub == 1).all())


def _n_tasks(trials: pd.DataFrame, *arms: str) -> int:
    return int(trials.loc[trials["arm"].isin(arms), "task_id"].nunique())


def _check_arms(trials: pd.DataFrame, *arms: str) -> None:
    known = set(trials["arm"].unique())
    missing = [a for a in arms if a not in known]
    if missing:
        raise ValueError(f"arm(s) {missing} have no trials (arms present: {sorted(known)})")


def compare_paired(
    trials: pd.DataFrame,
    arm_a: str,
    arm_b: str,
    alpha: float = 0.05,
    metrics: Sequence[str] = RATIO_METRICS,
) -> pd.DataFrame:
    """Compare two arms run on the same tasks (paired design).

    Args:
        trials: A frame from :func:`~harness.analysis.frames.trials_frame` (one run).
        arm_a: First arm; differences are a − b and ratios a / b.
        arm_b: Second arm.
        alpha: 1 − confidence level; significance level of the tests.
        metrics: Columns compared as ratios of geometric means; a column with
            no data for either arm is skipped.

    Returns:
        DataFrame with :data:`COLUMNS`: one ``success`` row, then one row per
        ratio metric. ``n_dropped`` counts tasks without a usable pair.
    """
    _check_arms(trials, arm_a, arm_b)
    trials = trials[trials["arm"].isin([arm_a, arm_b])]
    rows = []
    n_all = _n_tasks(trials, arm_a, arm_b)
    verified = _verified(trials)
    frac = per_task(verified, "success", [arm_a, arm_b]).dropna()
    estimand = f"success rate difference ({arm_a} − {arm_b})"
    if _one_replicate(verified, [arm_a, arm_b], frac.index):
        rd = paired_risk_difference(frac[arm_a].to_numpy(), frac[arm_b].to_numpy(), alpha)
        b, c = rd.extra["n12"], rd.extra["n21"]
        exact, mid = mcnemar_exact(b, c, alpha), mcnemar_midp(b, c, alpha)
        rows.append(
            _row(
                arm_a,
                arm_b,
                "success",
                estimand,
                rd,
                test=exact.method,
                p_value=exact.p_value,
                p_value_midp=mid.p_value,
                value_a=rd.extra.get("p_a", np.nan),
                value_b=rd.extra.get("p_b", np.nan),
                n_dropped=n_all - rd.n,
                detail=f"discordant tasks: {b} only {arm_a} solved, {c} only {arm_b} solved",
            )
        )
    else:
        r = paired_mean_difference(frac[arm_a].to_numpy(), frac[arm_b].to_numpy(), alpha)
        rows.append(
            _row(
                arm_a,
                arm_b,
                "success",
                estimand,
                r,
                value_a=r.extra.get("mean_a", np.nan),
                value_b=r.extra.get("mean_b", np.nan),
                n_dropped=n_all - r.n,
                detail="per-task success fractions over replicates",
            )
        )
    for metric in metrics:
        if metric not in trials or trials[metric].notna().sum() == 0:
            continue
        means = per_task(trials, metric, [arm_a, arm_b])
        r = log_ratio_paired(means[arm_a].to_numpy(), means[arm_b].to_numpy(), alpha)
        rows.append(_ratio_row(arm_a, arm_b, metric, r))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _ratio_row(a: str, b: str, metric: str, r: TestResult) -> dict[str, Any]:
    detail = ""
    if r.extra.get("n_dropped"):
        nonpos = r.extra.get("n_nonpositive", 0) + r.extra.get("n_nonpositive_a", 0)
        nonpos += r.extra.get("n_nonpositive_b", 0)
        detail = f"dropped {r.extra['n_dropped']} (missing or, {nonpos} of them, ≤ 0)"
    paired = "paired" in r.method
    return _row(
        a,
        b,
        metric,
        f"ratio of geometric means ({a} / {b})",
        r,
        ci_method="t interval on logs" + (" (paired)" if paired else " (Welch)"),
        test="paired t on logs" if paired else "Welch t on logs",
        value_a=r.extra.get("geomean_a", np.nan),
        value_b=r.extra.get("geomean_b", np.nan),
        n_dropped=r.extra.get("n_dropped", 0),
        detail=detail,
    )


def compare_unpaired(
    trials: pd.DataFrame,
    arm_a: str,
    arm_b: str,
    alpha: float = 0.05,
    metrics: Sequence[str] = RATIO_METRICS,
) -> pd.DataFrame:
    """Compare two arms that ran on different tasks (split design).

    Args:
        trials: A frame from :func:`~harness.analysis.frames.trials_frame` (one run).
        arm_a: First arm; differences are a − b and ratios a / b.
        arm_b: Second arm.
        alpha: 1 − confidence level.
        metrics: Columns compared as ratios of geometric means.

    Returns:
        DataFrame with :data:`COLUMNS`.
    """
    _check_arms(trials, arm_a, arm_b)
    trials = trials[trials["arm"].isin([arm_a, arm_b])]
    rows = []
    verified = _verified(trials)
    frac = per_task(verified, "success", [arm_a, arm_b])
    fa, fb = frac[arm_a].dropna(), frac[arm_b].dropna()
    estimand = f"success rate difference ({arm_a} − {arm_b})"
    used = set(fa.index) | set(fb.index)
    n_dropped = _n_tasks(trials, arm_a, arm_b) - len(used)
    if _one_replicate(verified, [arm_a, arm_b], frac.index):
        xa, na, xb, nb = int(fa.sum()), len(fa), int(fb.sum()), len(fb)
        rd = risk_difference_unpaired(xa, na, xb, nb, alpha)
        fe = fisher_exact(xa, na, xb, nb, alpha)
        rows.append(
            _row(
                arm_a,
                arm_b,
                "success",
                estimand,
                rd,
                test=fe.method,
                p_value=fe.p_value,
                value_a=xa / na if na else np.nan,
                value_b=xb / nb if nb else np.nan,
                n_dropped=n_dropped,
                detail=f"{xa}/{na} vs {xb}/{nb} tasks solved",
            )
        )
    else:
        r = welch_mean_difference(fa.to_numpy(), fb.to_numpy(), alpha)
        rows.append(
            _row(
                arm_a,
                arm_b,
                "success",
                estimand,
                r,
                value_a=float(fa.mean()),
                value_b=float(fb.mean()),
                n_dropped=n_dropped,
                detail="per-task success fractions over replicates",
            )
        )
    for metric in metrics:
        if metric not in trials or trials[metric].notna().sum() == 0:
            continue
        means = per_task(trials, metric, [arm_a, arm_b])
        a_vals, b_vals = means[arm_a].dropna().to_numpy(), means[arm_b].dropna().to_numpy()
        r = log_ratio_unpaired(a_vals, b_vals, alpha)
        if r.n:
            r = _with_geomeans(r, means[arm_a], means[arm_b])
        rows.append(_ratio_row(arm_a, arm_b, metric, r))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _with_geomeans(r: TestResult, a: pd.Series, b: pd.Series) -> TestResult:
    def gm(s: pd.Series) -> float:
        v = s.dropna().to_numpy(dtype=float)
        v = v[v > 0]
        return float(np.exp(np.log(v).mean())) if v.size else np.nan

    extra = {**r.extra, "geomean_a": gm(a), "geomean_b": gm(b)}
    return TestResult(r.method, r.estimate, r.ci_low, r.ci_high, r.p_value, r.n, extra, r.alpha)


def compare_arms(
    trials: pd.DataFrame,
    design: str = "paired",
    arms: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Compare every pair of arms with the analysis the design calls for.

    Args:
        trials: A frame from :func:`~harness.analysis.frames.trials_frame` (one run).
        design: ``"paired"`` (every arm on every task) or ``"split"`` (one arm per task).
        arms: Arm order; pairs are (arms[i], arms[j]) for i < j. Default: sorted.
        alpha: 1 − confidence level. No multiplicity correction is applied
            across pairs or metrics.

    Returns:
        The pairs' comparison frames concatenated (empty with fewer than two arms).
    """
    if design not in ("paired", "split"):
        raise ValueError(f"design must be 'paired' or 'split', got {design!r}")
    order = list(arms) if arms is not None else sorted(trials["arm"].unique())
    fn = compare_paired if design == "paired" else compare_unpaired
    frames = [fn(trials, a, b, alpha) for a, b in combinations(order, 2)]
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(frames, ignore_index=True)
