"""Router evaluation on constructed trials whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from harness.analysis.router_eval import cost_quality_figure, router_eval_table

N = 100


def _rows(arm: str, router: str, wins: int, cost: float, *, fail_reps: int = 1) -> list[dict]:
    """Tasks 0..wins-1 succeed (one replicate), the rest fail (``fail_reps`` replicates)."""
    rows = []
    for t in range(N):
        reps = 1 if t < wins else fail_reps
        for r in range(reps):
            rows.append(
                {
                    "arm": arm,
                    "router": router,
                    "task_id": f"t{t:03d}",
                    "replicate": r,
                    "success": float(t < wins),
                    "cost_usd": cost,
                }
            )
    return rows


@pytest.fixture(scope="module")
def trials() -> pd.DataFrame:
    rows = (
        _rows("cheap", "fixed", 50, 0.001)
        + _rows("mid", "fixed", 60, 0.008)
        + _rows("best", "fixed", 90, 0.011)
        # Failures replicated 3x: pooling trials would give 70/160; per-task means give 0.7.
        + _rows("router", "task_map", 70, 0.004, fail_reps=3)
        + _rows("clone", "capability", 90, 0.011)  # same outcomes as best, task by task
    )
    # An extra task with an unverified trial in one arm is left out for every arm.
    rows += [
        {"arm": a, "router": "fixed", "task_id": "t999", "replicate": 0, "success": 1.0,
         "cost_usd": 0.5}
        for a in ("cheap", "mid", "best", "clone")
    ]  # fmt: skip
    rows.append(
        {"arm": "router", "router": "task_map", "task_id": "t999", "replicate": 0,
         "success": np.nan, "cost_usd": np.nan}
    )  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def table(trials: pd.DataFrame) -> pd.DataFrame:
    return router_eval_table(trials, n_boot=2000, seed=1).set_index("arm")


def test_point_estimates_match_hand_computation(table: pd.DataFrame) -> None:
    assert table.attrs["cheap_arm"] == "cheap" and table.attrs["best_arm"] == "best"
    assert table.attrs["n_tasks"] == N
    r = table.loc["router"]
    assert r["success"] == pytest.approx(0.7)  # per-task means first
    assert r["cost_per_trial"] == pytest.approx(0.004)
    # PGR = (0.7 - 0.5) / (0.9 - 0.5); cost share = (0.004 - 0.001) / (0.011 - 0.001)
    assert r["pgr"] == pytest.approx(0.5)
    assert r["cost_share"] == pytest.approx(0.3)
    assert r["pgr_per_dollar"] == pytest.approx(0.5 / 0.003)
    assert r["pgr_per_cost_share"] == pytest.approx(0.5 / 0.3)
    # hull of fixed arms at 0.004: 0.5 + 0.4 * 0.3 (mid lies below the cheap–best chord)
    assert r["frontier_gap"] == pytest.approx(0.7 - 0.62)
    assert not r["is_fixed"] and r["router"] == "task_map"
    assert table.loc["cheap", "pgr"] == 0.0 and table.loc["best", "pgr"] == 1.0
    assert math.isnan(table.loc["cheap", "pgr_per_dollar"])  # no extra cost: undefined
    assert table.loc["mid", "pgr"] == pytest.approx(0.25)
    assert list(table["on_frontier"][["cheap", "mid", "best"]]) == [True, True, True]


def test_bootstrap_is_paired_over_tasks(table: pd.DataFrame) -> None:
    # The clone succeeds exactly where best does: in every paired resample its
    # PGR is 1, so the interval has no width. An unpaired bootstrap would not.
    c = table.loc["clone"]
    assert c["pgr"] == 1.0
    assert (c["pgr_lo"], c["pgr_hi"]) == (1.0, 1.0)
    assert c["boot_undefined"] == 0.0
    r = table.loc["router"]
    assert r["pgr_lo"] < 0.5 < r["pgr_hi"]
    assert r["pgr_per_dollar_lo"] < r["pgr_per_dollar"] < r["pgr_per_dollar_hi"]
    # Constant costs: no uncertainty on cost.
    assert r["cost_lo"] == pytest.approx(0.004) and r["cost_hi"] == pytest.approx(0.004)


def test_success_interval_close_to_normal_theory(table: pd.DataFrame) -> None:
    # Percentile bootstrap of a mean ≈ p ± 1.96·sqrt(p(1-p)/n) for n = 100
    # (Efron & Tibshirani 1993, An Introduction to the Bootstrap, §13.3).
    c = table.loc["cheap"]
    half = 1.96 * math.sqrt(0.25 / N)
    assert c["success_lo"] == pytest.approx(0.5 - half, abs=0.015)
    assert c["success_hi"] == pytest.approx(0.5 + half, abs=0.015)


def test_seeded_and_validated(trials: pd.DataFrame) -> None:
    a = router_eval_table(trials, n_boot=200, seed=3)
    b = router_eval_table(trials, n_boot=200, seed=3)
    pd.testing.assert_frame_equal(a, b)
    for col in (
        "arm", "router", "is_fixed", "success", "success_lo", "success_hi", "cost_per_trial",
        "cost_lo", "cost_hi", "pgr", "pgr_lo", "pgr_hi", "pgr_per_dollar", "pgr_per_dollar_lo",
        "pgr_per_dollar_hi",
    ):  # fmt: skip
        assert col in a.columns
    with pytest.raises(ValueError, match="cost_usd"):
        router_eval_table(trials.drop(columns="cost_usd"))


def test_without_fixed_arms_pgr_is_undefined(trials: pd.DataFrame) -> None:
    only = trials[trials["arm"].isin(["router", "clone"])]
    t = router_eval_table(only, n_boot=100)
    assert t["pgr"].isna().all() and t.attrs["cheap_arm"] is None


def test_figure_draws_every_arm_and_the_frontier(table: pd.DataFrame) -> None:
    fig = cost_quality_figure(table.reset_index())
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    frontier = [ln for ln in ax.get_lines() if ln.get_label() == "fixed-model frontier"]
    assert len(frontier) == 1 and len(frontier[0].get_xdata()) == 3
    assert len(ax.containers) == 5  # one errorbar per arm
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("router (task_map): PGR 0.50 [") for t in legend)
    assert ax.get_xscale() == "linear"  # costs span 11x: no log axis
