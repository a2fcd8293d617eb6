"""open_results combines every run database under a folder into one set of views."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import harness.store
from harness.errors import HarnessError
from harness.store import DB_FILENAME, StoreWriter, list_run_dbs, open_results


def make_run(folder: Path, run_id: str, n_trials: int, arm: str) -> Path:
    folder.mkdir(parents=True)
    path = folder / DB_FILENAME
    with StoreWriter(path) as w:
        w.start_run({"run_id": run_id, "experiment": "ab", "started_at": datetime.now(UTC)})
        for i in range(n_trials):
            tid = f"{arm}/t{i}/r0"
            w.add_call({"call_id": f"{run_id}-{i}", "run_id": run_id, "trial_id": tid})
            w.add_trial(
                {
                    "trial_id": tid,
                    "run_id": run_id,
                    "task_id": f"t{i}",
                    "arm": arm,
                    "replicate": 0,
                    "success": i % 2 == 0,
                }
            )
        w.update_run(run_id, status="completed")
    return path


def test_two_runs_in_a_results_folder_combine(tmp_path: Path) -> None:
    results = tmp_path / "results"
    a = make_run(results / "ab" / "2025-01-01_run-a", "run-a", 3, "sonnet")
    b = make_run(results / "ab" / "2025-01-02_run-b", "run-b", 2, "qwen")
    (results / "ab" / "empty-run").mkdir()
    assert list_run_dbs(results) == [a, b]

    con = open_results(results)
    try:
        assert con.execute("SELECT run_id, status FROM runs ORDER BY 1").fetchall() == [
            ("run-a", "completed"),
            ("run-b", "completed"),
        ]
        assert con.execute(
            "SELECT run_id, count(*), sum(success::INT) FROM trials GROUP BY 1 ORDER BY 1"
        ).fetchall() == [("run-a", 3, 2), ("run-b", 2, 1)]
        assert con.execute("SELECT count(*) FROM calls").fetchone() == (5,)
        joined = con.execute(
            "SELECT count(*) FROM calls c JOIN trials t USING (run_id, trial_id)"
        ).fetchone()
        assert joined == (5,)
        with pytest.raises(duckdb.Error):  # attached read-only
            con.execute("INSERT INTO run_db_0.runs (run_id, experiment) VALUES ('x', 'y')")
    finally:
        con.close()


def test_run_folder_and_single_file(tmp_path: Path) -> None:
    a = make_run(tmp_path / "ab" / "run-a", "run-a", 2, "sonnet")
    make_run(tmp_path / "ab" / "run-b", "run-b", 1, "qwen")
    for target in (a.parent, a):
        assert list_run_dbs(target) == [a]
        con = open_results(target)
        assert con.execute("SELECT DISTINCT run_id FROM trials").fetchall() == [("run-a",)]
        con.close()


def test_runs_of_different_schema_versions_combine(tmp_path: Path) -> None:
    old = make_run(tmp_path / "ab" / "old", "old", 1, "sonnet")
    new = make_run(tmp_path / "ab" / "new", "new", 1, "qwen")
    con = duckdb.connect(str(new))  # a later migration added a column
    con.execute("ALTER TABLE calls ADD COLUMN future_column BIGINT")
    con.execute("UPDATE calls SET future_column = 42")
    con.close()
    assert old.exists()
    con = open_results(tmp_path)
    got = con.execute("SELECT run_id, future_column FROM calls ORDER BY 1").fetchall()
    con.close()
    assert got == [("new", 42), ("old", None)]


def test_no_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"no harness\.duckdb under"):
        open_results(tmp_path)
    with pytest.raises(HarnessError, match="does not exist"):
        open_results(tmp_path / "missing")
    bogus = tmp_path / "x.duckdb"
    bogus.write_text("not a database")
    with pytest.raises(HarnessError, match="cannot open") as info:
        open_results(bogus)
    assert "\n" not in str(info.value)


def test_package_exports() -> None:
    assert harness.store.__all__ == [
        "DB_FILENAME",
        "MIGRATIONS",
        "StoreWriter",
        "list_run_dbs",
        "migrate",
        "open_results",
        "read_completed_trials",
    ]
    for name in harness.store.__all__:
        assert getattr(harness.store, name) is not None
    with pytest.raises(AttributeError):
        harness.store.nope  # noqa: B018
