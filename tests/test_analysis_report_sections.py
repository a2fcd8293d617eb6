"""Report sections on real run databases: warnings, categories, caching, routers, MDE."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from harness.analysis.report import FEW_TASKS, build_report
from tests.test_analysis_synthetic import ArmSpec, write_run

ARMS = {
    "sonnet": ArmSpec("claude-3-5-sonnet", skill=1.0, cost_usd=0.01),
    "qwen": ArmSpec("qwen-2-5-coder", cost_usd=0.002, usage_missing_rate=0.25),
}


def _report(run_dir: Path, *sql: str):
    con = duckdb.connect(str(run_dir / "harness.duckdb"))
    try:
        for stmt in sql:
            con.execute(stmt)
        return build_report(con, "run-1")
    finally:
        con.close()


def _scalar(run_dir: Path, sql: str):
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_budget_stop_missing_usage_and_few_tasks(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, arms=ARMS, n_tasks=12, seed=6)
    rep = _report(
        run_dir,
        "UPDATE runs SET status = 'budget_stopped', stop_reason = 'experiment cap $2.00 reached'",
    )
    missing = _scalar(
        run_dir,
        "SELECT count(*) FROM calls WHERE status = 'ok' "
        "AND (input_tokens IS NULL OR output_tokens IS NULL)",
    )
    ok_calls = _scalar(run_dir, "SELECT count(*) FROM calls WHERE status = 'ok'")
    assert missing > 0
    text = "\n".join(rep.warnings)
    assert "Budget stop (experiment cap $2.00 reached)" in text
    assert f"Missing usage: {missing} of {ok_calls} successful calls" in text
    assert f"Few tasks: 12 (< {FEW_TASKS})" in text
    assert rep.warnings[0].startswith("Simulated endpoints")
    assert "stop reason | experiment cap $2.00 reached" in rep.markdown
    # Warnings come before the tables, and the console shows them too.
    assert rep.markdown.index("## Warnings") < rep.markdown.index("## Per arm")
    assert "! Budget stop" in rep.console and "! Missing usage" in rep.console


def test_early_stop_and_live_run(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, arms=ARMS, n_tasks=40, seed=7, simulated=False)
    rep = _report(
        run_dir,
        "UPDATE runs SET status = 'early_stopped', stop_reason = 'mSPRT p < 0.05'",
        "UPDATE calls SET input_tokens = 1, output_tokens = 1 WHERE status = 'ok'",
    )
    assert [w.split(":")[0] for w in rep.warnings] == ["Early stop (mSPRT p < 0.05)"]
    assert "always-valid" in rep.warnings[0]


def test_category_table_matches_sql(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, arms=ARMS, n_tasks=20, seed=8)
    rep = _report(run_dir)
    cats = rep.tables["categories"].set_index(["arm", "category"])
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT arm, task_category, avg(success::INT), count(DISTINCT task_id) FROM trials "
            "WHERE success IS NOT NULL GROUP BY ALL"
        ).fetchall()
        by_model = con.execute(
            "SELECT task_category, model, avg(success::INT) FROM trials "
            "WHERE success IS NOT NULL GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == len(cats) == 4
    for arm, cat, rate, n in rows:
        r = cats.loc[(arm, cat)]
        assert r.success_rate == pytest.approx(rate) and r.n_tasks == n
        assert r.success_ci_low <= rate <= r.success_ci_high
    heat = rep.tables["category_model"]
    for cat, model, rate in by_model:
        assert heat.loc[cat, model] == pytest.approx(rate)
    assert "## Success by category" in rep.markdown and "category_heatmap" in rep.figures


def test_prompt_caching_saving_is_the_sum_of_the_calls(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, arms=ARMS, n_tasks=6, seed=9)
    plain = _report(run_dir)
    assert "cache" not in plain.tables and "## Prompt caching" not in plain.markdown
    rep = _report(
        run_dir,
        "UPDATE calls SET cached_input_tokens = 200, cache_write_tokens = 50, "
        "cache_savings_usd = 0.0004 WHERE status = 'ok' AND trial_id LIKE 'sonnet/%'",
    )
    saving = _scalar(run_dir, "SELECT sum(cache_savings_usd) FROM calls")
    read = _scalar(run_dir, "SELECT sum(cached_input_tokens) FROM calls")
    cache = rep.tables["cache"]
    assert cache["cache_savings_usd"].sum() == pytest.approx(saving)
    assert cache.loc["sonnet", "cached_input_tokens"] == read
    assert cache.loc["sonnet", "calls_cached"] == 6
    assert cache.loc["qwen"].isna()["cache_savings_usd"]  # no call reported it: NaN, not 0
    md = rep.markdown
    assert "## Prompt caching" in md and f"Prompt caching saved ${saving:.3g}" in md


def test_router_arms_get_their_section_and_figure(tmp_path: Path) -> None:
    pytest.importorskip("harness.analysis.router_eval")
    arms = {
        "cheap": ArmSpec("qwen-2-5-coder", skill=-0.5, cost_usd=0.001),
        "best": ArmSpec("claude-3-5-sonnet", skill=1.5, cost_usd=0.02),
        "routed": ArmSpec("claude-3-5-sonnet", skill=1.0, cost_usd=0.006),
    }
    run_dir = write_run(tmp_path, arms=arms, n_tasks=20, seed=10)
    rep = _report(run_dir, "UPDATE trials SET router = 'cost_optimized' WHERE arm = 'routed'")
    assert "## Routers vs fixed models" in rep.markdown
    routers = rep.tables["routers"].set_index("arm")
    assert routers.loc["routed", "router"] == "cost_optimized"
    assert not routers.loc["routed", "is_fixed"] and routers.loc["cheap", "is_fixed"]
    assert "cheapest: cheap, best: best" in rep.markdown
    assert "Cost–quality of routers and fixed models" in rep.markdown


def test_mde_section_when_power_is_there(tmp_path: Path) -> None:
    power = pytest.importorskip("harness.analysis.power")
    if not hasattr(power, "achieved_mde_table"):
        pytest.skip("achieved_mde_table not there yet")
    rep = _report(write_run(tmp_path, arms=ARMS, n_tasks=30, seed=11))
    mde = rep.tables["mde"]
    assert len(mde) == 1 and 0 < mde["mde"].iloc[0] < 1
    assert "## Achieved minimum detectable effect" in rep.markdown
    assert f"{100 * mde['mde'].iloc[0]:.1f} pp" in rep.markdown
