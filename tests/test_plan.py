"""python -m harness.plan: sources of variance components, the table of tasks needed, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.frames import trials_frame
from harness.analysis.power import (
    components_from_probabilities,
    mde_paired,
    power_mcnemar,
    tasks_needed_paired,
    tasks_needed_split,
    variance_components,
)
from harness.errors import ConfigError
from harness.plan import make_plan, render_plan
from harness.store.reader import open_results
from tests.conftest import REPO
from tests.test_analysis_synthetic import write_run


def test_plan_from_simulator_profiles_is_the_power_module_on_the_true_probabilities(
    compose,
) -> None:
    from harness.runner import load_tasks
    from harness.sim.behaviour import probability
    from harness.sim.settings import settings_from_config

    cfg = compose(["experiment=ab_sonnet_vs_qwen", "tasks=builtin", "plan.mde=0.1"])
    plan = make_plan(cfg)
    assert plan.arms == ("sonnet", "qwen") and plan.design == "paired"
    assert "simulator profiles" in plan.source and "ASSUMPTION" in plan.source
    # Independently: the true per-task probabilities of the two profiles.
    settings = settings_from_config(cfg.sim, cfg.portfolio.models)
    tasks = load_tasks(__import__("omegaconf").OmegaConf.to_object(cfg))
    p_a = [probability(settings.profiles["claude-3-5-sonnet"], t) for t in tasks]
    p_b = [probability(settings.profiles["qwen-2-5-coder"], t) for t in tasks]
    truth = components_from_probabilities(p_a, p_b)
    assert plan.n_tasks == len(tasks) == 31
    sd = {"sd_between": truth["sd_between"], "sd_within": truth["sd_within"]}
    row = plan.needed.set_index("replicates").loc[3]
    assert row.tasks == tasks_needed_paired(0.1, replicates=3, **sd)
    assert row.trials == row.tasks * 3 * 2
    assert plan.mde_design == pytest.approx(mde_paired(31, replicates=1, **sd))
    # One replicate: the exact McNemar the report runs, planned at the same discordance.
    disc = float(np.mean(np.multiply(p_a, 1 - np.array(p_b)) + np.multiply(p_b, 1 - np.array(p_a))))
    m = plan.mcnemar
    assert m is not None and m["discordance"] == pytest.approx(disc)
    assert m["power"] == pytest.approx(power_mcnemar(31, (disc + 0.1) / 2, (disc - 0.1) / 2))
    assert m["tasks"] >= plan.needed.set_index("replicates").loc[1].tasks  # it is conservative
    text = render_plan(plan)
    assert "the report runs the exact McNemar test" in text
    assert "tasks needed to detect 0.1" in text and "← configured" in text
    assert "configured design: 31 tasks × 1 replicate(s)" in text


def test_plan_from_assumed_rates_split_design(compose) -> None:
    cfg = compose(
        [
            "experiment=ab_sonnet_vs_qwen",
            "design.kind=split",
            "plan.rates=[0.8,0.7]",
            "plan.icc=1.0",
            "plan.replicates=[1]",
        ]
    )
    plan = make_plan(cfg)
    # icc = 1: all variance between tasks; per arm pooled variance (.8·.2 + .7·.3) / 2 = 0.185.
    sd_b = np.sqrt(0.185)
    assert plan.components["sd_between_used"] == pytest.approx(sd_b)
    assert plan.needed.tasks.tolist() == [tasks_needed_split(0.05, sd_between=sd_b)]
    with pytest.raises(ConfigError, match="two rates"):
        make_plan(compose(["experiment=ab_sonnet_vs_qwen", "plan.rates=[0.8]"]))


def test_plan_from_a_pilot_run(compose, tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, experiment="ab_sonnet_vs_qwen", n_tasks=30, replicates=3)
    cfg = compose(["experiment=ab_sonnet_vs_qwen", f"plan.pilot={run_dir}"])
    plan = make_plan(cfg)
    assert plan.source.startswith("pilot run run-1 (30 tasks × 3 replicate(s), paired)")
    con = open_results(run_dir)
    try:
        vc = variance_components(trials_frame(con), "sonnet", "qwen")
    finally:
        con.close()
    assert plan.components["sd_within_used"] == pytest.approx(vc["sd_within"])
    assert plan.components["sd_between_used"] == pytest.approx(vc["sd_between"])
    # One replicate: within-task variance unknown, said so.
    one = write_run(tmp_path / "one", experiment="ab_sonnet_vs_qwen", n_tasks=20)
    plan1 = make_plan(compose(["experiment=ab_sonnet_vs_qwen", f"plan.pilot={one}"]))
    assert any("one replicate" in n for n in plan1.notes)
    with pytest.raises(ConfigError, match=r"plan\.arms"):
        make_plan(compose(["experiment=ab_sonnet_vs_qwen", f"plan.pilot={one}", "plan.arms=[x,y]"]))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.plan", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


@pytest.mark.slow
def test_cli_prints_the_plan_and_fails_in_one_line() -> None:
    ok = _cli("experiment=ab_sonnet_vs_qwen", "tasks.limit=40", "plan.mde=0.08")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "plan: ab_sonnet_vs_qwen — sonnet vs qwen, paired design" in ok.stdout
    assert "configured design: 40 tasks × 1 replicate(s) → MDE" in ok.stdout
    bad = _cli("experiment=ab_sonnet_vs_qwen", "plan.mde=2")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "harness.plan: config error: plan.mde must be in (0, 1), got 2.0"
