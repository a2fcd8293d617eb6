"""Adapters over real sockets: every failure lands on the right error, secrets never leak.

``ScriptedServer`` is a tiny HTTP/1.1 server on 127.0.0.1 (asyncio streams, no
framework) that answers each request with the next scripted :class:`Reply`
— exact bytes, chunked streams, delays, stalls and abrupt closes — and keeps
what it received, so the tests see exactly what went over the wire. Other
``test_llm_*`` modules import it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import traceback
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from harness.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ContextLengthError,
    LLMError,
    MalformedResponseError,
    NotFoundError,
    OverloadedError,
    ProviderConnectionError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    StreamCutError,
)
from harness.llm.http import Timeouts, make_http_client
from harness.llm.providers import ADAPTERS, get_adapter
from harness.llm.providers.anthropic import AnthropicAdapter
from harness.llm.providers.base import ProviderAdapter
from harness.llm.providers.openai import OpenAIAdapter
from harness.llm.types import ChatRequest, Message

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many"}


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | list[bytes] = b""
    """Bytes → Content-Length body; a list → chunked transfer, one chunk per item."""
    delay_s: float = 0.0
    """Silence before the status line."""
    chunk_delay_s: float = 0.0
    """Silence between chunks of a list body."""
    cut: bool = False
    """Close the connection before the body is complete."""
    drop: bool = False
    """Close the connection without answering at all."""
    stall_s: float = 0.0
    """After the headers and the first chunk (or half the body), go silent this long."""


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def sse(*events: tuple[str | None, Any]) -> list[bytes]:
    """SSE chunks, one per event: ``(event name or None, data)``; dicts become JSON."""
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {text}\n\n".encode())
    return out


class ScriptedServer:
    """``async with ScriptedServer() as srv: srv.reply(Reply(...)); ... srv.requests``."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._queue: deque[Reply] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.url = ""

    def reply(self, *replies: Reply) -> ScriptedServer:
        self._queue.extend(replies)
        return self

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # cancelled on exit: a stalled reply must not outlive the test
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Seen(method, path, headers, body))
                reply = self._queue.popleft() if self._queue else Reply(599, body=b"unscripted")
                if not await self._write(writer, reply):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _write(self, writer: asyncio.StreamWriter, r: Reply) -> bool:
        """Send one reply; False when the connection must close afterwards."""
        if r.delay_s:
            await asyncio.sleep(r.delay_s)
        if r.drop:
            return False
        head = [f"HTTP/1.1 {r.status} {_REASONS.get(r.status, 'Status')}"]
        head += [f"{k}: {v}" for k, v in r.headers.items()]
        if isinstance(r.body, list):
            head.append("transfer-encoding: chunked")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            for i, chunk in enumerate(r.body):
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
                if i == 0 and r.stall_s:
                    await asyncio.sleep(r.stall_s)
                if r.chunk_delay_s:
                    await asyncio.sleep(r.chunk_delay_s)
            if r.cut:
                return False
            writer.write(b"0\r\n\r\n")
        else:
            head.append(f"content-length: {len(r.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            if r.cut or r.stall_s:
                writer.write(r.body[: len(r.body) // 2])
                await writer.drain()
                if r.stall_s:
                    await asyncio.sleep(r.stall_s)
                if r.cut:
                    return False
                writer.write(r.body[len(r.body) // 2 :])
            else:
                writer.write(r.body)
        await writer.drain()
        return True


def json_reply(data: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, {"content-type": "application/json", **headers}, json.dumps(data).encode())


def sse_reply(chunks: list[bytes], **kw: Any) -> Reply:
    return Reply(200, {"content-type": "text/event-stream"}, chunks, **kw)


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    client = make_http_client(max_connections=8, timeouts=Timeouts())
    yield client
    await client.aclose()


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as srv:
        yield srv


def openai(
    srv: ScriptedServer, http: httpx2.AsyncClient, key: str | None = "sk-test", **kw: Any
) -> OpenAIAdapter:
    return OpenAIAdapter(provider="openai", api_base=srv.url + "/v1", api_key=key, http=http, **kw)


def anthropic(
    srv: ScriptedServer, http: httpx2.AsyncClient, key: str | None = "sk-ant-test", **kw: Any
) -> AnthropicAdapter:
    return AnthropicAdapter(provider="anthropic", api_base=srv.url, api_key=key, http=http, **kw)


REQ = ChatRequest(model="m-1", messages=(Message("user", "hi"),), max_tokens=16)
STREAM = ChatRequest(model="m-1", messages=(Message("user", "hi"),), max_tokens=16, stream=True)

OPENAI_OK = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "m-1-2024",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def openai_stream(text: str = "hello", *, done: bool = True) -> list[bytes]:
    chunks = [
        {
            "id": "c1",
            "model": "m-1",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
        },
        *(
            {"id": "c1", "model": "m-1", "choices": [{"index": 0, "delta": {"content": ch}}]}
            for ch in text
        ),
        {
            "id": "c1",
            "model": "m-1",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        },
        {
            "id": "c1",
            "model": "m-1",
            "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": len(text)},
        },
    ]
    out = sse(*((None, c) for c in chunks))
    return out + sse((None, "[DONE]")) if done else out


def anthropic_stream(text: str = "hello", *, stop: bool = True) -> list[bytes]:
    events: list[tuple[str | None, Any]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "model": "m-1",
                    "content": [],
                    "usage": {"input_tokens": 3, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        *(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": ch},
                },
            )
            for ch in text
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": len(text)},
            },
        ),
    ]
    if stop:
        events.append(("message_stop", {"type": "message_stop"}))
    return sse(*events)


# -- registry and construction -------------------------------------------------------------


def test_get_adapter_lists_valid_protocols_on_unknown() -> None:
    assert get_adapter("openai") is OpenAIAdapter
    assert get_adapter("anthropic") is AnthropicAdapter
    assert set(ADAPTERS) == {"openai", "anthropic", "gemini"}
    with pytest.raises(ConfigError, match="anthropic, gemini, openai"):
        get_adapter("vertex")


async def test_bad_api_base_is_a_config_error(http: httpx2.AsyncClient) -> None:
    with pytest.raises(ConfigError, match="api_base"):
        OpenAIAdapter(provider="x", api_base="localhost:8000/v1", api_key=None, http=http)


def test_timeouts_and_pool() -> None:
    with pytest.raises(ConfigError):
        Timeouts(read=0)
    with pytest.raises(ConfigError):
        make_http_client(max_connections=0, timeouts=Timeouts())
    t = Timeouts(connect=1, read=2, write=3, pool=4, total=5).transport()
    assert (t.connect, t.read, t.write, t.pool) == (1, 2, 3, 4)


async def test_pool_reuses_connections(server: ScriptedServer, http: httpx2.AsyncClient) -> None:
    """Sequential calls, streamed or not, go over one kept-alive connection."""
    opened = 0
    original = server._serve

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal opened
        opened += 1
        await original(reader, writer)

    server._serve = counting  # type: ignore[method-assign]
    server.reply(json_reply(OPENAI_OK), sse_reply(openai_stream()), json_reply(OPENAI_OK))
    a = openai(server, http)
    for req in (REQ, STREAM, REQ):
        assert (await a.chat(req)).content == "hello"
    assert opened == 1


# -- wire basics ---------------------------------------------------------------------------


async def test_openai_headers_and_keyless(server: ScriptedServer, http: httpx2.AsyncClient) -> None:
    server.reply(json_reply(OPENAI_OK), json_reply(OPENAI_OK))
    await openai(server, http, key="sk-abc", headers={"HTTP-Referer": "https://x"}).chat(REQ)
    await openai(server, http, key=None).chat(REQ)
    with_key, keyless = server.requests
    assert with_key.method == "POST" and with_key.path == "/v1/chat/completions"
    assert with_key.headers["authorization"] == "Bearer sk-abc"
    assert with_key.headers["http-referer"] == "https://x"
    assert with_key.headers["content-type"] == "application/json"
    assert "authorization" not in keyless.headers


async def test_anthropic_headers(server: ScriptedServer, http: httpx2.AsyncClient) -> None:
    server.reply(sse_reply(anthropic_stream()))
    resp = await anthropic(server, http, key="sk-ant-xyz").chat(STREAM)
    seen = server.requests[0]
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == "sk-ant-xyz"
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["accept"] == "text/event-stream"
    assert seen.json()["stream"] is True
    assert (
        resp.content == "hello" and resp.usage.input_tokens == 3 and resp.usage.output_tokens == 5
    )


async def test_stream_timing_is_measured(server: ScriptedServer, http: httpx2.AsyncClient) -> None:
    """TTFT waits for the first delta, not the headers; latency runs to the last byte."""
    chunks = openai_stream("abc")
    server.reply(sse_reply(chunks, chunk_delay_s=0.03))
    t0 = time.perf_counter()
    resp = await openai(server, http).chat(STREAM)
    wall = (time.perf_counter() - t0) * 1000
    assert resp.ttft_ms is not None
    # the role-only first chunk is not content: TTFT comes after >= 1 chunk delay
    assert 25 <= resp.ttft_ms < resp.latency_ms <= wall + 1
    assert resp.latency_ms >= 30 * (len(chunks) - 1) * 0.8


# -- HTTP errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, '{"error": {"message": "bad field"}}', BadRequestError),
        (
            400,
            '{"error": {"message": "This model\'s maximum context length is 8192"}}',
            ContextLengthError,
        ),
        (401, '{"error": {"message": "invalid key"}}', AuthenticationError),
        (404, '{"error": {"message": "no such model"}}', NotFoundError),
        (500, '{"error": {"message": "boom"}}', ServerError),
        (503, "Service Unavailable", OverloadedError),
        (
            529,
            '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
            OverloadedError,
        ),
    ],
)
async def test_http_status_classified(
    server: ScriptedServer,
    http: httpx2.AsyncClient,
    status: int,
    body: str,
    cls: type[LLMError],
    stream: bool,
) -> None:
    server.reply(Reply(status, {"content-type": "application/json"}, body.encode()))
    with pytest.raises(cls) as info:
        await openai(server, http).chat(STREAM if stream else REQ)
    err = info.value
    assert type(err) is cls
    assert err.http_status == status and err.provider == "openai" and err.model == "m-1"
    assert err.body == body
    assert err.retryable is (status >= 500)


@pytest.mark.parametrize("stream", [False, True])
async def test_429_carries_retry_after(
    server: ScriptedServer, http: httpx2.AsyncClient, stream: bool
) -> None:
    server.reply(
        json_reply({"error": {"message": "slow down"}}, 429, **{"retry-after": "7"}),
        json_reply({"error": {"message": "slow down"}}, 429, **{"retry-after-ms": "250"}),
        json_reply({"error": {"message": "slow down"}}, 429),
    )
    a = anthropic(server, http)
    req = STREAM if stream else REQ
    for expected in (7.0, 0.25, None):
        with pytest.raises(RateLimitError) as info:
            await a.chat(req)
        assert info.value.retryable and info.value.retry_after == expected


# -- 200 but not an answer -----------------------------------------------------------------

_HTML = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Login</body></html>"


@pytest.mark.parametrize("factory", [openai, anthropic])
@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (Reply(200, {"content-type": "application/json"}, b""), "empty body"),
        (
            Reply(200, {"content-type": "application/json"}, b'{"id": "x", "choices": [{"ind'),
            "invalid JSON",
        ),
        (Reply(200, {"content-type": "text/plain"}, b'{"ok": true}'), "content type 'text/plain'"),
        (Reply(200, {"content-type": "text/html; charset=utf-8"}, _HTML), "HTML page"),
        (Reply(200, {"content-type": "application/json"}, _HTML), "HTML page"),
        (Reply(200, {"content-type": "application/json"}, b"[1, 2]"), "JSON object"),
        (
            Reply(200, {"content-type": "application/json"}, b'{"object": "list", "data": []}'),
            "no '",
        ),
    ],
)
async def test_malformed_200_non_stream(
    server: ScriptedServer, http: httpx2.AsyncClient, factory: Any, reply: Reply, match: str
) -> None:
    server.reply(reply)
    with pytest.raises(MalformedResponseError, match=match) as info:
        await factory(server, http).chat(REQ)
    assert info.value.retryable and info.value.http_status == 200


@pytest.mark.parametrize("factory", [openai, anthropic])
@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (Reply(200, {"content-type": "text/event-stream"}, b""), "empty body"),
        (Reply(200, {"content-type": "text/event-stream"}, []), "empty body"),
        (
            Reply(200, {"content-type": "application/json"}, json.dumps(OPENAI_OK).encode()),
            "text/event-stream",
        ),
        (Reply(200, {"content-type": "text/html"}, _HTML), "HTML page"),
        (
            Reply(200, {"content-type": "text/event-stream"}, [b'data: {"id": "c1", "cho\n\n']),
            "invalid JSON",
        ),
    ],
)
async def test_malformed_200_stream(
    server: ScriptedServer, http: httpx2.AsyncClient, factory: Any, reply: Reply, match: str
) -> None:
    server.reply(reply)
    with pytest.raises(MalformedResponseError, match=match):
        await factory(server, http).chat(STREAM)


# -- cut, dropped, refused, slow -----------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "chunks"), [(openai, openai_stream()), (anthropic, anthropic_stream())]
)
async def test_stream_cut_mid_body(
    server: ScriptedServer, http: httpx2.AsyncClient, factory: Any, chunks: list[bytes]
) -> None:
    server.reply(sse_reply(chunks[:3], cut=True))
    with pytest.raises(StreamCutError, match="cut"):
        await factory(server, http).chat(STREAM)


async def test_stream_ends_cleanly_without_terminal_event(
    server: ScriptedServer, http: httpx2.AsyncClient
) -> None:
    server.reply(sse_reply(openai_stream(done=False)), sse_reply(anthropic_stream(stop=False)))
    with pytest.raises(StreamCutError, match="terminal event"):
        await openai(server, http).chat(STREAM)
    with pytest.raises(StreamCutError, match="terminal event"):
        await anthropic(server, http).chat(STREAM)


async def test_body_cut_non_stream(server: ScriptedServer, http: httpx2.AsyncClient) -> None:
    server.reply(
        Reply(200, {"content-type": "application/json"}, json.dumps(OPENAI_OK).encode(), cut=True)
    )
    with pytest.raises(StreamCutError):
        await openai(server, http).chat(REQ)


async def test_dropped_before_response_is_connection_error(
    server: ScriptedServer, http: httpx2.AsyncClient
) -> None:
    server.reply(Reply(drop=True))
    with pytest.raises(ProviderConnectionError):
        await openai(server, http).chat(REQ)


async def test_connection_refused(http: httpx2.AsyncClient) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = OpenAIAdapter(
        provider="vllm", api_base=f"http://127.0.0.1:{port}/v1", api_key=None, http=http
    )
    with pytest.raises(ProviderConnectionError, match="cannot connect") as info:
        await a.chat(REQ)
    assert info.value.retryable


async def test_read_timeout_waiting_and_mid_stream(
    server: ScriptedServer, http: httpx2.AsyncClient
) -> None:
    fast = Timeouts(read=0.2)
    server.reply(Reply(200, {"content-type": "application/json"}, b"{}", delay_s=1.0))
    server.reply(sse_reply(openai_stream(), stall_s=1.0))
    a = openai(server, http, timeouts=fast)
    with pytest.raises(ProviderTimeoutError, match="waiting for the response"):
        await a.chat(REQ)
    with pytest.raises(ProviderTimeoutError, match="between response chunks"):
        await a.chat(STREAM)


async def test_total_timeout_bounds_a_trickling_stream(
    server: ScriptedServer, http: httpx2.AsyncClient
) -> None:
    """Each chunk arrives within the read timeout, but the whole call takes too long."""
    server.reply(sse_reply(openai_stream("abcdefghij"), chunk_delay_s=0.05))
    a = openai(server, http, timeouts=Timeouts(read=1, total=0.2))
    t0 = time.perf_counter()
    with pytest.raises(ProviderTimeoutError, match="total timeout"):
        await a.chat(STREAM)
    assert time.perf_counter() - t0 < 0.5


# -- errors inside a 200 -------------------------------------------------------------------


async def test_anthropic_error_event_is_classified(
    server: ScriptedServer, http: httpx2.AsyncClient
) -> None:
    head = anthropic_stream()[:2]
    for kind, cls in (
        ("overloaded_error", OverloadedError),
        ("rate_limit_error", RateLimitError),
        ("api_error", ServerError),
    ):
        server.reply(
            sse_reply(
                head + sse(("error", {"type": "error", "error": {"type": kind, "message": "x"}}))
            )
        )
        with pytest.raises(cls) as info:
            await anthropic(server, http).chat(STREAM)
        assert info.value.http_status == 200  # what the wire said; the class says what it meant


async def test_openai_error_inside_200(server: ScriptedServer, http: httpx2.AsyncClient) -> None:
    server.reply(
        json_reply({"error": {"message": "upstream failed", "code": 502}}),
        sse_reply(
            openai_stream()[:2] + sse((None, {"error": {"message": "Rate limit", "code": 429}}))
        ),
    )
    with pytest.raises(ServerError):
        await openai(server, http).chat(REQ)
    with pytest.raises(RateLimitError):
        await openai(server, http).chat(STREAM)


# -- secrets -------------------------------------------------------------------------------

SECRET = "sk-SECRET-0123456789abcdef"


def _leaks(err: BaseException) -> list[str]:
    texts = [str(err), repr(err), str(err.args), "".join(traceback.format_exception(err))]
    texts.append(str(getattr(err, "body", "")))
    return [t for t in texts if SECRET in t]


@pytest.mark.parametrize("factory", [openai, anthropic])
async def test_key_never_leaks(
    server: ScriptedServer, http: httpx2.AsyncClient, factory: Any
) -> None:
    """Servers that echo the key (in errors, HTML, answers) never get it into errors or raw_body."""
    echo = f'{{"error": {{"message": "Incorrect API key provided: {SECRET}"}}}}'.encode()
    server.reply(
        Reply(401, {"content-type": "application/json"}, echo),
        Reply(429, {"content-type": "application/json", "retry-after": "1"}, echo),
        Reply(200, {"content-type": "text/html"}, f"<html>{SECRET}</html>".encode()),
        Reply(200, {"content-type": "application/json"}, f'{{"broken": "{SECRET}'.encode()),
        Reply(200, {"content-type": "text/event-stream"}, [f"data: {SECRET}\n\n".encode()]),
    )
    a: ProviderAdapter = factory(server, http, key=SECRET)
    assert SECRET not in repr(a)
    for req in (REQ, REQ, REQ, REQ, STREAM):
        with pytest.raises(LLMError) as info:
            await a.chat(req)
        assert not _leaks(info.value), type(info.value)
    assert all(SECRET not in json.dumps(a.request_body(r)) for r in (REQ, STREAM))
    # the key did go out, in the header only
    assert all(SECRET in "".join(s.headers.values()) for s in server.requests)
    # an answer that quotes the key keeps it out of raw_body
    if factory is openai:
        body = {
            **OPENAI_OK,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": SECRET},
                    "finish_reason": "stop",
                }
            ],
        }
        server.reply(json_reply(body), sse_reply(openai_stream(SECRET)))
    else:
        body = {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": SECRET}],
            "model": "m-1",
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
        server.reply(json_reply(body), sse_reply(anthropic_stream(SECRET)))
    for req in (REQ, STREAM):
        resp = await a.chat(req)
        assert resp.raw_body and SECRET not in resp.raw_body and "[REDACTED]" in resp.raw_body


async def test_connection_error_does_not_chain_the_request(http: httpx2.AsyncClient) -> None:
    """httpx exceptions hold the request (and its headers); ours must not keep them reachable."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = OpenAIAdapter(
        provider="p", api_base=f"http://127.0.0.1:{port}/v1", api_key=SECRET, http=http
    )
    with pytest.raises(ProviderConnectionError) as info:
        await a.chat(REQ)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert not _leaks(info.value)


async def test_key_hygiene_at_construction(
    server: ScriptedServer, http: httpx2.AsyncClient
) -> None:
    """A stray newline (common in env vars) is trimmed; a key a header cannot carry is refused
    without being printed."""
    server.reply(json_reply(OPENAI_OK))
    await openai(server, http, key=SECRET + "\n").chat(REQ)
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    with pytest.raises(ConfigError, match="'x-api-key'") as info:
        anthropic(server, http, key=SECRET + "é")
    assert SECRET not in str(info.value)


async def test_unserializable_extra_is_a_final_error(http: httpx2.AsyncClient) -> None:
    a = OpenAIAdapter(provider="p", api_base="http://127.0.0.1:9/v1", api_key=None, http=http)
    req = ChatRequest(model="m", messages=(Message("user", "x"),), extra={"bad": object()})
    with pytest.raises(BadRequestError, match="JSON-serializable"):
        await a.chat(req)


async def test_short_placeholder_key_does_not_mangle_bodies(
    server: ScriptedServer, http: httpx2.AsyncClient
) -> None:
    """Scrubbing applies to real-length keys; a placeholder like "k" must not eat every k."""
    server.reply(json_reply(OPENAI_OK))
    resp = await openai(server, http, key="k").chat(REQ)
    assert resp.usage.input_tokens == 3  # "prompt_tokens" survived
    assert resp.raw_body == json.dumps(OPENAI_OK)
