"""The Gemini adapter against Google's documented examples, served from 127.0.0.1.

Every fixture in ``tests/fixtures/gemini/`` names its source in that folder's
README: the Gemini API Cookbook's recorded REST outputs
(https://github.com/google-gemini/cookbook/tree/main/quickstarts/rest), a
recorded stream from Google's adk-go test data, and — where no documented
example exists (parallel calls, MALFORMED_FUNCTION_CALL, 429 RetryInfo,
API_KEY_INVALID, context length) — bodies written from the documented schema,
which the tests below say where they use them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from harness.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    OverloadedError,
    RateLimitError,
    StreamCutError,
)
from harness.llm.http import Timeouts, make_http_client
from harness.llm.providers.gemini import SYNTH_ID_PREFIX, GeminiAdapter, parse_usage
from harness.llm.types import ChatRequest, FinishReason, Message, ToolCall, ToolSpec, Usage
from tests.test_llm_http import Reply, ScriptedServer

FIXTURES = Path(__file__).parent / "fixtures" / "gemini"
KEY = "AIzaSy-FAKE-gemini-key-0123456789"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def json_reply(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"content-type": "application/json; charset=UTF-8", **(headers or {})},
                 raw(name))  # fmt: skip


def sse_reply(data: bytes, piece: int = 0) -> Reply:
    chunks = [data[i : i + piece] for i in range(0, len(data), piece)] if piece else [data]
    return Reply(200, {"content-type": "text/event-stream"}, chunks)


@pytest.fixture
async def wire() -> AsyncIterator[tuple[ScriptedServer, httpx2.AsyncClient]]:
    client = make_http_client(max_connections=4, timeouts=Timeouts())
    async with ScriptedServer() as srv:
        yield srv, client
    await client.aclose()


def gem(srv: ScriptedServer, http: httpx2.AsyncClient) -> GeminiAdapter:
    return GeminiAdapter(provider="google", api_base=srv.url + "/v1beta", api_key=KEY, http=http)


# The cookbook's three movie functions, as ToolSpecs.
MOVIE_TOOLS = tuple(
    ToolSpec(d["name"], d["description"], d["parameters"])
    for d in load("request_function_calling.json")["tools"][0]["function_declarations"]
)
QUESTION = "Which theaters in Mountain View show Barbie movie?"


async def test_function_calling_single_turn(wire: Any) -> None:
    """Cookbook "Function calling with REST", single-turn sample: request and response."""
    srv, http = wire
    srv.reply(json_reply("response_function_call.json"))
    adapter = gem(srv, http)
    req = ChatRequest(model="gemini-pro", messages=(Message("user", QUESTION),), tools=MOVIE_TOOLS)
    resp = await adapter.chat(req)

    seen = srv.requests[0]
    assert seen.method == "POST" and seen.path == "/v1beta/models/gemini-pro:generateContent"
    # the key goes in a header, never in the URL
    assert (
        seen.headers["x-goog-api-key"] == KEY and KEY not in seen.path and "key=" not in seen.path
    )
    body = seen.json()
    assert body == adapter.request_body(req)
    documented = load("request_function_calling.json")
    # the sample sends one Content (and one Part) bare; lists of one with a role say the same
    assert body["contents"] == [{"role": "user", "parts": [documented["contents"]["parts"]]}]
    assert (
        body["tools"][0]["functionDeclarations"] == documented["tools"][0]["function_declarations"]
    )
    assert set(body) == {"contents", "tools", "generationConfig"}

    assert resp.finish_reason is FinishReason.TOOL_CALLS  # STOP with a functionCall
    assert resp.content == "" and resp.usage == Usage()  # no usageMetadata: nothing invented
    (call,) = resp.tool_calls
    assert call.name == "find_theaters"
    assert call.arguments == {"movie": "Barbie", "location": "Mountain View, CA"}
    assert json.loads(call.raw_arguments) == call.arguments
    # no id on the wire: a synthesized one, the same every time this answer is parsed
    assert call.id.startswith(SYNTH_ID_PREFIX)
    again = adapter._parse(json.loads(raw("response_function_call.json")), req)
    assert again.tool_calls[0].id == call.id
    assert resp.raw_body == raw("response_function_call.json").decode()


async def test_function_response_follow_up(wire: Any) -> None:
    """Cookbook multi-turn sample: the call and its result go back as documented."""
    srv, http = wire
    srv.reply(json_reply("response_after_function.json"))
    documented = load("request_function_response.json")["contents"]
    fr = documented[2]["parts"][0]["functionResponse"]
    call = ToolCall(
        id=f"{SYNTH_ID_PREFIX}0-abc",
        name="find_theaters",
        arguments={"location": "Mountain View, CA", "movie": "Barbie"},
    )
    req = ChatRequest(
        model="gemini-pro",
        messages=(
            Message("user", QUESTION),
            Message("assistant", "", tool_calls=(call,)),
            Message("tool", json.dumps(fr["response"]), tool_call_id=call.id),
        ),
        tools=MOVIE_TOOLS,
    )
    resp = await gem(srv, http).chat(req)

    sent = srv.requests[0].json()["contents"]
    assert sent[0] == documented[0] and sent[1] == documented[1]
    # the function's name comes from the call it answers; a synthesized id is not sent
    assert sent[2]["parts"] == documented[2]["parts"]
    # the cookbook's older sample uses role "function"; the API reference lists only
    # "user" and "model" (https://ai.google.dev/api/caching#Content), so results go as user
    assert sent[2]["role"] == "user"
    assert resp.content.startswith("OK. I found two theaters in Mountain View")
    assert resp.finish_reason is FinishReason.STOP and resp.tool_calls == ()


async def test_text_answer_with_usage(wire: Any) -> None:
    """Cookbook "Prompting with REST": text, STOP and usageMetadata."""
    srv, http = wire
    srv.reply(json_reply("response_text_usage.json"))
    req = ChatRequest(
        model="gemini-1.5-flash",
        messages=(
            Message("system", "Answer in Python."),
            Message("user", "Give me python code to sort a list."),
        ),
        max_tokens=200, temperature=0.5, stop=("###",), seed=7,
    )  # fmt: skip
    resp = await gem(srv, http).chat(req)
    body = srv.requests[0].json()
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Give me python code to sort a list."}]}
    ]
    assert body["systemInstruction"] == {"parts": [{"text": "Answer in Python."}]}
    assert body["generationConfig"] == {
        "maxOutputTokens": 200,
        "temperature": 0.5,
        "stopSequences": ["###"],
        "seed": 7,
    }
    assert resp.content.startswith("```python\n# Example list to be sorted")
    assert resp.finish_reason is FinishReason.STOP
    # no cachedContentTokenCount / thoughtsTokenCount in the example: unknown, not zero
    assert resp.usage == Usage(input_tokens=9, output_tokens=87)
    assert resp.model == "gemini-1.5-flash"  # no modelVersion in the example: the requested id


async def test_cached_content_usage(wire: Any) -> None:
    """Cookbook "Caching with REST": cachedContentTokenCount is part of promptTokenCount."""
    srv, http = wire
    srv.reply(json_reply("response_cached_usage.json"))
    resp = await gem(srv, http).chat(
        ChatRequest(model="gemini-1.5-flash-001", messages=(Message("user", "Summarize"),))
    )
    assert resp.usage == Usage(input_tokens=323388, output_tokens=397, cached_input_tokens=323383)
    assert resp.finish_reason is FinishReason.STOP and resp.content


async def test_blocked_prompt_is_a_content_filter_answer(wire: Any) -> None:
    """Cookbook "Safety with REST": no candidates, promptFeedback.blockReason SAFETY."""
    srv, http = wire
    srv.reply(json_reply("response_blocked.json"))
    resp = await gem(srv, http).chat(
        ChatRequest(model="gemini-pro", messages=(Message("user", "x"),))
    )
    assert resp.finish_reason is FinishReason.CONTENT_FILTER
    assert resp.content == "" and resp.tool_calls == () and resp.usage == Usage()


@pytest.mark.parametrize("piece", [0, 7, 100])
async def test_legacy_stream_every_chunk_says_stop(wire: Any, piece: int) -> None:
    """Cookbook "Streaming Quickstart with REST": each chunk repeats finishReason STOP.

    The adapter reads to the end of the body (Gemini has no terminal event), so
    no chunk after the first STOP is lost.
    """
    srv, http = wire
    data = raw("stream_legacy.sse")
    srv.reply(sse_reply(data, piece))
    req = ChatRequest(
        model="gemini-pro",
        messages=(Message("user", "Write a cute story about cats."),),
        stream=True,
    )
    resp = await gem(srv, http).chat(req)
    seen = srv.requests[0]
    assert seen.path == "/v1beta/models/gemini-pro:streamGenerateContent?alt=sse"
    assert seen.headers["accept"] == "text/event-stream"
    expected = "".join(
        json.loads(line[6:])["candidates"][0]["content"]["parts"][0]["text"]
        for line in data.decode().split("\n\n")
        if line.startswith("data: ")
    )
    assert resp.content == expected and expected.endswith("for adventure stronger than ever.")
    assert resp.finish_reason is FinishReason.STOP and resp.usage == Usage()
    assert resp.ttft_ms is not None and 0 < resp.ttft_ms <= resp.latency_ms


@pytest.mark.parametrize("piece", [0, 13])
async def test_thinking_stream_usage_and_thoughts(wire: Any, piece: int) -> None:
    """adk-go's recorded gemini-2.5-flash stream: thoughts, running usage, CRLF framing."""
    srv, http = wire
    data = raw("stream_thinking.sse")
    srv.reply(sse_reply(data, piece))
    req = ChatRequest(
        model="gemini-2.5-flash", messages=(Message("user", "first 50 primes?"),), stream=True
    )
    resp = await gem(srv, http).chat(req)
    chunks = [json.loads(x[6:]) for x in data.decode().split("\r\n\r\n") if x.startswith("data: ")]
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    answer = "".join(p["text"] for p in parts if not p.get("thought"))
    assert resp.content == answer and "**Calculating" not in resp.content  # thoughts left out
    assert resp.content.endswith("The sum of the first 50 prime numbers is 5117.")
    # last chunk: prompt 51, candidates 745, thoughts 1234 (total 2030); thinking billed as output
    assert resp.usage == Usage(input_tokens=51, output_tokens=745 + 1234, reasoning_tokens=1234)
    assert resp.model == "gemini-2.5-flash" and resp.response_id == "cjGwadCGE7yvnsEP3tfsiQk"
    assert resp.finish_reason is FinishReason.STOP
    rebuilt = json.loads(resp.raw_body or "")
    assert rebuilt["candidates"][0]["content"]["parts"] == [{"text": answer}]
    assert rebuilt["usageMetadata"] == chunks[-1]["usageMetadata"]


async def test_stream_without_its_finish_reason_is_cut(wire: Any) -> None:
    srv, http = wire
    data = raw("stream_thinking.sse")
    cut = data[: data.rindex(b"data: ")]  # every chunk but the one with finishReason
    srv.reply(sse_reply(cut, 50))
    req = ChatRequest(model="gemini-2.5-flash", messages=(Message("user", "x"),), stream=True)
    with pytest.raises(StreamCutError, match="without a finishReason"):
        await gem(srv, http).chat(req)


async def test_parallel_calls_ids_and_thought_signature(wire: Any) -> None:
    """Written from the documented schema (no recorded example): three parallel calls."""
    srv, http = wire
    srv.reply(json_reply("response_parallel_calls.json"), json_reply("response_text_usage.json"))
    adapter = gem(srv, http)
    tools = (ToolSpec("power_disco_ball"), ToolSpec("start_music"), ToolSpec("dim_lights"))
    first = ChatRequest(
        model="gemini-2.5-flash", messages=(Message("user", "party!"),), tools=tools
    )
    resp = await adapter.chat(first)
    assert resp.finish_reason is FinishReason.TOOL_CALLS
    assert [c.name for c in resp.tool_calls] == ["power_disco_ball", "start_music", "dim_lights"]
    assert resp.tool_calls[1].arguments == {"energetic": True, "loud": True}
    ids = [c.id for c in resp.tool_calls]
    assert ids[2] == "fc-dim-1" and all(i.startswith(SYNTH_ID_PREFIX) for i in ids[:2])
    assert len(set(ids)) == 3
    # functions without parameters are declared without a parameters schema
    assert srv.requests[0].json()["tools"][0]["functionDeclarations"][0] == {
        "name": "power_disco_ball",
        "description": "",
    }

    results = tuple(
        Message("tool", json.dumps({"ok": True}), tool_call_id=c.id) for c in resp.tool_calls
    )
    follow = ChatRequest(
        model="gemini-2.5-flash",
        messages=(
            Message("user", "party!"),
            Message("assistant", resp.content, tool_calls=resp.tool_calls),
            *results,
        ),
        tools=tools,
    )
    await adapter.chat(follow)
    sent = srv.requests[1].json()["contents"]
    assert [c["role"] for c in sent] == ["user", "model", "user"]
    model_parts = sent[1]["parts"]
    assert [p["functionCall"]["name"] for p in model_parts] == [c.name for c in resp.tool_calls]
    # the call's thoughtSignature goes back with it; Gemini's own id goes back, made-up ones not
    assert model_parts[2]["thoughtSignature"] == "c2lnbmF0dXJlLW9mLWEtdGhvdWdodA=="
    assert model_parts[2]["functionCall"]["id"] == "fc-dim-1"
    assert "id" not in model_parts[0]["functionCall"]
    # all three results in one user turn, in order, each named after its call
    responses = [p["functionResponse"] for p in sent[2]["parts"]]
    assert [r["name"] for r in responses] == ["power_disco_ball", "start_music", "dim_lights"]
    assert responses[0] == {"name": "power_disco_ball", "response": {"ok": True}}
    assert responses[2]["id"] == "fc-dim-1"


def test_tool_result_text_and_schema_trimming() -> None:
    adapter = GeminiAdapter(
        provider="google", api_base="https://example.invalid/v1beta", api_key=None,
        http=httpx2.AsyncClient(),
    )  # fmt: skip
    spec = ToolSpec(
        "run",
        "Run code",
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"code": {"type": ["string", "null"]}, "n": {"type": "integer"}},
            "required": ["code"],
            "additionalProperties": False,
        },
    )
    call = ToolCall("c1", "run", {"code": "x"})
    body = adapter.request_body(
        ChatRequest(
            model="m",
            messages=(
                Message("user", "go"),
                Message("assistant", "", tool_calls=(call,)),
                Message("tool", "3 tests passed", tool_call_id="c1"),
                Message("user", "and now?"),
            ),
            tools=(spec,),
            extra={"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}},
        )
    )
    assert body["tools"][0]["functionDeclarations"][0]["parameters"] == {
        "type": "object",
        "properties": {"code": {"type": "string", "nullable": True}, "n": {"type": "integer"}},
        "required": ["code"],
    }
    # a plain-text result is wrapped as {"output": …}; the user's next words join that turn
    result = {"name": "run", "response": {"output": "3 tests passed"}, "id": "c1"}
    assert body["contents"][2] == {
        "role": "user",
        "parts": [{"functionResponse": result}, {"text": "and now?"}],
    }
    # extra merges into generationConfig instead of replacing it
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    assert body["generationConfig"]["maxOutputTokens"] == 1024
    assert "x-goog-api-key" not in adapter._headers_json  # keyless: no header


async def test_malformed_function_call_is_an_error_finish(wire: Any) -> None:
    """Written from the documented FinishReason enum (no recorded example)."""
    srv, http = wire
    srv.reply(json_reply("response_malformed_function_call.json"))
    resp = await gem(srv, http).chat(
        ChatRequest(model="gemini-2.5-flash", messages=(Message("user", "x"),), tools=MOVIE_TOOLS)
    )
    assert resp.finish_reason is FinishReason.ERROR and resp.tool_calls == ()
    # candidatesTokenCount left out (protobuf drops zeros): derived from the total
    assert resp.usage == Usage(input_tokens=120, output_tokens=0)


# fixture, status, error class, extra response headers
ERRORS = [
    ("error_503.json", 503, OverloadedError, {}),
    ("error_400_unknown_field.json", 400, BadRequestError, {}),
    ("error_429_retry_info.json", 429, RateLimitError, {}),
    ("error_api_key_invalid.json", 400, AuthenticationError, {}),
    ("error_context_length.json", 400, ContextLengthError, {}),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("name", "status", "cls", "headers"), ERRORS)
async def test_google_errors_are_classified(
    wire: Any, name: str, status: int, cls: type, headers: dict[str, str], stream: bool
) -> None:
    srv, http = wire
    srv.reply(json_reply(name, status, headers))
    req = ChatRequest(model="gemini-1-5-pro", messages=(Message("user", "x"),), stream=stream)
    with pytest.raises(cls) as info:
        await gem(srv, http).chat(req)
    err = info.value
    assert type(err) is cls and err.http_status == status and err.provider == "google"
    assert KEY not in f"{err}{err!r}{err.body}"
    if cls is RateLimitError:
        assert err.retry_after == 37.0  # from google.rpc.RetryInfo, no Retry-After header


async def test_retry_after_header_wins_over_retry_info(wire: Any) -> None:
    srv, http = wire
    srv.reply(json_reply("error_429_retry_info.json", 429, {"retry-after": "5"}))
    with pytest.raises(RateLimitError) as info:
        await gem(srv, http).chat(ChatRequest(model="m", messages=(Message("user", "x"),)))
    assert info.value.retry_after == 5.0


async def test_error_chunk_inside_a_stream(wire: Any) -> None:
    srv, http = wire
    event = b"data: " + raw("error_503.json").replace(b"\n", b"") + b"\r\n\r\n"
    srv.reply(sse_reply(event))
    req = ChatRequest(model="m", messages=(Message("user", "x"),), stream=True)
    with pytest.raises(OverloadedError) as info:
        await gem(srv, http).chat(req)
    assert info.value.http_status == 200 and "UNAVAILABLE" in (info.value.body or "")


def test_usage_fields_missing_stay_none() -> None:
    assert parse_usage(None) == Usage()
    assert parse_usage({"promptTokenCount": 5}) == Usage(input_tokens=5)
    tool_prompt = {"promptTokenCount": 5, "toolUsePromptTokenCount": 2, "totalTokenCount": 9}
    assert parse_usage(tool_prompt) == Usage(input_tokens=7, output_tokens=2)
    assert parse_usage({"candidatesTokenCount": 4, "thoughtsTokenCount": 6}) == Usage(
        output_tokens=10, reasoning_tokens=6
    )
