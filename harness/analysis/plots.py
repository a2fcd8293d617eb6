"""Figures for the report and notebooks.

Functions build :class:`matplotlib.figure.Figure` objects directly (no pyplot,
so no global state and no display backend); saving them to PNG uses Agg.
Nothing here shows or writes a figure: that happens at the edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = ["category_heatmap", "latency_cdf", "pareto_frontier", "success_vs_cost", "ttft_cdf"]


_TITLES = {"latency_ms": "Latency CDF", "ttft_ms": "Time to first token CDF"}


def _stamp(fig: Figure, note: str | None) -> None:
    if note:
        fig.text(0.99, 0.01, note, ha="right", va="bottom", fontsize=8, color="#b03030")


def pareto_frontier(cost: Sequence[float], quality: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats on both cost and quality.

    A point is on the frontier when every cheaper-or-equal point has strictly
    lower quality; ties in cost keep the better one. Non-finite points are
    skipped.

    Returns:
        Indices ordered by increasing cost (and so increasing quality).
    """
    pts = [
        (float(c), -float(q), i)
        for i, (c, q) in enumerate(zip(cost, quality, strict=True))
        if np.isfinite(c) and np.isfinite(q)
    ]
    frontier: list[int] = []
    best = -np.inf
    for _cost, neg_q, i in sorted(pts):
        if -neg_q > best:
            frontier.append(i)
            best = -neg_q
    return frontier


def success_vs_cost(
    summary: pd.DataFrame,
    *,
    frontier: Sequence[str] | None = None,
    note: str | None = None,
    title: str = "Success vs cost per arm",
) -> Figure:
    """Each arm as a point: mean cost per trial (x) against success rate (y), 95 % CIs.

    Both axes are per-task means first (see
    :func:`~harness.analysis.frames.arm_summary`), so replicates do not
    narrow the intervals.

    Args:
        summary: Output of :func:`~harness.analysis.frames.arm_summary` (or
            rows of several, indexed by a label).
        frontier: Rows (index labels) that are fixed-model arms: the cost-quality
            frontier among them is drawn as a dashed line. None or fewer than
            two: no line.
        note: Small text in the corner, e.g. ``"SIMULATED"``.
        title: Axes title.

    Returns:
        A Figure with error bars on both axes and each point labelled.
    """
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    for i, (arm, row) in enumerate(summary.iterrows()):
        x, y = float(row["mean_cost_usd"]), float(row["success_rate"])
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        xerr = [[max(0.0, x - row["cost_ci_low"])], [max(0.0, row["cost_ci_high"] - x)]]
        yerr = [[max(0.0, y - row["success_ci_low"])], [max(0.0, row["success_ci_high"] - y)]]
        xerr = np.nan_to_num(np.asarray(xerr, dtype=float))
        yerr = np.nan_to_num(np.asarray(yerr, dtype=float))
        color = f"C{i}"
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", color=color, capsize=4, label=str(arm))
        ax.annotate(
            str(arm), (x, y), textcoords="offset points", xytext=(6, 6), color=color, fontsize=9
        )
    fixed = summary.loc[[a for a in summary.index if a in set(frontier or ())]]
    if len(fixed) >= 2:
        idx = pareto_frontier(fixed["mean_cost_usd"].tolist(), fixed["success_rate"].tolist())
        front = fixed.iloc[idx]
        ax.plot(
            front["mean_cost_usd"],
            front["success_rate"],
            ls="--",
            color="0.4",
            lw=1,
            zorder=0,
            label="frontier of fixed-model arms",
        )
        ax.legend(loc="lower right", fontsize=8)
    ax.set_ylabel("success rate, 95% CI")
    ax.set_ylim(-0.02, 1.02)
    costs = summary["mean_cost_usd"].to_numpy(dtype=float) if len(summary) else np.array([])
    costs = costs[np.isfinite(costs) & (costs > 0)]
    if costs.size >= 2 and costs.max() / costs.min() > 20:
        # Costs an order of magnitude apart: a linear axis squeezes the cheap arms into 0.
        ax.set_xscale("log")
        ax.set_xlabel("mean cost per trial (USD, log scale), 95% CI")
    else:
        ax.set_xlim(left=0)
        ax.set_xlabel("mean cost per trial (USD), 95% CI")
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    _stamp(fig, note)
    return fig


def category_heatmap(
    rates: pd.DataFrame,
    *,
    n_tasks: pd.DataFrame | None = None,
    note: str | None = None,
    title: str = "Success by task category and model",
) -> Figure:
    """Heatmap of success rates: one row per category, one column per model.

    Args:
        rates: Output of :func:`~harness.analysis.frames.model_category_success`
            (any frame of rates in [0, 1]; NaN cells are left blank).
        n_tasks: Task counts of the same shape, printed under each rate
            (default: ``rates.attrs["n_tasks"]`` when present).
        note: Small text in the corner, e.g. ``"SIMULATED"``.
        title: Axes title.

    Returns:
        A Figure with each cell annotated ``rate% (n)``.
    """
    counts = n_tasks if n_tasks is not None else rates.attrs.get("n_tasks")
    n_rows, n_cols = rates.shape
    fig = Figure(
        figsize=(max(4.8, 1.5 + 1.3 * n_cols), max(2.6, 1.2 + 0.45 * n_rows)),
        layout="constrained",
    )
    ax = fig.add_subplot()
    values = rates.to_numpy(dtype=float)
    if values.size == 0:
        ax.text(0.5, 0.5, "no verified trials", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        _stamp(fig, note)
        return fig
    image = ax.imshow(
        np.ma.masked_invalid(values), cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto"
    )
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if not np.isfinite(v):
                continue
            text = f"{100 * v:.0f}%"
            if counts is not None:
                n = counts.iloc[i, j]
                if pd.notna(n):
                    text += f"\n({int(n)})"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="black")
    ax.set_xticks(range(n_cols), [str(c) for c in rates.columns], rotation=20, ha="right")
    ax.set_yticks(range(n_rows), [str(r) for r in rates.index])
    ax.set_xlabel("model (cells: success rate, (tasks))")
    fig.colorbar(image, ax=ax, label="success rate", fraction=0.05)
    ax.set_title(title)
    _stamp(fig, note)
    return fig


def latency_cdf(
    frame: pd.DataFrame,
    value: str = "latency_ms",
    by: str = "arm",
    *,
    order: Sequence[str] | None = None,
    title: str | None = None,
    note: str | None = None,
) -> Figure:
    """Empirical CDF of a positive duration per group, log x axis.

    Args:
        frame: Trials or calls (any frame with ``value`` and ``by`` columns).
        value: Column in milliseconds, e.g. ``"latency_ms"`` or ``"ttft_ms"``.
        by: Grouping column, one curve per value (default: arm).
        order: Curve order, which also fixes the colours (C0, C1, … as in
            :func:`success_vs_cost` for the same arm order). Default: sorted.
        title: Axes title (default names the column).
        note: Small text in the corner, e.g. ``"SIMULATED"``.

    Returns:
        A Figure; non-positive and missing values are left out (log scale).
    """
    keys = list(order) if order is not None else sorted(frame[by].dropna().unique())
    fig = Figure(figsize=(6.4 if len(keys) <= 5 else 8.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    plotted = False
    for i, key in enumerate(keys):
        group = frame[frame[by] == key]
        v = pd.to_numeric(group[value], errors="coerce").to_numpy(dtype=float)
        v = np.sort(v[np.isfinite(v) & (v > 0)])
        if v.size == 0:
            continue
        y = np.arange(1, v.size + 1) / v.size
        label = f"{key} (n={v.size}, p50={np.median(v):,.0f} ms)"
        # Past ten arms the colour cycle repeats: vary the line style too.
        style = ("-", "--", ":")[(i // 10) % 3]
        ax.step(v, y, where="post", color=f"C{i % 10}", ls=style, label=label)
        plotted = True
    if plotted:
        ax.set_xscale("log")
        # Plain milliseconds read better than 4×10² on a duration axis.
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        if len(keys) > 5:
            # Many arms: a legend inside would cover the curves.
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
        else:
            ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, f"no {value} data", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(f"{value} (log scale)")
    ax.set_ylabel("fraction ≤ x")
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or _TITLES.get(value, f"{value} CDF by {by}"))
    _stamp(fig, note)
    return fig


def ttft_cdf(
    frame: pd.DataFrame,
    by: str = "arm",
    *,
    order: Sequence[str] | None = None,
    note: str | None = None,
) -> Figure:
    """Empirical CDF of time to first token per group (streamed calls only)."""
    return latency_cdf(frame, "ttft_ms", by, order=order, note=note)
