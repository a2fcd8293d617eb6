"""Both adapters against the simulator over real HTTP: answers, streams, tools, every fault.

The simulator runs as a subprocess (``harness.sim.process.SimProcess``) on
127.0.0.1; ``POST /sim/faults`` queues the failure the next request takes, so
each fault kind is met exactly once and must land on its error class.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest

from harness.errors import (
    LLMError,
    MalformedResponseError,
    OverloadedError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    StreamCutError,
)
from harness.llm.http import Timeouts, make_http_client
from harness.llm.providers import get_adapter
from harness.llm.providers.base import ProviderAdapter
from harness.llm.retry import RetryPolicy
from harness.llm.types import ChatRequest, FinishReason, Message, ToolSpec

# API model ids from conf/portfolio/seed.yaml, one per protocol.
MODELS = {"anthropic": "claude-3-5-sonnet-20241022", "openai": "qwen/qwen-2.5-coder-32b-instruct"}
PROTOCOLS = sorted(MODELS)
SECRET = "sk-sim-SECRET-9f8e7d6c5b4a"
PROMPT = (
    'def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n'
    '    >>> add(2, 3)\n    5\n    """\n'
)
RUN_TESTS = ToolSpec(
    name="run_tests",
    description="Run the hidden tests against a candidate solution.",
    parameters={
        "type": "object",
        "properties": {"code": {"type": "string", "description": "The full Python solution"}},
        "required": ["code"],
    },
)


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    from harness.sim.process import SimProcess
    from harness.sim.settings import load_default_settings

    with SimProcess(load_default_settings()) as proc:
        yield proc


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    client = make_http_client(max_connections=8, timeouts=Timeouts(read=10, total=30))
    yield client
    await client.aclose()


def adapter(
    sim: Any, http: httpx2.AsyncClient, protocol: str, timeouts: Timeouts | None = None
) -> ProviderAdapter:
    base = f"{sim.url}/v1" if protocol == "openai" else sim.url
    return get_adapter(protocol)(
        provider=f"sim-{protocol}",
        api_base=base,
        api_key=SECRET,
        http=http,
        timeouts=timeouts or Timeouts(read=10, total=30),
    )


def request(protocol: str, stream: bool, **kw: Any) -> ChatRequest:
    return ChatRequest(
        model=MODELS[protocol],
        messages=(Message("system", "Reply with Python code."), Message("user", PROMPT)),
        max_tokens=512,
        stream=stream,
        seed=7,
        user="test-llm-sim",
        **kw,
    )


async def queue_faults(http: httpx2.AsyncClient, sim: Any, model: str, faults: list[str]) -> None:
    r = await http.post(f"{sim.url}/sim/faults", json={"model": model, "faults": faults})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_answer_streamed_and_not(sim: Any, http: httpx2.AsyncClient, protocol: str) -> None:
    a = adapter(sim, http, protocol)
    once = await a.chat(request(protocol, stream=False))
    streamed = await a.chat(request(protocol, stream=True))
    for resp in (once, streamed):
        assert resp.content.strip()
        assert resp.model == MODELS[protocol]
        assert resp.finish_reason is FinishReason.STOP
        assert resp.http_status == 200 and resp.response_id
        assert resp.usage.input_tokens and resp.usage.input_tokens > 0
        assert resp.usage.output_tokens and resp.usage.output_tokens > 0
        assert resp.latency_ms > 0
        body = json.loads(resp.raw_body or "")
        text = (
            body["choices"][0]["message"]["content"]
            if protocol == "openai"
            else "".join(b["text"] for b in body["content"] if b["type"] == "text")
        )
        assert text == resp.content
    assert once.ttft_ms is None
    assert streamed.ttft_ms is not None and 0 < streamed.ttft_ms < streamed.latency_ms
    # same request, same seed: the stream reassembles to exactly the non-streamed answer
    assert streamed.content == once.content
    assert streamed.usage == once.usage


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_tool_call_round_trip(
    sim: Any, http: httpx2.AsyncClient, protocol: str, stream: bool
) -> None:
    a = adapter(sim, http, protocol)
    first_req = request(protocol, stream, tools=(RUN_TESTS,))
    first = await a.chat(first_req)
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert first.tool_calls
    for call in first.tool_calls:
        assert call.id and call.name == "run_tests"
        assert isinstance(call.arguments, dict) and isinstance(call.arguments.get("code"), str)
        assert json.loads(call.raw_arguments) == call.arguments
    if stream:
        assert first.ttft_ms is not None and first.ttft_ms < first.latency_ms

    results = tuple(
        Message("tool", "3 passed, 0 failed", tool_call_id=call.id) for call in first.tool_calls
    )
    follow_up = ChatRequest(
        model=first_req.model,
        messages=(
            *first_req.messages,
            Message("assistant", first.content, tool_calls=first.tool_calls),
            *results,
        ),
        tools=first_req.tools,
        max_tokens=first_req.max_tokens,
        stream=stream,
        seed=first_req.seed,
    )
    final = await a.chat(follow_up)
    assert final.finish_reason is FinishReason.STOP
    assert final.tool_calls == ()
    assert final.content.strip()
    assert final.usage.input_tokens and final.usage.input_tokens > first.usage.input_tokens


# fault the simulator injects → the error class it must land on
FAULTS: list[tuple[str, type[LLMError]]] = [
    ("429:0.25", RateLimitError),
    ("500", ServerError),
    ("503", OverloadedError),
    ("529", OverloadedError),
    ("html", ServerError),  # the simulator's HTML page comes with a proxy's 502
    ("cut", StreamCutError),
    ("reset", StreamCutError),
    ("malformed", MalformedResponseError),
    ("empty", MalformedResponseError),
    ("wrong_content_type", MalformedResponseError),
    ("hang:2", ProviderTimeoutError),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_every_fault_is_classified(
    sim: Any, http: httpx2.AsyncClient, protocol: str, stream: bool
) -> None:
    """Each fault the simulator can inject lands on its error class, then the next call works."""
    a = adapter(sim, http, protocol, timeouts=Timeouts(read=0.5, total=30))
    model = MODELS[protocol]
    await queue_faults(http, sim, model, [name for name, _ in FAULTS])
    for name, cls in FAULTS:
        with pytest.raises(LLMError) as info:
            await a.chat(request(protocol, stream))
        err = info.value
        assert type(err) is cls, (name, err)
        assert err.retryable, name
        assert err.provider == f"sim-{protocol}" and err.model == model
        if name.startswith("429"):
            assert err.retry_after == 0.25 and err.http_status == 429
        if name == "html":
            assert err.http_status == 502 and "502 Bad Gateway" in str(err)
        if name in ("malformed", "empty", "wrong_content_type"):
            assert err.http_status == 200
        assert SECRET not in f"{err}{err!r}{err.body}"
        assert SECRET not in "".join(traceback.format_exception(err))
    # the pool recovers from cut and reset connections
    ok = await a.chat(request(protocol, stream))
    assert ok.content and SECRET not in (ok.raw_body or "")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_retry_policy_over_real_faults(
    sim: Any, http: httpx2.AsyncClient, protocol: str
) -> None:
    """A bare retry loop: the policy waits at least Retry-After, then the call succeeds."""
    import random
    import time

    policy = RetryPolicy(max_attempts=5, initial_backoff_s=0.01, max_backoff_s=0.05)
    a = adapter(sim, http, protocol)
    await queue_faults(http, sim, MODELS[protocol], ["429:0.3", "cut", "500", "malformed"])
    rng = random.Random(0)
    start = time.monotonic()
    kinds, waits = [], []
    for attempt in range(1, 10):
        try:
            resp = await a.chat(request(protocol, stream=True))
            break
        except LLMError as err:
            kinds.append(err.kind)
            delay = policy.next_delay(attempt, err, time.monotonic() - start, rng)
            assert delay is not None
            waits.append(delay)
            await asyncio.sleep(delay)
    assert kinds == ["rate_limit", "stream_cut", "server_error", "malformed_response"]
    assert waits[0] >= 0.3 and all(w <= 0.05 * 1.25 for w in waits[1:])
    assert attempt == 5 and resp.content
    # a fifth failure would have been the last attempt
    assert policy.next_delay(5, StreamCutError("x"), 0.0) is None
