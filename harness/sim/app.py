"""The simulator's ASGI app (Starlette).

Routes:

- ``POST /v1/chat/completions`` — OpenAI chat completions (JSON or SSE).
- ``POST /v1/messages`` — Anthropic Messages (JSON or SSE).
- ``POST /v1beta/models/{model}:generateContent`` and
  ``…:streamGenerateContent?alt=sse`` — Google Gemini (JSON or SSE);
  ``GET /v1beta/models`` and ``GET /v1beta/models/{model}`` — Gemini's model list
  and model resource.
- ``GET /v1/models`` — the simulated model ids (OpenAI list shape; Anthropic's
  shape when the request carries ``anthropic-version``).
- ``GET /sim/stats`` — requests served: ``{"total", "by_model": {model:
  {status: n}}, "by_profile", "in_flight", "max_in_flight"}``; every request
  to a chat route counts, faulted and refused ones included, as soon as its
  status is decided.
- ``POST /sim/faults`` — ``{"model": id | profile | "*", "faults": [...]}``
  queues faults the next requests for that model take in order;
  ``GET /sim/faults`` shows the queue.
- ``POST /sim/reset`` — zeroes the stats, drops queued faults, restarts the
  seeded fault draws.

API keys (``x-api-key``, ``Authorization``, ``x-goog-api-key``) are accepted whatever they are
and never read or logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.sim import wire_anthropic, wire_gemini, wire_openai
from harness.sim.behaviour import Behaviour, Reply, SimRequest
from harness.sim.faults import Fault, FaultPlan, parse_fault
from harness.sim.recognise import TaskIndex
from harness.sim.settings import ModelProfile, SimSettings
from harness.sim.wire_common import Event, WireError

__all__ = ["SimState", "build_app"]

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
# Events due within this many seconds of each other go out in one write.
_SLACK_S = 0.002
_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_PLAIN = b"upstream connect error or disconnect/reset before headers. reset reason: overflow"


class SimState:
    """Settings, behaviour, fault plan and counters of one simulator."""

    def __init__(self, settings: SimSettings, index: TaskIndex) -> None:
        self.settings = settings
        self.behaviour = Behaviour(settings, index)
        self.faults = FaultPlan(settings.seed)
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.by_model: dict[str, dict[str, int]] = {}
        self.by_profile: dict[str, dict[str, int]] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.faults.reset()
        self.behaviour.cache.clear()

    def count(self, model: str, profile: str | None, status: int) -> None:
        self.total += 1
        key = str(status)
        row = self.by_model.setdefault(model, {})
        row[key] = row.get(key, 0) + 1
        if profile is not None:
            row = self.by_profile.setdefault(profile, {})
            row[key] = row.get(key, 0) + 1

    def stats(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_model": self.by_model,
            "by_profile": self.by_profile,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


class _Raw(Response):
    """A response that drives the ASGI ``send`` itself (pacing, cuts, resets)."""

    def __init__(self, run: Callable[[Send], Awaitable[None]]) -> None:
        self._run = run

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._run(send)


def _headers(
    content_type: str, request_id: str, extra: dict[str, str] | None = None
) -> list[tuple[bytes, bytes]]:
    out = [(b"content-type", content_type.encode()), *_id_header(request_id)]
    for k, v in (extra or {}).items():
        out.append((k.encode(), v.encode()))
    return out


def _id_header(request_id: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-request-id", request_id.encode()), (b"request-id", request_id.encode())]


async def _send_whole(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _paced(
    send: Send, events: list[Event], ttft: float, per_token: float, *, finish: bool = True
) -> None:
    """Write events on schedule: token events from ``ttft`` at ``per_token`` a token."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    done_tokens = 0.0
    started = False
    buf: list[bytes] = []
    for data, tokens in events:
        if tokens > 0:
            started = True
        if started:
            wait = t0 + ttft + done_tokens * per_token - loop.time()
            if wait > _SLACK_S:
                if buf:
                    await send(
                        {"type": "http.response.body", "body": b"".join(buf), "more_body": True}
                    )
                    buf = []
                await asyncio.sleep(wait)
        buf.append(data)
        done_tokens += tokens
    if buf or finish:
        await send({"type": "http.response.body", "body": b"".join(buf), "more_body": not finish})


def _terminal_index(events: list[Event]) -> int:
    """Index where a cut stream stops: halfway through its token events."""
    token_events = [i for i, (_, tokens) in enumerate(events) if tokens > 0]
    if not token_events:
        return 1
    return token_events[len(token_events) // 2]


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError:
        return None


def build_app(settings: SimSettings, index: TaskIndex | None = None) -> Starlette:
    """The simulator as an ASGI app.

    Args:
        settings: Profiles, model ids, seed, time scale.
        index: Tasks to recognise (default: every suite the harness can load).
    """
    state = SimState(settings, index if index is not None else TaskIndex.load())

    async def chat(
        request: Request, wire: ModuleType, parse: Callable[[Any], SimRequest] | None = None
    ) -> Response:
        request_id = f"req_{secrets.token_hex(12)}"
        body = await _read_json(request)
        model = body.get("model") if isinstance(body, dict) else None
        # Gemini names the model in the path, not in the body.
        model = request.path_params.get("model") or model
        model = model if isinstance(model, str) and model else "<invalid>"
        try:
            if body is None:
                raise WireError(400, "We could not parse the JSON body of your request.")
            req = parse(body) if parse is not None else wire.parse(body)
        except WireError as exc:
            state.count(model, None, exc.status)
            return _error(wire, exc.status, exc.message, request_id, kind=exc.kind)
        found = state.behaviour.profile_for(req.model)
        if found is None:
            state.count(req.model, None, 404)
            message = f"The model `{req.model}` does not exist or you do not have access to it."
            return _error(wire, 404, message, request_id)
        name, profile = found
        fault = state.faults.next(req.model, name, profile, req.protocol)
        state.count(req.model, name, fault.status if fault else 200)
        try:
            return _respond(state, wire, req, name, profile, fault, request_id)
        except Exception:  # a simulator bug: answer like a real API's 500, keep serving
            log.exception("simulator failed on a %s request", req.protocol)
            return _error(wire, 500, "The simulator failed; see its log.", request_id)

    async def openai_chat(request: Request) -> Response:
        return await chat(request, wire_openai)

    async def anthropic_messages(request: Request) -> Response:
        return await chat(request, wire_anthropic)

    async def gemini_generate(request: Request) -> Response:
        model, method = request.path_params["model"], request.path_params["method"]
        stream = method == "streamGenerateContent"
        if not stream and method != "generateContent":
            message = f"Method not found: {method}."
            return _error(wire_gemini, 404, message, f"req_{secrets.token_hex(12)}")
        if stream and request.query_params.get("alt") != "sse":
            message = "The simulator streams Gemini responses only with alt=sse."
            return _error(wire_gemini, 400, message, f"req_{secrets.token_hex(12)}")
        return await chat(
            request, wire_gemini, lambda body: wire_gemini.parse(body, model, stream=stream)
        )

    async def gemini_models(request: Request) -> Response:
        model_id = request.path_params.get("model")
        if model_id is None:
            return JSONResponse({"models": [wire_gemini.model_resource(m) for m in model_ids()]})
        model_id = model_id.removeprefix("models/")
        if model_id not in model_ids():
            message = f"models/{model_id} is not found for API version v1beta."
            return Response(
                wire_gemini.error_body(404, message), 404, media_type="application/json"
            )
        return JSONResponse(wire_gemini.model_resource(model_id))

    def model_ids() -> list[str]:
        ids = dict.fromkeys(settings.model_ids)
        ids.update(dict.fromkeys(settings.profiles))
        return list(ids)

    async def models(request: Request) -> Response:
        if "anthropic-version" in request.headers:
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2024-01-01T00:00:00Z"}
                for m in model_ids()
            ]
            first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
            return JSONResponse(
                {"data": data, "has_more": False, "first_id": first, "last_id": last}
            )
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "harness-sim"}
            for m in model_ids()
        ]
        return JSONResponse({"object": "list", "data": data})

    async def model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        if model_id not in model_ids():
            message = f"The model `{model_id}` does not exist or you do not have access to it."
            return Response(
                wire_openai.error_body(404, message), 404, media_type="application/json"
            )
        return JSONResponse(
            {"id": model_id, "object": "model", "created": 0, "owned_by": "harness-sim"}
        )

    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"queued": state.faults.pending()})
        body = await _read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("faults"), list):
            return JSONResponse({"error": 'expected {"model": id or "*", "faults": [...]}'}, 400)
        try:
            parsed = [parse_fault(f) for f in body["faults"]]
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        state.faults.queue(str(body.get("model") or "*"), parsed)
        return JSONResponse({"queued": state.faults.pending()})

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", openai_chat, methods=["POST"]),
            Route("/chat/completions", openai_chat, methods=["POST"]),
            Route("/v1/messages", anthropic_messages, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", model, methods=["GET"]),
            Route("/v1beta/models/{model}:{method}", gemini_generate, methods=["POST"]),
            Route("/v1beta/models", gemini_models, methods=["GET"]),
            Route("/v1beta/models/{model}", gemini_models, methods=["GET"]),
            Route("/sim/stats", stats, methods=["GET"]),
            Route("/sim/faults", faults, methods=["GET", "POST"]),
            Route("/sim/reset", reset, methods=["POST"]),
        ]
    )
    app.state.sim = state
    return app


def _error(
    wire: ModuleType,
    status: int,
    message: str,
    request_id: str,
    *,
    kind: str | None = None,
    extra: dict[str, str] | None = None,
) -> Response:
    body = wire.error_body(status, message, kind)
    headers = {"x-request-id": request_id, "request-id": request_id, **(extra or {})}
    return Response(body, status, headers=headers, media_type="application/json")


def _respond(
    state: SimState,
    wire: ModuleType,
    req: SimRequest,
    name: str,
    profile: ModelProfile,
    fault: Fault | None,
    request_id: str,
) -> Response:
    settings = state.settings
    if fault is not None and fault.name in ("429", "500", "503", "529", "html"):
        return _fault_status(wire, fault, profile, request_id)
    reply = state.behaviour.reply(name, profile, req)
    if wire is wire_gemini:
        reply = wire_gemini.adjust(reply, req)
    ttft, per_token = state.behaviour.delays(profile)
    hang = 0.0
    if fault is not None and fault.name == "hang":
        hang = fault.arg if fault.arg is not None else settings.hang_s
        fault = None
    chunk_tokens = settings.chunk_tokens
    chunk_chars = max(1, round(chunk_tokens * profile.chars_per_token))

    async def run(send: Send) -> None:
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            if hang:
                await asyncio.sleep(hang)
            if fault is not None:
                await _fault_body(
                    send,
                    wire,
                    req,
                    reply,
                    fault,
                    ttft,
                    per_token,
                    request_id,
                    chunk_chars,
                    chunk_tokens,
                )
            elif req.stream:
                events = _stream_events(wire, req, reply, chunk_chars, chunk_tokens)
                headers = _headers(
                    "text/event-stream; charset=utf-8", request_id, {"cache-control": "no-cache"}
                )
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await _paced(send, events, ttft, per_token)
            else:
                await asyncio.sleep(ttft + reply.output_tokens * per_token)
                body = wire.render(reply, req.model)
                await _send_whole(send, 200, _headers("application/json", request_id), body)
        finally:
            state.in_flight -= 1

    return _Raw(run)


def _stream_events(
    wire: ModuleType, req: SimRequest, reply: Reply, chunk_chars: int, chunk_tokens: int
) -> list[Event]:
    if wire is wire_openai:
        return wire_openai.render_stream(
            reply, req.model, chunk_chars, chunk_tokens, req.include_usage
        )
    if wire is wire_gemini:
        return wire_gemini.render_stream(reply, req.model, chunk_chars, chunk_tokens)
    return wire_anthropic.render_stream(reply, req.model, chunk_chars, chunk_tokens)


def _fault_status(
    wire: ModuleType, fault: Fault, profile: ModelProfile, request_id: str
) -> Response:
    if fault.name == "html":
        headers = {"x-request-id": request_id}
        return Response(_HTML_502, 502, headers=headers, media_type="text/html")
    if fault.name == "429":
        seconds = fault.arg if fault.arg is not None else profile.faults.retry_after_s
        retry = f"{seconds:g}"
        message = "Rate limit reached for requests. Please try again later."
        return _error(wire, 429, message, request_id, extra={"retry-after": retry})
    messages = {
        "500": "The server had an error while processing your request.",
        "503": "The server is overloaded or not ready yet.",
        "529": "Overloaded",
    }
    return _error(wire, fault.status, messages[fault.name], request_id)


async def _fault_body(
    send: Send,
    wire: ModuleType,
    req: SimRequest,
    reply: Reply,
    fault: Fault,
    ttft: float,
    per_token: float,
    request_id: str,
    chunk_chars: int,
    chunk_tokens: int,
) -> None:
    """Status 200 with a broken body: cut, reset, malformed, empty, wrong_content_type."""
    json_type = "text/event-stream; charset=utf-8" if req.stream else "application/json"
    if fault.name == "empty":
        await _send_whole(send, 200, _headers(json_type, request_id), b"")
    elif fault.name == "wrong_content_type":
        await asyncio.sleep(ttft)
        await _send_whole(send, 200, _headers("text/plain", request_id), _PLAIN)
    elif fault.name == "malformed":
        await asyncio.sleep(ttft)
        body = wire.render(reply, req.model)[:-7]  # a JSON document cut before its end
        if req.stream:
            body = b"data: " + body + b"\n\n"
            if wire is wire_openai:
                body += b"data: [DONE]\n\n"
            elif wire is wire_anthropic:
                body += _ANTHROPIC_STOP
            # a Gemini stream has no terminal event: its body just ends
        await _send_whole(send, 200, _headers(json_type, request_id), body)
    elif req.stream:  # cut / reset
        events = _stream_events(wire, req, reply, chunk_chars, chunk_tokens)
        events = events[: _terminal_index(events)]
        headers = _headers(json_type, request_id, {"cache-control": "no-cache"})
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # cut: the body ends cleanly without the terminal event; reset: it never ends,
        # and the server drops the connection when this returns.
        await _paced(send, events, ttft, per_token, finish=fault.name == "cut")
    else:  # cut / reset of a JSON body: Content-Length promises more than arrives
        await asyncio.sleep(ttft + reply.output_tokens * per_token / 2)
        body = wire.render(reply, req.model)
        headers = [*_headers(json_type, request_id), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )


_ANTHROPIC_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
