"""Frames and per-arm summaries on real DuckDB files, checked against SQL written independently."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from harness.analysis.frames import (
    arm_summary,
    calls_frame,
    open_results,
    per_task,
    runs_frame,
    trials_frame,
)
from harness.analysis.stats import wilson_ci
from tests.test_analysis_synthetic import ArmSpec, write_run

ARMS = {
    "sonnet": ArmSpec("claude-3-5-sonnet", skill=1.0, cost_usd=0.01, llm_error_rate=0.1),
    "qwen": ArmSpec(
        "qwen-2-5-coder", skill=0.0, cost_usd=0.002, retry_rate=0.3, usage_missing_rate=0.2
    ),
}


@pytest.fixture(scope="module")
def one_rep(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    run_dir = write_run(tmp_path_factory.mktemp("r1"), arms=ARMS, n_tasks=40, seed=3)
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def three_reps(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    run_dir = write_run(tmp_path_factory.mktemp("r3"), arms=ARMS, n_tasks=30, replicates=3, seed=4)
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    yield con
    con.close()


def test_frames_leave_heavy_columns_out_unless_asked(one_rep: duckdb.DuckDBPyConnection) -> None:
    t = trials_frame(one_rep)
    assert "answer" not in t and "verifier_output" not in t
    assert {"answer", "verifier_output"} <= set(trials_frame(one_rep, full=True).columns)
    c = calls_frame(one_rep)
    assert "request_body" not in c and "request_body" in calls_frame(one_rep, full=True)
    r = runs_frame(one_rep)
    assert "config" not in r and len(r) == 1 and r.loc[0, "experiment"] == "ab_test"
    assert len(c) == one_rep.execute("SELECT count(*) FROM calls").fetchone()[0]


def test_success_is_float_with_nan_for_unverified(one_rep: duckdb.DuckDBPyConnection) -> None:
    t = trials_frame(one_rep)
    assert t["success"].dtype == np.float64
    n_null = one_rep.execute("SELECT count(*) FROM trials WHERE success IS NULL").fetchone()[0]
    assert n_null > 0, "the fixture has LLM errors"
    assert int(t["success"].isna().sum()) == n_null
    assert set(t["success"].dropna().unique()) <= {0.0, 1.0}


def test_run_id_filter(one_rep: duckdb.DuckDBPyConnection) -> None:
    assert len(trials_frame(one_rep, "run-1")) == 80
    assert trials_frame(one_rep, "nope").empty
    assert calls_frame(one_rep, "nope").empty


def test_per_task_means_match_sql(three_reps: duckdb.DuckDBPyConnection) -> None:
    t = trials_frame(three_reps)
    table = per_task(t, "success", ["sonnet", "qwen"])
    assert list(table.columns) == ["sonnet", "qwen"] and len(table) == 30
    sql = three_reps.execute(
        "SELECT task_id, arm, avg(CASE WHEN success THEN 1.0 ELSE 0.0 END) "
        "FROM trials WHERE success IS NOT NULL GROUP BY ALL"
    ).fetchall()
    for task, arm, mean in sql:
        assert table.loc[task, arm] == pytest.approx(mean)
    cost = per_task(t, "cost_usd")
    assert list(cost.columns) == ["qwen", "sonnet"]  # sorted by default


def test_arm_summary_one_replicate_uses_wilson(one_rep: duckdb.DuckDBPyConnection) -> None:
    t = trials_frame(one_rep)
    s = arm_summary(t, ["sonnet", "qwen"])
    assert list(s.index) == ["sonnet", "qwen"]
    for arm in ("sonnet", "qwen"):
        succ, verified, total, n_err, cost = one_rep.execute(
            "SELECT count(*) FILTER (WHERE success), count(success), count(*), "
            "count(*) FILTER (WHERE status <> 'ok'), sum(cost_usd) FROM trials WHERE arm = ?",
            [arm],
        ).fetchone()
        row = s.loc[arm]
        w = wilson_ci(succ, verified)
        assert (row.successes, row.n_verified, row.n_trials) == (succ, verified, total)
        assert row.n_unverified == total - verified and row.n_errors == n_err
        assert row.success_rate == pytest.approx(succ / verified)
        assert (row.success_ci_low, row.success_ci_high) == pytest.approx((w.ci_low, w.ci_high))
        assert row.success_ci_method == "Wilson"
        assert row.total_cost_usd == pytest.approx(cost)
        assert row.cost_per_success_usd == pytest.approx(cost / succ)
        lat = one_rep.execute(
            "SELECT latency_ms FROM trials WHERE arm = ? AND latency_ms IS NOT NULL", [arm]
        ).fetchnumpy()["latency_ms"]
        assert row.latency_p50_ms == pytest.approx(np.median(lat))
        assert row.latency_p95_ms == pytest.approx(np.percentile(lat, 95))
        assert row.cost_ci_low < row.mean_cost_usd < row.cost_ci_high
    assert s.loc["sonnet", "n_unverified"] > 0  # llm_error_rate 0.1 in the fixture


def test_arm_summary_replicates_use_t_on_task_means(three_reps: duckdb.DuckDBPyConnection) -> None:
    t = trials_frame(three_reps)
    s = arm_summary(t)
    for arm in ("sonnet", "qwen"):
        frac = per_task(t, "success")[arm].dropna().to_numpy()
        lo, hi = sps.t.interval(0.95, len(frac) - 1, loc=frac.mean(), scale=sps.sem(frac))
        row = s.loc[arm]
        assert row.replicates == 3 and row.n_tasks == 30
        assert row.success_rate == pytest.approx(frac.mean())
        assert (row.success_ci_low, row.success_ci_high) == pytest.approx((max(0, lo), min(1, hi)))
        assert row.success_ci_method.startswith("t on per-task means")


def test_arm_summary_all_failures_falls_back_to_wilson(tmp_path: Path) -> None:
    arms = {"bad": ArmSpec("m", skill=-50.0), "good": ArmSpec("n", skill=50.0)}
    run_dir = write_run(tmp_path, arms=arms, n_tasks=12, replicates=2)
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    s = arm_summary(trials_frame(con))
    con.close()
    bad = s.loc["bad"]
    assert bad.success_rate == 0 and bad.success_ci_low == 0
    assert bad.success_ci_high == pytest.approx(wilson_ci(0, 12).ci_high)
    assert "Wilson" in bad.success_ci_method
    assert math.isnan(bad.cost_per_success_usd)


def test_open_results_views_every_run_in_a_folder(tmp_path: Path) -> None:
    pytest.importorskip("harness.store.reader")
    write_run(tmp_path, run_id="a", n_tasks=5, seed=1)
    write_run(tmp_path, run_id="b", n_tasks=7, seed=2)
    write_run(tmp_path, experiment="other", run_id="c", n_tasks=3, seed=3)
    con = open_results(tmp_path)
    try:
        runs = runs_frame(con)
        assert sorted(runs["run_id"]) == ["a", "b", "c"]
        assert len(trials_frame(con, "b")) == 14
        assert len(trials_frame(con)) == 2 * (5 + 7 + 3)
        s = arm_summary(trials_frame(con, "a"))
        assert isinstance(s, pd.DataFrame) and s["n_tasks"].tolist() == [5, 5]
    finally:
        con.close()
    one = open_results(tmp_path / "ab_test" / "a")  # a run folder works too (the runner's use)
    try:
        assert runs_frame(one)["run_id"].tolist() == ["a"]
    finally:
        one.close()
