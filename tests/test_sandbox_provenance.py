"""A run records which sandbox ran the model's code; unsafe_local is flagged; none is a stop.

Real runs against the simulator (a few HumanEval tasks), real DuckDB files, real reports.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from harness.errors import ConfigError, SandboxUnavailableError
from harness.runner import run_experiment
from harness.sandbox import backends

BASE = [
    "experiment=ab_sonnet_vs_qwen",
    "endpoints=sim",
    "runner.progress=false",
    "tasks.limit=3",
    "sim.time_scale=0.002",
]


def _run(compose, tmp_path: Path, name: str, *extra: str) -> tuple[Path, str]:
    cfg = compose([*BASE, f"results_dir={tmp_path}", *extra])
    run_dir = tmp_path / name
    run_experiment(cfg, run_dir=run_dir)
    with duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True) as con:
        (sandbox,) = con.execute("SELECT sandbox FROM runs").fetchone()
        (n,) = con.execute("SELECT count(*) FROM trials WHERE success IS NOT NULL").fetchone()
    assert n == 6  # every trial verified
    return run_dir, sandbox


@pytest.mark.parametrize("backend", ["bwrap", "unshare"])
def test_the_backend_is_recorded_and_shown(compose, tmp_path, backend) -> None:
    run_dir, sandbox = _run(compose, tmp_path, backend, f"verifier.sandbox={backend}")
    assert sandbox.startswith(f"{backend} (")
    mode = "own uid per sandbox" if os.geteuid() == 0 else "user namespace"
    assert sandbox.endswith(mode)
    report = (run_dir / "report.md").read_text()
    assert sandbox in report and "UNSAFE" not in report


def test_auto_records_the_backend_it_chose(compose, tmp_path) -> None:
    _, sandbox = _run(compose, tmp_path, "auto")
    chosen = backends.resolve_backend("auto")
    assert chosen.isolated and sandbox.startswith(chosen.name)


def test_unsafe_local_is_flagged_on_every_report(compose, tmp_path) -> None:
    run_dir, sandbox = _run(compose, tmp_path, "unsafe", "verifier.sandbox=unsafe_local")
    assert sandbox.startswith("unsafe_local")
    md = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    assert md.lstrip("> ").startswith("UNSAFE SANDBOX")
    assert "UNSAFE SANDBOX" in html.split("<h1", 1)[0]  # above the title


def test_no_working_backend_stops_before_the_first_call(compose, tmp_path, monkeypatch) -> None:
    # Hide every sandbox program: auto must stop with one line, not fall back to unsafe_local.
    monkeypatch.setattr(backends, "_which", lambda name: None)
    backends._probe.cache_clear()
    try:
        cfg = compose([*BASE, f"results_dir={tmp_path}"])
        with pytest.raises(SandboxUnavailableError) as err:
            run_experiment(cfg, run_dir=tmp_path / "none")
    finally:
        backends._probe.cache_clear()
    message = str(err.value)
    assert "\n" not in message and "bubblewrap" in message and "unsafe_local" in message
    assert not (tmp_path / "none" / "harness.duckdb").exists()  # nothing ran, nothing stored


def test_an_unknown_backend_is_a_config_error(compose, tmp_path) -> None:
    cfg = compose([*BASE, f"results_dir={tmp_path}", "verifier.sandbox=docker"])
    with pytest.raises(ConfigError, match=r"verifier\.sandbox must be one of"):
        run_experiment(cfg, run_dir=tmp_path / "bad")
