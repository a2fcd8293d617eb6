"""The monitor inside a real run: progress postfix, early stop, replay from the stored trials."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from harness.analysis.frames import trials_frame
from harness.analysis.sequential import monitor_from_trials
from harness.runner import run_experiment
from harness.store.reader import open_results

pytestmark = pytest.mark.slow  # real simulator, verifier and DuckDB

# Arms far apart so a handful of discordant tasks is overwhelming evidence; a wide mixing
# prior (τ = 0.3) reaches p < 0.05 after ~6 pairs all won by one arm.
_FAR_APART = [
    "experiment=known_effect",
    "kind=ab",
    "replicates=1",
    "tasks.limit=40",
    "sim.profiles.better.skill=8",
    "sim.profiles.base.skill=-8",
    "sim.time_scale=0.01",
    "runner.concurrency=2",
    "runner.progress=false",
    "runner.report=false",
    "monitor.tau=0.3",
]


def test_early_stop_ends_the_run_with_its_reason(compose, tmp_path: Path) -> None:
    cfg = compose([*_FAR_APART, "monitor.early_stop=true"])
    summary = run_experiment(cfg, run_dir=tmp_path / "run")
    assert summary.status == "early_stopped"
    assert "monitor" in summary.notes and "p=" in summary.notes["monitor"]
    con = duckdb.connect(str(tmp_path / "run" / "harness.duckdb"), read_only=True)
    try:
        status, reason = con.execute("SELECT status, stop_reason FROM runs").fetchone()
        n_trials = con.execute("SELECT count(*) FROM trials").fetchone()[0]
    finally:
        con.close()
    assert status == "early_stopped"
    assert "always-valid p" in reason and "better vs base" in reason
    assert n_trials < 80, "the stop left trials unrun"
    # The stored trials replay to the same decision.
    con = open_results(tmp_path / "run")
    try:
        replay = monitor_from_trials(trials_frame(con), "better", "base", tau=0.3)
    finally:
        con.close()
    assert replay.p_value < 0.05


def test_without_early_stop_the_run_completes(compose, tmp_path: Path) -> None:
    cfg = compose([*_FAR_APART, "tasks.limit=10"])
    summary = run_experiment(cfg, run_dir=tmp_path / "run")
    assert summary.status == "completed"
    assert summary.trials_done == 20
    assert summary.notes["monitor"].startswith("mSPRT better−base p=")
