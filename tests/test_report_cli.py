"""python -m harness.report: one run, a sweep folder with a cross-run report, clear errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.report import main, rebuild
from tests.conftest import REPO
from tests.test_analysis_synthetic import ArmSpec, write_run
from tests.test_report_html import assert_self_contained

ARMS = {"sonnet": ArmSpec("claude-3-5-sonnet", skill=1.0), "qwen": ArmSpec("qwen-2-5-coder")}


def test_one_run_rebuilt_in_place_and_to_out(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, arms=ARMS, n_tasks=8, seed=1)
    written = rebuild(run_dir, dpi=50)
    assert written == [run_dir / "report.md"]
    assert (run_dir / "report.html").exists() and (run_dir / "cost_quality.png").exists()
    out = tmp_path / "elsewhere"
    assert rebuild(run_dir / "harness.duckdb", out, dpi=50) == [out / "report.md"]
    assert (out / "report.md").read_text() == (run_dir / "report.md").read_text()
    assert not (tmp_path / "report.md").exists()  # one run: no cross-run report


def test_sweep_folder_gets_each_run_and_a_cross_run_report(tmp_path: Path) -> None:
    # A sweep's members: results/<experiment>/<run_id>_<job>/ with one swept key.
    for job, reps in enumerate((1, 2)):
        write_run(tmp_path, arms=ARMS, run_id=f"sweep_{job}", n_tasks=6, replicates=reps, seed=job)
    folder = tmp_path / "ab_test"
    out = tmp_path / "out"
    written = rebuild(folder, out, dpi=50)
    assert written == [
        out / "sweep_0" / "report.md",
        out / "sweep_1" / "report.md",
        out / "report.md",
    ]
    md = (out / "report.md").read_text()
    assert md.splitlines()[0].startswith("> SIMULATED runs")
    assert "## Arms side by side" in md and "## Per run" in md
    # One row per run × arm, with the swept key as a column.
    rows = [line for line in md.splitlines() if re.match(r"\| sweep_\d \| (sonnet|qwen) \|", line)]
    assert len(rows) == 4
    assert "`replicates`" in md and "`seed`" in md
    assert "[sweep_0: report.html](sweep_0/report.html)" in md
    page = (out / "report.html").read_text()
    p = assert_self_contained(page)
    assert {"runs", "arms-side-by-side", "per-run"} <= set(p.sections)
    hrefs = [a["href"] for t, a in p.tags if t == "a" and not a["href"].startswith("#")]
    assert hrefs and all((out / h).exists() for h in hrefs)
    # Without --out the run reports go next to their databases, the cross report in the folder.
    rebuild(folder, dpi=50)
    assert (folder / "report.html").exists() and (folder / "sweep_1" / "report.html").exists()


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"harness.report: error: {tmp_path / 'missing'} does not exist"
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no runs under" in err and "empty" in err
    assert main([str(tmp_path), "--alpha", "2"]) == 1
    assert "--alpha" in capsys.readouterr().err


def test_module_entry_point(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, arms=ARMS, n_tasks=5, seed=2)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.report",
            str(run_dir),
            "--out",
            str(tmp_path / "o"),
            "--dpi",
            "50",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "o" / "report.html")


def test_a_run_still_being_written_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = write_run(tmp_path, arms=ARMS, n_tasks=3, seed=3)
    # Another process holds the database for writing, as a running experiment does.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(run_dir / 'harness.duckdb')!r})\n"
            "print('open', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        assert main([str(run_dir)]) == 1
    finally:
        holder.kill()
        holder.wait(timeout=10)
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("harness.report: error: cannot open")
    assert "is that run still going?" in err
