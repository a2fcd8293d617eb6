"""Both protocols against the simulator over real HTTP: tools, usage, prompt caching, OpenRouter.

The simulator runs as a subprocess on 127.0.0.1 with a short prompt-cache TTL.
Expected cache figures are computed from the simulator's documented rule (a
prefix's tokens = ceil(chars / the profile's chars_per_token); OpenAI reads
in 128-token steps) and its settings, not copied from a run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest

from harness.llm.http import Timeouts, make_http_client
from harness.llm.providers import get_adapter
from harness.llm.providers.base import ProviderAdapter
from harness.llm.types import ChatRequest, FinishReason, Message, ToolSpec, Usage
from harness.sim.behaviour import PromptCache
from harness.sim.settings import SimSettings, load_default_settings
from harness.sim.wire_openai import SIM_RATES

SONNET = "claude-3-5-sonnet-20241022"
QWEN = "qwen/qwen-2.5-coder-32b-instruct"
TTL_S = 1.5
PROMPT = (
    'def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n'
    '    >>> add(2, 3)\n    5\n    """\n'
)
TOOLS = (
    ToolSpec(
        "run_tests",
        "Run the hidden tests against a candidate solution.",
        {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
    ),
    ToolSpec(
        "read_file",
        "Read a file of the repository.",
        {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
)


def long_text(tag: str, chars: int = 6000) -> str:
    """A system prompt long enough to be cached (over 1024 tokens), unique per test."""
    unit = f"[{tag}] Follow the project's style guide; write small pure functions. "
    return (unit * (chars // len(unit) + 1))[:chars]


@pytest.fixture(scope="module")
def settings() -> SimSettings:
    return dataclasses.replace(load_default_settings(), prompt_cache_ttl_s=TTL_S)


@pytest.fixture(scope="module")
def sim(settings: SimSettings) -> Iterator[Any]:
    from harness.sim.process import SimProcess

    with SimProcess(settings) as proc:
        yield proc


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    client = make_http_client(max_connections=8, timeouts=Timeouts(read=10, total=30))
    yield client
    await client.aclose()


def adapter(sim: Any, http: httpx2.AsyncClient, protocol: str, **kw: Any) -> ProviderAdapter:
    base = f"{sim.url}/v1" if protocol == "openai" else sim.url
    kw.setdefault("provider", f"sim-{protocol}")
    kw.setdefault("api_key", "sk-sim-protocols-0123456789")
    return get_adapter(protocol)(api_base=base, http=http, **kw)


def tokens(settings: SimSettings, model_id: str, chars: int) -> int:
    profile = settings.profiles[settings.model_ids[model_id]]
    return math.ceil(chars / profile.chars_per_token)


# -- tools ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("protocol", "model"), [("openai", QWEN), ("anthropic", SONNET)])
async def test_parallel_tool_calls_and_results_round_trip(
    sim: Any, http: httpx2.AsyncClient, protocol: str, model: str, stream: bool
) -> None:
    a = adapter(sim, http, protocol)
    first_req = ChatRequest(
        model=model,
        messages=(Message("system", "Use the tools."), Message("user", PROMPT)),
        tools=TOOLS,
        max_tokens=1024,
        stream=stream,
        seed=3,
        user="protocols",
    )
    first = await a.chat(first_req)
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert [c.name for c in first.tool_calls] == ["run_tests", "read_file"]  # parallel
    assert len({c.id for c in first.tool_calls}) == 2
    assert isinstance(first.tool_calls[0].arguments, dict)
    assert isinstance(first.tool_calls[0].arguments["code"], str)
    assert first.tool_calls[1].arguments == {"path": "solution.py"}
    results = tuple(
        Message("tool", f"result of {c.name}", tool_call_id=c.id) for c in first.tool_calls
    )
    follow_req = dataclasses.replace(
        first_req,
        messages=(
            *first_req.messages,
            Message("assistant", first.content, tool_calls=first.tool_calls),
            *results,
        ),
    )
    if protocol == "anthropic":
        # both results go back in one user message of tool_result blocks
        last = a.request_body(follow_req)["messages"][-1]
        assert last["role"] == "user"
        assert [b["tool_use_id"] for b in last["content"]] == [c.id for c in first.tool_calls]
    final = await a.chat(follow_req)
    assert final.finish_reason is FinishReason.STOP and final.tool_calls == ()
    assert final.content.strip()
    assert final.usage.input_tokens and first.usage.input_tokens
    assert final.usage.input_tokens > first.usage.input_tokens


@pytest.mark.parametrize(("protocol", "model"), [("openai", QWEN), ("anthropic", SONNET)])
async def test_tool_call_cut_by_max_tokens_is_length_not_stop(
    sim: Any, http: httpx2.AsyncClient, protocol: str, model: str
) -> None:
    """A tool call cut short keeps its (malformed) arguments and finishes as length."""
    a = adapter(sim, http, protocol)
    req = ChatRequest(
        model=model, messages=(Message("user", PROMPT),), tools=TOOLS[:1], max_tokens=30
    )
    for stream in (False, True):
        resp = await a.chat(dataclasses.replace(req, stream=stream))
        assert resp.finish_reason is FinishReason.LENGTH, stream
        if protocol == "openai":  # Anthropic's wire can only carry a complete input object
            (call,) = resp.tool_calls
            assert call.arguments is None and call.raw_arguments.startswith('{"code": ')


# -- usage and prompt caching -------------------------------------------------------------


async def test_anthropic_cache_write_then_read(
    sim: Any, http: httpx2.AsyncClient, settings: SimSettings
) -> None:
    """prompt_cache on: the first request writes the system prefix, repeats read it, and a
    new question after the same system prompt still reads it; streamed and not agree."""
    a = adapter(sim, http, "anthropic", prompt_cache=True)
    system = long_text("anthropic-cache")
    req = ChatRequest(
        model=SONNET,
        messages=(Message("system", system), Message("user", PROMPT)),
        max_tokens=512,
        user="cache",
    )
    prefix = tokens(settings, SONNET, len(system))
    assert prefix >= 1024
    first = await a.chat(dataclasses.replace(req, stream=True))
    second = await a.chat(req)
    third = await a.chat(
        dataclasses.replace(req, messages=(Message("system", system), Message("user", "Hi")))
    )
    assert (first.usage.cache_write_tokens, first.usage.cached_input_tokens) == (prefix, 0)
    assert (second.usage.cache_write_tokens, second.usage.cached_input_tokens) == (0, prefix)
    assert (third.usage.cache_write_tokens, third.usage.cached_input_tokens) == (0, prefix)
    # the whole prompt is input either way (Usage counts cache reads and writes in it)
    assert first.usage.input_tokens == second.usage.input_tokens
    assert first.usage.input_tokens > prefix
    assert json.loads(first.raw_body or "")["usage"]["cache_creation_input_tokens"] == prefix


async def test_anthropic_without_prompt_cache_reports_no_cache(
    sim: Any, http: httpx2.AsyncClient
) -> None:
    a = adapter(sim, http, "anthropic")  # prompt_cache off: no cache_control sent
    req = ChatRequest(
        model=SONNET,
        messages=(Message("system", long_text("no-cache")), Message("user", PROMPT)),
    )
    for _ in range(2):
        resp = await a.chat(req)
        assert (resp.usage.cache_write_tokens, resp.usage.cached_input_tokens) == (0, 0)


async def test_openai_automatic_cache_on_a_repeated_long_prompt(
    sim: Any, http: httpx2.AsyncClient
) -> None:
    a = adapter(sim, http, "openai")
    req = ChatRequest(
        model=QWEN,
        messages=(Message("system", long_text("openai-cache")), Message("user", PROMPT)),
        max_tokens=256,
        seed=1,
    )
    first = await a.chat(req)
    second = await a.chat(dataclasses.replace(req, stream=True))
    assert first.usage.cached_input_tokens == 0
    total = second.usage.input_tokens
    assert total == first.usage.input_tokens and total is not None
    assert second.usage.cached_input_tokens == total // 128 * 128 >= 1024
    assert second.usage.cache_write_tokens is None  # OpenAI does not report writes
    assert second.usage.reasoning_tokens == 0  # reported as 0, so 0
    # a short prompt is never cached
    short = ChatRequest(model=QWEN, messages=(Message("user", PROMPT),), seed=1)
    await a.chat(short)
    assert (await a.chat(short)).usage.cached_input_tokens == 0


async def test_cache_expires_after_the_ttl(sim: Any, http: httpx2.AsyncClient) -> None:
    a = adapter(sim, http, "anthropic", prompt_cache=True)
    req = ChatRequest(
        model=SONNET,
        messages=(Message("system", long_text("ttl")), Message("user", PROMPT)),
    )
    written = (await a.chat(req)).usage.cache_write_tokens
    assert written and (await a.chat(req)).usage.cached_input_tokens == written
    await asyncio.sleep(TTL_S + 0.2)
    again = await a.chat(req)
    assert (again.usage.cache_write_tokens, again.usage.cached_input_tokens) == (written, 0)


async def test_sim_reset_forgets_cached_prefixes(sim: Any, http: httpx2.AsyncClient) -> None:
    a = adapter(sim, http, "anthropic", prompt_cache=True)
    req = ChatRequest(
        model=SONNET,
        messages=(Message("system", long_text("reset")), Message("user", PROMPT)),
    )
    written = (await a.chat(req)).usage.cache_write_tokens
    assert written and (await a.chat(req)).usage.cached_input_tokens == written
    sim.reset()
    again = await a.chat(req)
    assert (again.usage.cache_write_tokens, again.usage.cached_input_tokens) == (written, 0)


def test_prompt_cache_rules() -> None:
    """The simulator's cache on a fake clock: min size, TTL refresh on hits, 128-token steps."""
    now = [0.0]
    cache = PromptCache(10.0, clock=lambda: now[0])
    points = [("a", 2000), ("b", 8000)]  # 500 and 2000 tokens at 4 chars a token
    assert cache.lookup("m", points, 4.0, 1024, explicit=True) == (0, 2000)
    now[0] = 9.0
    assert cache.lookup("m", points, 4.0, 1024, explicit=True) == (2000, 0)
    now[0] = 18.0  # within 10 s of the hit at 9 s: refreshed
    assert cache.lookup("m", points, 4.0, 1024, explicit=True) == (2000, 0)
    assert cache.lookup("other", points, 4.0, 1024, explicit=True) == (0, 2000)
    now[0] = 40.0
    assert cache.lookup("m", points, 4.0, 1024, explicit=True) == (0, 2000)
    auto = PromptCache(10.0, clock=lambda: now[0])
    assert auto.lookup("m", [("c", 4 * 1300)], 4.0, 1024, explicit=False) == (0, 0)
    assert auto.lookup("m", [("c", 4 * 1300)], 4.0, 1024, explicit=False) == (1280, 0)


# -- OpenRouter and keyless self-hosted ------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_openrouter_cost_and_routing_through_the_sim(
    sim: Any, http: httpx2.AsyncClient, stream: bool
) -> None:
    a = adapter(
        sim,
        http,
        "openai",
        provider="openrouter",
        extra_body={"provider": {"order": ["together", "fireworks"], "allow_fallbacks": False}},
    )
    req = ChatRequest(model=QWEN, messages=(Message("user", PROMPT),), seed=5, stream=stream)
    assert a.request_body(req)["usage"] == {"include": True}
    resp = await a.chat(req)
    u = resp.usage
    assert u.input_tokens and u.output_tokens and u.cached_input_tokens is not None
    want = (
        (u.input_tokens - u.cached_input_tokens) * SIM_RATES["input"]
        + u.cached_input_tokens * SIM_RATES["cached_input"]
        + u.output_tokens * SIM_RATES["output"]
    )
    assert resp.provider_cost_usd == pytest.approx(want, rel=1e-6)
    assert 0 < resp.provider_cost_usd < 0.01
    if not stream:
        assert json.loads(resp.raw_body or "")["provider"] == "together"
    # without OpenRouter's flag the usage has no cost: unknown, not 0
    plain = await adapter(sim, http, "openai").chat(dataclasses.replace(req, stream=False))
    assert plain.provider_cost_usd is None
    assert "provider" not in json.loads(plain.raw_body or "")


async def test_sim_rejects_a_malformed_routing_object(sim: Any, http: httpx2.AsyncClient) -> None:
    from harness.errors import BadRequestError

    a = adapter(sim, http, "openai", provider="openrouter", extra_body={"provider": "together"})
    with pytest.raises(BadRequestError, match="provider"):
        await a.chat(ChatRequest(model=QWEN, messages=(Message("user", "hi"),)))


@pytest.mark.parametrize("stream", [False, True])
async def test_keyless_self_hosted_endpoint(
    sim: Any, http: httpx2.AsyncClient, stream: bool
) -> None:
    """vLLM / Ollama / llama.cpp entries have no key: the call goes out without one."""
    a = adapter(sim, http, "openai", provider="llamacpp", api_key=None)
    resp = await a.chat(ChatRequest(model=QWEN, messages=(Message("user", PROMPT),), stream=stream))
    assert resp.finish_reason is FinishReason.STOP and resp.content.strip()
    assert resp.usage.input_tokens and resp.usage.output_tokens


# -- the client logs the new usage columns; the portfolio switches caching on ----------------


async def test_client_rows_carry_cache_and_reasoning_tokens(sim: Any) -> None:
    from omegaconf import OmegaConf

    from harness.config.compose import compose_config
    from harness.cost.pricing import Pricer
    from harness.llm.client import CallContext, LLMClient
    from harness.llm.retry import RetryPolicy

    cfg = compose_config([])
    models = {k: OmegaConf.to_object(v) for k, v in cfg.portfolio.models.items()}
    assert models["claude-3-5-sonnet"].prompt_cache is True
    assert models["qwen-2-5-coder-llamacpp"].api_key_env is None
    rows: list[dict[str, Any]] = []
    client = LLMClient(
        models=models,
        mode="sim",
        sim_url=sim.url,
        retry=RetryPolicy(),
        pricer=Pricer(models),
        sink=rows.append,
    )
    try:
        req = ChatRequest(
            model=SONNET,
            messages=(Message("system", long_text("client")), Message("user", PROMPT)),
            max_tokens=256,
        )
        ctx = CallContext(run_id="r", trial_id="t")
        for _ in range(2):
            out = await client.chat("claude-3-5-sonnet", req, ctx)
            assert out.response is not None
        qwen = dataclasses.replace(req, model=QWEN)
        assert (await client.chat("qwen-2-5-coder-llamacpp", qwen, ctx)).response is not None
    finally:
        await client.aclose()
    first, second, third = rows
    assert '"cache_control":{"type":"ephemeral"}' in first["request_body"]
    assert first["cache_write_tokens"] > 0 and first["cached_input_tokens"] == 0
    assert second["cached_input_tokens"] == first["cache_write_tokens"]
    assert second["cache_write_tokens"] == 0
    assert first["reasoning_tokens"] is None  # Anthropic does not report it: NULL, not 0
    assert third["reasoning_tokens"] == 0 and third["cache_write_tokens"] is None
    assert Usage().cache_write_tokens is None


async def test_routing_preferences_from_config_reach_the_wire(sim: Any) -> None:
    """A command-line override of a model's extra_body goes into every request body."""
    from omegaconf import OmegaConf

    from harness.config.compose import compose_config
    from harness.cost.pricing import Pricer
    from harness.llm.client import CallContext, LLMClient
    from harness.llm.retry import RetryPolicy

    cfg = compose_config(
        [
            "+portfolio.models.llama-3-70b.extra_body.provider={order:[together],allow_fallbacks:false}"
        ]
    )
    models = {k: OmegaConf.to_object(v) for k, v in cfg.portfolio.models.items()}
    rows: list[dict[str, Any]] = []
    client = LLMClient(
        models=models,
        mode="sim",
        sim_url=sim.url,
        retry=RetryPolicy(),
        pricer=Pricer(models),
        sink=rows.append,
    )
    try:
        model_id = models["llama-3-70b"].model_id
        req = ChatRequest(model=model_id, messages=(Message("user", PROMPT),), max_tokens=64)
        out = await client.chat("llama-3-70b", req, CallContext(run_id="r", trial_id="t"))
    finally:
        await client.aclose()
    assert out.response is not None and out.response.provider_cost_usd is not None
    sent = json.loads(rows[0]["request_body"])
    assert sent["provider"] == {"order": ["together"], "allow_fallbacks": False}
    assert sent["usage"] == {"include": True}
    assert json.loads(rows[0]["response_body"])["provider"] == "together"
