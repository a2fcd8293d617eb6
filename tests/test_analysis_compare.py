"""Arm comparisons on synthetic runs with known truth, cross-checked against SQL and stats."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from harness.analysis.compare import COLUMNS, compare_arms, compare_paired, compare_unpaired
from harness.analysis.frames import per_task, trials_frame
from harness.analysis.stats import mcnemar_exact, mcnemar_midp, paired_mean_difference
from tests.test_analysis_synthetic import ArmSpec, write_run


def _trials(tmp_path: Path, **kw: object) -> tuple[pd.DataFrame, duckdb.DuckDBPyConnection]:
    run_dir = write_run(tmp_path, **kw)  # type: ignore[arg-type]
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    return trials_frame(con), con


def test_paired_one_replicate_mcnemar_counts_match_sql(tmp_path: Path) -> None:
    arms = {
        "a": ArmSpec("m1", skill=0.8, llm_error_rate=0.05),
        "b": ArmSpec("m2", skill=0.0),
    }
    t, con = _trials(tmp_path, arms=arms, n_tasks=60, seed=5)
    b, c, n = con.execute(
        """
        SELECT count(*) FILTER (WHERE x.success AND NOT y.success),
               count(*) FILTER (WHERE NOT x.success AND y.success),
               count(*)
        FROM trials x JOIN trials y USING (task_id)
        WHERE x.arm = 'a' AND y.arm = 'b' AND x.success IS NOT NULL AND y.success IS NOT NULL
        """
    ).fetchone()
    con.close()
    comp = compare_paired(t, "a", "b")
    assert list(comp.columns) == list(COLUMNS)
    assert comp["metric"].tolist() == ["success", "cost_usd", "latency_ms", "ttft_ms"]
    s = comp.iloc[0]
    assert s.n_tasks == n and s.n_dropped == 60 - n and s.n_dropped > 0
    assert s.estimate == pytest.approx((b - c) / n)
    assert s.p_value == pytest.approx(mcnemar_exact(b, c).p_value)
    assert s.p_value_midp == pytest.approx(mcnemar_midp(b, c).p_value)
    assert s.test == "McNemar exact conditional" and "Newcombe" in s.ci_method
    assert f"{b} only a" in s.detail and f"{c} only b" in s.detail
    assert s.ci_low <= s.estimate <= s.ci_high


def test_known_effect_is_detected_and_aa_is_not(tmp_path: Path) -> None:
    strong = {"hi": ArmSpec("m1", skill=2.5), "lo": ArmSpec("m2", skill=-1.0)}
    t, con = _trials(tmp_path / "effect", arms=strong, n_tasks=120, seed=1)
    con.close()
    s = compare_paired(t, "hi", "lo").iloc[0]
    assert s.p_value < 0.001 and s.ci_low > 0.1
    same = {"x": ArmSpec("m"), "y": ArmSpec("m")}
    t, con = _trials(tmp_path / "aa", arms=same, n_tasks=120, seed=2)
    con.close()
    aa = compare_paired(t, "x", "y")
    s = aa.iloc[0]
    assert s.p_value > 0.05 and s.ci_low < 0 < s.ci_high
    cost = aa.set_index("metric").loc["cost_usd"]
    assert cost.ci_low < 1 < cost.ci_high


def test_cost_ratio_recovers_the_true_multiplier(tmp_path: Path) -> None:
    # Noise-free costs differ by exactly 5× per task (the per-task size effect cancels).
    arms = {"a": ArmSpec("m1", cost_usd=0.01), "b": ArmSpec("m2", cost_usd=0.002)}
    t, con = _trials(tmp_path / "exact", arms=arms, n_tasks=20, noise_sd=0.0)
    con.close()
    cost = compare_paired(t, "a", "b").set_index("metric").loc["cost_usd"]
    assert cost.estimate == pytest.approx(5.0) and cost.ci_high == pytest.approx(5.0)
    assert cost.estimand == "ratio of geometric means (a / b)" and cost.test == "paired t on logs"
    # With noise the 95% CI should cover 5 (it does for 57 of seeds 0-59; seed 2 is one).
    t, con = _trials(tmp_path / "noisy", arms=arms, n_tasks=40, seed=2)
    con.close()
    cost = compare_paired(t, "a", "b").set_index("metric").loc["cost_usd"]
    assert cost.ci_low < 5.0 < cost.ci_high and cost.p_value < 0.001
    assert cost.value_a / cost.value_b == pytest.approx(cost.estimate)


def test_replicates_switch_success_to_paired_t_on_task_fractions(tmp_path: Path) -> None:
    t, con = _trials(tmp_path, n_tasks=25, replicates=3, seed=8)
    con.close()
    s = compare_paired(t, "sonnet", "qwen").iloc[0]
    frac = per_task(t, "success", ["sonnet", "qwen"])
    ref = paired_mean_difference(frac["sonnet"], frac["qwen"])
    assert s.test.startswith("paired t") and math.isnan(s.p_value_midp)
    assert (s.estimate, s.ci_low, s.ci_high, s.p_value) == pytest.approx(
        (ref.estimate, ref.ci_low, ref.ci_high, ref.p_value)
    )


def test_missing_arm_on_a_task_is_dropped_and_counted(tmp_path: Path) -> None:
    t, con = _trials(tmp_path, n_tasks=15, seed=4)
    con.close()
    t = t[~((t["arm"] == "qwen") & (t["task_id"] == "T/003"))]
    comp = compare_paired(t, "sonnet", "qwen").set_index("metric")
    assert comp.loc["success", "n_tasks"] == 14 and comp.loc["success", "n_dropped"] == 1
    assert comp.loc["cost_usd", "n_tasks"] == 14 and comp.loc["cost_usd", "n_dropped"] == 1
    assert "dropped 1" in comp.loc["cost_usd", "detail"]


def test_split_design_uses_fisher_and_welch(tmp_path: Path) -> None:
    t, con = _trials(tmp_path, n_tasks=40, design="split", seed=6)
    con.close()
    comp = compare_arms(t, "split", ["sonnet", "qwen"]).set_index("metric")
    s = comp.loc["success"]
    assert s.test == "Fisher exact test" and "hybrid score" in s.ci_method
    assert s.n_tasks == 40 and s.n_dropped == 0
    assert comp.loc["latency_ms", "test"] == "Welch t on logs"
    with pytest.raises(ValueError):
        compare_arms(t, "crossover")


def test_unpaired_with_replicates_uses_welch_on_task_fractions(tmp_path: Path) -> None:
    t, con = _trials(tmp_path, n_tasks=30, design="split", replicates=2, seed=6)
    con.close()
    s = compare_unpaired(t, "sonnet", "qwen").iloc[0]
    assert s.test == "Welch t" and s.n_tasks == 30


def test_three_arms_give_every_pair(tmp_path: Path) -> None:
    arms = {"a": ArmSpec("m1"), "b": ArmSpec("m2"), "c": ArmSpec("m3", ttft_ms=None)}
    t, con = _trials(tmp_path, arms=arms, n_tasks=10)
    con.close()
    comp = compare_arms(t, "paired", ["a", "b", "c"])
    pairs = list(dict.fromkeys(zip(comp["arm_a"], comp["arm_b"], strict=True)))
    assert pairs == [("a", "b"), ("a", "c"), ("b", "c")]
    ttft = comp[(comp["metric"] == "ttft_ms") & (comp["arm_b"] == "c")]
    assert ttft["n_tasks"].tolist() == [0, 0]  # arm c does not stream: nothing to pair
    with pytest.raises(ValueError, match="no trials"):
        compare_paired(t, "a", "zzz")
    assert compare_arms(t[t["arm"] == "a"], "paired").empty
