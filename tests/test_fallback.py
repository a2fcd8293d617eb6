"""Fallback chains over real HTTP: the simulator, and a scripted endpoint for what it cannot fake.

The simulator injects 5xx/429 faults but answers neither a context-length 400
nor a refusal, so model A is a tiny scripted HTTP/1.1 server on 127.0.0.1
(real sockets, the OpenAI wire format) and model B the simulator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from omegaconf import OmegaConf

from harness.config.schema import ModelConfig, PriceOverride, ReliabilityConfig
from harness.cost.pricing import Pricer
from harness.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ContextLengthError,
    MissingCredentialsError,
    ServerError,
)
from harness.llm.client import CallContext, LLMClient
from harness.llm.retry import RetryPolicy
from harness.llm.types import ChatRequest, FinishReason, Message

QWEN = "qwen/qwen-2.5-coder-32b-instruct"
SONNET = "claude-3-5-sonnet-20241022"


@dataclass
class Reply:
    status: int = 200
    body: dict = field(default_factory=dict)


@dataclass
class Scripted:
    """Answers request i with ``replies[i]`` (the last one repeats); records the bodies."""

    replies: list[Reply]
    seen: list[dict] = field(default_factory=list)
    url: str = ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        self.seen.append(json.loads(await reader.readexactly(length)))
        reply = self.replies[min(len(self.seen), len(self.replies)) - 1]
        body = json.dumps(reply.body).encode()
        writer.write(
            f"HTTP/1.1 {reply.status} X\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    s = Scripted(replies=[])
    server = await asyncio.start_server(s._handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    s.url = f"http://127.0.0.1:{port}/v1"
    yield s
    server.close()
    await server.wait_closed()


def completion(finish: str = "stop", content: str = "print('hello')") -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "model-a",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    }


# OpenAI's documented error for a prompt over the window (code context_length_exceeded).
CONTEXT_400 = Reply(
    400,
    {
        "error": {
            "message": "This model's maximum context length is 8192 tokens. However, your "
            "messages resulted in 9000 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    },
)


@pytest.fixture(scope="module")
def sim():
    from harness.sim.process import SimProcess
    from harness.sim.settings import load_default_settings

    with SimProcess(load_default_settings()) as proc:
        yield proc


@pytest.fixture(scope="module")
def seed_models():
    from harness.config.compose import compose_config

    cfg = compose_config([])
    return {k: OmegaConf.to_object(v) for k, v in cfg.portfolio.models.items()}


def mixed_models(a_url: str, sim_url: str) -> dict[str, ModelConfig]:
    """A on the scripted server, B (Sonnet, Anthropic protocol) and C (Qwen) on the simulator."""
    price = PriceOverride(input_per_mtok=1.0, output_per_mtok=2.0)
    return {
        "a": ModelConfig(
            provider="acme", protocol="openai", model_id="model-a", api_base=a_url, price=price
        ),
        "b": ModelConfig(
            provider="anthropic", protocol="anthropic", model_id=SONNET, api_base=sim_url
        ),
        "c": ModelConfig(provider="openrouter", protocol="openai", model_id=QWEN,
                         api_base=sim_url + "/v1"),
    }  # fmt: skip


def make_client(models, rows: list, *, sim_url: str | None = None, **rel) -> LLMClient:
    return LLMClient(
        models=models,
        mode="sim" if sim_url else "live",
        sim_url=sim_url,
        retry=RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.02, max_attempts=3),
        pricer=Pricer(models),
        sink=rows.append,
        reliability=ReliabilityConfig(**rel),
    )


def req_for(model_id: str, stream: bool = False) -> ChatRequest:
    return ChatRequest(
        model=model_id,
        messages=(Message("user", "Write hello world in Python."),),
        max_tokens=64,
        stream=stream,
    )


CTX = CallContext(run_id="r", trial_id="t", router="fixed", route_reason="arm model")


@pytest.mark.parametrize("stream", [False, True])
async def test_retries_exhausted_on_a_falls_back_to_b_across_protocols(
    seed_models, sim, stream: bool
) -> None:
    rows: list[dict] = []
    client = make_client(
        seed_models, rows, sim_url=sim.url,
        fallbacks={"qwen-2-5-coder": ["claude-3-5-sonnet"]},
    )  # fmt: skip
    sim.queue_faults(QWEN, ["500", "500", "500"])
    out = await client.chat("qwen-2-5-coder", req_for(QWEN, stream), CTX)
    await client.aclose()
    assert out.error is None and out.response is not None
    assert out.model == "claude-3-5-sonnet" and out.fallbacks == 1 and out.attempts == 4
    assert out.response.model.startswith("claude")
    assert [(r["portfolio_model"], r["status"], r["fallback_from"]) for r in rows] == [
        ("qwen-2-5-coder", "error", None),
        ("qwen-2-5-coder", "error", None),
        ("qwen-2-5-coder", "error", None),
        ("claude-3-5-sonnet", "ok", "qwen-2-5-coder"),
    ]
    assert [r["attempt"] for r in rows] == [1, 2, 3, 1]
    assert rows[-1]["request_model"] == SONNET and SONNET in rows[-1]["request_body"]
    assert rows[-1]["api_protocol"] == "anthropic"
    assert all(r["router"] == "fixed" for r in rows)
    assert out.cost_usd == pytest.approx(rows[-1]["cost_usd"])


async def test_a_chain_of_three_records_each_hop(seed_models, sim) -> None:
    rows: list[dict] = []
    client = make_client(seed_models, rows, sim_url=sim.url)
    sim.queue_faults(QWEN, ["503"] * 3)
    sim.queue_faults(SONNET, ["529"] * 3)
    out = await client.chat(
        "qwen-2-5-coder", req_for(QWEN), CTX, fallbacks=["claude-3-5-sonnet", "gpt-4o"]
    )
    await client.aclose()
    assert out.error is None and out.model == "gpt-4o" and out.fallbacks == 2
    assert [r["fallback_from"] for r in rows] == [None] * 3 + ["qwen-2-5-coder"] * 3 + [
        "claude-3-5-sonnet"
    ]


async def test_the_last_error_is_kept_when_the_chain_is_exhausted(seed_models, sim) -> None:
    rows: list[dict] = []
    client = make_client(seed_models, rows, sim_url=sim.url)
    sim.queue_faults(QWEN, ["500"] * 3)
    sim.queue_faults(SONNET, ["500"] * 3)
    out = await client.chat("qwen-2-5-coder", req_for(QWEN), CTX, fallbacks=["claude-3-5-sonnet"])
    await client.aclose()
    assert isinstance(out.error, ServerError) and out.response is None
    assert out.model == "claude-3-5-sonnet" and out.fallbacks == 1 and out.attempts == 6
    assert len(rows) == 6


async def test_context_length_moves_on_without_retrying(scripted, sim) -> None:
    scripted.replies = [CONTEXT_400]
    rows: list[dict] = []
    client = make_client(mixed_models(scripted.url, sim.url), rows, fallbacks={"a": ["b"]})
    out = await client.chat("a", req_for("model-a"), CTX)
    await client.aclose()
    assert out.error is None and out.model == "b" and out.fallbacks == 1
    assert len(scripted.seen) == 1, "a context-length error is not retried"
    assert [(r["portfolio_model"], r.get("error_kind"), r["fallback_from"]) for r in rows] == [
        ("a", "context_length", None),
        ("b", None, "a"),
    ]


async def test_a_refusal_moves_on_and_its_cost_counts(scripted, sim) -> None:
    scripted.replies = [Reply(200, completion("content_filter", ""))]
    rows: list[dict] = []
    client = make_client(mixed_models(scripted.url, sim.url), rows, fallbacks={"a": ["c"]})
    out = await client.chat("a", req_for("model-a", stream=False), CTX)
    await client.aclose()
    assert out.error is None and out.model == "c" and out.fallbacks == 1
    assert out.response is not None and out.response.finish_reason == FinishReason.STOP
    assert [(r["portfolio_model"], r["status"], r["finish_reason"]) for r in rows] == [
        ("a", "ok", "content_filter"),
        ("c", "ok", "stop"),
    ]
    # A's refused answer was billed (20 in at $1/M + 5 out at $2/M) and is part of the total
    assert rows[0]["cost_usd"] == pytest.approx(30e-6)
    assert out.cost_usd == pytest.approx(rows[0]["cost_usd"] + rows[1]["cost_usd"])


async def test_a_refusal_at_the_end_of_the_chain_is_the_answer(scripted, sim) -> None:
    scripted.replies = [Reply(200, completion("content_filter", "I can't help with that."))]
    rows: list[dict] = []
    client = make_client(mixed_models(scripted.url, sim.url), rows)
    out = await client.chat("a", req_for("model-a"), CTX)
    await client.aclose()
    assert out.error is None and out.model == "a" and out.fallbacks == 0
    assert out.response is not None and out.response.finish_reason == FinishReason.CONTENT_FILTER


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(400, {"error": {"message": "temperature: must be <= 2"}}), BadRequestError),
        (Reply(401, {"error": {"message": "Incorrect API key provided"}}), AuthenticationError),
    ],
)
async def test_bad_request_and_auth_do_not_fall_back(scripted, sim, reply, error) -> None:
    scripted.replies = [reply]
    rows: list[dict] = []
    client = make_client(mixed_models(scripted.url, sim.url), rows, fallbacks={"a": ["b"]})
    out = await client.chat("a", req_for("model-a"), CTX)
    await client.aclose()
    assert type(out.error) is error and out.model == "a" and out.fallbacks == 0
    assert len(rows) == 1 and len(scripted.seen) == 1


async def test_an_unsendable_request_does_not_fall_back(seed_models, sim) -> None:
    rows: list[dict] = []
    client = make_client(seed_models, rows, sim_url=sim.url)
    before = sim.stats()["total"]
    req = ChatRequest(model=QWEN, messages=(Message("user", "hi"),), extra={"x": object()})
    out = await client.chat("qwen-2-5-coder", req, CTX, fallbacks=["claude-3-5-sonnet"])
    await client.aclose()
    assert isinstance(out.error, BadRequestError) and out.fallbacks == 0 and len(rows) == 1
    assert sim.stats()["total"] == before


async def test_explicit_fallbacks_replace_the_configured_chain(scripted, sim) -> None:
    scripted.replies = [CONTEXT_400]
    rows: list[dict] = []
    client = make_client(mixed_models(scripted.url, sim.url), rows, fallbacks={"a": ["b"]})
    out = await client.chat("a", req_for("model-a"), CTX, fallbacks=["c"])
    none = await client.chat("a", req_for("model-a"), CTX, fallbacks=[])
    await client.aclose()
    assert out.model == "c"
    assert none.model == "a" and isinstance(none.error, ContextLengthError)


def test_unknown_fallback_models_are_config_errors(seed_models) -> None:
    with pytest.raises(ConfigError, match=r"reliability\.fallbacks\.gpt-4o: unknown model 'nope'"):
        make_client(seed_models, [], fallbacks={"gpt-4o": ["nope"]})


async def test_prepare_checks_the_keys_of_fallback_models(seed_models, monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test-0123456789")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    client = make_client(seed_models, [], fallbacks={"qwen-2-5-coder": ["claude-3-5-sonnet"]})
    with pytest.raises(MissingCredentialsError, match="ANTHROPIC_API_KEY"):
        client.prepare(["qwen-2-5-coder"])
    await client.aclose()
