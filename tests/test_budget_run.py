"""Budgets hold in real runs: 256 concurrent trials against the simulator, caps hit mid-run.

Claude 3 Opus and GPT-4 Turbo on 120 HumanEval tasks cost about $3 for the
240 trials uncapped (genai-prices list prices, simulated usage: ~$0.012 a
trial), so caps of $1–2 stop every run part-way with up to 256 calls in flight.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from omegaconf import OmegaConf

from harness.runner import run_experiment

FAST = [
    "experiment=ab_sonnet_vs_qwen",
    "endpoints=sim",
    "verifier.enabled=false",
    "runner.progress=false",
    "runner.report=false",
    "runner.concurrency=256",
    "tasks.limit=120",
    "sim.time_scale=0.002",
    "arms.sonnet.model=claude-3-opus",
    "arms.qwen.model=gpt-4-turbo",
]


def _run(compose, results: Path, name: str, *extra: str):
    cfg = compose([*FAST, f"results_dir={results}", *extra])
    run_dir = results / "budget" / name
    summary = run_experiment(cfg, run_dir=run_dir)
    return cfg, run_dir, summary


def _db(run_dir: Path) -> tuple[float, int, int, tuple]:
    with duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True) as con:
        (spent,) = con.execute("SELECT coalesce(sum(cost_usd), 0) FROM calls").fetchone()
        (n_trials,) = con.execute("SELECT count(*) FROM trials").fetchone()
        (orphans,) = con.execute(
            "SELECT count(*) FROM trials t WHERE NOT EXISTS "
            "(SELECT 1 FROM calls c WHERE c.trial_id = t.trial_id)"
        ).fetchone()
        run = con.execute("SELECT status, stop_reason FROM runs").fetchone()
    return float(spent), int(n_trials), int(orphans), run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_run_cap_never_overshot_at_concurrency_256(compose, tmp_path, seed) -> None:
    cap = 1.5
    _, run_dir, summary = _run(
        compose, tmp_path, f"s{seed}", f"seed={seed}", f"budget.run_usd={cap}"
    )
    spent, n_trials, orphans, (status, reason) = _db(run_dir)
    assert summary.status == status == "budget_stopped"
    assert 0.5 * cap < spent <= cap  # stopped mid-run, never past the cap
    assert 0 < n_trials < summary.trials_total
    assert orphans == 0  # refused trials are not stored: resume runs them
    assert "run cap $1.50 reached" in reason and "resume=" in reason
    assert summary.notes.get("budget") == "budget run 100%"


def test_daily_cap_holds_across_consecutive_runs(compose, tmp_path) -> None:
    cap = 2.0
    _, d1, _ = _run(compose, tmp_path, "day1", f"budget.daily_usd={cap}")
    _, d2, s2 = _run(compose, tmp_path, "day2", f"budget.daily_usd={cap}", "seed=5")
    spent1, n1, _, (st1, _) = _db(d1)
    spent2, n2, _, (st2, reason2) = _db(d2)
    assert st1 == st2 == "budget_stopped"
    assert spent1 + spent2 <= cap
    assert n1 > 0 and s2.trials_done == n2
    assert "day cap $2.00 reached" in reason2


def test_cancel_at_cap_then_resume_under_a_higher_cap(compose, tmp_path) -> None:
    cfg, run_dir, s = _run(
        compose, tmp_path, "cancel", "tasks.limit=40", "budget.run_usd=0.5", "budget.on_cap=cancel"
    )
    spent, n_trials, orphans, (status, _) = _db(run_dir)
    assert status == "budget_stopped" and spent <= 0.5 and orphans == 0
    # Resume with a higher cap: only the trials without a row run, and the run completes.
    (run_dir / ".hydra").mkdir()
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    resumed = run_experiment(
        compose([*FAST, f"results_dir={tmp_path}", f"resume={run_dir}", "budget.run_usd=10"])
    )
    spent, n_trials, orphans, (status, reason) = _db(run_dir)
    assert resumed.status == status == "completed" and reason is None
    assert n_trials == resumed.trials_total and resumed.trials_skipped == s.trials_done
    assert spent <= 10
