"""Anthropic Messages API: ``POST {api_base}/v1/messages``.

``api_base`` is the host, ``https://api.anthropic.com`` (a trailing ``/v1``
is tolerated). Headers: ``x-api-key`` and ``anthropic-version: 2023-06-01``.
System messages are lifted to the top-level ``system``; tool calls and results
become ``tool_use`` / ``tool_result`` blocks, and consecutive tool results
(parallel calls) go back in one user message, as the API requires;
``max_tokens`` is always sent (the API requires it); ``req.user`` goes to
``metadata.user_id``. There is no sampling seed in this protocol, so
``req.seed`` is not sent. ``ModelConfig.extra_body`` is merged into every
body, then ``ChatRequest.extra``.

Prompt caching (``ModelConfig.prompt_cache``): the system prompt is sent as
text blocks (one per system message) and the last one, and the last tool
spec, carry ``cache_control: {"type": "ephemeral"}``. Tools come first in the
cached prefix, then the system prompt, so the two breakpoints cache "tools"
and "tools + system". Prompts shorter than the model's minimum (1024 tokens
for most models) are simply not cached by the API.

Usage: the API's ``input_tokens`` excludes cache reads and writes; here
``Usage.input_tokens`` is the whole prompt (``input_tokens +
cache_read_input_tokens + cache_creation_input_tokens``), with the reads in
``cached_input_tokens`` and the writes in ``cache_write_tokens``. A count the
API did not send stays None.

Streams are folded from ``message_start`` (input usage, cache reads and
writes), ``content_block_*`` (``text_delta``, ``input_json_delta``),
``message_delta`` (stop reason, cumulative usage) and the terminal
``message_stop``; an ``error`` event is classified like the HTTP error it
stands for (``overloaded_error`` → :class:`~harness.errors.OverloadedError`).

Finish reasons: ``refusal`` → ``CONTENT_FILTER``; ``tool_use`` (or any
response carrying tool calls that claims a plain stop) → ``TOOL_CALLS``; a
tool call whose streamed input is not a JSON object is kept with
``arguments=None`` and its ``raw_arguments``, the finish reason staying
``TOOL_CALLS`` (``LENGTH`` when ``max_tokens`` cut it).
"""

from __future__ import annotations

import json
from typing import Any

from harness.llm.providers.base import (
    ProviderAdapter,
    ResponseShapeError,
    StreamState,
    as_count,
    parse_tool_arguments,
)
from harness.llm.types import ChatRequest, ChatResponse, FinishReason, Message, ToolCall, Usage

__all__ = ["ANTHROPIC_VERSION", "CACHE_CONTROL", "AnthropicAdapter", "finish_reason", "parse_usage"]

ANTHROPIC_VERSION = "2023-06-01"
CACHE_CONTROL = {"type": "ephemeral"}
"""The breakpoint marker put on the system prompt and the last tool when caching."""

_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
}

# The HTTP status each documented error type is sent with (used for in-stream errors).
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def finish_reason(value: Any, has_calls: bool = False) -> FinishReason:
    """Normalize an Anthropic ``stop_reason`` (unknown or missing → UNKNOWN).

    With ``has_calls``, a plain or missing stop becomes TOOL_CALLS: a response
    that asks for tools is never "stop".
    """
    reason = (
        _FINISH.get(value, FinishReason.UNKNOWN) if isinstance(value, str) else FinishReason.UNKNOWN
    )
    if has_calls and reason in (FinishReason.STOP, FinishReason.UNKNOWN):
        return FinishReason.TOOL_CALLS
    return reason


def parse_usage(usage: Any) -> Usage:
    """Anthropic ``usage`` → :class:`Usage`.

    ``input_tokens`` there excludes cache reads and writes; here it is the
    whole prompt (see :class:`Usage`), so the three are added.
    """
    if not isinstance(usage, dict):
        return Usage()
    uncached = as_count(usage.get("input_tokens"))
    read = as_count(usage.get("cache_read_input_tokens"))
    write = as_count(usage.get("cache_creation_input_tokens"))
    total = None if uncached is None else uncached + (read or 0) + (write or 0)
    return Usage(
        input_tokens=total,
        output_tokens=as_count(usage.get("output_tokens")),
        cached_input_tokens=read,
        cache_write_tokens=write,
    )


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return content
    return [{"type": "text", "text": content}] if content else []


def _wire_messages(messages: tuple[Message, ...]) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, messages) with consecutive same-role turns merged into one."""
    system = [m.content for m in messages if m.role == "system" and m.content]
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "assistant" if m.role == "assistant" else "user"
        content: str | list[dict[str, Any]]
        if m.role == "tool":
            content = [
                {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content}
            ]
        elif m.role == "assistant" and m.tool_calls:
            content = _blocks(m.content) + [
                {
                    "type": "tool_use",
                    "id": tc.id,
                    "name": tc.name,
                    "input": tc.arguments if tc.arguments is not None else {},
                }
                for tc in m.tool_calls
            ]
        else:
            content = m.content
        if out and out[-1]["role"] == role:
            # Tool results and the text after them form one user turn.
            out[-1]["content"] = _blocks(out[-1]["content"]) + _blocks(content)
        else:
            out.append({"role": role, "content": content})
    return system, out


def _error_status(payload: Any) -> int:
    error = payload.get("error") if isinstance(payload, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return _ERROR_STATUS.get(kind, 500) if isinstance(kind, str) else 500


class AnthropicAdapter(ProviderAdapter):
    """Anthropic Messages, streaming and not, with tools and prompt-cache usage."""

    protocol = "anthropic"

    def _endpoint(self, api_base: str) -> str:
        return f"{api_base}/messages" if api_base.endswith("/v1") else f"{api_base}/v1/messages"

    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def request_body(self, req: ChatRequest) -> dict[str, Any]:
        """The Messages body.

        ``extra_body`` (the model's config) is merged in, then ``req.extra``
        (this call's knobs). With ``prompt_cache`` the system prompt and the
        last tool carry a ``cache_control`` breakpoint.
        """
        system, messages = _wire_messages(req.messages)
        body: dict[str, Any] = {
            "model": req.model,
            "max_tokens": req.max_tokens,
            "messages": messages,
            "temperature": req.temperature,
        }
        if system and self.prompt_cache:
            blocks: list[dict[str, Any]] = [{"type": "text", "text": t} for t in system]
            blocks[-1]["cache_control"] = dict(CACHE_CONTROL)
            body["system"] = blocks
        elif system:
            body["system"] = "\n\n".join(system)
        if req.stop:
            body["stop_sequences"] = list(req.stop)
        if req.tools:
            tools: list[dict[str, Any]] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in req.tools
            ]
            if self.prompt_cache:
                tools[-1]["cache_control"] = dict(CACHE_CONTROL)
            body["tools"] = tools
        if req.user:
            body["metadata"] = {"user_id": req.user}
        if req.stream:
            body["stream"] = True
        if self.extra_body:
            body.update(self.extra_body)
        if req.extra:
            body.update(req.extra)
        return body

    def _parse(self, data: dict[str, Any], req: ChatRequest) -> ChatResponse:
        if data.get("type") == "error":
            raise self._error_from_payload(
                _error_status(data), json.dumps(data), req, http_status=200
            )
        content = data.get("content")
        if not isinstance(content, list):
            raise ResponseShapeError("no 'content' list in a message")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for i, block in enumerate(content):
            if not isinstance(block, dict):
                raise ResponseShapeError(f"content[{i}] is not an object")
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif kind == "tool_use":
                value = block.get("input")
                calls.append(
                    ToolCall(
                        id=str(block.get("id") or ""),
                        name=str(block.get("name") or ""),
                        arguments=value if isinstance(value, dict) else None,
                        raw_arguments=json.dumps(value),
                    )
                )
        model = data.get("model")
        return ChatResponse(
            content="".join(texts),
            model=model if isinstance(model, str) and model else req.model,
            finish_reason=finish_reason(data.get("stop_reason"), bool(calls)),
            usage=parse_usage(data.get("usage")),
            tool_calls=tuple(calls),
            response_id=data.get("id") if isinstance(data.get("id"), str) else None,
        )

    def _stream_state(self, req: ChatRequest) -> StreamState:
        return _AnthropicStream(self, req)


class _AnthropicStream(StreamState):
    """Folds Messages stream events; ``message_stop`` ends the stream."""

    __slots__ = (
        "_adapter",
        "_blocks",
        "_id",
        "_model",
        "_req",
        "_stop_reason",
        "_stop_sequence",
        "_usage",
        "done",
    )

    def __init__(self, adapter: AnthropicAdapter, req: ChatRequest) -> None:
        self._adapter = adapter
        self._req = req
        self.done = False
        # index → {"type", "parts", and "id"/"name"/"input" for tool_use}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._id: str | None = None
        self._model: str | None = None
        self._stop_reason: Any = None
        self._stop_sequence: Any = None
        self._usage: dict[str, Any] = {}

    def on_event(self, event: str, data: str) -> bool:
        try:
            payload = json.loads(data)
        except ValueError as exc:
            raise ResponseShapeError(
                f"invalid JSON in a {event!r} event ({exc.msg} at char {exc.pos})"
            ) from None
        if not isinstance(payload, dict):
            raise ResponseShapeError(
                f"a {event!r} event is {type(payload).__name__}, not an object"
            )
        kind = payload.get("type") or event
        if kind == "content_block_delta":
            return self._delta(payload)
        if kind == "content_block_start":
            return self._start(payload)
        if kind == "message_start":
            message = payload.get("message")
            if isinstance(message, dict):
                if isinstance(message.get("id"), str):
                    self._id = message["id"]
                if isinstance(message.get("model"), str) and message["model"]:
                    self._model = message["model"]
                if isinstance(message.get("usage"), dict):
                    self._usage.update(message["usage"])
        elif kind == "message_delta":
            delta = payload.get("delta")
            if isinstance(delta, dict):
                if delta.get("stop_reason"):
                    self._stop_reason = delta["stop_reason"]
                if "stop_sequence" in delta:
                    self._stop_sequence = delta["stop_sequence"]
            # The counts here are cumulative: they replace those of message_start.
            if isinstance(payload.get("usage"), dict):
                self._usage.update({k: v for k, v in payload["usage"].items() if v is not None})
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise self._adapter._error_from_payload(
                _error_status(payload), data, self._req, http_status=200
            )
        # ping, content_block_stop and event types added later change nothing here.
        return False

    def _block(self, index: Any) -> dict[str, Any]:
        block = self._blocks.get(index)
        if block is None:
            block = self._blocks[index] = {"type": "text", "parts": []}
        return block

    def _start(self, payload: dict[str, Any]) -> bool:
        start = payload.get("content_block")
        if not isinstance(start, dict):
            return False
        index = payload.get("index", len(self._blocks))
        kind = start.get("type")
        if kind == "tool_use":
            self._blocks[index] = {
                "type": "tool_use",
                "id": str(start.get("id") or ""),
                "name": str(start.get("name") or ""),
                "input": start.get("input"),
                "parts": [],
            }
            return True
        text = start.get("text") if kind == "text" else None
        self._blocks[index] = {"type": kind, "parts": [text] if text else []}
        return bool(text)

    def _delta(self, payload: dict[str, Any]) -> bool:
        delta = payload.get("delta")
        if not isinstance(delta, dict):
            return False
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            if isinstance(text, str) and text:
                self._block(payload.get("index", 0))["parts"].append(text)
                return True
        elif kind == "input_json_delta":
            part = delta.get("partial_json")
            if isinstance(part, str):
                self._block(payload.get("index", 0))["parts"].append(part)
                return True
        # thinking_delta / signature_delta: not part of the answer.
        return False

    def finish(self) -> ChatResponse:
        texts: list[str] = []
        calls: list[ToolCall] = []
        wire: list[dict[str, Any]] = []
        for index in sorted(self._blocks, key=lambda i: i if isinstance(i, int) else 0):
            block = self._blocks[index]
            if block["type"] == "text":
                text = "".join(block["parts"])
                texts.append(text)
                wire.append({"type": "text", "text": text})
            elif block["type"] == "tool_use":
                raw = "".join(block["parts"])
                if not raw and block["input"]:
                    raw = json.dumps(block["input"])
                args = parse_tool_arguments(raw)
                calls.append(
                    ToolCall(id=block["id"], name=block["name"], arguments=args, raw_arguments=raw)
                )
                wire.append(
                    {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": args if args is not None else raw,
                    }
                )
        model = self._model or self._req.model
        # The message this stream amounts to (not every event).
        raw_body = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": wire,
            "stop_reason": self._stop_reason,
            "stop_sequence": self._stop_sequence,
            "usage": self._usage or None,
        }
        return ChatResponse(
            content="".join(texts),
            model=model,
            finish_reason=finish_reason(self._stop_reason, bool(calls)),
            usage=parse_usage(self._usage),
            tool_calls=tuple(calls),
            response_id=self._id,
            raw_body=json.dumps(raw_body, separators=(",", ":")),
        )
