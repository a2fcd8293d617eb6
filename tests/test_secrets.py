"""A planted API key never leaves the process that holds it.

The run goes through live mode (so the adapters really send the keys) with the
portfolio's ``api_base`` pointed at the local simulator, debug logging on, and
faults queued so error paths write their messages and bodies too. Then every
file under the results folder (DuckDB, report, figures, ``.hydra/``) and the
captured stdout/stderr are searched for the key's bytes.

A model that echoes the key it was sent (answer, and the program the verifier
runs prints it) has it stored as ``[REDACTED:<env var>]``: the store writer
redacts every text value it accepts (:mod:`harness.redact`).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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


def _assert_no_key_in_db(path: Path, keys: Iterable[str] = PLANTED.values()) -> None:
    """No key in the file's bytes nor, with SQL, in any text column."""
    keys = list(keys)
    assert not any(k.encode() in path.read_bytes() for k in keys)
    con = duckdb.connect(str(path), read_only=True)
    try:
        # DuckDB compresses strings (FSST), so the file's bytes alone could hide a
        # key: search every text column with SQL as well.
        text_cols = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND data_type = 'VARCHAR'"
        ).fetchall()
        assert len(text_cols) > 20
        for table, col in text_cols:
            for key in keys:
                hits = con.execute(
                    f'SELECT count(*) FROM "{table}" WHERE contains("{col}", ?)', [key]
                ).fetchone()
                assert hits == (0,), f"{table}.{col} holds a planted key"
    finally:
        con.close()


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
    con.close()
    _assert_no_key_in_db(run_dir / "harness.duckdb")

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


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A local HTTP server answering with ``handler``; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def echo_server() -> Iterator[str]:
    with _serving(_EchoKeyHandler) as url:
        yield url


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


# -- redaction of stored text (harness.redact + StoreWriter) ---------------------------


def test_redactor_replaces_each_held_key_with_its_marker() -> None:
    from harness.redact import Redactor

    quoted = 'PLANTED-"quoted"\\key-1234'  # JSON escaping changes this one
    r = Redactor({**PLANTED, "QUOTED_KEY": quoted, "SHORTER": PLANTED["ANTHROPIC_API_KEY"][:20]})
    key = PLANTED["ANTHROPIC_API_KEY"]
    assert (
        r.text(f"a {key} b {key}")
        == "a [REDACTED:ANTHROPIC_API_KEY] b [REDACTED:ANTHROPIC_API_KEY]"
    )
    # Longest first: a key that contains another held value is replaced whole.
    assert r.text(key[:20]) == "[REDACTED:SHORTER]"
    # The key inside a JSON string (a body, a tool's arguments) is caught too.
    assert r.text(json.dumps({"k": quoted})) == '{"k": "[REDACTED:QUOTED_KEY]"}'
    assert r.text(quoted) == "[REDACTED:QUOTED_KEY]"
    row = {"answer": f"x{key}", "tokens": 3, "ok": True, "none": None}
    out = r.row(row)
    assert out == {"answer": "x[REDACTED:ANTHROPIC_API_KEY]", "tokens": 3, "ok": True, "none": None}
    assert row["answer"] == f"x{key}", "the caller's dict is left alone"


def test_values_under_eight_characters_are_not_redacted() -> None:
    from harness.redact import MIN_SECRET_LEN, Redactor

    # Placeholders such as EMPTY (keyless vLLM) would otherwise mangle every text.
    assert MIN_SECRET_LEN == 8
    r = Redactor({"SHORT": "EMPTY", "SEVEN": "abcdefg", "BLANK": "  ", "EIGHT": " abcdefgh\n"})
    assert r.text("EMPTY abcdefg abcdefgh") == "EMPTY abcdefg [REDACTED:EIGHT]"
    none = Redactor({"SHORT": "EMPTY"})
    assert not none
    row = {"answer": "EMPTY"}
    assert none.row(row) == row and none.row(row) is not row


def test_held_secrets_come_from_the_portfolio_env_vars_and_secret_looking_config() -> None:
    from harness.config.schema import ModelConfig
    from harness.redact import held_secrets

    models = {
        "a": ModelConfig(
            provider="p",
            protocol="openai",
            model_id="m",
            api_base="http://x",
            api_key_env="ANTHROPIC_API_KEY",
            headers={"Authorization": "Bearer PLANTED-bearer-token-1234", "X-Title": "my app"},
            extra_body={"provider": {"order": ["x"], "api_token": "PLANTED-body-token-5678"}},
        ),
        "b": ModelConfig(
            provider="p", protocol="openai", model_id="m", api_base="http://x", api_key_env="UNSET"
        ),
        "c": ModelConfig(
            provider="p",
            protocol="openai",
            model_id="m",
            api_base="http://x",
            api_key_env="ANTHROPIC_API_KEY",
        ),
    }
    env = {"ANTHROPIC_API_KEY": PLANTED["ANTHROPIC_API_KEY"], "OPENROUTER_API_KEY": "unused"}
    assert held_secrets(models, env) == {
        "ANTHROPIC_API_KEY": PLANTED["ANTHROPIC_API_KEY"],
        "a.headers.Authorization": "Bearer PLANTED-bearer-token-1234",
        "a.headers.Authorization.token": "PLANTED-bearer-token-1234",
        "a.extra_body.provider.api_token": "PLANTED-body-token-5678",
    }


def test_the_writer_stores_every_text_column_redacted(tmp_path: Path) -> None:
    """Rows written through the writer directly: runs, calls, trials and the failure dump."""
    from harness.errors import HarnessError
    from harness.redact import Redactor
    from harness.store.writer import StoreWriter

    key = PLANTED["OPENROUTER_API_KEY"]
    body = json.dumps({"content": f"my key is {key}"})
    db = tmp_path / "harness.duckdb"
    writer = StoreWriter(db, flush_interval_s=0.05, redactor=Redactor(PLANTED))
    writer.start_run({"run_id": "r", "experiment": "e", "config": f"k: {key}", "status": "x"})
    writer.add_call(
        {"call_id": "c1", "run_id": "r", "request_body": body, "response_body": body,
         "error_message": f"echoed {key}"}
    )  # fmt: skip
    trial = {"trial_id": "a/t/r0", "run_id": "r", "task_id": "t", "arm": "a", "replicate": 0}
    writer.add_trial(
        {**trial, "answer": f"```python\nKEY = '{key}'\n```", "verifier_output": f"{key}\n",
         "error": key}
    )  # fmt: skip
    writer.update_run("r", status="completed", stop_reason=f"stopped {key}")
    writer.flush()
    # A failing batch: its rows are dumped next to the file, redacted as well.
    writer.add_trial({**trial, "trial_id": "a/t/r1", "answer": key, "replicate": 1.5})
    with pytest.raises(HarnessError, match="rows not written, saved to"):
        writer.close()

    _assert_no_key_in_db(db)
    (dump,) = tmp_path.glob("harness.duckdb.unwritten-*.jsonl")
    assert key not in dump.read_text() and "[REDACTED:OPENROUTER_API_KEY]" in dump.read_text()
    marker = "[REDACTED:OPENROUTER_API_KEY]"
    con = duckdb.connect(str(db), read_only=True)
    run = con.execute("SELECT config, stop_reason FROM runs").fetchone()
    call = con.execute("SELECT request_body, response_body, error_message FROM calls").fetchone()
    row = con.execute("SELECT answer, verifier_output, error FROM trials").fetchone()
    con.close()
    for text in (*run, *call, *row):  # type: ignore[misc]
        assert marker in text, text
    assert json.loads(call[0]) == {"content": f"my key is {marker}"}  # type: ignore[index]


class _EchoModelHandler(BaseHTTPRequestHandler):
    """A model that answers every chat (OpenAI or Anthropic, not streamed) with the
    key it was sent, in its prose and in a program that prints it when verified."""

    def do_POST(self) -> None:
        req = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        key = self.headers.get("x-api-key") or self.headers.get("authorization", "")[7:]
        text = (
            f"My API key is {key}.\n\n```python\nimport sys\nprint({key!r})\n"
            f"sys.stderr.write({key!r})\nraise RuntimeError({key!r})\n```\n"
        )
        if self.path.endswith("/messages"):
            body = {
                "id": "msg_1", "type": "message", "role": "assistant", "model": req["model"],
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 10, "output_tokens": 20},
            }  # fmt: skip
        else:
            body = {
                "id": "c1", "object": "chat.completion", "created": 0, "model": req["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 20},
            }  # fmt: skip
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


ECHO_PORTFOLIO = """
models:
  echo_a:
    provider: echo
    protocol: anthropic
    model_id: echo-a
    api_base: {base}
    api_key_env: ANTHROPIC_API_KEY
    price: {{input_per_mtok: 1.0, output_per_mtok: 1.0}}
  echo_b:
    provider: echo
    protocol: openai
    model_id: echo-b
    api_base: {base}/v1
    api_key_env: OPENROUTER_API_KEY
    price: {{input_per_mtok: 1.0, output_per_mtok: 1.0}}
"""


def test_a_model_echoing_its_key_has_it_stored_redacted(tmp_path: Path) -> None:
    """End to end through the CLI: answers, verifier output, bodies, report and logs."""
    results = tmp_path / "results"
    conf = tmp_path / "conf" / "portfolio"
    conf.mkdir(parents=True)
    with _serving(_EchoModelHandler) as base:
        (conf / "echo.yaml").write_text(ECHO_PORTFOLIO.format(base=base), encoding="utf-8")
        proc = run_cli(
            [
                "experiment=ab_sonnet_vs_qwen",
                "endpoints=live",
                f"hydra.searchpath=[file://{tmp_path / 'conf'}]",
                "portfolio=echo",
                "arms.sonnet.model=echo_a",
                "arms.qwen.model=echo_b",
                "tasks=builtin",
                "tasks.limit=2",
                "runner.stream=false",
                f"results_dir={results}",
                "hydra.verbose=true",
            ],
            env=PLANTED,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = next((results / "ab_sonnet_vs_qwen").iterdir())
    db = run_dir / "harness.duckdb"

    _assert_no_key_in_db(db)
    files = [p for p in results.rglob("*") if p.is_file()]
    assert {"report.md", "report.html"} <= {p.name for p in files}
    assert any(p.suffix == ".log" for p in files)
    found = {str(p.relative_to(results)): _occurrences(p.read_bytes()) for p in files}
    assert sum(found.values()) == 0, {k: v for k, v in found.items() if v}
    assert _occurrences((proc.stdout + proc.stderr).encode()) == 0
    # What was echoed is there, marked with the env var that holds the key.
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT model, answer, verifier_output FROM trials").fetchall()
    bodies = con.execute("SELECT response_body FROM calls").fetchall()
    con.close()
    assert len(rows) == 4
    envs = {"echo_a": "ANTHROPIC_API_KEY", "echo_b": "OPENROUTER_API_KEY"}
    for model, answer, output in rows:
        marker = f"[REDACTED:{envs[model]}]"
        assert f"My API key is {marker}." in answer
        assert marker in output, output
    assert all("[REDACTED" in b for (b,) in bodies)
