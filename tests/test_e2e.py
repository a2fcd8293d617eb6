"""End to end through the real stack: CLI/runner → client → HTTP → simulator → verifier → DuckDB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx2
import pytest

from tests.conftest import KEY_VARS, REPO, run_cli


def _sim_stats(url: str) -> dict:
    return httpx2.get(f"{url}/sim/stats", timeout=5).json()


@pytest.fixture(scope="module")
def sim():
    from harness.sim.process import SimProcess
    from harness.sim.settings import load_default_settings

    with SimProcess(load_default_settings()) as proc:
        yield proc


def _only_run_dir(results: Path, experiment: str = "ab_sonnet_vs_qwen") -> Path:
    runs = [p for p in (results / experiment).iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def test_run_end_to_end_calls_match_simulator(sim, tmp_path: Path) -> None:
    httpx2.post(f"{sim.url}/sim/reset", timeout=5)
    proc = run_cli(
        [
            "experiment=ab_sonnet_vs_qwen",
            "endpoints=sim",
            f"endpoints.url={sim.url}",
            "tasks=builtin",
            "tasks.limit=8",
            "replicates=2",
            f"results_dir={tmp_path}",
            "runner.progress=false",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = _only_run_dir(tmp_path)
    assert (run_dir / "report.md").exists()
    assert (run_dir / ".hydra" / "config.yaml").exists()
    assert list(run_dir.glob("*.png")), "figures are written next to the report"
    assert "SIMULATED" in (run_dir / "report.md").read_text().splitlines()[0].upper()

    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    run = con.execute(
        "SELECT run_id, status, simulated, endpoints_mode, experiment FROM runs"
    ).fetchall()
    assert run == [(run_dir.name, "completed", True, "sim", "ab_sonnet_vs_qwen")]
    n_trials, n_verified, n_ids = con.execute(
        "SELECT count(*), count(success), count(DISTINCT trial_id) FROM trials"
    ).fetchone()
    assert n_trials == n_ids == 8 * 2 * 2
    assert n_verified == n_trials, "every trial has a verifier outcome"
    n_calls = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    assert n_calls == _sim_stats(sim.url)["total"]
    # every trial's call count adds up to the calls table
    assert con.execute("SELECT sum(calls) FROM trials").fetchone()[0] == n_calls
    models = dict(con.execute("SELECT arm, any_value(model) FROM trials GROUP BY arm").fetchall())
    assert models == {"sonnet": "claude-3-5-sonnet", "qwen": "qwen-2-5-coder"}
    # costs are priced, tokens counted
    assert (
        con.execute("SELECT count(*) FROM calls WHERE status='ok' AND cost_usd IS NULL").fetchone()[
            0
        ]
        == 0
    )
    assert con.execute("SELECT min(input_tokens) FROM calls WHERE status='ok'").fetchone()[0] > 0


def test_live_without_keys_stops_before_any_call(tmp_path: Path) -> None:
    proc = run_cli(
        ["experiment=ab_sonnet_vs_qwen", "tasks.limit=2", f"results_dir={tmp_path}"], timeout=120
    )
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "ANTHROPIC_API_KEY" in lines[0] and "OPENROUTER_API_KEY" in lines[0]
    assert "endpoints=sim" in lines[0]
    assert not list(tmp_path.rglob("harness.duckdb")), "no run database: nothing was called"


def _start_run(tmp_path: Path, sim_url: str, extra: list[str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "experiment=ab_sonnet_vs_qwen",
            "endpoints=sim",
            f"endpoints.url={sim_url}",
            "tasks=humaneval",
            "tasks.limit=30",
            f"results_dir={tmp_path}",
            "runner.concurrency=2",
            "runner.progress=false",
            *extra,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_requests(url: str, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _sim_stats(url)["total"] < n:
        assert time.monotonic() < deadline, "run made no progress"
        time.sleep(0.1)


@pytest.fixture
def slow_sim():
    """A simulator slow enough that a run can be interrupted mid-way."""
    import dataclasses

    from harness.sim.process import SimProcess
    from harness.sim.settings import load_default_settings

    settings = dataclasses.replace(load_default_settings(), time_scale=0.3)
    with SimProcess(settings) as proc:
        yield proc


def _trial_counts(run_dir: Path) -> tuple[int, int, str]:
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    try:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT trial_id) FROM trials"
        ).fetchone()
        status = con.execute("SELECT status FROM runs").fetchone()[0]
    finally:
        con.close()
    return total, distinct, status


def test_resume_after_sigkill(slow_sim, sim, tmp_path: Path) -> None:
    proc = _start_run(tmp_path, slow_sim.url, [])
    _wait_for_requests(slow_sim.url, 6)
    time.sleep(0.6)  # let the writer flush a batch
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    run_dir = _only_run_dir(tmp_path)
    done, distinct, status = _trial_counts(run_dir)
    assert status == "running" and 0 < done < 60 and done == distinct

    # finish on a fast simulator: only the URL of a running one may change on resume
    resumed = run_cli(
        [f"resume={run_dir}", "endpoints=sim", f"endpoints.url={sim.url}", "runner.progress=false"]
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    total, distinct, status = _trial_counts(run_dir)
    assert (total, distinct, status) == (60, 60, "completed")
    # the second process ran only what was missing
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    con.close()


def test_ctrl_c_saves_and_marks_interrupted(slow_sim, tmp_path: Path) -> None:
    proc = _start_run(tmp_path, slow_sim.url, [])
    _wait_for_requests(slow_sim.url, 6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "resume=" in err and "Traceback" not in err
    run_dir = _only_run_dir(tmp_path)
    done, distinct, status = _trial_counts(run_dir)
    assert status == "interrupted" and done == distinct


def test_multirun_sweep_makes_one_folder_per_job(sim, tmp_path: Path) -> None:
    proc = run_cli(
        [
            "-m",
            "experiment=ab_sonnet_vs_qwen",
            "endpoints=sim",
            f"endpoints.url={sim.url}",
            "tasks=builtin",
            "tasks.limit=2",
            "seed=1,2",
            f"results_dir={tmp_path}",
            "runner.progress=false",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    dbs = sorted((tmp_path / "ab_sonnet_vs_qwen").glob("*/harness.duckdb"))
    assert len(dbs) == 2
    seeds = set()
    for db in dbs:
        con = duckdb.connect(str(db), read_only=True)
        seeds.add(con.execute("SELECT seed FROM runs").fetchone()[0])
        con.close()
    assert seeds == {1, 2}


def test_a_failed_sweep_job_does_not_sink_the_others(sim, tmp_path: Path) -> None:
    proc = run_cli(
        [
            "-m",
            "experiment=ab_sonnet_vs_qwen",
            "endpoints=sim",
            f"endpoints.url={sim.url}",
            "tasks=builtin",
            "tasks.limit=0,2",  # job 0 is invalid at run time, job 1 is fine
            f"results_dir={tmp_path}",
            "runner.progress=false",
        ]
    )
    assert proc.returncode == 2
    assert "harness: config error (job 0): tasks.limit must be >= 1" in proc.stderr
    assert "1 sweep job(s) failed" in proc.stderr
    assert len(list((tmp_path / "ab_sonnet_vs_qwen").glob("*/harness.duckdb"))) == 1


def test_a_one_arm_run_collects_trajectories_and_reports(sim, tmp_path: Path) -> None:
    # One arm is a legitimate experiment (collecting trajectories): nothing to
    # compare or monitor, but the run and its report must still work.
    proc = run_cli(
        [
            "experiment=bench_overhead",
            "endpoints=sim",
            f"endpoints.url={sim.url}",
            "tasks.limit=4",
            "verifier.enabled=true",
            "runner.report=true",
            f"results_dir={tmp_path}",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = _only_run_dir(tmp_path, "bench_overhead")
    assert (run_dir / "report.html").exists()
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    row = con.execute("SELECT count(success), any_value(arm) FROM trials").fetchone()
    assert row == (4, "qwen")
