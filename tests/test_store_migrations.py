"""Migrating a blank database creates exactly the documented tables and columns."""

from __future__ import annotations

from pathlib import Path

import duckdb

from harness.store.migrations import MIGRATIONS, migrate

# The public tables (DESIGN.md, README). A schema change must come as a new
# migration AND update these lists.
RUNS = [
    "run_id",
    "experiment",
    "design",
    "config",
    "endpoints_mode",
    "simulated",
    "git_commit",
    "versions",
    "seed",
    "run_dir",
    "started_at",
    "finished_at",
    "status",
    "stop_reason",
    "sandbox",
]
TRIALS = [
    "trial_id",
    "run_id",
    "task_id",
    "task_suite",
    "task_category",
    "arm",
    "router",
    "model",
    "replicate",
    "assign_u",
    "success",
    "score",
    "turns",
    "calls",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "status",
    "error",
    "answer",
    "verifier_reason",
    "verifier_output",
    "verify_ms",
    "started_at",
    "finished_at",
    "routed_model",
    "route_reason",
    "fallbacks",
    "cached_input_tokens",
]
CALLS = [
    "call_id",
    "run_id",
    "trial_id",
    "turn",
    "attempt",
    "provider",
    "api_protocol",
    "request_model",
    "response_model",
    "portfolio_model",
    "router",
    "route_reason",
    "fallback_from",
    "stream",
    "status",
    "error_kind",
    "error_message",
    "http_status",
    "retry_after_s",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost_usd",
    "price_source",
    "latency_ms",
    "ttft_ms",
    "finish_reason",
    "started_at",
    "request_body",
    "response_body",
    "cache_write_tokens",
    "reasoning_tokens",
    "cache_savings_usd",
    "price_version",
    "route_candidates",
    "reserved_usd",
]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [
        (str(n), str(t))
        for n, t in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def test_blank_database_gets_exactly_the_documented_columns(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "blank.duckdb"))
    applied = migrate(con)
    assert applied == [fn.__name__ for fn in MIGRATIONS]
    assert _tables(con) == {"_migrations", "runs", "trials", "calls"}
    assert [n for n, _ in _columns(con, "runs")] == RUNS
    assert [n for n, _ in _columns(con, "trials")] == TRIALS
    assert [n for n, _ in _columns(con, "calls")] == CALLS


def test_column_types_that_analysis_relies_on(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "blank.duckdb"))
    migrate(con)
    calls = dict(_columns(con, "calls"))
    trials = dict(_columns(con, "trials"))
    runs = dict(_columns(con, "runs"))
    assert calls["input_tokens"] == "BIGINT"
    assert calls["http_status"] == "INTEGER"
    assert calls["cost_usd"] == "DOUBLE"
    assert calls["stream"] == "BOOLEAN"
    assert calls["started_at"] == "TIMESTAMP WITH TIME ZONE"
    assert trials["success"] == "BOOLEAN"
    assert trials["replicate"] == "INTEGER"
    assert runs["seed"] == "BIGINT"


def test_migrate_is_idempotent_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    con = duckdb.connect(str(path))
    migrate(con)
    before = {t: _columns(con, t) for t in ("runs", "trials", "calls")}
    assert migrate(con) == []
    con.close()
    con = duckdb.connect(str(path))  # also across a reopen
    assert migrate(con) == []
    assert {t: _columns(con, t) for t in ("runs", "trials", "calls")} == before
    names = [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY name").fetchall()]
    assert names == sorted(fn.__name__ for fn in MIGRATIONS)
    con.close()
