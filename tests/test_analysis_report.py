"""The end-of-run report on real run databases: content, first line, files, laziness."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from harness.analysis.report import SIMULATED_BANNER, build_report, write_report
from tests.conftest import REPO
from tests.test_analysis_synthetic import ArmSpec, write_run

ARMS = {
    "sonnet": ArmSpec("claude-3-5-sonnet", skill=2.5, cost_usd=0.01, llm_error_rate=0.05),
    "qwen": ArmSpec(
        "qwen-2-5-coder", skill=-1.0, cost_usd=0.002, retry_rate=0.2, usage_missing_rate=0.1
    ),
}


def _report(run_dir: Path, run_id: str = "run-1"):
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    try:
        return build_report(con, run_id)
    finally:
        con.close()


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("rep"), arms=ARMS, n_tasks=60, seed=12)


def test_simulated_report_content_and_files(sim_run: Path, tmp_path: Path) -> None:
    rep = _report(sim_run)
    assert rep.simulated
    assert rep.markdown.splitlines()[0] == f"> {SIMULATED_BANNER}"
    assert rep.console.splitlines()[0] == SIMULATED_BANNER
    md = rep.markdown
    for needle in ("experiment | ab_test", "design | paired", "seed | 12", "replicates | 1"):
        assert needle in md
    assert "status | completed" in md and "git commit | abc1234" in md
    assert "## Per arm" in md and "## Comparison (paired design)" in md
    assert "McNemar" in md and "Newcombe square-and-add" in md
    # sonnet is far better in the synthetic truth: the reading must say so, and why.
    assert "sonnet is better on success, significant at the 0.05 level" in md
    assert re.search(r"sonnet's cost per trial was \d\.\d\d× qwen's", md)
    assert "simulator" in md.split("## Reading")[1]
    assert {"arms", "comparison", "errors", "categories", "category_model"} <= set(rep.tables)
    assert list(rep.tables["arms"].index) == ["sonnet", "qwen"]  # config order, not sorted
    path = write_report(rep, tmp_path)
    assert path == tmp_path / "report.md" and path.read_text() == md
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert set(refs) == {f"{name}.png" for name in rep.figures} and len(refs) >= 2
    for ref in refs:
        assert (tmp_path / ref).read_bytes().startswith(b"\x89PNG")


def test_error_and_usage_counts_match_sql(sim_run: Path) -> None:
    errors = _report(sim_run).tables["errors"]
    con = duckdb.connect(str(sim_run / "harness.duckdb"), read_only=True)
    try:
        for arm in ("sonnet", "qwen"):
            llm_error, unverified = con.execute(
                "SELECT count(*) FILTER (WHERE status = 'llm_error'), count(*) - count(success) "
                "FROM trials WHERE arm = ?",
                [arm],
            ).fetchone()
            failed, retries, usage_missing = con.execute(
                "SELECT count(*) FILTER (WHERE c.status <> 'ok'), "
                "count(*) FILTER (WHERE attempt > 1), "
                "count(*) FILTER (WHERE c.status = 'ok' AND (c.input_tokens IS NULL "
                "OR c.output_tokens IS NULL)) "
                "FROM calls c JOIN trials t USING (trial_id) WHERE t.arm = ?",
                [arm],
            ).fetchone()
            row = errors.loc[arm]
            assert (row.llm_error, row.unverified) == (llm_error, unverified)
            assert (row.failed_calls, row.retries, row.usage_missing) == (
                failed,
                retries,
                usage_missing,
            )
    finally:
        con.close()
    assert errors.loc["qwen", "usage_missing"] > 0 and errors.loc["sonnet", "llm_error"] > 0


def test_live_run_has_no_simulated_banner_and_aa_reads_not_significant(tmp_path: Path) -> None:
    same = {"x": ArmSpec("m"), "y": ArmSpec("m")}
    rep = _report(write_run(tmp_path, arms=same, n_tasks=40, seed=2, simulated=False))
    assert not rep.simulated
    assert rep.markdown.splitlines()[0] == "# Report: ab_test / run-1"
    assert "SIMULATED" not in rep.markdown and "SIMULATED" not in rep.console
    assert "not significant at the 0.05 level" in rep.markdown


def test_replicates_report_names_the_paired_t(tmp_path: Path) -> None:
    rep = _report(write_run(tmp_path, n_tasks=20, replicates=3, seed=5))
    assert "replicates | 3" in rep.markdown
    assert re.search(r"paired t (on|\(per-task)", rep.markdown)
    assert "t on per-task means (tasks as clusters)" in rep.markdown


def test_edge_runs_interrupted_empty_single_arm_unknown(tmp_path: Path) -> None:
    rep = _report(write_run(tmp_path / "i", n_tasks=6, status="interrupted"))
    assert "Run status is 'interrupted'" in rep.markdown
    empty = _report(write_run(tmp_path / "e", n_tasks=0))
    assert "No trials recorded." in empty.markdown and not empty.figures
    assert empty.markdown.splitlines()[0].startswith("> SIMULATED")
    assert write_report(empty, tmp_path / "e_out").exists()
    single = _report(write_run(tmp_path / "s", arms={"only": ArmSpec("m")}, n_tasks=5))
    assert "## Comparison" not in single.markdown and "## Per arm" in single.markdown
    with pytest.raises(ValueError, match="no run"):
        _report(tmp_path / "s" / "ab_test" / "run-1", run_id="missing")


def test_verifier_off_reports_cost_and_latency_without_success(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, n_tasks=5)
    con = duckdb.connect(str(run_dir / "harness.duckdb"))
    try:
        con.execute("UPDATE trials SET success = NULL, verifier_reason = 'skipped'")
        rep = build_report(con, "run-1")
    finally:
        con.close()
    assert "Success could not be compared" in rep.markdown
    assert rep.tables["arms"]["n_unverified"].tolist() == [5, 5]
    cost = rep.tables["comparison"].set_index("metric").loc["cost_usd"]
    assert cost.n_tasks == 5 and cost.estimate > 1
    write_report(rep, tmp_path / "out")  # an empty success axis still renders


def test_report_through_open_results_like_the_runner(sim_run: Path, tmp_path: Path) -> None:
    reader = pytest.importorskip("harness.store.reader")
    con = reader.open_results(sim_run)
    try:
        rep = build_report(con, "run-1")
    finally:
        con.close()
    assert rep.markdown == _report(sim_run).markdown


def test_importing_analysis_is_lazy_and_report_avoids_pyplot() -> None:
    code = (
        "import sys, harness.analysis as ha\n"
        "heavy = [m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "ha.wilson_ci(1, 2)\n"
        "assert 'matplotlib' not in sys.modules\n"
        "assert callable(ha.build_report) and 'open_results' in dir(ha)\n"
        "import harness.analysis.report, harness.analysis.plots\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "try:\n    ha.nope\nexcept AttributeError:\n    pass\n"
        "else:\n    raise SystemExit('no error')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
