"""DuckDB → pandas: the run tables as DataFrames, per-task means and per-arm summaries.

The connection can be a single run's database or the views over a whole
results folder from :func:`open_results`; both expose ``runs``, ``trials`` and
``calls``. Large text columns (answers, verifier output, HTTP bodies) are left
out unless asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.analysis.stats import mean_ci, wilson_ci

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "CACHE_COLUMNS",
    "arm_summary",
    "cache_summary",
    "calls_frame",
    "category_summary",
    "model_category_success",
    "open_results",
    "per_task",
    "runs_frame",
    "trials_frame",
]

_HEAVY = {
    "runs": ("config",),
    "trials": ("answer", "verifier_output"),
    "calls": ("request_body", "response_body"),
}


def open_results(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open a results folder (or one run folder) as ``runs``/``trials``/``calls`` views.

    Thin re-export of :func:`harness.store.reader.open_results` so notebooks
    need only ``harness.analysis``.
    """
    from harness.store.reader import open_results as _open

    return _open(path)


def _select(
    con: duckdb.DuckDBPyConnection, table: str, run_id: str | None, full: bool, order: str
) -> pd.DataFrame:
    cols = [r[0] for r in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
    if not full:
        cols = [c for c in cols if c not in _HEAVY[table]]
    sql = f"SELECT {', '.join(cols)} FROM {table}"
    params: list[Any] = []
    if run_id is not None:
        sql += " WHERE run_id = ?"
        params.append(run_id)
    return con.execute(f"{sql} ORDER BY {order}", params).df()


def runs_frame(
    con: duckdb.DuckDBPyConnection, run_id: str | None = None, *, full: bool = False
) -> pd.DataFrame:
    """One row per run, oldest first.

    Args:
        con: Connection exposing a ``runs`` table or view.
        run_id: Only this run when given.
        full: Include the ``config`` YAML.
    """
    return _select(con, "runs", run_id, full, "started_at NULLS LAST, run_id")


def trials_frame(
    con: duckdb.DuckDBPyConnection, run_id: str | None = None, *, full: bool = False
) -> pd.DataFrame:
    """One row per trial.

    ``success`` comes back as float: 1.0, 0.0, or NaN when the trial has no
    verifier outcome (an LLM error, or verification off), so means skip it.

    Args:
        con: Connection exposing a ``trials`` table or view.
        run_id: Only this run when given.
        full: Include ``answer`` and ``verifier_output``.
    """
    df = _select(con, "trials", run_id, full, "run_id, arm, task_id, replicate")
    df["success"] = df["success"].astype("Float64").astype(float)
    for col in ("cost_usd", "latency_ms", "ttft_ms", "score"):
        if col in df:
            df[col] = df[col].astype(float)
    return df


def calls_frame(
    con: duckdb.DuckDBPyConnection, run_id: str | None = None, *, full: bool = False
) -> pd.DataFrame:
    """One row per HTTP attempt (retries and failures included).

    Args:
        con: Connection exposing a ``calls`` table or view.
        run_id: Only this run when given.
        full: Include request and response bodies.
    """
    return _select(con, "calls", run_id, full, "run_id, started_at NULLS LAST, call_id")


def per_task(trials: pd.DataFrame, value: str, arms: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean of ``value`` over replicates, one row per task and one column per arm.

    Missing values are skipped; a (task, arm) cell with none left is NaN.

    Args:
        trials: A frame from :func:`trials_frame` (one run).
        value: Numeric column, e.g. ``"success"``, ``"cost_usd"``, ``"latency_ms"``.
        arms: Column order (default: sorted arm names).
    """
    vals = pd.to_numeric(trials[value], errors="coerce").astype(float)
    table = vals.groupby([trials["task_id"], trials["arm"]]).mean().unstack("arm")
    order = list(arms) if arms is not None else sorted(trials["arm"].unique())
    return table.reindex(columns=order)


def _mean_ci(per_task_values: pd.Series, alpha: float) -> tuple[float, float, float]:
    """Mean and t interval over tasks (tasks are the clusters)."""
    r = mean_ci(per_task_values.to_numpy(dtype=float), alpha)
    return r.estimate, r.ci_low, r.ci_high


def _pct(values: pd.Series, q: float) -> float:
    v = values.dropna().to_numpy(dtype=float)
    return float(np.percentile(v, q)) if v.size else np.nan


def _success_ci(
    fractions: pd.Series, replicates: int, alpha: float
) -> tuple[float, float, float, str]:
    v = fractions.dropna().to_numpy(dtype=float)
    if v.size == 0:
        return np.nan, np.nan, np.nan, ""
    rate = float(v.mean())
    if replicates <= 1:
        r = wilson_ci(round(float(v.sum())), int(v.size), alpha)
        return rate, r.ci_low, r.ci_high, "Wilson"
    _, lo, hi = _mean_ci(pd.Series(v), alpha)
    if v.size < 2 or not hi > lo:
        # All tasks at the same fraction (often 0 or 1): a t interval has zero
        # width, which would overstate certainty; Wilson on the task count is
        # the honest fallback.
        r = wilson_ci(round(float(v.sum())), int(v.size), alpha)
        return rate, r.ci_low, r.ci_high, "Wilson on tasks (per-task fractions all equal)"
    return rate, max(0.0, lo), min(1.0, hi), "t on per-task means (tasks as clusters)"


def arm_summary(
    trials: pd.DataFrame, arms: Sequence[str] | None = None, alpha: float = 0.05
) -> pd.DataFrame:
    """One row per arm: success with CI, cost, latency, errors.

    Success rate is the mean over tasks of each task's success fraction. With
    one replicate its CI is Wilson on (successes, tasks); with more it is a t
    interval on the per-task fractions (tasks as clusters), the column
    ``success_ci_method`` says which. The cost CI is a t interval on per-task
    mean cost. Trials without a verifier outcome are left out of the success
    figures and counted in ``n_unverified``.

    Args:
        trials: A frame from :func:`trials_frame` for one run.
        arms: Row order (default: sorted arm names).
        alpha: 1 − confidence level.

    Returns:
        DataFrame indexed by arm with columns ``model, n_trials, n_tasks,
        replicates, n_verified, n_unverified, successes, success_rate,
        success_ci_low, success_ci_high, success_ci_method, mean_cost_usd,
        cost_ci_low, cost_ci_high, cost_per_success_usd, total_cost_usd,
        n_cost_missing, latency_p50_ms, latency_p95_ms, ttft_p50_ms, n_errors``.
    """
    order = list(arms) if arms is not None else sorted(trials["arm"].unique())
    rows = []
    for arm in order:
        t = trials[trials["arm"] == arm]
        verified = t[t["success"].notna()]
        reps = int(verified.groupby("task_id").size().max()) if len(verified) else 0
        fractions = verified.groupby("task_id")["success"].mean()
        rate, lo, hi, method = _success_ci(fractions, reps, alpha)
        cost_task = t.groupby("task_id")["cost_usd"].mean()
        mean_cost, cost_lo, cost_hi = _mean_ci(cost_task, alpha)
        successes = int(verified["success"].sum())
        total_cost = float(t["cost_usd"].sum(min_count=1)) if len(t) else np.nan
        models = sorted(str(m) for m in t["model"].dropna().unique()) if "model" in t else []
        rows.append(
            {
                "arm": arm,
                "model": ", ".join(models),
                "n_trials": len(t),
                "n_tasks": int(t["task_id"].nunique()),
                "replicates": int(t.groupby("task_id").size().max()) if len(t) else 0,
                "n_verified": len(verified),
                "n_unverified": len(t) - len(verified),
                "successes": successes,
                "success_rate": rate,
                "success_ci_low": lo,
                "success_ci_high": hi,
                "success_ci_method": method,
                "mean_cost_usd": mean_cost,
                "cost_ci_low": cost_lo,
                "cost_ci_high": cost_hi,
                "cost_per_success_usd": total_cost / successes if successes else np.nan,
                "total_cost_usd": total_cost,
                "n_cost_missing": int(t["cost_usd"].isna().sum()),
                "latency_p50_ms": _pct(t["latency_ms"], 50),
                "latency_p95_ms": _pct(t["latency_ms"], 95),
                "ttft_p50_ms": _pct(t["ttft_ms"], 50),
                "n_errors": int((t["status"].fillna("") != "ok").sum()),
            }
        )
    return pd.DataFrame(rows).set_index("arm") if rows else pd.DataFrame()


def _category(trials: pd.DataFrame) -> pd.Series:
    return trials["task_category"].fillna("(none)").astype(str)


def category_summary(
    trials: pd.DataFrame, arms: Sequence[str] | None = None, alpha: float = 0.05
) -> pd.DataFrame:
    """Success per arm and task category, with the same CIs as :func:`arm_summary`.

    Replicates are averaged per task first; the interval is Wilson on tasks
    with one replicate, else a t interval on per-task fractions.

    Args:
        trials: A frame from :func:`trials_frame` for one run.
        arms: Arm order (default: sorted arm names).
        alpha: 1 − confidence level.

    Returns:
        One row per (arm, category) with columns ``arm, category, n_tasks,
        success_rate, success_ci_low, success_ci_high, success_ci_method``;
        categories sorted, arms in ``arms`` order. Trials without a verifier
        outcome are left out.
    """
    order = list(arms) if arms is not None else sorted(trials["arm"].unique())
    verified = trials[trials["success"].notna()].assign(category=_category)
    rows = []
    for arm in order:
        t = verified[verified["arm"] == arm]
        for cat, group in t.groupby("category", sort=True):
            reps = int(group.groupby("task_id").size().max())
            fractions = group.groupby("task_id")["success"].mean()
            rate, lo, hi, method = _success_ci(fractions, reps, alpha)
            rows.append(
                {
                    "arm": arm,
                    "category": cat,
                    "n_tasks": int(fractions.size),
                    "success_rate": rate,
                    "success_ci_low": lo,
                    "success_ci_high": hi,
                    "success_ci_method": method,
                }
            )
    columns = [
        "arm",
        "category",
        "n_tasks",
        "success_rate",
        "success_ci_low",
        "success_ci_high",
        "success_ci_method",
    ]
    return pd.DataFrame(rows, columns=columns)


def model_category_success(trials: pd.DataFrame) -> pd.DataFrame:
    """Success rate per task category (rows) and answering model (columns).

    Per-task means first: a cell is the mean over tasks of each task's success
    fraction for that model, whichever arm ran it (a router arm spreads its
    tasks over models). Trials without a verifier outcome are left out.

    Returns:
        A DataFrame of rates (NaN where the model answered no task of the
        category) with ``attrs["n_tasks"]`` holding the matching task counts.
    """
    verified = trials[trials["success"].notna() & trials["model"].notna()]
    verified = verified.assign(category=_category, model=verified["model"].astype(str))
    per = verified.groupby(["category", "model", "task_id"])["success"].mean()
    rates = per.groupby(["category", "model"]).mean().unstack("model")
    counts = per.groupby(["category", "model"]).size().unstack("model")
    rates = rates.sort_index().sort_index(axis=1)
    rates.attrs["n_tasks"] = counts.reindex_like(rates)
    return rates


#: Columns of ``calls`` that describe prompt caching (m002 adds the last two).
CACHE_COLUMNS: tuple[str, ...] = ("cached_input_tokens", "cache_write_tokens", "cache_savings_usd")


def cache_summary(
    trials: pd.DataFrame, calls: pd.DataFrame, arms: Sequence[str] | None = None
) -> pd.DataFrame:
    """Prompt-caching figures per arm from the calls: tokens read and written, saving.

    Args:
        trials: A frame from :func:`trials_frame` (maps calls to arms).
        calls: A frame from :func:`calls_frame` for the same run.
        arms: Row order (default: sorted arm names).

    Returns:
        One row per arm (index) with ``calls_cached`` (calls with a cache read),
        ``cached_input_tokens``, ``cache_write_tokens``, ``cache_savings_usd``
        and ``cost_usd`` (sums; NaN when no call reported the column), and
        ``saving_share``: the saving over what the calls would have cost
        without caching. Empty when no call reports any caching column.
    """
    # Zeros everywhere mean caching was off or never hit: nothing to report.
    used = [
        c
        for c in CACHE_COLUMNS
        if c in calls and (pd.to_numeric(calls[c], errors="coerce").astype(float) > 0).any()
    ]
    if not used or calls.empty:
        return pd.DataFrame()
    arm_of = trials.set_index("trial_id")["arm"] if len(trials) else pd.Series(dtype=object)
    calls = calls.assign(arm=calls["trial_id"].map(arm_of).fillna("(no trial)"))
    order = list(arms) if arms is not None else sorted(trials["arm"].unique())
    order += sorted(set(calls["arm"]) - set(order))
    rows = []
    for arm in order:
        c = calls[calls["arm"] == arm]
        if c.empty:
            continue
        row: dict[str, Any] = {"arm": arm}
        for col in CACHE_COLUMNS:
            if col in c:
                vals = pd.to_numeric(c[col], errors="coerce").astype(float)
                row[col] = float(vals.sum(min_count=1))
            else:
                row[col] = np.nan
        if "cached_input_tokens" in c:
            cached = pd.to_numeric(c["cached_input_tokens"], errors="coerce").astype(float)
            row["calls_cached"] = int((cached > 0).sum())
        else:
            row["calls_cached"] = 0
        cost = float(pd.to_numeric(c["cost_usd"], errors="coerce").astype(float).sum(min_count=1))
        row["cost_usd"] = cost
        saving = row["cache_savings_usd"]
        row["saving_share"] = (
            saving / (cost + saving)
            if np.isfinite(saving) and np.isfinite(cost) and cost + saving > 0
            else np.nan
        )
        rows.append(row)
    columns = [
        "arm",
        "calls_cached",
        *CACHE_COLUMNS,
        "cost_usd",
        "saving_share",
    ]
    return pd.DataFrame(rows, columns=columns).set_index("arm")
