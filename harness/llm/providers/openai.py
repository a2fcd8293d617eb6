"""OpenAI-compatible chat completions: ``POST {api_base}/chat/completions``.

One adapter for OpenAI itself and for everything that speaks its protocol —
OpenRouter, Google's OpenAI-compatible endpoint, vLLM, Ollama, llama.cpp's
server, DeepSeek. ``api_base`` ends where the protocol's paths begin, e.g.
``https://api.openai.com/v1``, ``https://openrouter.ai/api/v1`` or
``http://localhost:8000/v1``. The key goes in ``Authorization: Bearer``; a
self-hosted endpoint without a key gets no such header.

Request: ``ModelConfig.extra_body`` is merged into every body, then
``ChatRequest.extra`` (so a call can override the model's defaults). Streams
ask for ``stream_options: {include_usage: true}`` so the last chunk carries
the usage; tool-call deltas are assembled by their ``index`` (a fragment
without one, as some self-hosted servers send whole calls, opens a new call
when it has a new id and continues the last call otherwise).

OpenRouter (``provider: openrouter``): the body also asks for usage accounting
(``usage: {include: true}``; OpenRouter now reports usage unasked and calls the
flag deprecated, but it costs nothing and older deployments need it). Its
``usage.cost`` (credits, 1 credit = 1 USD) becomes
``ChatResponse.provider_cost_usd`` and ``prompt_tokens_details.cache_write_tokens``
becomes ``Usage.cache_write_tokens``. Attribution headers (``HTTP-Referer``,
``X-Title``) come from ``ModelConfig.headers``; provider-routing preferences
(``provider: {order, allow_fallbacks, sort, ...}``) from ``ModelConfig.extra_body``.

Usage: ``prompt_tokens`` → input (cached included), ``completion_tokens`` →
output, ``prompt_tokens_details.cached_tokens`` (or DeepSeek's
``prompt_cache_hit_tokens``) → cached input, ``completion_tokens_details.reasoning_tokens``
→ reasoning. A field the server did not send stays None (llama.cpp's and
Ollama's extra fields such as ``timings`` are ignored; a body without
``usage`` gives an all-None :class:`Usage`).

Finish reasons, never "stop" for something that is not a plain answer:

- a refusal (``message.refusal`` set, or ``finish_reason: content_filter``)
  → ``CONTENT_FILTER``; the refusal text becomes ``content`` when there is no
  other content, so the trial's answer says what happened;
- tool calls → ``TOOL_CALLS`` even where a server says ``stop`` (Ollama and
  some vLLM versions do) or nothing;
- a malformed tool call (arguments that are not a JSON object) is kept with
  ``arguments=None`` and its ``raw_arguments``; the response keeps
  ``TOOL_CALLS`` (or ``LENGTH`` when the output was cut, the usual cause), so
  an agent sees the bad call and can answer it with an error.
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

__all__ = ["OpenAIAdapter", "final_reason", "finish_reason", "parse_usage", "provider_cost"]

_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
    "error": FinishReason.ERROR,
}


def finish_reason(value: Any) -> FinishReason:
    """Normalize an OpenAI ``finish_reason`` (unknown or missing → UNKNOWN)."""
    return (
        _FINISH.get(value, FinishReason.UNKNOWN) if isinstance(value, str) else FinishReason.UNKNOWN
    )


def parse_usage(usage: Any) -> Usage:
    """OpenAI ``usage`` → :class:`Usage`; fields the server did not send stay None."""
    if not isinstance(usage, dict):
        return Usage()
    prompt_details = usage.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, dict) else {}
    completion_details = usage.get("completion_tokens_details")
    completion_details = completion_details if isinstance(completion_details, dict) else {}
    cached = as_count(prompt_details.get("cached_tokens"))
    if cached is None:
        # DeepSeek reports its prompt cache this way instead.
        cached = as_count(usage.get("prompt_cache_hit_tokens"))
    return Usage(
        input_tokens=as_count(usage.get("prompt_tokens")),
        output_tokens=as_count(usage.get("completion_tokens")),
        cached_input_tokens=cached,
        # OpenRouter, for models with explicit caching and a cache-write price.
        cache_write_tokens=as_count(prompt_details.get("cache_write_tokens")),
        reasoning_tokens=as_count(completion_details.get("reasoning_tokens")),
    )


def provider_cost(usage: Any) -> float | None:
    """OpenRouter's ``usage.cost`` in USD (credits), or None when absent or not a number."""
    cost = usage.get("cost") if isinstance(usage, dict) else None
    if isinstance(cost, bool) or not isinstance(cost, int | float):
        return None
    return float(cost) if cost >= 0 else None


def final_reason(raw: Any, has_calls: bool, refused: bool) -> FinishReason:
    """The normalized finish reason of a choice (see the module docstring)."""
    reason = finish_reason(raw)
    if refused:
        return FinishReason.CONTENT_FILTER
    if has_calls and reason in (FinishReason.STOP, FinishReason.UNKNOWN):
        return FinishReason.TOOL_CALLS
    return reason


def _wire_message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content}
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        out["tool_calls"] = [
            {
                "id": tc.id,
                "type": "function",
                "function": {
                    "name": tc.name,
                    # Send back what the model wrote, verbatim, when we have it.
                    "arguments": tc.raw_arguments or json.dumps(tc.arguments or {}),
                },
            }
            for tc in m.tool_calls
        ]
        if not m.content:
            out["content"] = None
    if m.name:
        out["name"] = m.name
    return out


def _text(content: Any) -> str:
    """Message content as text (a string, null, or a list of text parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _tool_calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    calls: list[ToolCall] = []
    raw_calls = message.get("tool_calls")
    if isinstance(raw_calls, list):
        for i, tc in enumerate(raw_calls):
            if not isinstance(tc, dict):
                raise ResponseShapeError(f"tool_calls[{i}] is not an object")
            fn = tc.get("function") if isinstance(tc.get("function"), dict) else {}
            raw = fn.get("arguments")
            raw = raw if isinstance(raw, str) else json.dumps(raw) if raw is not None else ""
            calls.append(
                ToolCall(
                    id=str(tc.get("id") or ""),
                    name=str(fn.get("name") or ""),
                    arguments=parse_tool_arguments(raw),
                    raw_arguments=raw,
                )
            )
    legacy = message.get("function_call")
    if isinstance(legacy, dict) and not calls:
        raw = legacy.get("arguments") if isinstance(legacy.get("arguments"), str) else ""
        calls.append(
            ToolCall(
                id="function_call",
                name=str(legacy.get("name") or ""),
                arguments=parse_tool_arguments(raw),
                raw_arguments=raw,
            )
        )
    return tuple(calls)


def _error_status(error: Any) -> int:
    """The HTTP status an in-body error object stands for (500 when it does not say)."""
    if isinstance(error, dict):
        for key in ("code", "status"):
            code = error.get(key)
            if isinstance(code, int) and 400 <= code <= 599:
                return code
        kind = f"{error.get('type', '')} {error.get('code', '')}".lower()
        if "rate_limit" in kind:
            return 429
        if "context_length" in kind or "invalid_request" in kind:
            return 400
    return 500


class OpenAIAdapter(ProviderAdapter):
    """OpenAI chat completions, streaming and not, with tools."""

    protocol = "openai"

    def _endpoint(self, api_base: str) -> str:
        return f"{api_base}/chat/completions"

    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    @property
    def is_openrouter(self) -> bool:
        """Whether the endpoint is OpenRouter (by provider name or host)."""
        return self.provider == "openrouter" or "openrouter.ai" in self.api_base

    def request_body(self, req: ChatRequest) -> dict[str, Any]:
        """The chat completions body.

        ``extra_body`` (the model's config) is merged in, then ``req.extra``
        (this call's knobs), each over what came before.
        """
        body: dict[str, Any] = {
            "model": req.model,
            "messages": [_wire_message(m) for m in req.messages],
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
        }
        if req.stop:
            body["stop"] = list(req.stop)
        if req.seed is not None:
            body["seed"] = req.seed
        if req.user:
            body["user"] = req.user
        if req.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in req.tools
            ]
        if req.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if self.is_openrouter:
            body["usage"] = {"include": True}
        if self.extra_body:
            body.update(self.extra_body)
        if req.extra:
            body.update(req.extra)
        return body

    def _parse(self, data: dict[str, Any], req: ChatRequest) -> ChatResponse:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            error = data.get("error")
            if error:
                # Some gateways (OpenRouter among them) answer 200 with an error object.
                raise self._error_from_payload(
                    _error_status(error), json.dumps(data), req, http_status=200
                )
            raise ResponseShapeError("no 'choices' in a chat completion")
        choice = choices[0]
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            raise ResponseShapeError("choices[0] has no 'message' object")
        message = choice["message"]
        model = data.get("model")
        content = _text(message.get("content"))
        refusal = message.get("refusal")
        refusal = refusal if isinstance(refusal, str) and refusal else ""
        calls = _tool_calls(message)
        usage = data.get("usage")
        return ChatResponse(
            content=content or refusal,
            model=model if isinstance(model, str) and model else req.model,
            finish_reason=final_reason(choice.get("finish_reason"), bool(calls), bool(refusal)),
            usage=parse_usage(usage),
            tool_calls=calls,
            response_id=data.get("id") if isinstance(data.get("id"), str) else None,
            provider_cost_usd=provider_cost(usage),
        )

    def _stream_state(self, req: ChatRequest) -> StreamState:
        return _OpenAIStream(self, req)


class _OpenAIStream(StreamState):
    """Folds ``chat.completion.chunk`` events; ``data: [DONE]`` ends the stream."""

    __slots__ = (
        "_adapter",
        "_created",
        "_finish",
        "_id",
        "_model",
        "_parts",
        "_refusal",
        "_req",
        "_tools",
        "_usage",
        "done",
    )

    def __init__(self, adapter: OpenAIAdapter, req: ChatRequest) -> None:
        self._adapter = adapter
        self._req = req
        self.done = False
        self._parts: list[str] = []
        self._refusal: list[str] = []
        # index → [id, name, argument fragments]
        self._tools: dict[int, list[Any]] = {}
        self._finish: Any = None
        self._id: str | None = None
        self._model: str | None = None
        self._created: Any = None
        self._usage: Any = None

    def on_event(self, event: str, data: str) -> bool:
        if data == "[DONE]":
            self.done = True
            return False
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise ResponseShapeError(
                f"invalid JSON in a stream chunk ({exc.msg} at char {exc.pos})"
            ) from None
        if not isinstance(chunk, dict):
            raise ResponseShapeError(f"a stream chunk is {type(chunk).__name__}, not an object")
        if event == "error" or chunk.get("error"):
            error = chunk.get("error", chunk)
            raise self._adapter._error_from_payload(
                _error_status(error), data, self._req, http_status=200
            )
        if self._id is None and isinstance(chunk.get("id"), str):
            self._id = chunk["id"]
        if self._model is None and isinstance(chunk.get("model"), str) and chunk["model"]:
            self._model = chunk["model"]
        if self._created is None:
            self._created = chunk.get("created")
        # The usage chunk comes last (choices empty); Ollama puts it on the
        # finishing chunk and vLLM may repeat it cumulatively: the last one wins.
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        delta_seen = False
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return False
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # n > 1 is not requested; only the first choice counts
            delta = choice.get("delta")
            if isinstance(delta, dict):
                text = delta.get("content")
                if isinstance(text, str) and text:
                    self._parts.append(text)
                    delta_seen = True
                refusal = delta.get("refusal")
                if isinstance(refusal, str) and refusal:
                    self._refusal.append(refusal)
                    delta_seen = True
                if delta.get("tool_calls") or delta.get("function_call"):
                    self._tool_delta(delta)
                    delta_seen = True
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return delta_seen

    def _slot_index(self, frag: dict[str, Any]) -> int:
        index = frag.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            return index
        # No index (some self-hosted servers send each call whole): a new id
        # opens a new call, anything else continues the last one.
        frag_id = frag.get("id")
        for i, slot in self._tools.items():
            if frag_id and slot[0] == frag_id:
                return i
        if frag_id or not self._tools:
            return max(self._tools, default=-1) + 1
        return max(self._tools)

    def _tool_delta(self, delta: dict[str, Any]) -> None:
        fragments = delta.get("tool_calls")
        if not isinstance(fragments, list):
            legacy = delta.get("function_call")
            fragments = [{"index": 0, "id": "function_call", "function": legacy}]
        for frag in fragments:
            if not isinstance(frag, dict):
                continue
            index = self._slot_index(frag)
            slot = self._tools.get(index)
            if slot is None:
                slot = self._tools[index] = ["", "", []]
            if isinstance(frag.get("id"), str) and frag["id"]:
                slot[0] = frag["id"]
            fn = frag.get("function")
            if isinstance(fn, dict):
                if isinstance(fn.get("name"), str) and fn["name"]:
                    slot[1] = fn["name"]
                args = fn.get("arguments")
                if isinstance(args, str):
                    slot[2].append(args)
                elif isinstance(args, dict):  # a server that sends the object itself
                    slot[2].append(json.dumps(args))

    def finish(self) -> ChatResponse:
        content = "".join(self._parts)
        refusal = "".join(self._refusal)
        calls = []
        wire_calls = []
        for index in sorted(self._tools):
            call_id, name, fragments = self._tools[index]
            raw = "".join(fragments)
            calls.append(
                ToolCall(
                    id=call_id, name=name, arguments=parse_tool_arguments(raw), raw_arguments=raw
                )
            )
            wire_calls.append(
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}
            )
        message: dict[str, Any] = {"role": "assistant", "content": content or None}
        if refusal:
            message["refusal"] = refusal
        if wire_calls:
            message["tool_calls"] = wire_calls
        model = self._model or self._req.model
        # The non-streaming object this stream amounts to (not every chunk).
        raw_body = {
            "id": self._id,
            "object": "chat.completion",
            "created": self._created,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish}],
            "usage": self._usage,
        }
        return ChatResponse(
            content=content or refusal,
            model=model,
            finish_reason=final_reason(self._finish, bool(calls), bool(refusal)),
            usage=parse_usage(self._usage),
            tool_calls=tuple(calls),
            response_id=self._id,
            raw_body=json.dumps(raw_body, separators=(",", ":")),
            provider_cost_usd=provider_cost(self._usage),
        )
