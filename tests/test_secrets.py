"""A planted API key never leaves the process that holds it.

The run goes through live mode (so the adapters really send the keys) with the
portfolio's ``api_base`` pointed at the local simulator, debug logging on, and
faults queued so error paths write their messages and bodies too. Then every
file under the results folder (DuckDB, report, figures, ``.hydra/``) and the
captured stdout/stderr are searched for the key's bytes.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli

PLANTED = {
    "ANTHROPIC_API_KEY": "PLANTED-anthropic-key-a1b2c3d4e5f6g7h8i9j0",
    "OPENROUTER_API_KEY": "PLANTED-openrouter-key-0j9i8h7g6f5e4d3c2b1a",
}

PORTFOLIO = """
models:
  sonnet:
    provider: anthropic
    protocol: anthropic
    model_id: claude-3-5-sonnet-20241022
    api_base: {anthropic}
    api_key_env: ANTHROPIC_API_KEY
  qwen:
    provider: openrouter
    protocol: openai
    model_id: qwen/qwen-2.5-coder-32b-instruct
    api_base: {openai}
    api_key_env: OPENROUTER_API_KEY
"""


@pytest.fixture(scope="module")
def sim():
    from harness.sim.process import SimProcess
    from harness.sim.settings import load_default_settings

    with SimProcess(load_default_settings()) as proc:
        yield proc


def _occurrences(blob: bytes) -> int:
    return sum(blob.count(key.encode()) for key in PLANTED.values())


def test_planted_keys_appear_nowhere_in_a_run(sim, tmp_path: Path) -> None:
    sim.reset()
    # Error paths too: their messages and bodies are stored and logged.
    sim.queue_faults("*", ["500", "malformed", "429:0.05", "html", "cut", "empty"])
    results = tmp_path / "results"
    # A portfolio whose live endpoints are the simulator (keys with dots, like
    # claude-3-5-sonnet, cannot be addressed by a command-line override).
    conf = tmp_path / "conf" / "portfolio"
    conf.mkdir(parents=True)
    (conf / "planted.yaml").write_text(
        PORTFOLIO.format(anthropic=sim.url, openai=f"{sim.url}/v1"), encoding="utf-8"
    )
    proc = run_cli(
        [
            "experiment=ab_sonnet_vs_qwen",
            "endpoints=live",
            f"hydra.searchpath=[file://{tmp_path / 'conf'}]",
            "portfolio=planted",
            "arms.sonnet.model=sonnet",
            "arms.qwen.model=qwen",
            "tasks=builtin",
            "tasks.limit=6",
            "retry.initial_backoff_s=0.01",
            f"results_dir={results}",
            "hydra.verbose=true",
        ],
        env=PLANTED,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = next((results / "ab_sonnet_vs_qwen").iterdir())

    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    # The run really went through the keyed path and hit the faults.
    assert con.execute("SELECT DISTINCT endpoints_mode FROM runs").fetchall() == [("live",)]
    kinds = {k for (k,) in con.execute("SELECT DISTINCT error_kind FROM calls").fetchall()}
    assert {"server_error", "malformed_response"} <= kinds, kinds
    assert con.execute("SELECT count(*) FROM trials").fetchone() == (12,)
    # DuckDB compresses strings (FSST), so the file's bytes alone could hide a
    # key: search every text column with SQL as well.
    text_cols = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND data_type = 'VARCHAR'"
    ).fetchall()
    assert len(text_cols) > 20
    for table, col in text_cols:
        for key in PLANTED.values():
            hits = con.execute(
                f'SELECT count(*) FROM "{table}" WHERE contains("{col}", ?)', [key]
            ).fetchone()
            assert hits == (0,), f"{table}.{col} holds a planted key"
    con.close()

    files = [p for p in results.rglob("*") if p.is_file()]
    assert any(p.name == "config.yaml" for p in files)
    assert any(p.suffix == ".duckdb" for p in files)
    found = {str(p.relative_to(results)): _occurrences(p.read_bytes()) for p in files}
    assert sum(found.values()) == 0, {k: v for k, v in found.items() if v}
    # Debug logging was on, so the captured output is not trivially empty.
    assert "DEBUG" in proc.stdout + proc.stderr
    assert _occurrences((proc.stdout + proc.stderr).encode()) == 0


class _EchoKeyHandler(BaseHTTPRequestHandler):
    """A misbehaving provider: its 401 error echoes the key it was sent."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        sent = self.headers.get("authorization", "") + self.headers.get("x-api-key", "")
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {sent}"}})
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoKeyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("protocol", "env"), [("openai", "OPENROUTER_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")]
)
def test_a_provider_echoing_the_key_is_scrubbed(
    echo_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: str, env: str
) -> None:
    from harness.config.schema import ModelConfig
    from harness.cost.pricing import Pricer
    from harness.llm.client import CallContext, LLMClient
    from harness.llm.retry import RetryPolicy
    from harness.llm.types import ChatRequest, Message
    from harness.store.writer import StoreWriter

    key = PLANTED[env]
    monkeypatch.setenv(env, key)
    models = {
        "m": ModelConfig(
            provider="echo",
            protocol=protocol,
            model_id="echo-1",
            api_base=echo_server + ("/v1" if protocol == "openai" else ""),
            api_key_env=env,
        )
    }
    db = tmp_path / "calls.duckdb"
    writer = StoreWriter(db, flush_interval_s=0.05)
    writer.start_run({"run_id": "r", "experiment": "secrets", "status": "running"})

    async def call() -> str:
        client = LLMClient(
            models=models,
            mode="live",
            retry=RetryPolicy(max_attempts=1),
            pricer=Pricer(models),
            sink=writer.add_call,
        )
        try:
            req = ChatRequest(model="echo-1", messages=(Message("user", "hi"),))
            outcome = await client.chat("m", req, CallContext(run_id="r"))
        finally:
            await client.aclose()
        assert outcome.error is not None and outcome.error.kind == "auth"
        return f"{outcome.error!s} {outcome.error!r} {outcome.error.body}"

    text = asyncio.run(call())
    writer.close()
    assert key not in text
    assert "Incorrect API key provided" in text, "the provider's message itself is kept"
    assert _occurrences(db.read_bytes()) == 0
    con = duckdb.connect(str(db), read_only=True)
    (body,) = con.execute("SELECT response_body FROM calls").fetchone()
    assert "Incorrect API key provided" in body and key not in body
