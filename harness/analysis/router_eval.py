"""Routers against fixed models: cost, quality, and the share of the quality gap recovered.

An experiment that evaluates routers runs them as arms next to fixed-model
arms on the same tasks (``design.kind=paired``). This module turns its trials
into one row per arm and a cost–quality figure.

Definitions (all per arm, over the tasks every arm has a verified trial on;
the task is the unit of inference, so replicates are first averaged per task):

* ``success`` — mean over tasks of the per-task success fraction.
* ``cost_per_trial`` — mean over tasks of the per-task mean cost (USD).
* Reference arms, chosen once on the full sample among the fixed arms
  (``router == "fixed"``): *cheap* = the lowest ``cost_per_trial``, *best* =
  the highest ``success`` (ties: the cheaper one). Their identity is held
  fixed in the bootstrap; picking *best* as the sample maximum flatters it
  when several fixed arms are close (winner's curse), which biases PGR down.
* ``pgr`` (performance gap recovered, RouteLLM's PGR) =
  ``(q_arm − q_cheap) / (q_best − q_cheap)``: 0 = as good as the cheapest
  model, 1 = as good as the best.
* ``cost_share`` = ``(c_arm − c_cheap) / (c_best − c_cheap)``: the share of
  the extra cost of the best model over the cheapest that the arm pays.
* ``pgr_per_dollar`` = ``pgr / (c_arm − c_cheap)``: gap share recovered per
  extra USD per trial spent over the cheapest model (units 1/USD; defined when
  the arm costs more than the cheapest model).
* ``pgr_per_cost_share`` = ``pgr / cost_share``: dimensionless. A router that
  sends a random share *s* of tasks to the best model and the rest to the
  cheapest scores ``pgr = cost_share = s`` in expectation, so 1.0 is
  RouteLLM's random-router baseline and > 1 means the router buys quality more
  cheaply than random mixing. (RouteLLM's APGR averages PGR over a router's
  threshold sweep; an arm here is one operating point, so its analogue is
  this per-cost ratio.)
* ``frontier_gap`` = ``q_arm`` minus the success of the upper concave hull of
  the fixed arms at ``c_arm`` (what randomly mixing two fixed models would
  reach at that cost); NaN outside the fixed arms' cost range.

CIs are percentile intervals of a paired bootstrap over tasks: every
resample draws tasks with replacement and uses the same tasks for every arm,
so the arms' correlation through task difficulty is kept. A ratio whose
denominator is ≤ 0 in a resample is undefined there; when more than ``alpha``
of the resamples are undefined its CI is NaN (unbounded), otherwise the
percentiles are over the defined resamples. ``boot_undefined`` gives that
share for ``pgr``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["cost_quality_figure", "router_eval_table"]

_ALPHA = 0.05


def _arm_routers(trials: pd.DataFrame, arms: list[str]) -> dict[str, str]:
    if "router" not in trials:
        return dict.fromkeys(arms, "fixed")
    out = {}
    for arm in arms:
        r = trials.loc[trials["arm"] == arm, "router"].dropna()
        out[arm] = str(r.mode().iloc[0]) if len(r) else "fixed"
    return out


def _matrices(trials: pd.DataFrame, arms: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-task success and cost (tasks × arms) over tasks complete for every arm."""
    succ = pd.to_numeric(trials["success"], errors="coerce").astype(float)
    cost = pd.to_numeric(trials["cost_usd"], errors="coerce").astype(float)
    keys = [trials["task_id"], trials["arm"]]
    s = succ.groupby(keys).mean().unstack("arm").reindex(columns=arms)
    c = cost.groupby(keys).mean().unstack("arm").reindex(columns=arms)
    # A trial without a recorded cost (no usage) counts as free only if the arm
    # has no priced trial on that task: mean() already skipped NaN.
    tasks = s.index[s.notna().all(axis=1)]
    c = c.reindex(tasks).fillna(0.0)
    return s.loc[tasks].to_numpy(float), c.to_numpy(float), [str(t) for t in tasks]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    ok = den > 0
    np.divide(num, den, out=out, where=ok)
    return out


def _ci(samples: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile CI per column; NaN where more than ``alpha`` of resamples are undefined."""
    undefined = np.isnan(samples).mean(axis=0)
    lo = np.full(samples.shape[1], np.nan)
    hi = np.full(samples.shape[1], np.nan)
    for j in range(samples.shape[1]):
        col = samples[:, j]
        col = col[~np.isnan(col)]
        if col.size and undefined[j] <= alpha:
            lo[j], hi[j] = np.percentile(col, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return lo, hi, undefined


def _pareto(costs: np.ndarray, succ: np.ndarray) -> np.ndarray:
    """Mask of points no other point beats on both cost (≤) and success (≥, one strict)."""
    n = len(costs)
    keep = np.ones(n, bool)
    for i in range(n):
        for j in range(n):
            if i != j and costs[j] <= costs[i] and succ[j] >= succ[i]:
                if costs[j] < costs[i] or succ[j] > succ[i]:
                    keep[i] = False
                    break
    return keep


def _upper_hull(costs: np.ndarray, succ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the upper concave hull of the points, by cost (monotone chain)."""
    best_at: dict[float, float] = {}
    for x, y in zip(costs.tolist(), succ.tolist(), strict=True):
        best_at[x] = max(y, best_at.get(x, -np.inf))
    pts = sorted(best_at.items())
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    # Keep the rising part: past the best point, paying more buys nothing.
    xs = np.array([h[0] for h in hull])
    ys = np.array([h[1] for h in hull])
    top = int(np.argmax(ys)) if len(ys) else 0
    return xs[: top + 1], ys[: top + 1]


def router_eval_table(trials: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per arm: success, cost per trial, PGR and PGR per cost, with paired bootstrap CIs.

    Args:
        trials: One run's trials (:func:`~harness.analysis.frames.trials_frame`):
            needs ``arm``, ``task_id``, ``success``, ``cost_usd``; ``router``
            marks fixed arms (``"fixed"``; all arms are fixed when absent).
        n_boot: Bootstrap resamples (of tasks).
        seed: Seed of the resampling.

    Returns:
        DataFrame with columns ``arm, router, is_fixed, n_tasks, success,
        success_lo, success_hi, cost_per_trial, cost_lo, cost_hi, on_frontier,
        pgr, pgr_lo, pgr_hi, boot_undefined, cost_share, pgr_per_dollar,
        pgr_per_dollar_lo, pgr_per_dollar_hi, pgr_per_cost_share,
        pgr_per_cost_share_lo, pgr_per_cost_share_hi, frontier_gap``; the
        reference arms are in ``attrs["cheap_arm"]`` / ``attrs["best_arm"]``
        and the tasks used in ``attrs["n_tasks"]``. Definitions: module
        docstring.

    Raises:
        ValueError: a needed column is missing or ``n_boot`` < 1.
    """
    missing = {"arm", "task_id", "success", "cost_usd"} - set(trials.columns)
    if missing:
        raise ValueError(f"router_eval_table: trials lack column(s) {sorted(missing)}")
    if n_boot < 1:
        raise ValueError(f"router_eval_table: n_boot must be >= 1, got {n_boot}")
    arms = sorted(str(a) for a in trials["arm"].dropna().unique())
    routers = _arm_routers(trials, arms)
    fixed = np.array([routers[a] == "fixed" for a in arms], bool)
    S, C, tasks = _matrices(trials, arms)
    n = len(tasks)
    q = S.mean(axis=0) if n else np.full(len(arms), np.nan)
    c = C.mean(axis=0) if n else np.full(len(arms), np.nan)

    cheap = best = None
    if n and fixed.any():
        fi = np.flatnonzero(fixed)
        cheap = int(fi[np.lexsort((-q[fi], c[fi]))[0]])  # cheapest; ties: better
        best = int(fi[np.lexsort((c[fi], -q[fi]))[0]])  # best; ties: cheaper

    def derived(qs: np.ndarray, cs: np.ndarray) -> dict[str, np.ndarray]:
        if cheap is None or best is None:
            nan = np.full(qs.shape, np.nan)
            return {"pgr": nan, "cost_share": nan, "ppd": nan, "ppcs": nan}
        qgap = (qs[..., best] - qs[..., cheap])[..., None]
        cgap = (cs[..., best] - cs[..., cheap])[..., None]
        dq = qs - qs[..., cheap][..., None]
        dc = cs - cs[..., cheap][..., None]
        pgr = _ratio(dq, np.broadcast_to(qgap, dq.shape))
        share = _ratio(dc, np.broadcast_to(cgap, dc.shape))
        return {
            "pgr": pgr,
            "cost_share": share,
            "ppd": _ratio(pgr, dc),
            "ppcs": _ratio(pgr, share),
        }

    point = derived(q, c)
    rng = np.random.default_rng(seed)
    cols: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if n:
        # Paired: one multinomial draw of task counts per resample, shared by all arms.
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)
        qb = counts @ S / n
        cb = counts @ C / n
        boot = derived(qb, cb)
        cols["success"] = _ci(qb, _ALPHA)
        cols["cost"] = _ci(cb, _ALPHA)
        for key in ("pgr", "ppd", "ppcs"):
            cols[key] = _ci(boot[key], _ALPHA)
    else:
        nan = np.full(len(arms), np.nan)
        for key in ("success", "cost", "pgr", "ppd", "ppcs"):
            cols[key] = (nan, nan, nan)

    on_frontier = np.zeros(len(arms), bool)
    frontier_gap = np.full(len(arms), np.nan)
    if n and fixed.any():
        fi = np.flatnonzero(fixed)
        on_frontier[fi] = _pareto(c[fi], q[fi])
        hx, hy = _upper_hull(c[fi], q[fi])
        for j in range(len(arms)):
            if hx.size and hx[0] <= c[j] <= c[fi].max():
                reach = float(np.interp(c[j], hx, hy)) if c[j] <= hx[-1] else float(hy[-1])
                frontier_gap[j] = q[j] - reach

    table = pd.DataFrame(
        {
            "arm": arms,
            "router": [routers[a] for a in arms],
            "is_fixed": fixed,
            "n_tasks": n,
            "success": q,
            "success_lo": cols["success"][0],
            "success_hi": cols["success"][1],
            "cost_per_trial": c,
            "cost_lo": cols["cost"][0],
            "cost_hi": cols["cost"][1],
            "on_frontier": on_frontier,
            "pgr": point["pgr"],
            "pgr_lo": cols["pgr"][0],
            "pgr_hi": cols["pgr"][1],
            "boot_undefined": cols["pgr"][2],
            "cost_share": point["cost_share"],
            "pgr_per_dollar": point["ppd"],
            "pgr_per_dollar_lo": cols["ppd"][0],
            "pgr_per_dollar_hi": cols["ppd"][1],
            "pgr_per_cost_share": point["ppcs"],
            "pgr_per_cost_share_lo": cols["ppcs"][0],
            "pgr_per_cost_share_hi": cols["ppcs"][1],
            "frontier_gap": frontier_gap,
        }
    )
    table.attrs.update(
        cheap_arm=arms[cheap] if cheap is not None else None,
        best_arm=arms[best] if best is not None else None,
        n_tasks=n,
        n_boot=n_boot,
    )
    return table


def cost_quality_figure(table: pd.DataFrame) -> Figure:
    """Each arm a point (cost per trial, success) with 95 % CIs on both axes.

    Fixed arms are grey circles and their Pareto frontier is drawn as a line;
    router arms are coloured stars, listed in the legend with their PGR and its
    CI. The cost axis is logarithmic when costs span more than 20×.

    Args:
        table: Output of :func:`router_eval_table`.
    """
    fig = Figure(figsize=(7.4, 5.0), layout="constrained")
    ax = fig.add_subplot()
    ok = table[np.isfinite(table["cost_per_trial"]) & np.isfinite(table["success"])]
    fixed = ok[ok["is_fixed"]]
    front = fixed[fixed["on_frontier"]].sort_values("cost_per_trial")
    if len(front):
        ax.plot(front["cost_per_trial"], front["success"], "-", color="0.6", lw=1.2, zorder=1,
                label="fixed-model frontier")  # fmt: skip
    routers = 0
    for row in ok.itertuples(index=False):
        x, y = float(row.cost_per_trial), float(row.success)
        xerr = np.nan_to_num([[max(0.0, x - row.cost_lo)], [max(0.0, row.cost_hi - x)]])
        yerr = np.nan_to_num([[max(0.0, y - row.success_lo)], [max(0.0, row.success_hi - y)]])
        if row.is_fixed:
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", ms=5, color="0.35", capsize=2,
                        elinewidth=0.8, zorder=2)  # fmt: skip
            ax.annotate(str(row.arm), (x, y), textcoords="offset points", xytext=(4, -10),
                        fontsize=7, color="0.3")  # fmt: skip
            continue
        name = str(row.arm) if row.arm == row.router else f"{row.arm} ({row.router})"
        if np.isfinite(row.pgr):
            ci = (f" [{row.pgr_lo:.2f}, {row.pgr_hi:.2f}]"
                  if np.isfinite(row.pgr_lo) and np.isfinite(row.pgr_hi) else "")  # fmt: skip
            name += f": PGR {row.pgr:.2f}{ci}"
        color = f"C{routers % 10}"
        routers += 1
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="*", ms=12, color=color, capsize=3,
                    elinewidth=1.0, zorder=3, label=name)  # fmt: skip
    costs = ok["cost_per_trial"][ok["cost_per_trial"] > 0]
    if len(costs) and costs.max() / costs.min() > 20:
        ax.set_xscale("log")
        ax.set_xlabel("mean cost per trial (USD, log scale), 95% bootstrap CI")
    else:
        ax.set_xlim(left=0)
        ax.set_xlabel("mean cost per trial (USD), 95% bootstrap CI")
    if len(ok):
        lo = np.nanmin(ok["success_lo"].to_numpy(float), initial=np.nanmin(ok["success"]))
        hi = np.nanmax(ok["success_hi"].to_numpy(float), initial=np.nanmax(ok["success"]))
        ax.set_ylim(max(-0.02, lo - 0.05), min(1.02, hi + 0.05))
    ax.set_ylabel("success rate (per-task means), 95% bootstrap CI")
    ax.grid(True, alpha=0.3, which="both")
    n = table.attrs.get("n_tasks")
    cheap, best = table.attrs.get("cheap_arm"), table.attrs.get("best_arm")
    title = "Routers vs fixed models" + (f" ({n} paired tasks)" if n else "")
    if cheap and best:
        title += f"\nPGR: share of the gap from {cheap} (0) to {best} (1) recovered"
    ax.set_title(title, fontsize=10)
    if len(front) or routers:
        ax.legend(loc="lower right", fontsize=7)
    return fig
