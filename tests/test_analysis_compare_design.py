"""compare_design: the design picks the test; replicates averaged per task; p corrected."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from harness.analysis.compare import (
    DESIGN_COLUMNS,
    compare_design,
    paired_task_values,
    replicate_sensitivity,
    task_values,
)
from harness.analysis.effects import cliffs_delta, odds_ratio
from harness.analysis.frames import trials_frame
from harness.analysis.multiple import adjust_pvalues
from harness.analysis.stats import (
    clustered_paired_difference,
    fisher_exact,
    log_ratio_paired,
    mcnemar_exact,
    paired_mean_difference,
    welch_mean_difference,
)
from tests.test_analysis_synthetic import ArmSpec, write_run

EXPECTED_COLUMNS = [
    "arm_a", "arm_b", "metric", "category", "n_tasks", "estimate", "ci_low", "ci_high",
    "p_value", "p_adjusted", "method", "why", "effect_name", "effect", "effect_lo", "effect_hi",
]  # fmt: skip


def _trials(tmp_path: Path, **kw: object) -> pd.DataFrame:
    run_dir = write_run(tmp_path, **kw)  # type: ignore[arg-type]
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    try:
        return trials_frame(con)
    finally:
        con.close()


def _clustered_replicates_run(n_reps: int = 20) -> pd.DataFrame:
    """A paired run where outcomes are fully determined by the task.

    On 7 of 12 tasks arm ``a`` solves every replicate and ``b`` none; on the other
    5 it is the reverse. Per task that is 7 wins against 5 losses — no evidence
    either way — but counted per trial it is 140 against 100 discordant pairs,
    which the exact McNemar test calls significant.
    """
    rows = []
    for t in range(12):
        a_wins = t < 7
        for rep in range(n_reps):
            for arm, ok in (("a", a_wins), ("b", not a_wins)):
                rows.append(
                    {
                        "trial_id": f"{arm}/{t}/{rep}",
                        "task_id": f"T/{t:02d}",
                        "task_category": ["simple", "debugging", "algorithms"][t % 3],
                        "arm": arm,
                        "replicate": rep,
                        "success": float(ok),
                        "cost_usd": 0.001 * (1 + t) * (2.0 if arm == "a" else 1.0),
                        "latency_ms": 500.0 + 10 * t + rep,
                    }
                )
    return pd.DataFrame(rows)


def test_columns_are_the_published_contract(tmp_path: Path) -> None:
    t = _trials(tmp_path, n_tasks=12, seed=1)
    out = compare_design(t, design="paired")
    assert list(out.columns) == EXPECTED_COLUMNS == list(DESIGN_COLUMNS)
    assert out["metric"].tolist() == ["success", "cost_usd", "latency_ms"]
    assert set(out["category"]) == {"all"} and out["why"].str.len().gt(40).all()
    assert out["n_tasks"].dtype.kind == "i"


def test_replicates_averaged_per_task_change_the_answer() -> None:
    trials = _clustered_replicates_run()
    # Wrong analysis: every (task, replicate) as its own pair -> exact McNemar on 240
    # discordant pairs, 140 vs 100.
    naive = mcnemar_exact(140, 100)
    assert naive.p_value < 0.05
    out = compare_design(trials, design="paired", arms=["a", "b"])
    s = out.set_index("metric").loc["success"]
    # Right analysis: one success fraction per task (1.0 or 0.0), paired t over 12 tasks.
    frac_a = np.array([1.0] * 7 + [0.0] * 5)
    ref = paired_mean_difference(frac_a, 1 - frac_a)
    assert s.n_tasks == 12 and s.method.startswith("paired t")
    assert (s.estimate, s.ci_low, s.ci_high, s.p_value) == pytest.approx(
        (ref.estimate, ref.ci_low, ref.ci_high, ref.p_value)
    )
    assert s.p_value > 0.3 and s.ci_low < 0 < s.ci_high  # not significant: 7 vs 5 tasks
    assert "averaged" in s.why and "Wilcoxon signed-rank robustness check" in s.why
    sens = replicate_sensitivity(trials, design="paired").iloc[0]
    assert sens.replicates == 20 and sens.n_units_naive == 240 and sens.n_tasks == 12
    assert sens.p_naive == pytest.approx(naive.p_value)
    assert sens.significant_naive and not sens.significant_task and sens.changes


def test_one_replicate_paired_uses_exact_mcnemar_and_conditional_odds_ratio(
    tmp_path: Path,
) -> None:
    arms = {"a": ArmSpec("m1", skill=1.5), "b": ArmSpec("m2", skill=0.0)}
    t = _trials(tmp_path, arms=arms, n_tasks=60, seed=5)
    s = compare_design(t, design="paired", arms=["a", "b"]).iloc[0]
    pairs = paired_task_values(t, "success", "a", "b")
    b = int(((pairs.a == 1) & (pairs.b == 0)).sum())
    c = int(((pairs.a == 0) & (pairs.b == 1)).sum())
    ref = mcnemar_exact(b, c)
    assert s.method.startswith("McNemar exact conditional") and "Newcombe" in s.method
    assert s.p_value == pytest.approx(ref.p_value)
    assert s.estimate == pytest.approx((b - c) / len(pairs))
    assert (s.effect, s.effect_lo, s.effect_hi) == pytest.approx(
        (ref.estimate, ref.ci_low, ref.ci_high)
    )
    assert f"{b} only a solved" in s.why


def test_cost_and_latency_are_ratios_of_geometric_means(tmp_path: Path) -> None:
    arms = {"a": ArmSpec("m1", cost_usd=0.01), "b": ArmSpec("m2", cost_usd=0.002)}
    t = _trials(tmp_path, arms=arms, n_tasks=20, noise_sd=0.0)
    cost = compare_design(t, design="paired", arms=["a", "b"]).set_index("metric").loc["cost_usd"]
    assert cost.estimate == pytest.approx(5.0) and cost.ci_high == pytest.approx(5.0)
    pt = paired_task_values(t, "cost_usd", "a", "b")
    ref = log_ratio_paired(pt.a, pt.b)
    assert cost.p_value == ref.p_value and "geometric means" in cost.method
    assert cost.effect == 1.0 and "Cliff's delta" in cost.effect_name  # a always costlier


def test_split_design_picks_unpaired_tests(tmp_path: Path) -> None:
    t = _trials(tmp_path / "one", n_tasks=40, design="split", seed=6)
    out = compare_design(t, design="split", arms=["sonnet", "qwen"]).set_index("metric")
    s = out.loc["success"]
    tv = task_values(t[t["success"].notna()], "success")
    va, vb = tv[tv.arm == "sonnet"]["value"], tv[tv.arm == "qwen"]["value"]
    fe = fisher_exact(int(va.sum()), len(va), int(vb.sum()), len(vb))
    orr = odds_ratio(int(va.sum()), len(va), int(vb.sum()), len(vb))
    assert s.method.startswith("Fisher exact") and s.p_value == pytest.approx(fe.p_value)
    assert s.effect == pytest.approx(orr.estimate) and s.n_tasks == 40
    assert out.loc["latency_ms", "method"] == "ratio of geometric means, Welch t on logs"
    t = _trials(tmp_path / "reps", n_tasks=30, design="split", replicates=3, seed=6)
    s = compare_design(t, design="split", arms=["sonnet", "qwen"]).iloc[0]
    tv = task_values(t[t["success"].notna()], "success")
    va, vb = tv[tv.arm == "sonnet"]["value"], tv[tv.arm == "qwen"]["value"]
    ref = welch_mean_difference(va, vb)
    assert s.method.startswith("Welch t") and s.p_value == pytest.approx(ref.p_value)
    assert s.effect == pytest.approx(cliffs_delta(va, vb).estimate)
    assert "Mann-Whitney U robustness check" in s.why


def test_multi_arm_control_and_correction_across_the_table(tmp_path: Path) -> None:
    arms = {"base": ArmSpec("m0"), "x": ArmSpec("m1", skill=1.0), "y": ArmSpec("m2", skill=0.3)}
    t = _trials(tmp_path, arms=arms, n_tasks=30, seed=3)
    vs = compare_design(t, design="paired", control="base", by_category=True)
    pairs = list(dict.fromkeys(zip(vs.arm_a, vs.arm_b, strict=True)))
    assert pairs == [("x", "base"), ("y", "base")]
    assert vs["category"].tolist()[:3] == ["all", "debugging", "simple"]
    assert vs["p_adjusted"].to_numpy() == pytest.approx(adjust_pvalues(vs["p_value"], "holm"))
    assert (vs["p_adjusted"] >= vs["p_value"] - 1e-15).all()
    bh = compare_design(t, design="paired", control="base", by_category=True, correction="bh")
    assert bh["p_adjusted"].to_numpy() == pytest.approx(adjust_pvalues(bh["p_value"], "bh"))
    assert (bh["p_adjusted"] <= vs["p_adjusted"] + 1e-15).all()  # BH never stricter than Holm
    every = compare_design(t, design="paired", metrics=("success",))
    assert list(zip(every.arm_a, every.arm_b, strict=True)) == [
        ("base", "x"), ("base", "y"), ("x", "y"),
    ]  # fmt: skip
    cat = vs[(vs.arm_a == "x") & (vs.metric == "success") & (vs.category == "simple")].iloc[0]
    assert cat.n_tasks == 15


def test_clustered_option_uses_the_category_clustered_se(tmp_path: Path) -> None:
    t = _trials(tmp_path, n_tasks=24, replicates=2, seed=9)
    out = compare_design(t, design="paired", arms=["sonnet", "qwen"], cluster=True)
    s = out.iloc[0]
    pt = paired_task_values(t[t["success"].notna()], "success", "sonnet", "qwen")
    ref = clustered_paired_difference(pt.a, pt.b, pt.category)
    assert "cluster-robust SE" in s.method and "clustered by task category" in s.why
    assert (s.estimate, s.ci_low, s.ci_high, s.p_value) == pytest.approx(
        (ref.estimate, ref.ci_low, ref.ci_high, ref.p_value)
    )


def test_missing_data_and_bad_arguments(tmp_path: Path) -> None:
    t = _trials(tmp_path, n_tasks=10, seed=4)
    unverified = t.assign(success=np.nan)
    s = compare_design(unverified, design="paired").iloc[0]
    assert s.n_tasks == 0 and math.isnan(s.p_value) and s.method.startswith("not computable")
    with pytest.raises(ValueError, match="design"):
        compare_design(t, design="crossover")
    with pytest.raises(ValueError, match="correction"):
        compare_design(t, design="paired", correction="sidak")
    with pytest.raises(ValueError, match="control arm"):
        compare_design(t, design="paired", control="nope")
    with pytest.raises(ValueError, match="no column"):
        compare_design(t, design="paired", metrics=("success", "tokens_per_joule"))
    assert compare_design(t[t.arm == "qwen"], design="paired").empty
    assert list(compare_design(t[t.arm == "qwen"], design="paired").columns) == EXPECTED_COLUMNS
