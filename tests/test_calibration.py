"""Calibration on the simulator's ground truth (harness.calibration), at reduced size.

The full-size figures (1000 experiments) are in experiments/aa_calibration/README.md with the
commands that produced them; these tests check the machinery and, loosely, the same claims.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.sequential import Monitor
from harness.calibration import (
    _Drawer,
    _monitor_p,
    _specs,
    _typed,
    calibrate,
    ground_truth,
    run_calibration,
    simulate_trials,
)
from harness.errors import ConfigError
from tests.conftest import run_cli

SMALL = ["tasks=builtin", "replicates=2", "runner.progress=false"]


def test_ground_truth_of_the_two_experiments(compose) -> None:
    aa = ground_truth(compose(["experiment=aa_calibration"]))
    assert aa.aa and aa.effect == 0.0 and aa.profiles == ("twin_a", "twin_b")
    assert len(aa.tasks) == 164 and aa.replicates == 3
    assert aa.planned_power == pytest.approx(0.05)
    ke = ground_truth(compose(["experiment=known_effect"]))
    assert not ke.aa
    assert np.all(ke.p_a > ke.p_b)  # the better profile is better on every task
    assert ke.effect == pytest.approx(0.0765, abs=5e-4)  # the value its YAML comment states
    assert ke.planned_power == pytest.approx(0.82, abs=0.005)


def test_same_profile_or_live_endpoints_are_refused(compose, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="identical"):
        ground_truth(
            compose(["experiment=aa_calibration", "portfolio.models.sim-twin-b.sim_profile=twin_a"])
        )
    with pytest.raises(ConfigError, match="endpoints=sim"):
        run_calibration(compose(["experiment=aa_calibration", "endpoints=live"]), tmp_path)


@pytest.mark.slow
def test_aa_false_positive_rate_at_reduced_size(compose) -> None:
    res = calibrate(compose(["experiment=aa_calibration", *SMALL]), experiments=200)
    assert len(res.experiments) == 200 and res.experiments["seed"].is_unique
    fpr = res.summary.iloc[0]
    assert fpr.check == "false-positive rate" and "paired t" in fpr.test
    assert fpr.ci_low <= 0.05 <= fpr.ci_high
    assert res.experiments["true_effect"].eq(0.0).all()
    mon = res.summary[res.summary.test == "mSPRT monitor"].iloc[0]
    assert mon.rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 200)
    assert "A/A (identical profiles)" in res.report_text


@pytest.mark.slow
def test_known_effect_power_matches_plan_at_reduced_size(compose) -> None:
    res = calibrate(compose(["experiment=known_effect", *SMALL]), experiments=150)
    power = res.summary.iloc[0]
    assert power.check == "power (vs planned)"
    # 150 experiments: sd of the empirical rate ≤ 0.041; allow 3 sd.
    assert abs(power.rate - res.truth.planned_power) <= 3 * 0.041
    est = res.experiments["estimate"]
    assert est.mean() == pytest.approx(res.truth.effect, abs=3 * est.std() / math.sqrt(150))


def test_split_design_rerandomises_tasks(compose) -> None:
    cfg = _typed(compose(["experiment=aa_calibration", *SMALL, "design.kind=split"]))
    truth = ground_truth(cfg)
    t0, t1 = simulate_trials(cfg, truth, 0), simulate_trials(cfg, truth, 1)
    arm_of = [t.groupby("task_id")["arm"].first() for t in (t0, t1)]
    assert (arm_of[0] != arm_of[1]).any(), "each experiment draws its own assignment"
    res = calibrate(cfg, experiments=20)
    assert "Fisher" in res.summary.iloc[0].test or "Welch" in res.summary.iloc[0].test


def test_vectorised_monitor_is_the_monitor_class(compose) -> None:
    cfg = _typed(compose(["experiment=known_effect", *SMALL]))
    truth = ground_truth(cfg)
    trials = simulate_trials(cfg, truth, 3)
    p_vec = _monitor_p(trials, truth, np.random.default_rng(9))
    # Same pair order as _monitor_p draws, fed row by row through Monitor.
    wide = trials.pivot_table(index=["task_id", "replicate"], columns="arm", values="success")
    order = np.random.default_rng(9).permutation(len(wide))
    mon = Monitor("better", "base", tau=0.1)
    for (task, rep), row in wide.iloc[order].iterrows():
        mon.update({"arm": "better", "task_id": task, "replicate": rep, "success": row["better"]})
        mon.update({"arm": "base", "task_id": task, "replicate": rep, "success": row["base"]})
    assert mon.p_value == pytest.approx(p_vec, rel=1e-12)


@pytest.mark.slow
def test_in_process_draws_match_the_real_stack(compose, tmp_path: Path) -> None:
    # One arm over the OpenAI protocol, the other over Anthropic's: each carries the
    # replicate differently (seed vs metadata.user_id) and the draws must follow.
    cfg = compose(
        [
            "experiment=known_effect",
            "tasks=builtin",
            "tasks.limit=6",
            "replicates=2",
            "portfolio.models.sim-base.protocol=anthropic",
            "calibration.experiments=2",
            "calibration.through_http=true",
            "calibration.http_experiments=1",
            "runner.progress=false",
            "sim.time_scale=0.01",
            # The long_files references exceed 1024 tokens: a cut answer fails whatever the
            # draw (the in-process model has no max_tokens), so give room for whole answers.
            "runner.max_tokens=16384",
        ]
    )
    res = run_calibration(cfg, tmp_path)
    http = res.http
    assert http is not None and len(http) == 1
    row = http.iloc[0]
    assert row.trials == row.matched == 6 * 2 * 2
    assert row.verified_fail_drawn_right == 0, "a correct draw is the reference: it passes"
    assert row.agree == row.matched - row.verified_pass_drawn_wrong
    assert row.verified_pass_drawn_wrong <= 1  # a mutant that passes the hidden tests is rare
    assert (tmp_path / "report.md").read_text().count("Through the real stack") == 1
    assert pd.read_csv(tmp_path / "calibration_http.csv").shape[0] == 1


@pytest.mark.slow
def test_cli_runs_a_calibration(tmp_path: Path) -> None:
    proc = run_cli(
        [
            "experiment=aa_calibration",
            "endpoints=sim",
            "tasks=builtin",
            "calibration.experiments=25",
            "runner.progress=false",
            f"results_dir={tmp_path}",
        ],
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "false-positive rate" in proc.stdout and "run folder:" in proc.stdout
    (run_dir,) = (tmp_path / "aa_calibration").iterdir()
    assert (run_dir / "report.md").read_text().startswith("# Calibration: aa_calibration")
    exp = pd.read_csv(run_dir / "calibration_experiments.csv")
    assert len(exp) == 25 and {"p_value", "ci_low", "ci_high", "covered"} <= set(exp.columns)


def test_drawer_is_the_simulator_draw(compose) -> None:
    # The in-process draw is Behaviour.draw with the run's seed and the wire's variation.
    from harness.agents.single_shot import replicate_seed
    from harness.sim.behaviour import Behaviour
    from harness.sim.recognise import TaskIndex
    from harness.sim.settings import settings_from_config

    cfg = _typed(compose(["experiment=known_effect", *SMALL]))
    truth = ground_truth(cfg)
    specs = _specs(cfg, truth, 0)[:10]
    got = _Drawer(cfg, truth).draws(42, specs)
    settings = settings_from_config(cfg.sim, cfg.portfolio.models)
    import dataclasses

    beh = Behaviour(dataclasses.replace(settings, seed=42), TaskIndex(truth.tasks))
    want = [
        beh.draw(
            s.arm,
            settings.profiles[s.arm],
            s.task,
            str(replicate_seed(42, s.replicate)),
        ).correct
        for s in specs
    ]
    assert got == want
