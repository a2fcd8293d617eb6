"""Append-only schema migrations.

Each migration is a function ``mNNN_name(con)``; ``MIGRATIONS`` lists them in
order and ``_migrations`` records which ran. Never edit an applied migration:
add a new one. Column names follow the OpenTelemetry GenAI conventions where
one fits (``request_model``, ``response_model``, ``input_tokens`` …).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

__all__ = ["MIGRATIONS", "migrate"]


def m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE runs (
            run_id          VARCHAR PRIMARY KEY,
            experiment      VARCHAR NOT NULL,
            design          VARCHAR,          -- paired | split
            config          VARCHAR,          -- composed config as YAML, secrets unresolved
            endpoints_mode  VARCHAR,          -- live | sim
            simulated       BOOLEAN,
            git_commit      VARCHAR,
            versions        VARCHAR,          -- JSON: python, harness, key packages
            seed            BIGINT,
            run_dir         VARCHAR,
            started_at      TIMESTAMPTZ,
            finished_at     TIMESTAMPTZ,
            status          VARCHAR           -- running | completed | interrupted | failed
        )
        """
    )
    con.execute(
        """
        CREATE TABLE trials (
            trial_id        VARCHAR PRIMARY KEY,  -- <arm>/<task_id>/r<replicate>
            run_id          VARCHAR NOT NULL,
            task_id         VARCHAR NOT NULL,
            task_suite      VARCHAR,
            task_category   VARCHAR,
            arm             VARCHAR NOT NULL,
            router          VARCHAR,
            model           VARCHAR,              -- portfolio key of the model that answered
            replicate       INTEGER NOT NULL,
            assign_u        DOUBLE,               -- split: hash unit in [0,1) that chose the arm
            success         BOOLEAN,
            score           DOUBLE,
            turns           INTEGER,
            calls           INTEGER,              -- HTTP attempts, retries included
            input_tokens    BIGINT,
            output_tokens   BIGINT,
            cost_usd        DOUBLE,
            latency_ms      DOUBLE,               -- sum of the successful calls' latency
            ttft_ms         DOUBLE,               -- first successful call's TTFT (streams)
            status          VARCHAR,              -- ok | llm_error | verifier_error
            error           VARCHAR,
            answer          VARCHAR,
            verifier_reason VARCHAR,              -- passed | failed | timeout | memory | ...
            verifier_output VARCHAR,
            verify_ms       DOUBLE,
            started_at      TIMESTAMPTZ,
            finished_at     TIMESTAMPTZ
        )
        """
    )
    con.execute(
        """
        CREATE TABLE calls (
            call_id             VARCHAR NOT NULL,  -- uuid4; no index: it would double insert cost
            run_id              VARCHAR NOT NULL,
            trial_id            VARCHAR,
            turn                INTEGER,
            attempt             INTEGER,          -- 1-based within one logical call
            provider            VARCHAR,          -- gen_ai.provider.name
            api_protocol        VARCHAR,          -- openai | anthropic
            request_model       VARCHAR,          -- gen_ai.request.model (API id)
            response_model      VARCHAR,          -- gen_ai.response.model
            portfolio_model     VARCHAR,          -- portfolio key
            router              VARCHAR,
            route_reason        VARCHAR,
            fallback_from       VARCHAR,
            stream              BOOLEAN,
            status              VARCHAR,          -- ok | error
            error_kind          VARCHAR,          -- harness.errors.LLMError.kind
            error_message       VARCHAR,
            http_status         INTEGER,
            retry_after_s       DOUBLE,
            input_tokens        BIGINT,           -- NULL when the provider did not report it
            output_tokens       BIGINT,
            cached_input_tokens BIGINT,
            cost_usd            DOUBLE,
            price_source        VARCHAR,          -- e.g. genai-prices 0.2.3 / config override
            latency_ms          DOUBLE,
            ttft_ms             DOUBLE,
            finish_reason       VARCHAR,
            started_at          TIMESTAMPTZ,
            request_body        VARCHAR,          -- JSON sent, headers and keys never
            response_body       VARCHAR
        )
        """
    )


def m002_providers_routing_budgets(con: duckdb.DuckDBPyConnection) -> None:
    """Usage detail, price provenance, routing candidates, fallbacks, budget stops."""
    for stmt in (
        # calls: the rest of normalized usage (NULL = not reported, never 0)
        "ALTER TABLE calls ADD COLUMN cache_write_tokens BIGINT",
        "ALTER TABLE calls ADD COLUMN reasoning_tokens BIGINT",
        # what caching saved against the uncached price of the same usage
        "ALTER TABLE calls ADD COLUMN cache_savings_usd DOUBLE",
        # price provenance: price_source names where, price_version which version
        "ALTER TABLE calls ADD COLUMN price_version VARCHAR",
        # JSON list of the portfolio keys the router considered
        "ALTER TABLE calls ADD COLUMN route_candidates VARCHAR",
        # worst-case cost reserved against the budget before dispatch
        "ALTER TABLE calls ADD COLUMN reserved_usd DOUBLE",
        # trials: the model the router chose (``model`` is the one that answered)
        "ALTER TABLE trials ADD COLUMN routed_model VARCHAR",
        "ALTER TABLE trials ADD COLUMN route_reason VARCHAR",
        "ALTER TABLE trials ADD COLUMN fallbacks INTEGER",
        "ALTER TABLE trials ADD COLUMN cached_input_tokens BIGINT",
        # runs: why a run stopped early (status budget_stopped | early_stopped ...)
        "ALTER TABLE runs ADD COLUMN stop_reason VARCHAR",
    ):
        con.execute(stmt)


def m003_sandbox(con: duckdb.DuckDBPyConnection) -> None:
    """Which isolation backend ran the model's code (``unsafe_local`` is flagged in reports)."""
    con.execute("ALTER TABLE runs ADD COLUMN sandbox VARCHAR")


#: Applied in order; append only.
MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    m001_initial,
    m002_providers_routing_budgets,
    m003_sandbox,
]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ)"
    )
    done = {row[0] for row in con.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            fn(con)
            con.execute("INSERT INTO _migrations VALUES (?, ?)", [fn.__name__, datetime.now(UTC)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(fn.__name__)
    return applied
