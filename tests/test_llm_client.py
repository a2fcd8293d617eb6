"""The client's retry loop against the simulator's injected faults, over real HTTP."""

from __future__ import annotations

import time

import pytest
from omegaconf import OmegaConf

from harness.cost.pricing import Pricer
from harness.errors import MissingCredentialsError, ServerError
from harness.llm.client import CallContext, LLMClient
from harness.llm.retry import RetryPolicy
from harness.llm.types import ChatRequest, Message

QWEN = "qwen/qwen-2.5-coder-32b-instruct"
SONNET = "claude-3-5-sonnet-20241022"


@pytest.fixture(scope="module")
def models():
    from harness.config.compose import compose_config

    cfg = compose_config([])
    return {k: OmegaConf.to_object(v) for k, v in cfg.portfolio.models.items()}


@pytest.fixture(scope="module")
def sim():
    from harness.sim.process import SimProcess
    from harness.sim.settings import load_default_settings

    with SimProcess(load_default_settings()) as proc:
        yield proc


def _client(models, sim, rows: list, **retry) -> LLMClient:
    policy = RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.05, **retry)
    return LLMClient(
        models=models,
        mode="sim",
        sim_url=sim.url,
        retry=policy,
        pricer=Pricer(models),
        sink=rows.append,
    )


def _req(model_id: str, stream: bool) -> ChatRequest:
    return ChatRequest(
        model=model_id,
        messages=(Message("user", "Write hello world in Python."),),
        max_tokens=64,
        stream=stream,
    )


@pytest.mark.parametrize(
    ("key", "model_id"), [("qwen-2-5-coder", QWEN), ("claude-3-5-sonnet", SONNET)]
)
@pytest.mark.parametrize("stream", [False, True])
async def test_retries_honour_retry_after_and_log_every_attempt(
    models, sim, key: str, model_id: str, stream: bool
) -> None:
    rows: list[dict] = []
    client = _client(models, sim, rows)
    sim.queue_faults(model_id, ["429:0.4", "500"])
    t0 = time.monotonic()
    out = await client.chat(key, _req(model_id, stream), CallContext(run_id="r", trial_id="t"))
    elapsed = time.monotonic() - t0
    await client.aclose()
    assert out.response is not None and out.error is None
    assert out.attempts == 3
    assert elapsed >= 0.4, "waited at least what Retry-After asked"
    assert [r["status"] for r in rows] == ["error", "error", "ok"]
    assert [r.get("error_kind") for r in rows] == ["rate_limit", "server_error", None]
    assert rows[0]["retry_after_s"] == pytest.approx(0.4)
    assert [r["attempt"] for r in rows] == [1, 2, 3]
    assert rows[2]["cost_usd"] > 0 and rows[2]["input_tokens"] > 0
    assert len({r["call_id"] for r in rows}) == 3


async def test_gives_up_after_max_attempts(models, sim) -> None:
    rows: list[dict] = []
    client = _client(models, sim, rows, max_attempts=3)
    sim.queue_faults(QWEN, ["500", "503", "500"])
    out = await client.chat("qwen-2-5-coder", _req(QWEN, False), CallContext(run_id="r"))
    await client.aclose()
    assert out.response is None and isinstance(out.error, ServerError)
    assert out.attempts == 3 and len(rows) == 3
    assert [r["error_kind"] for r in rows] == ["server_error", "overloaded", "server_error"]


async def test_live_mode_names_missing_keys(models, monkeypatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    client = LLMClient(models=models, mode="live", retry=RetryPolicy(), pricer=Pricer(models))
    with pytest.raises(MissingCredentialsError, match="ANTHROPIC_API_KEY, OPENROUTER_API_KEY"):
        client.prepare(["claude-3-5-sonnet", "qwen-2-5-coder", "qwen-2-5-coder-vllm"])
    await client.aclose()


async def test_unsendable_request_is_one_logged_failure_without_retry(models, sim) -> None:
    from harness.errors import BadRequestError

    rows: list[dict] = []
    client = _client(models, sim, rows)
    before = sim.stats()["total"]
    req = ChatRequest(model=QWEN, messages=(Message("user", "hi"),), extra={"not_json": object()})
    out = await client.chat("qwen-2-5-coder", req, CallContext(run_id="r"))
    await client.aclose()
    assert isinstance(out.error, BadRequestError) and out.attempts == 1
    assert [(r["status"], r["error_kind"]) for r in rows] == [("error", "bad_request")]
    assert sim.stats()["total"] == before, "nothing was sent"


async def test_logged_request_body_is_what_was_sent(models, sim) -> None:
    import json

    rows: list[dict] = []
    client = _client(models, sim, rows)
    req = _req(QWEN, False)
    await client.chat("qwen-2-5-coder", req, CallContext(run_id="r"))
    await client.aclose()
    assert json.loads(rows[0]["request_body"]) == client.adapter("qwen-2-5-coder").request_body(req)
