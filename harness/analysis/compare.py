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

:func:`compare_design` is the design-aware entry point for reports: one row per
(arm pair, metric, category) with exactly :data:`DESIGN_COLUMNS`, a one-sentence
``why`` for each test, an effect size (odds ratio or Cliff's delta), and raw and
multiplicity-adjusted p-values (Holm by default). :func:`replicate_sensitivity`
says whether counting replicates as tasks would have changed the success answer
(for a report warning). :func:`task_values` / :func:`paired_task_values` are the
replicate-averaging helpers every test here starts from. The older
:func:`compare_arms` family keeps its columns for existing callers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.effects import cliffs_delta, odds_ratio, paired_cliffs_delta
from harness.analysis.frames import per_task
from harness.analysis.multiple import adjust_pvalues
from harness.analysis.stats import (
    TestResult,
    clustered_paired_difference,
    fisher_exact,
    log_ratio_paired,
    log_ratio_unpaired,
    mann_whitney,
    mcnemar_exact,
    mcnemar_midp,
    paired_mean_difference,
    paired_risk_difference,
    risk_difference_unpaired,
    welch_mean_difference,
    wilcoxon_signed_rank,
)

__all__ = [
    "COLUMNS",
    "DESIGN_COLUMNS",
    "RATIO_METRICS",
    "compare_arms",
    "compare_design",
    "compare_paired",
    "compare_unpaired",
    "paired_task_values",
    "replicate_sensitivity",
    "task_values",
]

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


# =========================================================================== design-aware API

#: Columns of :func:`compare_design`, in order (a stable contract for reports).
DESIGN_COLUMNS: tuple[str, ...] = (
    "arm_a",
    "arm_b",
    "metric",
    "category",
    "n_tasks",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "method",
    "why",
    "effect_name",
    "effect",
    "effect_lo",
    "effect_hi",
)

_DESIGNS = ("paired", "split")


def task_values(
    trials: pd.DataFrame, metric: str, arms: Sequence[str] | None = None
) -> pd.DataFrame:
    """Average replicates per (task, arm): the task is the unit of inference.

    Args:
        trials: A frame from :func:`~harness.analysis.frames.trials_frame` (one run).
        metric: Numeric column (``success``, ``cost_usd``, ``latency_ms``, ``score`` …).
        arms: Keep only these arms (default: all).

    Returns:
        Long frame with one row per (task, arm) that has at least one value:
        ``task_id, category, arm, value`` (mean over replicates, missing values
        skipped) and ``n_replicates`` (values averaged).
    """
    if metric not in trials:
        raise ValueError(f"trials have no column {metric!r}")
    t = trials if arms is None else trials[trials["arm"].isin(list(arms))]
    vals = pd.to_numeric(t[metric], errors="coerce").astype(float)
    cat = (
        t["task_category"].astype(object).where(t["task_category"].notna(), "(none)")
        if "task_category" in t
        else pd.Series("(none)", index=t.index)
    )
    frame = pd.DataFrame(
        {"task_id": t["task_id"], "category": cat, "arm": t["arm"], "value": vals}
    ).dropna(subset=["value"])
    out = (
        frame.groupby(["task_id", "arm"], sort=True)
        .agg(
            category=("category", "first"), value=("value", "mean"), n_replicates=("value", "size")
        )
        .reset_index()
    )
    return out[["task_id", "category", "arm", "value", "n_replicates"]]


def paired_task_values(trials: pd.DataFrame, metric: str, arm_a: str, arm_b: str) -> pd.DataFrame:
    """Per-task means of two arms, paired on the task (tasks missing either arm dropped).

    Returns:
        Frame indexed by ``task_id`` with ``category, a, b, n_a, n_b`` (values
        and replicate counts of ``arm_a`` and ``arm_b``).
    """
    return _pair(task_values(trials, metric, [arm_a, arm_b]), arm_a, arm_b)


def _pair(tv: pd.DataFrame, arm_a: str, arm_b: str) -> pd.DataFrame:
    """Inner join of two arms' rows of a :func:`task_values` frame on the task."""
    a = tv.loc[tv["arm"] == arm_a, ["task_id", "category", "value", "n_replicates"]]
    b = tv.loc[tv["arm"] == arm_b, ["task_id", "value", "n_replicates"]]
    joined = a.merge(b, on="task_id", how="inner", suffixes=("_a", "_b"))
    out = joined.rename(
        columns={"value_a": "a", "value_b": "b", "n_replicates_a": "n_a", "n_replicates_b": "n_b"}
    ).set_index("task_id")[["category", "a", "b", "n_a", "n_b"]]
    return out.sort_index()


def _metric_kind(metric: str) -> str:
    if metric == "success":
        return "success"
    if metric in RATIO_METRICS:
        return "ratio"
    return "mean"


def _design_pairs(order: Sequence[str], control: str | None) -> list[tuple[str, str]]:
    if control is None:
        return list(combinations(order, 2))
    if control not in order:
        raise ValueError(f"control arm {control!r} has no trials (arms present: {sorted(order)})")
    return [(a, control) for a in order if a != control]


def _design_row(
    a: str,
    b: str,
    metric: str,
    category: str,
    n: int,
    r: TestResult | None,
    why: str,
    effect: TestResult | None,
    effect_name: str,
    method: str | None = None,
    p_value: float | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(DESIGN_COLUMNS, np.nan)
    row.update(arm_a=a, arm_b=b, metric=metric, category=category, n_tasks=int(n), why=why)
    row["effect_name"] = effect_name
    if r is not None:
        p = r.p_value if p_value is None else p_value
        row.update(
            estimate=r.estimate,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            p_value=np.nan if p is None else float(p),
            method=method or r.method,
        )
    else:
        row["method"] = method or "not computed"
    if effect is not None:
        row.update(effect=effect.estimate, effect_lo=effect.ci_low, effect_hi=effect.ci_high)
    return row


def _paired_success_rows(
    pairs: pd.DataFrame,
    a: str,
    b: str,
    category: str,
    alpha: float,
    n_boot: int,
    seed: int,
    cluster: bool,
) -> dict[str, Any]:
    n = len(pairs)
    if n == 0:
        return _design_row(
            a,
            b,
            "success",
            category,
            0,
            None,
            "No task has a verified outcome for both arms, so there is nothing to pair.",
            None,
            "",
            method="not computable (no paired tasks)",
        )
    x, y = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    binary = bool((pairs["n_a"] == 1).all() and (pairs["n_b"] == 1).all())
    if binary:
        rd = paired_risk_difference(x, y, alpha)
        bc, cb = rd.extra["n12"], rd.extra["n21"]
        exact = mcnemar_exact(bc, cb, alpha)
        why = (
            f"One verified trial per task and arm gives a paired 0/1 outcome per task, so the "
            f"exact McNemar test uses the {bc + cb} discordant tasks ({bc} only {a} solved, "
            f"{cb} only {b}) and holds at any sample size."
        )
        return _design_row(
            a,
            b,
            "success",
            category,
            n,
            rd,
            why,
            exact,
            "conditional odds ratio b/c (McNemar, exact interval)",
            method="McNemar exact conditional test; Newcombe square-and-add CI for p_a − p_b",
            p_value=exact.p_value,
        )
    r = paired_mean_difference(x, y, alpha)
    reps = int(max(pairs["n_a"].max(), pairs["n_b"].max()))
    effect = paired_cliffs_delta(x, y, alpha, n_boot=n_boot, seed=seed)
    robust = _wilcoxon_note(x, y)
    why = (
        f"Replicates (up to {reps} per task) were averaged to a success fraction per task, "
        f"the unit of inference, and the arms paired on the task, so a paired t on the {n} "
        f"per-task differences answers the question{robust}."
    )
    method = "paired t (per-task differences) on success fractions"
    if cluster:
        r, method, why = _clustered(pairs, alpha, r, method, why)
    return _design_row(
        a,
        b,
        "success",
        category,
        n,
        r,
        why,
        effect,
        "Cliff's delta of per-task success (paired bootstrap CI)",
        method=method,
    )


def _wilcoxon_note(x: np.ndarray, y: np.ndarray) -> str:
    w = wilcoxon_signed_rank(x, y)
    if w.p_value is None or not math.isfinite(w.p_value):
        return ""
    return f" (Wilcoxon signed-rank robustness check: p = {w.p_value:.3g})"


def _clustered(
    pairs: pd.DataFrame, alpha: float, r: TestResult, method: str, why: str
) -> tuple[TestResult, str, str]:
    c = clustered_paired_difference(pairs["a"], pairs["b"], pairs["category"], alpha)
    if c.p_value is None or not math.isfinite(c.ci_low):
        return r, method, why
    k = c.extra.get("n_clusters", 0)
    why = why[:-1] + f"; the standard error is clustered by task category ({k} clusters)."
    return c, c.method, why


def _paired_value_row(
    pairs: pd.DataFrame,
    a: str,
    b: str,
    metric: str,
    category: str,
    alpha: float,
    n_boot: int,
    seed: int,
    cluster: bool,
) -> dict[str, Any]:
    kind = _metric_kind(metric)
    n = len(pairs)
    x, y = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    effect = paired_cliffs_delta(x, y, alpha, n_boot=n_boot, seed=seed) if n else None
    eff_name = f"Cliff's delta of per-task {metric} (paired bootstrap CI)"
    if kind == "ratio":
        r = log_ratio_paired(x, y, alpha)
        dropped = r.extra.get("n_dropped", 0)
        why = (
            f"{metric} is positive and right-skewed, so per-task means (replicates averaged) "
            f"are compared as a ratio of geometric means: a paired t on the log per-task "
            f"differences over {r.n} tasks"
            + (f" ({dropped} with a missing or zero value dropped)." if dropped else ".")
        )
        return _design_row(
            a,
            b,
            metric,
            category,
            r.n,
            r,
            why,
            effect,
            eff_name,
            method="ratio of geometric means, paired t on logs",
        )
    r = paired_mean_difference(x, y, alpha)
    why = (
        f"Per-task means of {metric} (replicates averaged) are paired on the task, so a "
        f"paired t on the {r.n} per-task differences answers the question"
        f"{_wilcoxon_note(x, y) if n else ''}."
    )
    method = f"paired t (per-task differences) on {metric}"
    if cluster and n:
        r, method, why = _clustered(pairs, alpha, r, method, why)
    return _design_row(a, b, metric, category, r.n, r, why, effect, eff_name, method=method)


def _split_rows(
    tv: pd.DataFrame, a: str, b: str, metric: str, category: str, alpha: float
) -> dict[str, Any]:
    va, vb = tv[tv["arm"] == a], tv[tv["arm"] == b]
    xa, xb = va["value"].to_numpy(), vb["value"].to_numpy()
    n = len(va) + len(vb)
    kind = _metric_kind(metric)
    if len(va) == 0 or len(vb) == 0:
        return _design_row(
            a,
            b,
            metric,
            category,
            n,
            None,
            f"At least one arm has no task with a {metric} value here, so there is nothing "
            "to compare.",
            None,
            "",
            method="not computable (an arm has no tasks)",
        )
    effect = cliffs_delta(xa, xb, alpha)
    eff_name = f"Cliff's delta of per-task {metric} (Cliff 1996 CI)"
    if kind == "success":
        binary = bool((va["n_replicates"] == 1).all() and (vb["n_replicates"] == 1).all())
        if binary:
            sa, sb = int(xa.sum()), int(xb.sum())
            rd = risk_difference_unpaired(sa, len(xa), sb, len(xb), alpha)
            fe = fisher_exact(sa, len(xa), sb, len(xb), alpha)
            orr = odds_ratio(sa, len(xa), sb, len(xb), alpha)
            why = (
                f"Each task ran one arm once (split design), so the arms are independent "
                f"samples of tasks ({sa}/{len(xa)} vs {sb}/{len(xb)} solved) and Fisher's "
                f"exact test is valid at any size."
            )
            return _design_row(
                a,
                b,
                metric,
                category,
                n,
                rd,
                why,
                orr,
                orr.method,
                method="Fisher exact test; Newcombe hybrid score CI for p_a − p_b",
                p_value=fe.p_value,
            )
        r = welch_mean_difference(xa, xb, alpha)
        why = (
            "Each task ran one arm (split design) with replicates averaged to a success "
            "fraction per task, so Welch's t compares the two independent samples of tasks"
            f"{_mwu_note(xa, xb)}."
        )
        return _design_row(
            a,
            b,
            metric,
            category,
            n,
            r,
            why,
            effect,
            eff_name,
            method="Welch t on per-task success fractions",
        )
    if kind == "ratio":
        r = log_ratio_unpaired(xa, xb, alpha)
        why = (
            f"{metric} is positive and right-skewed and the arms ran on different tasks, so "
            "per-task means are compared as a ratio of geometric means with Welch's t on logs."
        )
        return _design_row(
            a,
            b,
            metric,
            category,
            r.n,
            r,
            why,
            effect,
            eff_name,
            method="ratio of geometric means, Welch t on logs",
        )
    r = welch_mean_difference(xa, xb, alpha)
    why = (
        f"The arms ran on different tasks (split design), so Welch's t compares the per-task "
        f"means of {metric}{_mwu_note(xa, xb)}."
    )
    return _design_row(
        a, b, metric, category, n, r, why, effect, eff_name, method=f"Welch t on per-task {metric}"
    )


def _mwu_note(x: np.ndarray, y: np.ndarray) -> str:
    if x.size == 0 or y.size == 0:
        return ""
    r = mann_whitney(x, y)
    if r.p_value is None or not math.isfinite(r.p_value):
        return ""
    return f" (Mann-Whitney U robustness check: p = {r.p_value:.3g})"


def compare_design(
    trials: pd.DataFrame,
    *,
    design: str,
    control: str | None = None,
    metrics: Sequence[str] = ("success", "cost_usd", "latency_ms"),
    by_category: bool = False,
    correction: str = "holm",
    alpha: float = 0.05,
    arms: Sequence[str] | None = None,
    cluster: bool = False,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Compare arms with the tests the run's design calls for; one row per question.

    Replicates are averaged per (task, arm) first — the task is the unit of
    inference — then:

    - ``paired`` design (every arm on every task; the arms are paired on the task):
      success with one trial per task and arm → exact McNemar test with a
      Newcombe square-and-add interval for the risk difference; success with
      replicates → paired t on per-task success fractions (Wilcoxon signed-rank
      named in ``why`` as a robustness check); cost and latency → ratio of
      geometric means, paired t on logs; other metrics → paired t.
    - ``split`` design (each task ran one arm): success with one trial → Fisher's
      exact test with Newcombe's hybrid score interval; with replicates → Welch
      t on per-task fractions (Mann-Whitney alongside); cost and latency →
      Welch t on logs; other metrics → Welch t.
    - Several arms: every pair (``control`` None) or each arm against ``control``.

    All p-values in the returned table form one family (arm pairs × metrics ×
    categories) and are adjusted together by ``correction``.

    Args:
        trials: A frame from :func:`~harness.analysis.frames.trials_frame` (one run).
        design: ``"paired"`` or ``"split"`` (the run's ``design`` column).
        control: Compare each other arm against this one (rows are arm − control).
        metrics: Columns to compare; ``success`` and the :data:`RATIO_METRICS` have
            their own analyses, any other numeric column is compared by means.
        by_category: Also one row per task category (``task_category``) besides ``"all"``.
        correction: ``"holm"`` (default), ``"bh"``, ``"bonferroni"`` or ``"none"``.
        alpha: 1 − confidence level, and the level the why-texts refer to.
        arms: Arm order (default: sorted); pairs are (arms[i], arms[j]), i < j.
        cluster: Paired design only: cluster the standard error of mean
            differences by task category (Miller 2024) instead of the plain t.
        n_boot: Bootstrap resamples for effect-size intervals.
        seed: Seed for those resamples.

    Returns:
        DataFrame with exactly :data:`DESIGN_COLUMNS`. ``estimate`` is p_a − p_b for
        success, a / b for ratio metrics, mean a − b otherwise; the effect columns
        hold an odds ratio (binary success) or Cliff's delta.

    Raises:
        ValueError: Unknown design or correction, unknown control arm, or a
            metric column missing from ``trials``.
    """
    if design not in _DESIGNS:
        raise ValueError(f"design must be one of {_DESIGNS}, got {design!r}")
    adjust_pvalues([], correction)  # validates the name before any work
    present = sorted(trials["arm"].dropna().unique()) if len(trials) else []
    order = [a for a in arms if a in present] if arms is not None else present
    missing = [m for m in metrics if m not in trials]
    if missing:
        raise ValueError(f"trials have no column(s) {missing} to compare")
    if by_category and "task_category" not in trials:
        raise ValueError("by_category needs a task_category column in trials")
    pairs = _design_pairs(order, control)
    categories = ["all"]
    if by_category:
        categories += sorted(str(c) for c in trials["task_category"].dropna().unique())
    rows: list[dict[str, Any]] = []
    # Replicates averaged once per metric; every pair and category reads this frame.
    per_metric = {
        m: task_values(_verified(trials) if _metric_kind(m) == "success" else trials, m)
        for m in metrics
    }
    for a, b in pairs:
        for metric in metrics:
            kind = _metric_kind(metric)
            tv_all = per_metric[metric]
            for cat in categories:
                sub = tv_all if cat == "all" else tv_all[tv_all["category"].astype(str) == cat]
                if design == "paired":
                    pt = _pair(sub, a, b)
                    clus = cluster and cat == "all"
                    if kind == "success":
                        rows.append(_paired_success_rows(pt, a, b, cat, alpha, n_boot, seed, clus))
                    else:
                        rows.append(
                            _paired_value_row(pt, a, b, metric, cat, alpha, n_boot, seed, clus)
                        )
                else:
                    tv = sub[sub["arm"].isin([a, b])]
                    rows.append(_split_rows(tv, a, b, metric, cat, alpha))
    out = pd.DataFrame(rows, columns=list(DESIGN_COLUMNS))
    if len(out):
        out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(dtype=float), correction)
        out["n_tasks"] = out["n_tasks"].astype(int)
    return out


def replicate_sensitivity(
    trials: pd.DataFrame,
    *,
    design: str,
    control: str | None = None,
    alpha: float = 0.05,
    arms: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Would treating replicates as independent tasks change the success answer?

    For each arm pair, compares the correct per-task analysis (replicates
    averaged, as :func:`compare_design`) with the naive one that counts every
    (task, replicate) as its own task: exact McNemar on the trials paired by
    (task, replicate) for the paired design, Fisher's exact test on trial
    counts for the split design. The naive p-value is too small whenever
    outcomes correlate within a task, which is the usual case.

    Returns:
        One row per arm pair: ``arm_a, arm_b, replicates`` (max per task and
        arm), ``n_tasks, p_task, n_units_naive, p_naive, significant_task,
        significant_naive, changes`` (True when the two disagree at ``alpha``).
    """
    if design not in _DESIGNS:
        raise ValueError(f"design must be one of {_DESIGNS}, got {design!r}")
    verified = _verified(trials)
    present = sorted(verified["arm"].dropna().unique()) if len(verified) else []
    order = [a for a in arms if a in present] if arms is not None else present
    comp = compare_design(
        trials,
        design=design,
        control=control,
        metrics=("success",),
        correction="none",
        alpha=alpha,
        arms=order,
        n_boot=10,
    )
    rows = []
    for (a, b), r in zip(_design_pairs(order, control), comp.itertuples(), strict=True):
        sub = verified[verified["arm"].isin([a, b])]
        reps = int(sub.groupby(["task_id", "arm"]).size().max()) if len(sub) else 0
        if design == "paired":
            wide = sub.pivot_table(
                index=["task_id", "replicate"], columns="arm", values="success", aggfunc="first"
            ).dropna()
            xa = wide[a].to_numpy() if len(wide) else np.array([])
            xb = wide[b].to_numpy() if len(wide) else np.array([])
            bc = int(((xa == 1) & (xb == 0)).sum())
            cb = int(((xa == 0) & (xb == 1)).sum())
            p_naive = mcnemar_exact(bc, cb).p_value
            n_units = len(wide)
        else:
            sa, sb = sub[sub["arm"] == a]["success"], sub[sub["arm"] == b]["success"]
            p_naive = fisher_exact(int(sa.sum()), len(sa), int(sb.sum()), len(sb)).p_value
            n_units = len(sa) + len(sb)
        p_task = float(r.p_value)
        sig_task = math.isfinite(p_task) and p_task < alpha
        sig_naive = p_naive is not None and p_naive < alpha
        rows.append(
            {
                "arm_a": a,
                "arm_b": b,
                "replicates": reps,
                "n_tasks": int(r.n_tasks),
                "p_task": p_task,
                "n_units_naive": int(n_units),
                "p_naive": np.nan if p_naive is None else float(p_naive),
                "significant_task": bool(sig_task),
                "significant_naive": bool(sig_naive),
                "changes": bool(sig_task != sig_naive),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "arm_a",
            "arm_b",
            "replicates",
            "n_tasks",
            "p_task",
            "n_units_naive",
            "p_naive",
            "significant_task",
            "significant_naive",
            "changes",
        ],
    )
