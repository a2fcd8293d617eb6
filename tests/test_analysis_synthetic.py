"""Synthetic run databases for the analysis tests (and a check of the builder itself).

``write_run`` creates ``<results>/<experiment>/<run_id>/harness.duckdb`` with the
real migrations and rows drawn from a seeded model: per-task difficulty shared
by the arms (so arms correlate per task, as real models do), arm skill,
log-normal cost and latency, some retried calls, some LLM errors and some calls
without usage. It is a generator of known truth, not a fixture of fixed numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from harness.store.migrations import migrate

__all__ = ["ArmSpec", "write_run"]


@dataclass(frozen=True)
class ArmSpec:
    model: str
    skill: float = 0.0  # logit shift of the success probability
    cost_usd: float = 0.002  # median cost per trial
    latency_ms: float = 800.0  # median latency per trial
    ttft_ms: float | None = 200.0
    llm_error_rate: float = 0.0  # trials whose every attempt failed
    retry_rate: float = 0.0  # trials with one failed attempt before success
    usage_missing_rate: float = 0.0


@dataclass
class _Run:
    trials: list[dict] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)


def write_run(
    results: Path,
    *,
    experiment: str = "ab_test",
    run_id: str = "run-1",
    arms: dict[str, ArmSpec] | None = None,
    n_tasks: int = 30,
    replicates: int = 1,
    design: str = "paired",
    simulated: bool = True,
    seed: int = 0,
    status: str = "completed",
    noise_sd: float = 0.25,
) -> Path:
    """Write one synthetic run; returns the run folder."""
    arms = arms or {
        "sonnet": ArmSpec("claude-3-5-sonnet", skill=1.0, cost_usd=0.01, latency_ms=1500),
        "qwen": ArmSpec("qwen-2-5-coder", skill=0.0, cost_usd=0.002, latency_ms=900),
    }
    rng = np.random.default_rng(seed)
    run_dir = results / experiment / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    difficulty = rng.normal(0.0, 1.5, n_tasks)
    size = rng.normal(0.0, 0.3, n_tasks)  # per-task prompt size: shared cost/latency effect
    names = list(arms)
    out = _Run()
    for t in range(n_tasks):
        task_id = f"T/{t:03d}"
        chosen = [names[t % len(names)]] if design == "split" else names
        for rep in range(replicates):
            for arm in chosen:
                spec = arms[arm]
                trial_id = f"{arm}/{task_id}/r{rep}"
                error = rng.random() < spec.llm_error_rate
                retried = rng.random() < spec.retry_rate
                p = 1 / (1 + np.exp(-(spec.skill - difficulty[t])))
                success = bool(rng.random() < p)
                cost = spec.cost_usd * float(np.exp(size[t] + rng.normal(0, noise_sd)))
                lat = spec.latency_ms * float(np.exp(size[t] + rng.normal(0, noise_sd)))
                ttft = (
                    None
                    if spec.ttft_ms is None
                    else spec.ttft_ms * float(np.exp(rng.normal(0, 0.2)))
                )
                attempts = 3 if error else (2 if retried else 1)
                for k in range(1, attempts + 1):
                    ok = not error and k == attempts
                    missing = ok and rng.random() < spec.usage_missing_rate
                    out.calls.append(
                        {
                            "call_id": f"{trial_id}/c{k}",
                            "run_id": run_id,
                            "trial_id": trial_id,
                            "turn": 1,
                            "attempt": k,
                            "provider": "sim",
                            "request_model": spec.model,
                            "response_model": spec.model if ok else None,
                            "portfolio_model": spec.model,
                            "stream": spec.ttft_ms is not None,
                            "status": "ok" if ok else "error",
                            "error_kind": None if ok else "rate_limit",
                            "http_status": 200 if ok else 429,
                            "input_tokens": None if (missing or not ok) else 300,
                            "output_tokens": None if (missing or not ok) else 120,
                            "cost_usd": cost if ok else None,
                            "latency_ms": lat if ok else 50.0,
                            "ttft_ms": ttft if ok else None,
                            "started_at": t0 + timedelta(seconds=len(out.calls)),
                        }
                    )
                out.trials.append(
                    {
                        "trial_id": trial_id,
                        "run_id": run_id,
                        "task_id": task_id,
                        "task_suite": "synthetic",
                        "task_category": ["simple", "debugging"][t % 2],
                        "arm": arm,
                        "router": "fixed",
                        "model": spec.model,
                        "replicate": rep,
                        "success": None if error else success,
                        "turns": 1,
                        "calls": attempts,
                        "input_tokens": None if error else 300,
                        "output_tokens": None if error else 120,
                        "cost_usd": None if error else cost,
                        "latency_ms": None if error else lat,
                        "ttft_ms": None if error else ttft,
                        "status": "llm_error" if error else "ok",
                        "error": "rate limited" if error else None,
                        "verifier_reason": None if error else ("passed" if success else "failed"),
                        "started_at": t0,
                        "finished_at": t0,
                    }
                )
    cfg = {
        "experiment_name": experiment,
        "question": "Which arm is better?",
        "replicates": replicates,
        "seed": seed,
        "arms": {a: {"model": s.model} for a, s in arms.items()},
        "design": {"kind": design},
        "tasks": {"name": "synthetic", "limit": n_tasks},
    }
    import yaml

    con = duckdb.connect(str(run_dir / "harness.duckdb"))
    try:
        migrate(con)
        con.execute(
            "INSERT INTO runs (run_id, experiment, design, config, endpoints_mode, simulated, "
            "git_commit, versions, seed, run_dir, started_at, finished_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                experiment,
                design,
                yaml.safe_dump(cfg, sort_keys=False),
                "sim" if simulated else "live",
                simulated,
                "abc1234",
                json.dumps({"python": "3.11"}),
                seed,
                str(run_dir),
                t0,
                t0 + timedelta(minutes=1),
                status,
            ],
        )
        for table, rows in (("trials", out.trials), ("calls", out.calls)):
            if rows:
                frame = pd.DataFrame(rows)  # noqa: F841 (read by DuckDB below)
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame")
    finally:
        con.close()
    return run_dir


def test_builder_writes_a_migrated_run(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, n_tasks=6, replicates=2)
    assert run_dir == tmp_path / "ab_test" / "run-1"
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM trials").fetchone() == (6 * 2 * 2,)
        assert con.execute("SELECT count(*) FROM calls").fetchone()[0] >= 24
        assert con.execute("SELECT simulated, endpoints_mode FROM runs").fetchone() == (True, "sim")
    finally:
        con.close()


def test_builder_split_design_gives_one_arm_per_task(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, n_tasks=8, design="split")
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    try:
        per_task = con.execute(
            "SELECT max(n) FROM (SELECT count(DISTINCT arm) n FROM trials GROUP BY task_id)"
        )
        assert per_task.fetchone() == (1,)
    finally:
        con.close()
