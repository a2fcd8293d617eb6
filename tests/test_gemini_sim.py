"""The Gemini adapter against the simulator over real HTTP: answers, streams, tools, faults.

The simulator runs as a subprocess on 127.0.0.1 and speaks Gemini at
``/v1beta``; ``POST /sim/faults`` queues the failure the next request takes.
A blocked prompt and a malformed function call are asked for with the
simulator's prompt markers (``harness.sim.wire_gemini``).
"""

from __future__ import annotations

import json
import traceback
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest

from harness.errors import (
    LLMError,
    MalformedResponseError,
    NotFoundError,
    OverloadedError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    StreamCutError,
)
from harness.llm.http import Timeouts, make_http_client
from harness.llm.providers import get_adapter
from harness.llm.providers.gemini import SYNTH_ID_PREFIX, GeminiAdapter
from harness.llm.types import ChatRequest, FinishReason, Message, ToolSpec
from harness.sim.wire_gemini import BLOCK_MARKER, MALFORMED_CALL_MARKER

MODEL = "gemini-1.5-pro-002"  # conf/portfolio/seed.yaml
SECRET = "AIza-sim-SECRET-4b3a2f1e0d9c"
PROMPT = (
    'def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n'
    '    >>> add(2, 3)\n    5\n    """\n'
)
RUN_TESTS = ToolSpec(
    "run_tests",
    "Run the hidden tests against a candidate solution.",
    {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
)
READ_FILE = ToolSpec(
    "read_file",
    "Read a file of the repository.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
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


def gemini(sim: Any, http: httpx2.AsyncClient, timeouts: Timeouts | None = None) -> GeminiAdapter:
    adapter = get_adapter("gemini")(
        provider="sim-google",
        api_base=f"{sim.url}/v1beta",
        api_key=SECRET,
        http=http,
        timeouts=timeouts or Timeouts(read=10, total=30),
    )
    assert isinstance(adapter, GeminiAdapter)
    return adapter


def request(text: str = PROMPT, *, stream: bool = False, **kw: Any) -> ChatRequest:
    return ChatRequest(
        model=MODEL, messages=(Message("user", text),), stream=stream, seed=3, max_tokens=512, **kw
    )


async def queue_faults(http: httpx2.AsyncClient, sim: Any, faults: list[str]) -> None:
    r = await http.post(f"{sim.url}/sim/faults", json={"model": MODEL, "faults": faults})
    assert r.status_code == 200


async def test_answer_streamed_and_not_agree(sim: Any, http: httpx2.AsyncClient) -> None:
    a = gemini(sim, http)
    plain = await a.chat(request())
    streamed = await a.chat(request(stream=True))
    for resp in (plain, streamed):
        assert resp.content and resp.finish_reason is FinishReason.STOP
        assert resp.model == MODEL and resp.tool_calls == ()
        u = resp.usage
        assert u.input_tokens and u.input_tokens > 0 and u.output_tokens and u.output_tokens > 0
        # nothing cached and no thinking: protobuf leaves the counts out, so they stay unknown
        assert u.cached_input_tokens is None and u.reasoning_tokens is None
    assert streamed.content == plain.content and streamed.usage == plain.usage
    assert plain.ttft_ms is None
    assert streamed.ttft_ms is not None and 0 < streamed.ttft_ms < streamed.latency_ms
    assert SECRET not in (plain.raw_body or "") + (streamed.raw_body or "")


@pytest.mark.parametrize("stream", [False, True])
async def test_parallel_tool_calls_then_results(
    sim: Any, http: httpx2.AsyncClient, stream: bool
) -> None:
    a = gemini(sim, http)
    tools = (RUN_TESTS, READ_FILE)
    first = await a.chat(request(stream=stream, tools=tools))
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert [c.name for c in first.tool_calls] == ["run_tests", "read_file"]
    run, read = first.tool_calls
    assert isinstance(run.arguments, dict) and isinstance(run.arguments.get("code"), str)
    assert isinstance(read.arguments, dict) and isinstance(read.arguments.get("path"), str)
    assert all(c.id.startswith(SYNTH_ID_PREFIX) for c in first.tool_calls)
    assert run.id != read.id

    follow = ChatRequest(
        model=MODEL,
        messages=(
            Message("user", PROMPT),
            Message("assistant", first.content, tool_calls=first.tool_calls),
            Message("tool", json.dumps({"passed": 3, "failed": 0}), tool_call_id=run.id),
            Message("tool", "def add(a, b): ...", tool_call_id=read.id),
        ),
        tools=tools,
        stream=stream,
        seed=3,
    )
    final = await a.chat(follow)
    # after the tool results the simulated model answers in text
    assert final.finish_reason is FinishReason.STOP and final.tool_calls == ()
    assert final.content.strip()
    assert final.usage.input_tokens and final.usage.input_tokens > (first.usage.input_tokens or 0)


@pytest.mark.parametrize("stream", [False, True])
async def test_blocked_prompt_and_malformed_call(
    sim: Any, http: httpx2.AsyncClient, stream: bool
) -> None:
    a = gemini(sim, http)
    blocked = await a.chat(request(f"{BLOCK_MARKER} {PROMPT}", stream=stream))
    assert blocked.finish_reason is FinishReason.CONTENT_FILTER
    assert blocked.content == "" and blocked.tool_calls == ()
    assert blocked.usage.input_tokens and blocked.usage.output_tokens == 0

    marked = f"{MALFORMED_CALL_MARKER} {PROMPT}"
    broken = await a.chat(request(marked, stream=stream, tools=(RUN_TESTS,)))
    assert broken.finish_reason is FinishReason.ERROR  # never "stop"
    assert broken.content == "" and broken.tool_calls == ()


# fault the simulator injects → the error class it must land on
FAULTS: list[tuple[str, type[LLMError]]] = [
    ("429:0.25", RateLimitError),
    ("500", ServerError),
    ("503", OverloadedError),
    ("html", ServerError),  # a proxy's HTML page with a 502
    ("cut", StreamCutError),
    ("reset", StreamCutError),
    ("malformed", MalformedResponseError),
    ("empty", MalformedResponseError),
    ("wrong_content_type", MalformedResponseError),
    ("hang:2", ProviderTimeoutError),
]


@pytest.mark.parametrize("stream", [False, True])
async def test_every_fault_is_classified(sim: Any, http: httpx2.AsyncClient, stream: bool) -> None:
    a = gemini(sim, http, Timeouts(read=0.5, total=30))
    await queue_faults(http, sim, [name for name, _ in FAULTS])
    for name, cls in FAULTS:
        with pytest.raises(LLMError) as info:
            await a.chat(request(stream=stream))
        err = info.value
        assert type(err) is cls, (name, err)
        assert err.retryable and err.provider == "sim-google" and err.model == MODEL
        if name.startswith("429"):
            assert err.retry_after == 0.25 and err.http_status == 429
            assert '"status":"RESOURCE_EXHAUSTED"' in (err.body or "")
        if name == "503":
            assert err.http_status == 503 and '"status":"UNAVAILABLE"' in (err.body or "")
        assert SECRET not in f"{err}{err!r}{err.body}"
        assert SECRET not in "".join(traceback.format_exception(err))
    ok = await a.chat(request(stream=stream))
    assert ok.content and ok.finish_reason is FinishReason.STOP


async def test_unknown_model_and_model_endpoint(sim: Any, http: httpx2.AsyncClient) -> None:
    a = gemini(sim, http)
    with pytest.raises(NotFoundError) as info:
        await a.chat(ChatRequest(model="gemini-0-nope", messages=(Message("user", "x"),)))
    assert '"status":"NOT_FOUND"' in (info.value.body or "")
    got = await http.get(f"{sim.url}/v1beta/models/{MODEL}", headers={"x-goog-api-key": SECRET})
    assert got.status_code == 200 and got.json()["name"] == f"models/{MODEL}"
    listed = (await http.get(f"{sim.url}/v1beta/models")).json()["models"]
    assert f"models/{MODEL}" in {m["name"] for m in listed}
    missing = await http.get(f"{sim.url}/v1beta/models/gemini-0-nope")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"


async def test_simulator_refuses_what_gemini_refuses(sim: Any, http: httpx2.AsyncClient) -> None:
    """Schemas the adapter must trim: the simulator answers them with Gemini's 400."""
    url = f"{sim.url}/v1beta/models/{MODEL}:generateContent"
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]
    bad = {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": False}
    empty = {"type": "object"}
    for params in (bad, empty):
        tools = [{"functionDeclarations": [{"name": "f", "parameters": params}]}]
        body = {"contents": contents, "tools": tools}
        r = await http.post(url, json=body)
        assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    # the adapter's own encoding of the same tools is accepted
    a = gemini(sim, http)
    tools = (ToolSpec("f", "", bad), ToolSpec("g", "", empty))
    resp = await a.chat(request(tools=tools))
    assert resp.finish_reason is FinishReason.TOOL_CALLS


async def test_client_sim_mode_uses_v1beta(sim: Any) -> None:
    from omegaconf import OmegaConf

    from harness.config.compose import compose_config
    from harness.cost.pricing import Pricer
    from harness.llm.client import CallContext, LLMClient
    from harness.llm.retry import RetryPolicy

    cfg = compose_config([])
    models = {k: OmegaConf.to_object(v) for k, v in cfg.portfolio.models.items()}
    assert models["gemini-1-5-pro"].protocol == "gemini"
    rows: list[dict[str, Any]] = []
    client = LLMClient(
        models=models, mode="sim", sim_url=sim.url, retry=RetryPolicy(),
        pricer=Pricer(models), sink=rows.append,
    )  # fmt: skip
    try:
        assert client.adapter("gemini-1-5-pro").url == f"{sim.url}/v1beta/models"
        out = await client.chat("gemini-1-5-pro", request(), CallContext(run_id="r"))
    finally:
        await client.aclose()
    assert out.response is not None and out.response.content
    (row,) = rows
    assert row["api_protocol"] == "gemini" and row["status"] == "ok"
    assert row["input_tokens"] and row["output_tokens"]
