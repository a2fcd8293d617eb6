"""What every provider adapter shares: sending, timing, and mapping failures to errors.

An adapter turns a :class:`~harness.llm.types.ChatRequest` into one HTTP call
on the shared pooled client and the answer into a
:class:`~harness.llm.types.ChatResponse`. This base owns everything that is the
same across wire protocols — the call itself, the total-time limit, latency
and time to first token, content-type and JSON checks, SSE framing, and the
mapping of every transport failure onto the one error tree — so a protocol
module only writes the body, reads the body, and folds stream events.

Failures, as raised by :meth:`ProviderAdapter.chat` (nothing else escapes)::

    connect refused / reset before a response      ProviderConnectionError
    connect, write, pool or read timeout           ProviderTimeoutError
    whole call over Timeouts.total                 ProviderTimeoutError
    HTTP >= 400 (Retry-After parsed)                classify_http_error(...)
    200 with empty body, HTML, wrong content type,
        invalid JSON, or JSON of the wrong shape    MalformedResponseError
    body or stream cut, stream without its end     StreamCutError
    an error event inside a stream                 classified like its HTTP twin

Secrets: the API key lives only in the request headers. Errors and
``raw_body`` carry (truncated) response text with any echo of the key
replaced, never request headers; transport exceptions are not chained
(``from None``) because their request object holds the headers.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, ClassVar

import httpx2

from harness.errors import (
    BadRequestError,
    ConfigError,
    LLMError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderTimeoutError,
    StreamCutError,
    classify_http_error,
    parse_retry_after,
)
from harness.llm.http import Timeouts
from harness.llm.ratelimit import RATE_HEADER_PREFIXES
from harness.llm.sse import SSEDecoder
from harness.llm.types import ChatRequest, ChatResponse
from harness.redact import MIN_SECRET_LEN

__all__ = [
    "REDACTED",
    "ProviderAdapter",
    "ResponseShapeError",
    "StreamState",
    "as_count",
    "parse_tool_arguments",
    "rate_headers",
]

REDACTED = "[REDACTED]"

_SNIPPET = 300
_DRAIN_LIMIT = 64 * 1024
_DRAIN_TIMEOUT_S = 0.5
_RATE_PREFIXES = tuple(p.encode() for p in RATE_HEADER_PREFIXES)
# Protocol code reads JSON defensively; if a body's shape still trips it, the
# body is what was wrong, and the caller gets a MalformedResponseError.
_SHAPE_BUGS = (TypeError, KeyError, IndexError, AttributeError)


def _unexpected(exc: Exception) -> str:
    return f"unexpected shape ({type(exc).__name__}: {exc})"


def rate_headers(response: httpx2.Response) -> dict[str, str] | None:
    """The response's rate-limit headers, lower-case names; None when it has none.

    Only these few are kept (read by :mod:`harness.llm.ratelimit`): ~2 µs a response.
    """
    out: dict[str, str] | None = None
    for name, value in response.headers.raw:
        name = name.lower()
        if name.startswith(_RATE_PREFIXES):
            if out is None:
                out = {}
            out[name.decode("latin-1")] = value.decode("latin-1")
    return out


def _header_ok(text: str) -> bool:
    return text.isascii() and text.isprintable()


class ResponseShapeError(ValueError):
    """Raised by protocol code when a body or chunk is not the promised shape.

    The base turns it into a :class:`MalformedResponseError` carrying the
    body, the status and the call's provider and model.
    """


def parse_tool_arguments(raw: str) -> dict[str, Any] | None:
    """A tool call's argument JSON → dict; None when it is not a JSON object.

    An empty string means "no arguments" (a tool without parameters) → ``{}``.
    """
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def as_count(value: Any) -> int | None:
    """A token count from JSON, or None when absent or not a non-negative integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


class StreamState(ABC):
    """Folds one stream's events into a response; one instance per call.

    ``on_event`` returns True when the event carried the first content or
    tool-call delta (the base stamps TTFT then); it raises an ``LLMError`` for
    an error event. ``done`` turns True at the protocol's terminal event.
    """

    done: bool = False
    terminal: ClassVar[str] = "its terminal event"
    """What a complete stream ends with (named in the stream-cut error)."""

    def ended(self, pending: bool) -> bool:
        """Whether the stream was complete when the body ended (``pending``: a
        partial event was left undecoded). Protocols without a terminal event
        (Gemini) decide from what they saw instead."""
        return self.done

    @abstractmethod
    def on_event(self, event: str, data: str) -> bool:
        """Fold one ``(event, data)`` pair; True if it was the first content delta."""

    @abstractmethod
    def finish(self) -> ChatResponse:
        """The response so far (content, model, finish reason, usage, tool calls, raw body)."""


class ProviderAdapter(ABC):
    """One wire protocol over the shared client. Subclasses set ``protocol``."""

    protocol: ClassVar[str]

    def __init__(
        self,
        *,
        provider: str,
        api_base: str,
        api_key: str | None,
        http: httpx2.AsyncClient,
        headers: Mapping[str, str] | None = None,
        timeouts: Timeouts | None = None,
        extra_body: Mapping[str, Any] | None = None,
        prompt_cache: bool = False,
    ) -> None:
        """Bind the adapter to an endpoint.

        Args:
            provider: Who serves the model (stored with errors, e.g. ``openrouter``).
            api_base: The protocol's base URL (see each adapter for its shape).
            api_key: The key, or None for keyless (self-hosted) endpoints.
            http: The shared pooled client (see :func:`harness.llm.http.make_http_client`).
            headers: Extra request headers (e.g. OpenRouter's ``HTTP-Referer``).
            timeouts: Per-call limits; defaults to :class:`Timeouts`.
            extra_body: Merged into every request body (``ModelConfig.extra_body``,
                e.g. OpenRouter's ``provider`` routing preferences).
            prompt_cache: Ask for prompt caching where the protocol needs asking
                (``ModelConfig.prompt_cache``; Anthropic ``cache_control``).
        """
        base = (api_base or "").strip().rstrip("/")
        try:
            scheme = httpx2.URL(base).scheme
        except Exception:
            scheme = ""
        if scheme not in ("http", "https"):
            raise ConfigError(
                f"api_base for provider {provider!r} must be an http(s) URL, got {api_base!r}"
            )
        self.provider = provider
        self.api_base = base
        # Env vars often end in a stray newline; a header cannot carry one.
        self._api_key = api_key.strip() if api_key and api_key.strip() else None
        # Scrubbing a very short "key" (e.g. a placeholder for a keyless server)
        # would mangle every body it occurs in, and such a string is no secret.
        self._secret = (
            self._api_key if self._api_key and len(self._api_key) >= MIN_SECRET_LEN else None
        )
        self._http = http
        self._timeouts = timeouts or Timeouts()
        self._transport_timeout = self._timeouts.transport()
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.prompt_cache = bool(prompt_cache)
        self._url = self._endpoint(base)
        extra = dict(headers or {})
        self._headers_json = {
            "content-type": "application/json",
            "accept": "application/json",
            **self._auth_headers(self._api_key),
            **extra,
        }
        self._headers_sse = {**self._headers_json, "accept": "text/event-stream"}
        for name, value in self._headers_json.items():
            if not _header_ok(name) or not _header_ok(value):
                # Name the header but never print its value (it may be the key).
                raise ConfigError(
                    f"provider {provider!r}: header {name!r} has characters HTTP headers "
                    "cannot carry (non-ASCII or control characters) — check the API key "
                    "and the configured headers"
                )

    def __repr__(self) -> str:
        # Never the key: only whether one is set.
        key = "set" if self._api_key else "none"
        return f"{type(self).__name__}(provider={self.provider!r}, url={self._url!r}, key={key})"

    @property
    def url(self) -> str:
        """The URL each call is POSTed to."""
        return self._url

    # -- what a protocol module writes ------------------------------------------------

    @abstractmethod
    def _endpoint(self, api_base: str) -> str:
        """The full URL for chat calls under ``api_base``."""

    @abstractmethod
    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        """Protocol headers, the key's included (when there is one)."""

    @abstractmethod
    def request_body(self, req: ChatRequest) -> dict[str, Any]:
        """The JSON body for ``req`` (also what the client logs; it never holds the key)."""

    @abstractmethod
    def _parse(self, data: dict[str, Any], req: ChatRequest) -> ChatResponse:
        """A non-streaming JSON body → response (``MalformedResponseError`` on a wrong shape)."""

    @abstractmethod
    def _stream_state(self, req: ChatRequest) -> StreamState:
        """A fresh accumulator for one streamed call."""

    # -- the call -----------------------------------------------------------------------

    def encode(self, req: ChatRequest) -> bytes:
        """The request body as sent on the wire (compact JSON; never holds the key)."""
        try:
            return json.dumps(self.request_body(req), separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise BadRequestError(
                f"the request body is not JSON-serializable ({exc}) — check ChatRequest.extra",
                provider=self.provider,
                model=req.model,
            ) from None

    async def chat(self, req: ChatRequest, payload: bytes | None = None) -> ChatResponse:
        """Send ``req`` and return the parsed response.

        Streams when ``req.stream`` is set (TTFT measured), otherwise reads one
        JSON body. ``payload`` is ``encode(req)`` when the caller already has it
        (the client logs the same bytes it sends). Raises only
        :class:`harness.errors.LLMError` subclasses.
        """
        if payload is None:
            payload = self.encode(req)
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeouts.total):
                if req.stream:
                    return await self._call_stream(req, payload, t0)
                return await self._call_once(req, payload, t0)
        except TimeoutError:
            raise ProviderTimeoutError(
                f"no complete response within the total timeout of {self._timeouts.total:g} s",
                provider=self.provider,
                model=req.model,
            ) from None

    def call_url(self, req: ChatRequest) -> str:
        """The URL of one call (Gemini puts the model and the method in it)."""
        return self._url

    def _in_band_error(self, text: str, req: ChatRequest) -> LLMError | None:
        """A protocol's error carried in a non-stream body of a stream request, if any."""
        return None

    async def _send(
        self, req: ChatRequest, payload: bytes, headers: dict[str, str]
    ) -> httpx2.Response:
        request = self._http.build_request(
            "POST",
            self.call_url(req),
            content=payload,
            headers=headers,
            timeout=self._transport_timeout,
        )
        try:
            return await self._http.send(request, stream=True)
        except httpx2.HTTPError as exc:
            raise self._transport_error(exc, req, started=False) from None

    async def _call_once(self, req: ChatRequest, payload: bytes, t0: float) -> ChatResponse:
        response = await self._send(req, payload, self._headers_json)
        try:
            try:
                raw = await response.aread()
            except httpx2.HTTPError as exc:
                raise self._transport_error(exc, req, started=True) from None
            # Parsed as received; only what is kept (raw_body, errors) is scrubbed.
            text = raw.decode("utf-8", "replace")
            status = response.status_code
            if status >= 300:
                raise self._http_error(response, self._scrub(text), req)
            ctype = response.headers.get("content-type", "")
            self._check_json_body(text, ctype, status, req)
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise self._malformed(
                    f"invalid JSON in the response body ({exc.msg} at char {exc.pos})",
                    text,
                    status,
                    req,
                ) from None
            if not isinstance(data, dict):
                raise self._malformed(
                    f"expected a JSON object, got {type(data).__name__}", text, status, req
                )
            try:
                resp = self._parse(data, req)
            except ResponseShapeError as exc:
                raise self._malformed(str(exc), text, status, req) from None
            except _SHAPE_BUGS as exc:
                raise self._malformed(_unexpected(exc), text, status, req) from None
        finally:
            await response.aclose()
        resp.latency_ms = (time.perf_counter() - t0) * 1000.0
        resp.http_status = status
        resp.raw_body = self._scrub(text)
        resp.rate_headers = rate_headers(response)
        return resp

    async def _call_stream(self, req: ChatRequest, payload: bytes, t0: float) -> ChatResponse:
        response = await self._send(req, payload, self._headers_sse)
        chunks: AsyncGenerator[bytes, None] | None = None
        try:
            status = response.status_code
            if status >= 300:
                try:
                    raw = await response.aread()
                except httpx2.HTTPError:
                    raw = b""  # the status alone still classifies the error
                raise self._http_error(response, self._scrub(raw.decode("utf-8", "replace")), req)
            ctype = response.headers.get("content-type", "")
            if "text/event-stream" not in ctype.lower():
                raw = await self._read_rest(response, req)
                if not raw.strip():
                    raise self._malformed("empty body (expected an event stream)", raw, status, req)
                self._check_html(raw, ctype, status, req)
                err = self._in_band_error(raw, req)
                if err is not None:  # e.g. a 200 JSON error instead of a stream
                    raise err
                raise self._malformed(
                    "expected content type text/event-stream for a stream, "
                    f"got {ctype or 'none'!r}",
                    raw,
                    status,
                    req,
                )
            state = self._stream_state(req)
            decoder = SSEDecoder()
            ttft: float | None = None
            received = 0
            last_data = ""
            chunks = response.aiter_bytes()
            try:
                async for chunk in chunks:
                    received += len(chunk)
                    for event, data in decoder.feed(chunk):
                        last_data = data
                        if state.on_event(event, data) and ttft is None:
                            ttft = (time.perf_counter() - t0) * 1000.0
                        if state.done:
                            break
                    if state.done:
                        break
            except httpx2.HTTPError as exc:
                raise self._transport_error(exc, req, started=True, received=received) from None
            except ResponseShapeError as exc:
                raise self._malformed(str(exc), last_data, status, req) from None
            except _SHAPE_BUGS as exc:
                raise self._malformed(_unexpected(exc), last_data, status, req) from None
            except LLMError as err:
                if err.http_status is None:
                    err.http_status = status
                raise
            if received == 0:
                raise self._malformed("empty body (expected an event stream)", "", status, req)
            if not state.ended(bool(decoder.pending)):
                raise StreamCutError(
                    f"stream ended after {received} bytes without {state.terminal}",
                    provider=self.provider,
                    model=req.model,
                    http_status=status,
                )
            await _drain(chunks)
            resp = state.finish()
        finally:
            if chunks is not None:
                await chunks.aclose()
            await response.aclose()
        resp.latency_ms = (time.perf_counter() - t0) * 1000.0
        resp.ttft_ms = ttft
        resp.http_status = status
        resp.raw_body = self._scrub(resp.raw_body) if resp.raw_body else resp.raw_body
        resp.rate_headers = rate_headers(response)
        return resp

    # -- helpers --------------------------------------------------------------------------

    async def _read_rest(self, response: httpx2.Response, req: ChatRequest) -> str:
        try:
            raw = await response.aread()
        except httpx2.HTTPError as exc:
            raise self._transport_error(exc, req, started=True) from None
        return self._scrub(raw.decode("utf-8", "replace"))

    def _scrub(self, text: str) -> str:
        """``text`` with any echo of the API key replaced."""
        key = self._secret
        if key and key in text:
            return text.replace(key, REDACTED)
        return text

    def _check_json_body(self, text: str, ctype: str, status: int, req: ChatRequest) -> None:
        if not text.strip():
            raise self._malformed(
                f"empty body with HTTP {status} (content type {ctype or 'none'!r})",
                text,
                status,
                req,
            )
        self._check_html(text, ctype, status, req)
        lowered = ctype.lower()
        # A missing content type is tolerated (minimal self-hosted servers omit
        # it) as long as the body parses; a declared non-JSON type is not.
        if lowered and "json" not in lowered:
            raise self._malformed(
                f"expected a JSON body, got content type {ctype!r}", text, status, req
            )

    def _check_html(self, text: str, ctype: str, status: int, req: ChatRequest) -> None:
        head = text.lstrip()[:64].lower()
        if "text/html" in ctype.lower() or head.startswith(("<!doctype html", "<html")):
            raise self._malformed(
                "got an HTML page instead of an API response "
                f"(content type {ctype or 'none'!r}) — is api_base {self.api_base!r} right, "
                "or is a proxy or login page in the way?",
                text,
                status,
                req,
            )

    def _malformed(
        self, why: str, text: str, status: int, req: ChatRequest
    ) -> MalformedResponseError:
        text = self._scrub(text)
        snippet = " ".join(text.split())[:_SNIPPET]
        message = f"malformed response: {why}" + (f": {snippet}" if snippet else "")
        return MalformedResponseError(
            message,
            provider=self.provider,
            model=req.model,
            http_status=status,
            body=text or None,
        )

    def _http_error(self, response: httpx2.Response, text: str, req: ChatRequest) -> LLMError:
        headers = response.headers
        retry_after: float | None = None
        ms = headers.get("retry-after-ms")
        if ms:
            try:
                retry_after = max(0.0, float(ms) / 1000.0)
            except ValueError:
                retry_after = None
        if retry_after is None:
            retry_after = parse_retry_after(headers.get("retry-after"))
        err = classify_http_error(
            response.status_code,
            text,
            provider=self.provider,
            model=req.model,
            retry_after=retry_after,
        )
        err.rate_headers = rate_headers(response)
        return err

    def _transport_error(
        self,
        exc: httpx2.HTTPError,
        req: ChatRequest,
        *,
        started: bool,
        received: int | None = None,
    ) -> LLMError:
        """Map a transport exception; ``started`` means response headers had arrived."""
        kw: dict[str, Any] = {"provider": self.provider, "model": req.model}
        detail = self._scrub(str(exc)) or type(exc).__name__
        what = f"{type(exc).__name__}: {detail}"
        t = self._timeouts
        if isinstance(exc, httpx2.ConnectTimeout):
            return ProviderTimeoutError(f"connect timeout after {t.connect:g} s ({what})", **kw)
        if isinstance(exc, httpx2.PoolTimeout):
            return ProviderTimeoutError(
                f"no free pooled connection within {t.pool:g} s — is the pool smaller than "
                f"the concurrency? ({what})",
                **kw,
            )
        if isinstance(exc, httpx2.WriteTimeout):
            return ProviderTimeoutError(f"write timeout after {t.write:g} s ({what})", **kw)
        if isinstance(exc, httpx2.ReadTimeout):
            where = "between response chunks" if started else "waiting for the response"
            return ProviderTimeoutError(f"read timeout after {t.read:g} s {where} ({what})", **kw)
        if isinstance(exc, httpx2.TimeoutException):
            return ProviderTimeoutError(f"timeout ({what})", **kw)
        if isinstance(exc, httpx2.DecodingError):
            return MalformedResponseError(f"could not decode the response body ({what})", **kw)
        if started and isinstance(exc, httpx2.RemoteProtocolError | httpx2.NetworkError):
            got = f" after {received} bytes" if received is not None else ""
            return StreamCutError(f"response cut{got} ({what})", **kw)
        if isinstance(exc, httpx2.ConnectError):
            return ProviderConnectionError(f"cannot connect to {self._url} ({what})", **kw)
        if isinstance(exc, httpx2.LocalProtocolError):
            # Its message may quote a header value, i.e. the key: leave it out.
            return LLMError(f"could not send a valid request to {self._url}", **kw)
        if isinstance(exc, httpx2.UnsupportedProtocol):
            return LLMError(f"cannot send to {self._url} ({what}) — check api_base", **kw)
        if isinstance(exc, httpx2.TransportError):
            return ProviderConnectionError(f"connection failed before a response ({what})", **kw)
        return ProviderConnectionError(f"HTTP failure ({what})", **kw)

    def _error_from_payload(
        self, status: int, body: str, req: ChatRequest, *, http_status: int
    ) -> LLMError:
        """Classify an error reported *inside* a 200 response (e.g. an SSE error event).

        ``status`` is the HTTP status that error would have had on its own (it
        picks the class); ``http_status`` is what the wire really said.
        """
        err = classify_http_error(
            status, self._scrub(body), provider=self.provider, model=req.model
        )
        err.http_status = http_status
        return err


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read what follows a stream's terminal event, briefly.

    Reading to the body's end lets the connection go back to the pool. A
    server that keeps talking (or stalls) past its terminal event gets its
    connection closed instead of delaying an answer that is already complete.
    """
    seen = 0
    try:
        async with asyncio.timeout(_DRAIN_TIMEOUT_S):
            async for chunk in chunks:
                seen += len(chunk)
                if seen > _DRAIN_LIMIT:
                    return
    except (TimeoutError, httpx2.HTTPError):
        return
