"""OpenAI-compatible, Anthropic and OpenRouter handling against documented examples.

Each response fixture under ``tests/fixtures/{openai,anthropic,openrouter}/`` is
served byte for byte from 127.0.0.1 by the scripted server of ``test_llm_http``;
request fixtures are compared key by key with what the adapter builds. The
folders' READMEs name each file's source page and any framing change; each
test names its source again. Shapes that are quirks of a server rather than
documented examples are built inline and say so.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from harness.llm.http import Timeouts, make_http_client
from harness.llm.providers.anthropic import AnthropicAdapter
from harness.llm.providers.anthropic import parse_usage as anthropic_usage
from harness.llm.providers.openai import OpenAIAdapter
from harness.llm.providers.openai import parse_usage as openai_usage
from harness.llm.types import ChatRequest, FinishReason, Message, ToolCall, ToolSpec, Usage
from tests.test_llm_http import Reply, ScriptedServer

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "sk-protocols-SECRET-0123456789"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def json_reply(data: bytes | dict[str, Any]) -> Reply:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return Reply(200, {"content-type": "application/json"}, body)


def sse_reply(data: bytes, piece: int = 0) -> Reply:
    chunks = [data[i : i + piece] for i in range(0, len(data), piece)] if piece else [data]
    return Reply(200, {"content-type": "text/event-stream"}, chunks)


def sse(*events: dict[str, Any] | str) -> bytes:
    return b"".join(
        f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events
    )


@pytest.fixture
async def wire() -> AsyncIterator[tuple[ScriptedServer, httpx2.AsyncClient]]:
    client = make_http_client(max_connections=4, timeouts=Timeouts())
    async with ScriptedServer() as srv:
        yield srv, client
    await client.aclose()


def oa(srv: ScriptedServer, http: httpx2.AsyncClient, **kw: Any) -> OpenAIAdapter:
    kw.setdefault("provider", "openai")
    kw.setdefault("api_key", SECRET)
    return OpenAIAdapter(api_base=srv.url + "/v1", http=http, **kw)


def an(srv: ScriptedServer, http: httpx2.AsyncClient, **kw: Any) -> AnthropicAdapter:
    return AnthropicAdapter(provider="anthropic", api_base=srv.url, api_key=SECRET, http=http, **kw)


def ask(text: str = "Hello!", **kw: Any) -> ChatRequest:
    return ChatRequest(model=kw.pop("model", "m"), messages=(Message("user", text),), **kw)


WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather in a given location",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)

# -- OpenAI ---------------------------------------------------------------------------------


async def test_openai_default_example_usage_details(wire: Any) -> None:
    """API reference, Create chat completion, "Default" response (usage with details)."""
    srv, http = wire
    srv.reply(json_reply(raw("openai/chat_completion_default.json")))
    resp = await oa(srv, http).chat(ask())
    assert resp.content == "Hello! How can I assist you today?"
    assert resp.finish_reason is FinishReason.STOP
    # reported zeros are zeros; cache writes are not an OpenAI field: unknown
    assert resp.usage == Usage(
        input_tokens=19, output_tokens=10, cached_input_tokens=0, reasoning_tokens=0
    )
    assert resp.provider_cost_usd is None


def test_openai_prompt_caching_usage() -> None:
    """Prompt caching guide, usage with ``prompt_tokens_details.cached_tokens``."""
    usage = openai_usage(load("openai/usage_prompt_caching.json"))
    # prompt_tokens already holds the cached tokens: input is not the sum of both
    assert usage == Usage(
        input_tokens=2006, output_tokens=300, cached_input_tokens=1920, reasoning_tokens=0
    )


async def test_openai_refusal_is_content_filter(wire: Any) -> None:
    """Structured outputs guide, "Refusals": ``message.refusal`` with finish_reason "stop"."""
    srv, http = wire
    srv.reply(json_reply(raw("openai/chat_completion_refusal.json")))
    resp = await oa(srv, http).chat(ask("how can I solve 8x + 7 = -23"))
    assert resp.finish_reason is FinishReason.CONTENT_FILTER  # never "stop"
    assert resp.content == "I'm sorry, I cannot assist with that request."
    assert resp.tool_calls == ()
    assert resp.usage == Usage(input_tokens=81, output_tokens=11, reasoning_tokens=0)


async def test_openai_streamed_refusal_and_content_filter(wire: Any) -> None:
    """A streamed ``delta.refusal`` and a ``content_filter`` finish (chunk object reference)."""
    srv, http = wire
    head = {"id": "chatcmpl-r", "object": "chat.completion.chunk", "model": "gpt-4o"}
    refusal = sse(
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "refusal": ""}}]},
        {**head, "choices": [{"index": 0, "delta": {"refusal": "I'm sorry, "}}]},
        {**head, "choices": [{"index": 0, "delta": {"refusal": "I cannot."}}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        "[DONE]",
    )
    filtered = sse(
        {**head, "choices": [{"index": 0, "delta": {"content": "Sure"}}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]},
        "[DONE]",
    )
    srv.reply(sse_reply(refusal, 7), sse_reply(filtered))
    a = oa(srv, http)
    first = await a.chat(ask(stream=True))
    assert first.finish_reason is FinishReason.CONTENT_FILTER
    assert first.content == "I'm sorry, I cannot."
    assert json.loads(first.raw_body or "")["choices"][0]["message"]["refusal"] == first.content
    second = await a.chat(ask(stream=True))
    assert (second.finish_reason, second.content) == (FinishReason.CONTENT_FILTER, "Sure")


def parallel_completion() -> dict[str, Any]:
    """The function-calling guide's "Sample response with multiple function calls" in its
    chat completion envelope."""
    return {
        "id": "chatcmpl-parallel",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4.1-2025-04-14",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": load("openai/tool_calls_parallel.json"),
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
    }


EXPECTED_PARALLEL = [
    ToolCall("call_12345xyz", "get_weather", {"location": "Paris, France"}),
    ToolCall("call_67890abc", "get_weather", {"location": "Bogotá, Colombia"}),
    ToolCall("call_99999def", "send_email", {"to": "bob@email.com", "body": "Hi bob"}),
]


def strip_raw(calls: tuple[ToolCall, ...]) -> list[ToolCall]:
    return [ToolCall(c.id, c.name, c.arguments) for c in calls]


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_parallel_tool_calls(wire: Any, stream: bool) -> None:
    """Function calling guide (Chat Completions): three calls in one response; streamed,
    the same calls arrive as ``tool_calls[].index`` deltas (guide, "Streaming")."""
    srv, http = wire
    if stream:
        srv.reply(sse_reply(raw("openai/stream_parallel_tool_calls.sse"), 13))
    else:
        srv.reply(json_reply(parallel_completion()))
    resp = await oa(srv, http).chat(ask("Weather in Paris and Bogotá, and mail Bob", stream=stream))
    assert resp.finish_reason is FinishReason.TOOL_CALLS
    assert strip_raw(resp.tool_calls) == EXPECTED_PARALLEL
    assert resp.tool_calls[1].raw_arguments == '{"location":"Bogotá, Colombia"}'
    assert resp.content == ""
    assert resp.usage == Usage()  # neither example reports usage: nothing is invented


def test_openai_tool_results_follow_up_body() -> None:
    """Function calling guide: the assistant message with ``tool_calls`` goes back verbatim,
    then one ``role: tool`` message per call, each with its ``tool_call_id``."""
    calls = tuple(
        ToolCall(c["id"], c["function"]["name"], None, c["function"]["arguments"])
        for c in load("openai/tool_calls_parallel.json")
    )
    body = OpenAIAdapter(
        provider="openai",
        api_base="https://api.openai.com/v1",
        api_key=None,
        http=None,  # type: ignore[arg-type]
    ).request_body(
        ChatRequest(
            model="gpt-4.1",
            messages=(
                Message("user", "Weather in Paris and Bogotá, and mail Bob"),
                Message("assistant", "", tool_calls=calls),
                Message("tool", "15 C", tool_call_id="call_12345xyz"),
                Message("tool", "22 C", tool_call_id="call_67890abc"),
                Message("tool", "sent", tool_call_id="call_99999def"),
            ),
            tools=(WEATHER,),
        )
    )
    assistant, *results = body["messages"][1:]
    assert assistant == {
        "role": "assistant",
        "content": None,
        "tool_calls": load("openai/tool_calls_parallel.json"),
    }
    assert results == [
        {"role": "tool", "tool_call_id": "call_12345xyz", "content": "15 C"},
        {"role": "tool", "tool_call_id": "call_67890abc", "content": "22 C"},
        {"role": "tool", "tool_call_id": "call_99999def", "content": "sent"},
    ]
    assert body["tools"][0]["type"] == "function"
    assert body["tools"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_malformed_tool_call_keeps_tool_calls(wire: Any, stream: bool) -> None:
    """Arguments that are not JSON: the call is kept with ``arguments=None`` and the finish
    reason stays ``tool_calls`` (never "stop")."""
    srv, http = wire
    body = parallel_completion()
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"location": "Par'
    if stream:
        events = raw("openai/stream_parallel_tool_calls.sse").decode().split("\n\n")
        first_call = [i for i, e in enumerate(events) if '"index":0,"function":{"arguments"' in e]
        del events[first_call[-1]]  # the fragment that closes the first call's JSON
        text = "\n\n".join(events)
        srv.reply(sse_reply(text.encode()))
    else:
        srv.reply(json_reply(body))
    resp = await oa(srv, http).chat(ask(stream=stream))
    assert resp.finish_reason is FinishReason.TOOL_CALLS
    bad = resp.tool_calls[0]
    assert bad.arguments is None and bad.raw_arguments.startswith('{"location"')
    assert [c.arguments for c in resp.tool_calls[1:]] == [
        c.arguments for c in EXPECTED_PARALLEL[1:]
    ]


async def test_openai_stream_include_usage_chunk(wire: Any) -> None:
    """API reference: with ``stream_options.include_usage`` a last chunk with empty
    ``choices`` carries the usage (chunk example + the "Default" usage)."""
    srv, http = wire
    srv.reply(sse_reply(raw("openai/stream_include_usage.sse"), 17))
    resp = await oa(srv, http).chat(ask(stream=True))
    sent = srv.requests[0].json()
    assert sent["stream_options"] == {"include_usage": True}
    assert "usage" not in sent  # OpenRouter's flag is not sent to OpenAI
    assert resp.content == "Hello! How can I assist you today?"
    assert resp.usage == Usage(
        input_tokens=19, output_tokens=10, cached_input_tokens=0, reasoning_tokens=0
    )


async def test_openai_stream_without_usage_is_none(wire: Any) -> None:
    """A server that ignores include_usage (older Ollama): usage unknown, never 0."""
    srv, http = wire
    text = raw("openai/stream_include_usage.sse").decode().split("\n\n")
    srv.reply(sse_reply("\n\n".join(t for t in text if '"choices":[]' not in t).encode()))
    resp = await oa(srv, http).chat(ask(stream=True))
    assert resp.usage == Usage() and resp.usage.input_tokens is None


# -- self-hosted: keyless, llama.cpp, Ollama, vLLM ------------------------------------------


async def test_keyless_endpoint_sends_no_authorization(wire: Any) -> None:
    srv, http = wire
    srv.reply(json_reply(raw("openai/llamacpp_chat_completion.json")))
    a = oa(srv, http, provider="llamacpp", api_key=None)
    await a.chat(ask())
    assert "authorization" not in srv.requests[0].headers
    assert "key=none" in repr(a)
    # a key of only whitespace (an empty env var with a newline) counts as none too
    srv.reply(json_reply(raw("openai/llamacpp_chat_completion.json")))
    await oa(srv, http, provider="vllm", api_key=" \n").chat(ask())
    assert "authorization" not in srv.requests[1].headers


async def test_llamacpp_response_with_timings(wire: Any) -> None:
    """llama.cpp server README, "Timings and context usage": ``timings`` next to ``usage``."""
    srv, http = wire
    srv.reply(json_reply(raw("openai/llamacpp_chat_completion.json")))
    resp = await oa(srv, http, provider="llamacpp", api_key=None).chat(ask())
    assert resp.content == "There once was a programmer named Sue"
    assert resp.finish_reason is FinishReason.STOP
    assert resp.usage == Usage(input_tokens=44, output_tokens=48, cached_input_tokens=0)


async def test_llamacpp_stream_usage_on_the_finishing_chunk(wire: Any) -> None:
    """ggml-org/llama.cpp issue #15443: llama-server puts ``usage`` and ``timings`` on the
    chunk that carries ``finish_reason`` instead of a separate empty-choices chunk."""
    srv, http = wire
    srv.reply(sse_reply(raw("openai/llamacpp_stream_final_chunk.sse"), 11))
    resp = await oa(srv, http, provider="llamacpp", api_key=None).chat(ask(stream=True))
    assert resp.content == "?" and resp.finish_reason is FinishReason.STOP
    assert resp.usage == Usage(input_tokens=14, output_tokens=11)


async def test_whole_tool_calls_without_index_and_a_stop_finish(wire: Any) -> None:
    """Quirk shape (built here, not a documented example): a server that streams each tool
    call whole, without ``index``, with dict arguments, and finishes with "stop" — as some
    Ollama and vLLM versions do. Two calls stay two calls; the finish is ``tool_calls``."""
    srv, http = wire
    head = {"id": "chatcmpl-q", "object": "chat.completion.chunk", "model": "qwen2.5-coder:32b"}
    calls = [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"location": "Paris"}},
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location": "Oslo"}'},
        },
    ]
    body = sse(
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": calls}}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**head, "choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 12}},
        "[DONE]",
    )
    srv.reply(sse_reply(body))
    resp = await oa(srv, http, provider="ollama", api_key=None).chat(ask(stream=True))
    assert resp.finish_reason is FinishReason.TOOL_CALLS
    assert [(c.id, c.arguments) for c in resp.tool_calls] == [
        ("call_a", {"location": "Paris"}),
        ("call_b", {"location": "Oslo"}),
    ]
    assert resp.usage == Usage(input_tokens=30, output_tokens=12)


async def test_response_without_usage_is_all_none(wire: Any) -> None:
    srv, http = wire
    body = load("openai/llamacpp_chat_completion.json")
    del body["usage"]
    srv.reply(json_reply(body))
    resp = await oa(srv, http, provider="vllm", api_key=None).chat(ask())
    assert resp.usage == Usage()


# -- OpenRouter ------------------------------------------------------------------------------


def router(srv: ScriptedServer, http: httpx2.AsyncClient, **kw: Any) -> OpenAIAdapter:
    return OpenAIAdapter(
        provider="openrouter",
        api_base=srv.url + "/api/v1",
        api_key=SECRET,
        http=http,
        headers={"HTTP-Referer": "https://example.org/harness", "X-Title": "harness"},
        **kw,
    )


async def test_openrouter_routing_request_and_attribution(wire: Any) -> None:
    """Provider routing docs, "Example with Fallbacks Disabled": ``provider`` from the
    model's ``extra_body`` lands in the body as documented; attribution headers
    (``HTTP-Referer``, ``X-Title``) from the model's ``headers``."""
    srv, http = wire
    documented = load("openrouter/request_provider_no_fallbacks.json")
    srv.reply(json_reply(raw("openai/chat_completion_default.json")))
    a = router(srv, http, extra_body={"provider": documented["provider"]})
    req = ChatRequest(
        model=documented["model"], messages=(Message("user", "Hello"),), max_tokens=64
    )
    await a.chat(req)
    seen = srv.requests[0]
    sent = seen.json()
    assert seen.path == "/api/v1/chat/completions"
    for key in ("model", "messages", "provider"):
        assert sent[key] == documented[key], key
    assert sent["usage"] == {"include": True}  # usage accounting asked for
    assert seen.headers["http-referer"] == "https://example.org/harness"
    assert seen.headers["x-title"] == "harness"
    assert seen.headers["authorization"] == f"Bearer {SECRET}"
    # a call's own extra wins over the model's extra_body
    srv.reply(json_reply(raw("openai/chat_completion_default.json")))
    await a.chat(
        ChatRequest(model="m", messages=req.messages, extra={"provider": {"sort": "price"}})
    )
    assert srv.requests[1].json()["provider"] == {"sort": "price"}


async def test_openrouter_usage_accounting_stream(wire: Any) -> None:
    """Usage accounting docs: the last SSE message carries ``usage`` with ``cost`` (credits =
    USD), ``cached_tokens`` and ``cache_write_tokens`` (the documented object, framed as the
    final chunk of a stream)."""
    srv, http = wire
    doc = load("openrouter/usage_chunk.json")
    head = {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "model": "qwen/qwen-2.5-coder-32b-instruct",
    }
    body = sse(
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**head, **doc, "choices": []},
        "[DONE]",
    )
    srv.reply(sse_reply(body, 23))
    resp = await router(srv, http).chat(ask(stream=True))
    assert resp.provider_cost_usd == pytest.approx(0.95)
    assert resp.usage == Usage(
        input_tokens=194,
        output_tokens=2,
        cached_input_tokens=0,
        cache_write_tokens=100,
        reasoning_tokens=0,
    )


async def test_openrouter_usage_accounting_json(wire: Any) -> None:
    """The same documented usage object in a non-streamed completion."""
    srv, http = wire
    body = load("openai/chat_completion_default.json")
    body["usage"] = load("openrouter/usage_chunk.json")["usage"]
    srv.reply(json_reply(body))
    resp = await router(srv, http).chat(ask())
    assert resp.provider_cost_usd == pytest.approx(0.95)
    assert resp.usage.cache_write_tokens == 100
    # a cost that is not a number is unknown, not 0
    body["usage"]["cost"] = "0.95"
    srv.reply(json_reply(body))
    assert (await router(srv, http).chat(ask())).provider_cost_usd is None


# -- Anthropic -------------------------------------------------------------------------------


async def test_anthropic_cache_usage_example(wire: Any) -> None:
    """API reference, Create a Message, Response 200: usage with cache reads and writes.
    ``input_tokens`` there is only the uncached rest; ours is the whole prompt."""
    srv, http = wire
    srv.reply(json_reply(raw("anthropic/message_cache_usage.json")))
    resp = await an(srv, http).chat(ask(model="claude-sonnet-4-5-20250929"))
    assert resp.content == "Hi! My name is Claude."
    assert resp.finish_reason is FinishReason.STOP
    assert resp.usage == Usage(
        input_tokens=2095 + 2051 + 2051,
        output_tokens=503,
        cached_input_tokens=2051,
        cache_write_tokens=2051,
    )


def cache_adapter(prompt_cache: bool = True) -> AnthropicAdapter:
    return AnthropicAdapter(
        provider="anthropic",
        api_base="https://api.anthropic.com",
        api_key=None,
        http=None,  # type: ignore[arg-type]
        prompt_cache=prompt_cache,
    )


def test_anthropic_cache_control_on_tools_matches_the_docs() -> None:
    """Prompt caching guide, "Caching tool definitions": the breakpoint on the last tool."""
    doc = load("anthropic/request_cache_tools.json")
    tools = tuple(ToolSpec(t["name"], t["description"], t["input_schema"]) for t in doc["tools"])
    req = ChatRequest(
        model=doc["model"],
        messages=(Message("user", doc["messages"][0]["content"]),),
        max_tokens=doc["max_tokens"],
        tools=tools,
    )
    body = cache_adapter().request_body(req)
    for key in ("model", "max_tokens", "tools", "messages"):
        assert body[key] == doc[key], key
    assert "cache_control" not in cache_adapter(False).request_body(req)["tools"][-1]


def test_anthropic_cache_control_on_system_matches_the_docs() -> None:
    """Prompt caching guide, "Large context caching example": system as text blocks, the
    breakpoint on the last one."""
    doc = load("anthropic/request_cache_system.json")
    req = ChatRequest(
        model=doc["model"],
        messages=(
            *(Message("system", b["text"]) for b in doc["system"]),
            Message("user", doc["messages"][0]["content"]),
        ),
        max_tokens=doc["max_tokens"],
    )
    body = cache_adapter().request_body(req)
    for key in ("model", "max_tokens", "system", "messages"):
        assert body[key] == doc[key], key
    # without prompt caching the system prompt stays one string
    plain = cache_adapter(False).request_body(req)["system"]
    assert plain == "\n\n".join(b["text"] for b in doc["system"])


async def test_anthropic_parallel_tool_use_and_merged_results(wire: Any) -> None:
    """Tool use guide, "Parallel tool use": several ``tool_use`` blocks in one response; all
    results go back in ONE user message of ``tool_result`` blocks."""
    srv, http = wire
    srv.reply(json_reply(raw("anthropic/message_parallel_tool_use.json")))
    a = an(srv, http)
    first_req = ChatRequest(
        model="claude-sonnet-4-5",
        messages=(Message("user", "What is the weather and time in New York?"),),
        tools=(WEATHER, ToolSpec("get_time", "Get the current time in a given time zone")),
    )
    resp = await a.chat(first_req)
    assert resp.finish_reason is FinishReason.TOOL_CALLS
    assert [(c.name, c.arguments) for c in resp.tool_calls] == [
        ("get_weather", {"location": "New York, NY", "unit": "fahrenheit"}),
        ("get_time", {"timezone": "America/New_York"}),
    ]
    follow = a.request_body(
        ChatRequest(
            model=first_req.model,
            messages=(
                *first_req.messages,
                Message("assistant", resp.content, tool_calls=resp.tool_calls),
                Message("tool", "45 F, clear", tool_call_id=resp.tool_calls[0].id),
                Message("tool", "2:30 PM EST", tool_call_id=resp.tool_calls[1].id),
            ),
            tools=first_req.tools,
        )
    )
    documented = load("anthropic/message_parallel_tool_use.json")["content"]
    assert follow["messages"][1] == {"role": "assistant", "content": documented}
    assert follow["messages"][2:] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": documented[1]["id"],
                    "content": "45 F, clear",
                },
                {
                    "type": "tool_result",
                    "tool_use_id": documented[2]["id"],
                    "content": "2:30 PM EST",
                },
            ],
        }
    ]


async def test_anthropic_refusal_is_content_filter(wire: Any) -> None:
    """Handling stop reasons: ``stop_reason: "refusal"`` (the documented value, set on the
    API reference's example message) → content_filter, streamed or not."""
    srv, http = wire
    body = load("anthropic/message_cache_usage.json")
    body["stop_reason"] = "refusal"
    srv.reply(json_reply(body))
    resp = await an(srv, http).chat(ask())
    assert resp.finish_reason is FinishReason.CONTENT_FILTER
    stream = raw("providers/anthropic_stream_basic.sse").replace(b'"end_turn"', b'"refusal"')
    srv.reply(sse_reply(stream))
    resp = await an(srv, http).chat(ask(stream=True))
    assert resp.finish_reason is FinishReason.CONTENT_FILTER


async def test_anthropic_streamed_malformed_tool_input(wire: Any) -> None:
    """The streaming docs' tool-use stream with its ``input_json_delta`` cut short: the call
    is kept with ``arguments=None``; the finish reason stays tool_calls."""
    srv, http = wire
    stream = raw("providers/anthropic_stream_tool_use.sse").decode()
    cut = stream.replace('"partial_json":"renheit\\"}"', '"partial_json":"renheit"')
    assert cut != stream
    stream = cut
    srv.reply(sse_reply(stream.encode()))
    resp = await an(srv, http).chat(ask(stream=True, tools=(WEATHER,)))
    assert resp.finish_reason is FinishReason.TOOL_CALLS
    (call,) = resp.tool_calls
    assert call.arguments is None and call.raw_arguments.endswith('"unit": "fahrenheit')


async def test_anthropic_stream_cache_usage(wire: Any) -> None:
    """Streaming docs: usage arrives in ``message_start`` (input, cache reads and writes)
    and ``message_delta`` (cumulative output); cache fields added to the start event."""
    srv, http = wire
    stream = raw("providers/anthropic_stream_basic.sse").decode()
    start = '"usage": {"input_tokens": 25, "output_tokens": 1}'
    assert start in stream
    stream = stream.replace(
        start,
        '"usage": {"input_tokens": 25, "cache_creation_input_tokens": 0, '
        '"cache_read_input_tokens": 1800, "output_tokens": 1}',
    )
    srv.reply(sse_reply(stream.encode(), 9))
    resp = await an(srv, http).chat(ask(stream=True))
    assert resp.usage == Usage(
        input_tokens=1825, output_tokens=15, cached_input_tokens=1800, cache_write_tokens=0
    )


def test_anthropic_usage_missing_counts_stay_none() -> None:
    assert anthropic_usage({"output_tokens": 3}) == Usage(output_tokens=3)
    assert anthropic_usage(None) == Usage()


async def test_extra_body_merged_into_anthropic_requests(wire: Any) -> None:
    srv, http = wire
    srv.reply(json_reply(raw("anthropic/message_cache_usage.json")))
    await an(srv, http, extra_body={"top_k": 5}).chat(ask(extra={"temperature": 0.5}))
    sent = srv.requests[0].json()
    assert sent["top_k"] == 5 and sent["temperature"] == 0.5
    assert SECRET not in srv.requests[0].body.decode()
