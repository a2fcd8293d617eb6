"""The adapters against the providers' documented examples, served from 127.0.0.1.

Every fixture in ``tests/fixtures/providers/`` is a request or response from the
public API documentation (sources and the few framing changes are listed in
that folder's README):

- OpenAI: https://platform.openai.com/docs/api-reference/chat/create (object,
  chunk and "Functions" examples) and
  https://platform.openai.com/docs/guides/function-calling#streaming
- Anthropic: https://docs.anthropic.com/en/api/messages,
  https://docs.anthropic.com/en/docs/build-with-claude/tool-use and
  https://docs.anthropic.com/en/docs/build-with-claude/streaming

Requests are checked key by key against the documented bodies; responses are
served byte for byte by the scripted server of ``test_llm_http``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from harness.errors import OverloadedError
from harness.llm.http import Timeouts, make_http_client
from harness.llm.providers.anthropic import AnthropicAdapter
from harness.llm.providers.openai import OpenAIAdapter
from harness.llm.types import ChatRequest, FinishReason, Message, ToolCall, ToolSpec, Usage
from tests.test_llm_http import Reply, ScriptedServer

FIXTURES = Path(__file__).parent / "fixtures" / "providers"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def json_file(name: str) -> Reply:
    return Reply(200, {"content-type": "application/json"}, raw(name))


def sse_file(name: str, piece: int = 0, crlf: bool = False) -> Reply:
    data = raw(name)
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    chunks = [data[i : i + piece] for i in range(0, len(data), piece)] if piece else [data]
    return Reply(200, {"content-type": "text/event-stream; charset=utf-8"}, chunks)


@pytest.fixture
async def wire() -> AsyncIterator[tuple[ScriptedServer, httpx2.AsyncClient]]:
    client = make_http_client(max_connections=4, timeouts=Timeouts())
    async with ScriptedServer() as srv:
        yield srv, client
    await client.aclose()


def oa(srv: ScriptedServer, http: httpx2.AsyncClient) -> OpenAIAdapter:
    return OpenAIAdapter(provider="openai", api_base=srv.url + "/v1", api_key="sk-x", http=http)


def an(srv: ScriptedServer, http: httpx2.AsyncClient) -> AnthropicAdapter:
    return AnthropicAdapter(provider="anthropic", api_base=srv.url, api_key="sk-x", http=http)


def assert_contains(body: dict[str, Any], documented: dict[str, Any], extra: set[str]) -> None:
    """``body`` has every documented key with the documented value, plus only ``extra``."""
    for key, value in documented.items():
        assert body.get(key) == value, key
    assert set(body) - set(documented) == extra


# The weather tool as both guides define it.
OPENAI_WEATHER = ToolSpec(
    name="get_current_weather",
    description="Get the current weather in a given location",
    parameters=load("openai_request_tools.json")["tools"][0]["function"]["parameters"],
)
ANTHROPIC_WEATHER = ToolSpec(
    name="get_weather",
    description="Get the current weather in a given location",
    parameters=load("anthropic_request_tool_use_stream.json")["tools"][0]["input_schema"],
)


# -- OpenAI ---------------------------------------------------------------------------------


async def test_openai_basic_request_and_completion_object(wire: Any) -> None:
    srv, http = wire
    srv.reply(json_file("openai_chat_completion.json"))
    req = ChatRequest(
        model="gpt-4o",
        messages=(Message("system", "You are a helpful assistant."), Message("user", "Hello!")),
    )
    adapter = oa(srv, http)
    resp = await adapter.chat(req)

    sent = srv.requests[0].json()
    assert sent == adapter.request_body(req)
    assert_contains(sent, load("openai_request_basic.json"), {"max_tokens", "temperature"})
    assert resp.content == "\n\nHello there, how may I assist you today?"
    assert resp.model == "gpt-3.5-turbo-0125" and resp.response_id == "chatcmpl-123"
    assert resp.finish_reason is FinishReason.STOP
    # cached and reasoning tokens are not in this example: unknown, not zero
    assert resp.usage == Usage(input_tokens=9, output_tokens=12)
    assert resp.raw_body == raw("openai_chat_completion.json").decode()
    assert resp.http_status == 200 and resp.latency_ms > 0 and resp.ttft_ms is None


async def test_openai_functions_example(wire: Any) -> None:
    srv, http = wire
    srv.reply(json_file("openai_chat_completion_tool_calls.json"))
    req = ChatRequest(
        model="gpt-4o",
        messages=(Message("user", "What's the weather like in Boston today?"),),
        tools=(OPENAI_WEATHER,),
        extra={"tool_choice": "auto"},
    )
    resp = await oa(srv, http).chat(req)

    assert_contains(
        srv.requests[0].json(), load("openai_request_tools.json"), {"max_tokens", "temperature"}
    )
    assert resp.finish_reason is FinishReason.TOOL_CALLS and resp.content == ""
    (call,) = resp.tool_calls
    assert call == ToolCall(
        id="call_abc123",
        name="get_current_weather",
        arguments={"location": "Boston, MA"},
        raw_arguments='{\n"location": "Boston, MA"\n}',
    )
    # reasoning_tokens is reported (as 0) so it is 0; cached tokens are not reported
    assert resp.usage == Usage(input_tokens=82, output_tokens=17, reasoning_tokens=0)


async def test_openai_malformed_tool_arguments_are_kept(wire: Any) -> None:
    srv, http = wire
    body = load("openai_chat_completion_tool_calls.json")
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"location": "Bos'
    srv.reply(Reply(200, {"content-type": "application/json"}, json.dumps(body).encode()))
    resp = await oa(srv, http).chat(ChatRequest(model="gpt-4o", messages=(Message("user", "x"),)))
    (call,) = resp.tool_calls
    assert call.arguments is None and call.raw_arguments == '{"location": "Bos'
    assert call.name == "get_current_weather"


@pytest.mark.parametrize(("piece", "crlf"), [(0, False), (7, False), (5, True)])
async def test_openai_chunk_example_stream(wire: Any, piece: int, crlf: bool) -> None:
    srv, http = wire
    srv.reply(sse_file("openai_chat_completion_chunks.sse", piece, crlf))
    req = ChatRequest(model="gpt-4o", messages=(Message("user", "Hello!"),), stream=True)
    resp = await oa(srv, http).chat(req)

    sent = srv.requests[0]
    assert sent.json()["stream"] is True
    assert sent.json()["stream_options"] == {"include_usage": True}
    assert sent.headers["accept"] == "text/event-stream"
    assert resp.content == "Hello" and resp.finish_reason is FinishReason.STOP
    assert resp.model == "gpt-3.5-turbo-0125" and resp.response_id == "chatcmpl-123"
    assert resp.usage == Usage()  # the example has no usage chunk: nothing invented
    assert resp.ttft_ms is not None and 0 < resp.ttft_ms <= resp.latency_ms
    rebuilt = json.loads(resp.raw_body or "")
    assert rebuilt["object"] == "chat.completion"
    assert rebuilt["choices"][0]["message"] == {"role": "assistant", "content": "Hello"}
    assert rebuilt["choices"][0]["finish_reason"] == "stop"


async def test_openai_streamed_tool_call_assembled_by_index(wire: Any) -> None:
    srv, http = wire
    srv.reply(sse_file("openai_tool_call_chunks.sse", piece=11))
    req = ChatRequest(
        model="gpt-4.1",
        messages=(Message("user", "What's the weather like in Paris today?"),),
        tools=(ToolSpec("get_weather", "Get current temperature for a given location."),),
        stream=True,
    )
    resp = await oa(srv, http).chat(req)
    assert resp.finish_reason is FinishReason.TOOL_CALLS and resp.content == ""
    (call,) = resp.tool_calls
    assert call.id == "call_DdmO9pD3xa9XTPNJ32zg2hcA" and call.name == "get_weather"
    assert call.arguments == {"location": "Paris, France"}
    assert resp.ttft_ms is not None  # a tool-call delta counts as the first token
    rebuilt = json.loads(resp.raw_body or "")
    assert rebuilt["choices"][0]["message"]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"location":"Paris, France"}',
    }


def test_openai_tool_round_trip_messages() -> None:
    """An assistant tool call and the tool's result go back in the documented shapes."""
    call = ToolCall("call_abc123", "get_current_weather", {"location": "Boston, MA"}, "")
    body = OpenAIAdapter(
        provider="openai",
        api_base="https://api.openai.com/v1",
        api_key=None,
        http=None,  # type: ignore[arg-type]
    ).request_body(
        ChatRequest(
            model="gpt-4o",
            messages=(
                Message("user", "What's the weather like in Boston today?"),
                Message("assistant", "", tool_calls=(call,)),
                Message("tool", "22 C, sunny", tool_call_id="call_abc123"),
            ),
        )
    )
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc123",
                    "type": "function",
                    "function": {
                        "name": "get_current_weather",
                        "arguments": '{"location": "Boston, MA"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc123", "content": "22 C, sunny"},
    ]


# -- Anthropic ------------------------------------------------------------------------------


async def test_anthropic_messages_example(wire: Any) -> None:
    srv, http = wire
    srv.reply(json_file("anthropic_message.json"))
    resp = await an(srv, http).chat(
        ChatRequest(model="claude-3-5-sonnet-20240620", messages=(Message("user", "Hello"),))
    )
    assert resp.content == "Hi! My name is Claude."
    assert resp.model == "claude-3-5-sonnet-20240620"
    assert resp.response_id == "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    assert resp.finish_reason is FinishReason.STOP
    assert resp.usage == Usage(input_tokens=2095, output_tokens=503)
    assert resp.raw_body == raw("anthropic_message.json").decode()


async def test_anthropic_tool_use_example(wire: Any) -> None:
    srv, http = wire
    srv.reply(json_file("anthropic_message_tool_use.json"))
    resp = await an(srv, http).chat(
        ChatRequest(
            model="claude-3-5-sonnet-20241022",
            messages=(Message("user", "What's the weather like in San Francisco?"),),
            tools=(ANTHROPIC_WEATHER,),
        )
    )
    assert resp.finish_reason is FinishReason.TOOL_CALLS
    assert resp.content.startswith("<thinking>I need to use get_weather")
    (call,) = resp.tool_calls
    assert call.id == "toolu_01A09q90qw90lq917835lq9" and call.name == "get_weather"
    assert call.arguments == {"location": "San Francisco, CA", "unit": "celsius"}
    assert resp.usage == Usage()  # the example carries no usage


def test_anthropic_request_bodies_match_the_docs() -> None:
    adapter = AnthropicAdapter(
        provider="anthropic",
        api_base="https://api.anthropic.com",
        api_key="k",
        http=None,  # type: ignore[arg-type]
    )
    assert adapter.url == "https://api.anthropic.com/v1/messages"
    basic = adapter.request_body(
        ChatRequest(
            model="claude-opus-4-1-20250805",
            messages=(Message("user", "Hello"),),
            max_tokens=256,
            stream=True,
        )
    )
    assert_contains(basic, load("anthropic_request_basic_stream.json"), {"temperature"})
    tools = adapter.request_body(
        ChatRequest(
            model="claude-opus-4-1-20250805",
            messages=(Message("user", "What is the weather like in San Francisco?"),),
            max_tokens=1024,
            tools=(ANTHROPIC_WEATHER,),
            stream=True,
            extra={"tool_choice": {"type": "any"}},
        )
    )
    assert_contains(tools, load("anthropic_request_tool_use_stream.json"), {"temperature"})
    # the follow-up turn: assistant tool_use, then the user's tool_result
    documented = load("anthropic_message_tool_use.json")["content"]
    follow_up = adapter.request_body(
        ChatRequest(
            model="claude-3-5-sonnet-20241022",
            messages=(
                Message("system", "Be brief."),
                Message("user", "What's the weather like in San Francisco?"),
                Message(
                    "assistant",
                    documented[0]["text"],
                    tool_calls=(
                        ToolCall(
                            documented[1]["id"], documented[1]["name"], documented[1]["input"]
                        ),
                    ),
                ),
                Message("tool", "15 degrees", tool_call_id=documented[1]["id"]),
            ),
            stop=("\n\nHuman:",),
            user="trial-7",
        )
    )
    assert follow_up["messages"] == load("anthropic_request_tool_result.json")["messages"]
    assert follow_up["system"] == "Be brief."
    assert follow_up["stop_sequences"] == ["\n\nHuman:"]
    assert follow_up["metadata"] == {"user_id": "trial-7"}
    assert "seed" not in follow_up and "stream" not in follow_up


@pytest.mark.parametrize(("piece", "crlf"), [(0, False), (9, False), (4, True)])
async def test_anthropic_basic_stream_example(wire: Any, piece: int, crlf: bool) -> None:
    srv, http = wire
    srv.reply(sse_file("anthropic_stream_basic.sse", piece, crlf))
    req = ChatRequest(
        model="claude-opus-4-1-20250805", messages=(Message("user", "Hello"),), stream=True
    )
    resp = await an(srv, http).chat(req)
    assert resp.content == "Hello!"
    assert resp.finish_reason is FinishReason.STOP
    assert resp.response_id == "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"
    # message_delta's output count is cumulative: it replaces message_start's 1
    assert resp.usage == Usage(input_tokens=25, output_tokens=15)
    assert resp.ttft_ms is not None and resp.ttft_ms <= resp.latency_ms
    rebuilt = json.loads(resp.raw_body or "")
    assert rebuilt["content"] == [{"type": "text", "text": "Hello!"}]
    assert rebuilt["stop_reason"] == "end_turn"
    assert rebuilt["usage"] == {"input_tokens": 25, "output_tokens": 15}


async def test_anthropic_tool_use_stream_example(wire: Any) -> None:
    srv, http = wire
    srv.reply(sse_file("anthropic_stream_tool_use.sse", piece=13))
    req = ChatRequest(
        model="claude-opus-4-1-20250805",
        messages=(Message("user", "What is the weather like in San Francisco?"),),
        tools=(ANTHROPIC_WEATHER,),
        stream=True,
    )
    resp = await an(srv, http).chat(req)
    assert resp.content == "Okay, let's check the weather for San Francisco, CA:"
    assert resp.finish_reason is FinishReason.TOOL_CALLS
    (call,) = resp.tool_calls
    assert call.id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6" and call.name == "get_weather"
    assert call.arguments == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert call.raw_arguments == '{"location": "San Francisco, CA", "unit": "fahrenheit"}'
    assert resp.usage == Usage(input_tokens=472, output_tokens=89)


async def test_anthropic_error_event_example(wire: Any) -> None:
    srv, http = wire
    srv.reply(sse_file("anthropic_stream_error.sse"))
    req = ChatRequest(
        model="claude-3-5-sonnet-20241022", messages=(Message("user", "x"),), stream=True
    )
    with pytest.raises(OverloadedError, match="Overloaded") as info:
        await an(srv, http).chat(req)
    assert info.value.retryable and info.value.provider == "anthropic"


async def test_anthropic_cache_usage_is_summed_into_input() -> None:
    """Prompt-cache reads and writes count in the whole prompt (see Usage)."""
    from harness.llm.providers.anthropic import parse_usage

    usage = parse_usage(
        {
            "input_tokens": 21,
            "cache_read_input_tokens": 1800,
            "cache_creation_input_tokens": 200,
            "output_tokens": 5,
        }
    )
    assert usage == Usage(
        input_tokens=2021, output_tokens=5, cached_input_tokens=1800, cache_write_tokens=200
    )
