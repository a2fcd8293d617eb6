"""StoreWriter against real DuckDB files: types, concurrency, flush, errors, SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from harness.errors import HarnessError
from harness.store.reader import open_results
from harness.store.writer import StoreWriter, read_completed_trials

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def call(i: int | str, **extra: Any) -> dict[str, Any]:
    return {"call_id": f"c{i}", "run_id": "run1", "trial_id": "a/t/r0", **extra}


def trial(tid: str, **extra: Any) -> dict[str, Any]:
    return {"trial_id": tid, "run_id": "run1", "task_id": "t", "arm": "a", "replicate": 0, **extra}


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    # Same configuration as the writer's connection, so DuckDB hands out the
    # same database instance: this sees exactly what has been committed.
    con = duckdb.connect(str(path))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def count(path: Path, table: str) -> int:
    return int(query(path, f"SELECT count(*) FROM {table}")[0][0])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "harness.duckdb"


# -- round trip ----------------------------------------------------------------


def test_call_row_round_trips_with_types_and_nulls(db: Path) -> None:
    full = {
        "call_id": "c1",
        "run_id": "run1",
        "trial_id": "sonnet/HumanEval/0/r0",
        "turn": 1,
        "attempt": 2,
        "provider": "anthropic",
        "api_protocol": "anthropic",
        "request_model": "claude-3-5-sonnet-20241022",
        "response_model": "claude-3-5-sonnet-20241022",
        "portfolio_model": "claude-3-5-sonnet",
        "router": "fixed",
        "route_reason": "arm",
        "fallback_from": "gpt-4o",
        "stream": False,
        "status": "ok",
        "error_kind": "rate_limit",
        "error_message": "retried",
        "http_status": 200,
        "retry_after_s": 1.5,
        "input_tokens": 0,
        "output_tokens": 2**40,
        "cached_input_tokens": 7,
        "cost_usd": 0.0,
        "price_source": "genai-prices",
        "latency_ms": 12,  # an int into DOUBLE is fine
        "ttft_ms": 3.25,
        "finish_reason": "stop",
        "started_at": T0.astimezone(timezone(timedelta(hours=-5))),  # same instant
        "request_body": '{"a": "é ✓"}' + "x" * 3000,
        "response_body": "",
    }
    sparse = {"call_id": "c2", "run_id": "run1"}
    with StoreWriter(db) as w:
        w.add_call(full)
        w.add_call(sparse)
    con = duckdb.connect(str(db), read_only=True)
    names = [d[0] for d in con.execute("SELECT * FROM calls LIMIT 0").description]
    fetched = con.execute("SELECT * FROM calls").fetchall()
    rows = {r[0]: dict(zip(names, r, strict=True)) for r in fetched}
    con.close()
    got = rows["c1"]
    for key, value in full.items():
        if key == "started_at":
            assert got[key] == T0 and got[key].utcoffset() == timedelta(0)
        elif key == "latency_ms":
            assert got[key] == 12.0 and isinstance(got[key], float)
        else:
            assert got[key] == value and type(got[key]) is type(value), key
    # None stays NULL (never 0 / False / ""), and 0 / False stay what they are.
    assert got["input_tokens"] == 0 and got["stream"] is False and got["cost_usd"] == 0.0
    assert all(v is None for k, v in rows["c2"].items() if k not in sparse)


def test_trial_and_run_rows_round_trip(db: Path) -> None:
    with StoreWriter(db) as w:
        w.start_run({"run_id": "run1", "experiment": "ab", "seed": 7, "simulated": True})
        w.start_run(
            {"run_id": "run1", "experiment": "ab", "seed": 8, "started_at": T0, "status": "running"}
        )  # replaces
        w.add_trial(
            trial(
                "a/t/r0",
                success=False,
                score=0.0,
                assign_u=None,
                calls=3,
                cost_usd=Decimal("0.0012345"),  # as genai-prices computes it
            )
        )
        w.update_run("run1", status="completed", finished_at=T0 + timedelta(seconds=5))
    runs = query(db, "SELECT run_id, seed, simulated, started_at, finished_at, status FROM runs")
    assert runs == [("run1", 8, None, T0, T0 + timedelta(seconds=5), "completed")]
    got = query(db, "SELECT success, score, assign_u, calls, replicate, cost_usd FROM trials")
    assert got == [(False, 0.0, None, 3, 0, 0.0012345)]


def test_update_run_rejects_unknown_fields_and_missing_runs(db: Path) -> None:
    with StoreWriter(db) as w:
        w.start_run({"run_id": "run1", "experiment": "ab", "finished_at": T0})
        with pytest.raises(HarnessError, match="stauts"):
            w.update_run("run1", stauts="completed")
        with pytest.raises(HarnessError, match="no run 'nope'"):
            w.update_run("nope", status="completed")
        w.update_run("run1", status="running", finished_at=None)  # resume clears it
    assert query(db, "SELECT status, finished_at FROM runs") == [("running", None)]


# -- concurrency and flushing -----------------------------------------------------


async def test_many_asyncio_tasks_and_threads(db: Path) -> None:
    n_tasks, n_trials, n_calls = 40, 10, 3
    with StoreWriter(db, flush_interval_s=0.02, max_batch=64) as w:

        async def producer(k: int) -> None:
            for j in range(n_trials):
                tid = f"a/t{k}/r{j}"
                for c in range(n_calls):
                    w.add_call(call(f"{k}-{j}-{c}", trial_id=tid))
                    await asyncio.sleep(0)
                w.add_trial(trial(tid, calls=n_calls))

        def thread_producer(k: int) -> None:
            for j in range(300):
                w.add_call(call(f"th{k}-{j}", trial_id=None))

        threads = [threading.Thread(target=thread_producer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        await asyncio.gather(*(producer(k) for k in range(n_tasks)))
        for t in threads:
            t.join()
        w.flush()
        assert count(db, "trials") == n_tasks * n_trials
        assert count(db, "calls") == n_tasks * n_trials * n_calls + 4 * 300
        bad = query(
            db,
            "SELECT t.trial_id FROM trials t LEFT JOIN calls c USING (trial_id) "
            "GROUP BY t.trial_id, t.calls HAVING count(c.call_id) <> t.calls",
        )
        assert bad == []


def test_rows_wait_for_the_interval_and_flush_writes_them(db: Path) -> None:
    with StoreWriter(db, flush_interval_s=30.0) as w:
        for i in range(10):
            w.add_call(call(i))
        time.sleep(0.1)
        assert count(db, "calls") == 0  # batched, not written per row
        w.flush()
        assert count(db, "calls") == 10
        w.flush()  # nothing queued: returns at once
    assert count(db, "calls") == 10


def test_rows_become_durable_within_the_interval_without_flush(db: Path) -> None:
    with StoreWriter(db, flush_interval_s=0.05) as w:
        for i in range(10):
            w.add_call(call(i))
        deadline = time.monotonic() + 5
        while count(db, "calls") < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert count(db, "calls") == 10


def test_max_batch_wakes_the_writer_early(db: Path) -> None:
    with StoreWriter(db, flush_interval_s=30.0, max_batch=100) as w:
        for i in range(250):
            w.add_call(call(i))
        deadline = time.monotonic() + 5
        while count(db, "calls") < 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert count(db, "calls") >= 200


def test_add_never_waits_for_duckdb(db: Path) -> None:
    w = StoreWriter(db, flush_interval_s=0.01, max_batch=10)
    try:
        with w._db_lock:  # DuckDB busy: the writer thread is stuck on this lock
            t0 = time.perf_counter()
            for i in range(2000):
                w.add_call(call(i))
            elapsed = time.perf_counter() - t0
        w.flush()
    finally:
        w.close()
    assert elapsed < 1.0  # would hang forever if add_call waited on the database
    assert count(db, "calls") == 2000


# -- errors ---------------------------------------------------------------------------


BAD_ROWS = {
    "str into INTEGER": ("http_status", "sk-secret-not-a-number"),
    "fraction into BIGINT": ("input_tokens", 1.5),
    "bool into DOUBLE": ("cost_usd", True),
    "int into VARCHAR": ("status", 200),
    "naive datetime": ("started_at", datetime(2025, 1, 1)),
    "overflow INTEGER": ("http_status", 2**40),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_value_surfaces_and_nothing_is_dropped_silently(db: Path, case: str) -> None:
    column, value = BAD_ROWS[case]
    w = StoreWriter(db, flush_interval_s=30.0)
    w.add_call(call("ok-before"))
    w.flush()
    w.add_call(call("ok-same-batch"))
    w.add_call(call("bad", **{column: value}))
    w.add_trial(trial("a/t/r0"))
    with pytest.raises(HarnessError) as info:
        w.flush()
    msg = str(info.value)
    assert str(db) in msg and column in msg and "call_id='cbad'" in msg
    assert "\n" not in msg and "sk-secret" not in msg
    with pytest.raises(HarnessError, match="failed"):
        w.add_call(call("after"))
    with pytest.raises(HarnessError, match="failed"):
        w.add_trial(trial("a/t/r1"))
    with pytest.raises(HarnessError, match="3 rows not written, saved to") as info:
        w.close()
    w.close()  # idempotent
    # The failed batch is atomic: its good rows wait with the bad one in the dump.
    assert [r[0] for r in query(db, "SELECT call_id FROM calls")] == ["cok-before"]
    assert count(db, "trials") == 0
    (dump,) = db.parent.glob("harness.duckdb.unwritten-*.jsonl")
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    assert [(x["table"], x["row"].get("call_id") or x["row"]["trial_id"]) for x in lines] == [
        ("calls", "cok-same-batch"),
        ("calls", "cbad"),
        ("trials", "a/t/r0"),
    ]


def test_unknown_column_is_an_error(db: Path) -> None:
    w = StoreWriter(db)
    w.add_call(call(1, latncy_ms=3.0))
    with pytest.raises(HarnessError, match=r"unknown column.*latncy_ms"):
        w.flush()
    with pytest.raises(HarnessError):
        w.close()


@pytest.mark.parametrize("case", ["NULL call_id", "NULL in NOT NULL"])
def test_database_constraint_errors_surface(db: Path, case: str) -> None:
    w = StoreWriter(db)
    if case == "NULL call_id":
        w.add_call(call(1))
        w.add_call(call(2, call_id=None))
    else:
        w.add_trial(trial("a/t/r0", task_id=None))
    with pytest.raises(HarnessError, match=r"Constraint Error") as info:
        w.flush()
    assert str(db) in str(info.value)
    with pytest.raises(HarnessError, match="rows not written"):
        w.close()
    assert count(db, "calls") == 0 and count(db, "trials") == 0


def test_update_run_refuses_after_a_failed_write(db: Path) -> None:
    w = StoreWriter(db, flush_interval_s=30.0)
    w.start_run({"run_id": "run1", "experiment": "ab", "status": "running"})
    w.add_call(call(1, attempt="x"))
    with pytest.raises(HarnessError, match="attempt"):
        w.update_run("run1", status="completed")
    with pytest.raises(HarnessError):
        w.close()
    assert query(db, "SELECT status FROM runs") == [("running",)]


def test_closed_writer_refuses_rows(db: Path) -> None:
    w = StoreWriter(db)
    w.close()
    with pytest.raises(HarnessError, match="closed"):
        w.add_call(call(1))


def test_unreadable_file_gives_one_line(db: Path) -> None:
    db.write_text("not a duckdb file")
    with pytest.raises(HarnessError, match="cannot open") as info:
        StoreWriter(db)
    assert str(db) in str(info.value) and "\n" not in str(info.value)


# -- resume ---------------------------------------------------------------------


def test_duplicate_trial_id_keeps_the_first_outcome(db: Path) -> None:
    with StoreWriter(db) as w:
        w.add_trial(trial("a/t/r0", success=True))
        w.add_trial(trial("a/t/r0", success=False))  # same batch
        w.flush()
        w.add_trial(trial("a/t/r0", success=False))  # later batch
        w.flush()
        assert w.duplicate_trials == 2
    with StoreWriter(db) as w:  # a resumed run reopening the file
        w.add_trial(trial("a/t/r0", success=False))
        w.add_trial(trial("a/t/r1", success=False))
    assert query(db, "SELECT trial_id, success FROM trials ORDER BY 1") == [
        ("a/t/r0", True),
        ("a/t/r1", False),
    ]


def test_read_completed_trials(db: Path) -> None:
    assert read_completed_trials(db) == set()  # no file yet
    assert not db.exists()
    with StoreWriter(db) as w:
        w.add_trial(trial("a/t/r0"))
        w.add_trial({**trial("a/t/r1"), "run_id": "run2"})
        w.flush()
        # also while this process's writer holds the file
        assert read_completed_trials(db) == {"a/t/r0", "a/t/r1"}
    assert read_completed_trials(db) == {"a/t/r0", "a/t/r1"}
    assert read_completed_trials(db, run_id="run2") == {"a/t/r1"}
    assert read_completed_trials(db, run_id="nope") == set()


# -- crash safety -------------------------------------------------------------------


CHILD = r"""
import sys, time
from harness.store.writer import StoreWriter

w = StoreWriter(sys.argv[1], flush_interval_s=0.05, max_batch=500)
body = "b" * 2000
for i in range(200):
    w.add_call({"call_id": f"f{i}", "run_id": "r", "request_body": body})
w.flush()
print("flushed", flush=True)
for i in range(200):
    w.add_call({"call_id": f"a{i}", "run_id": "r", "request_body": body})
time.sleep(0.5)  # ten intervals: these must be durable without a flush
print("aged", flush=True)
deadline = time.monotonic() + 20  # bounded even if nobody kills us
i = 0
while time.monotonic() < deadline and i < 100_000:
    tid = f"t{i}"
    for k in range(3):
        w.add_call({"call_id": f"{tid}-{k}", "run_id": "r", "trial_id": tid, "request_body": body})
    w.add_trial({"trial_id": tid, "run_id": "r", "task_id": "x", "arm": "a", "replicate": 0,
                 "calls": 3})
    i += 1
    if i % 20 == 0:
        time.sleep(0.002)
"""


def test_sigkill_keeps_flushed_and_aged_rows_and_trials_never_lack_calls(db: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "flushed"
        assert proc.stdout.readline().strip() == "aged"
        time.sleep(0.4)  # let it write calls+trials batches, then kill mid-stream
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""

    # Read-only opens replay the WAL left by the kill.
    done = read_completed_trials(db)
    assert len(done) > 0
    con = open_results(db)
    ids = {r[0] for r in con.execute("SELECT call_id FROM calls").fetchall()}
    assert {f"f{i}" for i in range(200)} <= ids
    assert {f"a{i}" for i in range(200)} <= ids
    lacking = con.execute(
        "SELECT t.trial_id FROM trials t LEFT JOIN calls c USING (trial_id) "
        "GROUP BY t.trial_id HAVING count(c.call_id) <> 3"
    ).fetchall()
    assert lacking == []
    con.close()
    # and the file opens cleanly for writing again (resume)
    with StoreWriter(db) as w:
        w.add_trial(
            {"trial_id": "after-kill", "run_id": "r", "task_id": "x", "arm": "a", "replicate": 0}
        )
    assert read_completed_trials(db) == done | {"after-kill"}


HOLDER = r"""
import sys
from harness.store.writer import StoreWriter

w = StoreWriter(sys.argv[1])
w.add_trial({"trial_id": "x", "run_id": "r", "task_id": "x", "arm": "a", "replicate": 0})
w.flush()
print("ready", flush=True)
sys.stdin.read()  # hold the file until the parent closes our stdin
w.close()
"""


def test_a_file_held_by_a_running_process_gives_one_line(db: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "ready"
        for attempt in (
            lambda: read_completed_trials(db),
            lambda: StoreWriter(db),
            lambda: open_results(db),
        ):
            with pytest.raises(HarnessError, match="still going") as info:
                attempt()
            assert str(db) in str(info.value) and "\n" not in str(info.value)
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert read_completed_trials(db) == {"x"}
