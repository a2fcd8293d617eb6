"""The replicates rule in the report: replicates are averaged per task before any test.

The run is built so that the two readings disagree. 12 tasks × 10 replicates, two
arms: arm ``a`` solves tasks 0–2 on every replicate, and otherwise both arms fail
everything. Per task the difference is 1 on three tasks and 0 on nine: a paired t
on those 12 differences gives p ≈ 0.08 (not significant). Treating the 120
(task, replicate) pairs as tasks gives 30 discordant pairs all one way: exact
McNemar p = 2·0.5³⁰ ≈ 2e-9. The report must show the per-task numbers, and warn
that the naive reading would change the answer.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy import stats

from harness.analysis.report import build_report
from tests.test_analysis_synthetic import ArmSpec, write_run

N_TASKS, REPS, WON = 12, 10, ("T/000", "T/001", "T/002")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    run_dir = write_run(
        tmp_path_factory.mktemp("reps"),
        arms={"a": ArmSpec("m-a"), "b": ArmSpec("m-b")},
        n_tasks=N_TASKS,
        replicates=REPS,
        seed=9,
    )
    con = duckdb.connect(str(run_dir / "harness.duckdb"))
    try:
        con.execute(
            "UPDATE trials SET success = (arm = 'a' AND task_id IN (?, ?, ?)), "
            "status = 'ok', verifier_reason = 'failed'",
            list(WON),
        )
        per_task = con.execute(
            "SELECT task_id, avg(success::INT) FILTER (WHERE arm = 'a') "
            "- avg(success::INT) FILTER (WHERE arm = 'b') FROM trials GROUP BY task_id"
        ).fetchall()
        rep = build_report(con, "run-1")
    finally:
        con.close()
    return rep, np.array([d for _, d in per_task], dtype=float)


def test_comparison_uses_per_task_means_not_replicates(report) -> None:
    rep, diffs = report
    assert diffs.size == N_TASKS and sorted(diffs)[-3:] == [1.0, 1.0, 1.0]
    expected = stats.ttest_1samp(diffs, 0.0)  # the per-task analysis, computed here
    assert expected.pvalue == pytest.approx(0.0823, abs=5e-4)  # not significant at 0.05
    row = rep.tables["comparison"].query("metric == 'success'").iloc[0]
    assert (row.arm_a, row.arm_b) == ("a", "b")
    assert row.n_tasks == N_TASKS  # tasks, not 120 trials
    assert row.estimate == pytest.approx(diffs.mean()) == pytest.approx(0.25)
    assert "t" in row.method.lower().split()  # a t test on per-task differences
    assert row.p_value == pytest.approx(expected.pvalue, rel=1e-6)
    md = rep.markdown
    assert "over 12 tasks: a difference of +25.0 points" in md
    assert "not significant at the 0.05 level" in md.split("## Reading")[1]


def test_report_warns_that_replicates_as_tasks_would_flip_it(report) -> None:
    rep, _ = report
    naive = rep.tables["replicates_as_tasks"].iloc[0]
    assert naive.n_units_naive == N_TASKS * REPS
    assert naive.p_replicates_as_tasks == pytest.approx(2 * 0.5**30)
    assert bool(naive.changes_answer)
    warning = next(w for w in rep.warnings if w.startswith("Replicates as tasks"))
    assert "per task (12 tasks" in warning and "not significant" in warning
    assert "120 replicates" in warning and "would give p = <0.001, significant" in warning
    assert "replicates | 10" in rep.markdown


def test_no_warning_when_both_readings_agree(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, n_tasks=10, replicates=2, seed=3)
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    try:
        rep = build_report(con, "run-1")
    finally:
        con.close()
    table = rep.tables["replicates_as_tasks"]
    assert len(table) == 1 and table["n_units_naive"].iloc[0] == 20
    assert not table["changes_answer"].iloc[0]
    assert not [w for w in rep.warnings if w.startswith("Replicates as tasks")]
