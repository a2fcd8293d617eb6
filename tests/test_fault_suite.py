"""The fault suite: a night's worth of provider trouble, survived.

A 300-trial run (150 HumanEval tasks x 2 arms, streaming) against a simulator
whose every model answers 10 % of requests 429 with Retry-After, 5 % 500, 5 %
overloaded (529 on the Anthropic API, 503 on the OpenAI one), hangs 2 % (cut
at the read timeout) and cuts 2 % of streams. It must finish with no trial lost
or duplicated, every attempt a ``calls`` row with its error kind, and the same
per-trial answers and outcomes as a fault-free run with the same seed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli

FAULTS = {
    "rate_limit": 0.10,
    "retry_after_s": 0.2,
    "server_error": 0.05,
    "overloaded": 0.05,
    "hang": 0.02,
    "cut_stream": 0.02,
}
TASKS = 150


def _settings(faulty: bool):
    from harness.sim.settings import FaultRates, load_default_settings

    settings = load_default_settings(seed=7, time_scale=0.01)
    faults = FaultRates(**FAULTS) if faulty else FaultRates()
    profiles = {k: dataclasses.replace(p, faults=faults) for k, p in settings.profiles.items()}
    # A hang lasts 30 s unless the client cuts it at its 1 s read timeout.
    return dataclasses.replace(settings, profiles=profiles, hang_s=30.0)


def _run(sim_url: str, results: Path) -> Path:
    proc = run_cli(
        [
            "experiment=ab_sonnet_vs_qwen",
            "endpoints=sim",
            f"endpoints.url={sim_url}",
            f"tasks.limit={TASKS}",
            "seed=7",
            "runner.concurrency=48",
            "runner.progress=false",
            "runner.report=false",
            "endpoints.read_timeout_s=1.0",
            "retry.max_attempts=10",
            "retry.initial_backoff_s=0.05",
            "retry.max_backoff_s=0.5",
            f"results_dir={results}",
        ],
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (results / "ab_sonnet_vs_qwen").iterdir()
    return run_dir / "harness.duckdb"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from harness.sim.process import SimProcess

    out: dict[str, object] = {}
    for name, faulty in (("faulty", True), ("clean", False)):
        with SimProcess(_settings(faulty)) as sim:
            out[name] = _run(sim.url, tmp_path_factory.mktemp(name))
            out[f"{name}_stats"] = sim.stats()
    return out


def test_no_trial_lost_or_duplicated(runs: dict[str, object]) -> None:
    con = duckdb.connect(str(runs["faulty"]), read_only=True)
    n, distinct, llm_errors = con.execute(
        "SELECT count(*), count(DISTINCT trial_id), count(*) FILTER (status = 'llm_error') "
        "FROM trials"
    ).fetchone()
    assert (n, distinct, llm_errors) == (2 * TASKS, 2 * TASKS, 0)
    # exactly one successful attempt per trial: none repeated, none lost
    per_trial = con.execute(
        "SELECT count(*) FILTER (status = 'ok') AS ok FROM calls GROUP BY trial_id"
    ).fetchall()
    assert len(per_trial) == 2 * TASKS and {ok for (ok,) in per_trial} == {1}
    assert con.execute("SELECT status FROM runs").fetchall() == [("completed",)]


def test_every_attempt_is_a_row_with_its_error_kind(runs: dict[str, object]) -> None:
    con = duckdb.connect(str(runs["faulty"]), read_only=True)
    n_calls = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    assert n_calls == runs["faulty_stats"]["total"], "one row per request the simulator saw"
    assert con.execute("SELECT sum(calls) FROM trials").fetchone()[0] == n_calls
    assert (
        con.execute(
            "SELECT count(*) FROM calls WHERE status = 'error' AND error_kind IS NULL"
        ).fetchone()[0]
        == 0
    )
    kinds = dict(
        con.execute(
            "SELECT error_kind, count(*) FROM calls WHERE status = 'error' GROUP BY 1"
        ).fetchall()
    )
    for kind in ("rate_limit", "server_error", "overloaded", "timeout", "stream_cut"):
        assert kinds.get(kind, 0) > 0, kinds
    # 429s carry the Retry-After the simulator sent; 529 only on the Anthropic API
    assert con.execute(
        "SELECT min(retry_after_s), max(retry_after_s) FROM calls WHERE error_kind = 'rate_limit'"
    ).fetchone() == (0.2, 0.2)
    statuses = dict(
        con.execute(
            "SELECT api_protocol, list(DISTINCT http_status ORDER BY http_status) FROM calls "
            "WHERE error_kind = 'overloaded' GROUP BY 1"
        ).fetchall()
    )
    assert statuses == {"anthropic": [529], "openai": [503]}
    # retried attempts number 2, 3 … within their trial, without gaps
    bad = con.execute(
        "SELECT count(*) FROM (SELECT trial_id, max(attempt) AS m, count(*) AS n "
        "FROM calls GROUP BY trial_id) WHERE m <> n"
    ).fetchone()[0]
    assert bad == 0


def test_outcomes_equal_the_fault_free_run(runs: dict[str, object]) -> None:
    q = "SELECT trial_id, model, success, answer FROM trials ORDER BY trial_id"
    faulty = duckdb.connect(str(runs["faulty"]), read_only=True).execute(q).fetchall()
    clean = duckdb.connect(str(runs["clean"]), read_only=True).execute(q).fetchall()
    assert len(clean) == 2 * TASKS
    assert faulty == clean
    # the clean run really had no faults, and the faulty one really had many
    assert runs["clean_stats"]["total"] == 2 * TASKS
    assert runs["faulty_stats"]["total"] > 2 * TASKS * 1.15


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ("malformed", "malformed_response", "invalid JSON"),
        ("wrong_content_type", "malformed_response", "content type"),
        ("empty", "malformed_response", "empty body"),
        ("html", "server_error", "HTML"),
    ],
)
def test_broken_bodies_are_classified_and_logged(
    tmp_path: Path, fault: str, kind: str, words: str, stream: bool
) -> None:
    from omegaconf import OmegaConf

    from harness.config.compose import compose_config
    from harness.cost.pricing import Pricer
    from harness.llm.client import CallContext, LLMClient
    from harness.llm.retry import RetryPolicy
    from harness.llm.types import ChatRequest, Message
    from harness.sim.process import SimProcess
    from harness.store.writer import StoreWriter

    models = OmegaConf.to_object(compose_config([]).portfolio).models  # type: ignore[union-attr]
    db = tmp_path / "calls.duckdb"
    writer = StoreWriter(db, flush_interval_s=0.05)
    writer.start_run({"run_id": "r", "experiment": "faults", "status": "running"})
    with SimProcess(_settings(False)) as sim:
        sim.queue_faults("*", [fault])

        async def call() -> None:
            client = LLMClient(
                models=models,
                mode="sim",
                sim_url=sim.url,
                retry=RetryPolicy(max_attempts=1),
                pricer=Pricer(models),
                sink=writer.add_call,
            )
            try:
                for key in ("claude-3-5-sonnet",):
                    req = ChatRequest(
                        model=models[key].model_id,
                        messages=(Message("user", "Write hello world in Python."),),
                        stream=stream,
                    )
                    outcome = await client.chat(key, req, CallContext(run_id="r"))
                    assert outcome.error is not None and outcome.error.kind == kind
            finally:
                await client.aclose()

        asyncio.run(call())
    writer.close()
    con = duckdb.connect(str(db), read_only=True)
    ((status, got_kind, message),) = con.execute(
        "SELECT status, error_kind, error_message FROM calls"
    ).fetchall()
    assert (status, got_kind) == ("error", kind)
    assert words.lower() in message.lower(), message
    assert "\n" not in message.split(":", 1)[0], "the message leads with one clear line"
