"""Per-model timeouts: a hung response or stream is cut, classified, retried and logged.

The simulator's ``hang`` fault goes silent *before* its response headers; the
mid-stream stall (headers and a first chunk, then silence) comes from a tiny
scripted HTTP/1.1 server on 127.0.0.1 that speaks OpenAI's SSE format.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator

import pytest
from omegaconf import OmegaConf

from harness.config.schema import ModelConfig, ModelTimeouts
from harness.cost.pricing import Pricer
from harness.errors import ConfigError, ProviderTimeoutError
from harness.llm.client import CallContext, LLMClient
from harness.llm.http import Timeouts
from harness.llm.retry import RetryPolicy
from harness.llm.types import ChatRequest, Message

QWEN = "qwen/qwen-2.5-coder-32b-instruct"


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    body: dict = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "model-s",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta else [],
    }
    if usage:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


FULL_STREAM = [
    _chunk({"role": "assistant", "content": "print("}),
    _chunk({"content": "'hi')"}),
    _chunk({"content": ""}, finish="stop"),
    _chunk({}, usage={"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}),
    b"data: [DONE]\n\n",
]


class StallingServer:
    """Request 1: headers and one chunk, then ``stall_s`` of silence. Later: the whole stream.

    ``gap_s`` > 0 instead trickles chunks that never end the stream, one per gap.
    """

    def __init__(self, stall_s: float = 5.0, gap_s: float = 0.0) -> None:
        self.stall_s = stall_s
        self.gap_s = gap_s
        self.requests = 0
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        self.requests += 1
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\nconnection: close\r\n\r\n"
        )
        try:
            if self.gap_s:
                for _ in range(200):  # bounded: ~10 s at most, the client leaves long before
                    writer.write(_chunk({"content": "."}))
                    await writer.drain()
                    await asyncio.sleep(self.gap_s)
            if self.requests == 1:
                writer.write(FULL_STREAM[0])
                await writer.drain()
                await asyncio.sleep(self.stall_s)
            else:
                for chunk in FULL_STREAM:
                    writer.write(chunk)
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def stalling() -> AsyncIterator[StallingServer]:
    s = StallingServer()
    server = await asyncio.start_server(s.handle, "127.0.0.1", 0)
    s.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    yield s
    server.close()
    await asyncio.wait_for(server.wait_closed(), 2)


def _model(url: str, **timeouts: float) -> ModelConfig:
    return ModelConfig(
        provider="selfhosted",
        protocol="openai",
        model_id="model-s",
        api_base=url,
        timeouts=ModelTimeouts(**timeouts),
    )


def _client(models, rows: list, *, mode: str = "live", sim_url: str | None = None, **retry):
    policy = RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.02, **retry)
    return LLMClient(
        models=models,
        mode=mode,
        sim_url=sim_url,
        retry=policy,
        pricer=Pricer(models),
        sink=rows.append,
        timeouts=Timeouts(connect=5, read=30, total=60),
    )


def _req(model_id: str, stream: bool = True) -> ChatRequest:
    return ChatRequest(
        model=model_id, messages=(Message("user", "Say hi."),), max_tokens=32, stream=stream
    )


CTX = CallContext(run_id="r", trial_id="t")


async def test_a_mid_stream_hang_is_cut_at_the_read_timeout_and_retried(stalling) -> None:
    rows: list[dict] = []
    client = _client({"s": _model(stalling.url, read=0.3)}, rows)
    t0 = time.monotonic()
    out = await client.chat("s", _req("model-s"), CTX)
    elapsed = time.monotonic() - t0
    await client.aclose()
    assert out.error is None and out.response is not None
    assert out.response.content == "print('hi')" and out.attempts == 2
    assert stalling.requests == 2
    assert elapsed < 2.0, "cut at 0.3 s, not after the server's 5 s stall"
    assert [(r["status"], r.get("error_kind")) for r in rows] == [
        ("error", "timeout"),
        ("ok", None),
    ]
    assert "read timeout after 0.3 s between response chunks" in rows[0]["error_message"]
    assert 250 <= rows[0]["latency_ms"] < 1500
    assert [r["attempt"] for r in rows] == [1, 2]


async def test_a_total_timeout_cuts_a_stream_that_never_ends() -> None:
    s = StallingServer(gap_s=0.05)  # never silent for long, never finished
    server = await asyncio.start_server(s.handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    rows: list[dict] = []
    client = _client({"s": _model(url, read=0.3, total=0.5)}, rows, max_attempts=1)
    t0 = time.monotonic()
    out = await client.chat("s", _req("model-s"), CTX)
    elapsed = time.monotonic() - t0
    await client.aclose()
    server.close()
    assert isinstance(out.error, ProviderTimeoutError)
    assert "total timeout of 0.5 s" in str(out.error)
    assert 0.45 <= elapsed < 2.0
    assert [r["error_kind"] for r in rows] == ["timeout"]


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


@pytest.mark.parametrize("stream", [False, True])
async def test_the_simulators_hang_is_cut_and_retried(seed_models, sim, stream: bool) -> None:
    models = dict(seed_models)
    models["qwen-2-5-coder"] = dataclasses.replace(
        models["qwen-2-5-coder"], timeouts=ModelTimeouts(read=0.3)
    )
    rows: list[dict] = []
    client = _client(models, rows, mode="sim", sim_url=sim.url)
    sim.queue_faults(QWEN, ["hang:4"])
    t0 = time.monotonic()
    out = await client.chat("qwen-2-5-coder", _req(QWEN, stream), CTX)
    elapsed = time.monotonic() - t0
    await client.aclose()
    assert out.error is None and out.attempts == 2 and elapsed < 2.5
    assert [r.get("error_kind") for r in rows] == ["timeout", None]
    assert "waiting for the response" in rows[0]["error_message"]


async def test_overrides_apply_to_their_model_only(seed_models, sim) -> None:
    models = dict(seed_models)
    models["gpt-4o"] = dataclasses.replace(
        models["gpt-4o"], timeouts=ModelTimeouts(connect=2, read=7, total=90)
    )
    client = _client(models, [], mode="sim", sim_url=sim.url)
    tuned, plain = client.adapter("gpt-4o")._timeouts, client.adapter("qwen-2-5-coder")._timeouts
    await client.aclose()
    assert (tuned.connect, tuned.read, tuned.total, tuned.write) == (2, 7, 90, plain.write)
    assert (plain.connect, plain.read, plain.total) == (5, 30, 60)


async def test_a_bad_override_names_the_model(seed_models, sim) -> None:
    models = dict(seed_models)
    models["gpt-4o"] = dataclasses.replace(models["gpt-4o"], timeouts=ModelTimeouts(read=-1))
    client = _client(models, [], mode="sim", sim_url=sim.url)
    with pytest.raises(ConfigError, match=r"portfolio\.models\.gpt-4o\.timeouts: .*'read'"):
        client.prepare(["gpt-4o"])
    await client.aclose()
