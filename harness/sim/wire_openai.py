"""OpenAI chat completions on the wire: ``POST /v1/chat/completions``.

Non-streaming JSON and SSE streaming (``chat.completion.chunk`` events, a
final usage chunk with empty ``choices`` when ``stream_options.include_usage``
is set, then ``data: [DONE]``), tool calls, usage with cached prompt tokens,
errors as ``{"error": {"message", "type", "param", "code"}}``.

Prompt caching is automatic, as on OpenAI: every message boundary (after the
tool definitions) is a cacheable prefix, and a repeated prefix of at least
1024 tokens comes back as ``prompt_tokens_details.cached_tokens``.

OpenRouter's extensions: with ``usage: {include: true}`` the usage carries a
``cost`` in USD, from the simulator's own flat rates (:data:`SIM_RATES`, a
plausible figure, not any provider's price list); with ``usage.include`` or a
``provider`` routing object the response names the upstream ``provider`` that
served it — the first of ``provider.order``, else ``harness-sim``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any

from harness.sim.behaviour import Reply, SimRequest
from harness.sim.wire_common import Event, WireError, chunks, dumps, sse

__all__ = ["SIM_RATES", "error_body", "parse", "render", "render_stream"]

SIM_RATES = {"input": 0.20e-6, "cached_input": 0.05e-6, "output": 0.60e-6}
"""USD per token behind the simulated ``usage.cost`` (made up, but of a plausible size)."""

_FINISH = {"stop": "stop", "stop_sequence": "stop", "length": "length", "tool_calls": "tool_calls"}
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", "overloaded"),
    529: ("overloaded_error", "overloaded"),
}


def error_body(status: int, message: str, kind: str | None = None) -> bytes:
    """An OpenAI error body for ``status``."""
    default_kind, code = _ERRORS.get(status, ("server_error", None))
    err = {"message": message, "type": kind or default_kind, "param": None, "code": code}
    return dumps({"error": err}).encode()


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    raise WireError(400, "Invalid type for 'messages[].content'")


def _tool_choice(value: Any) -> str:
    if value is None:
        return "auto"
    if value in ("auto", "none", "required"):
        return str(value)
    if isinstance(value, dict) and isinstance(value.get("function"), dict):
        return f"tool:{value['function'].get('name', '')}"
    raise WireError(400, "Invalid value for 'tool_choice'")


def _digest(h: Any) -> str:
    return str(h.copy().hexdigest())


def _route(body: dict[str, Any]) -> tuple[bool, str | None]:
    """(usage accounting asked, provider that serves) for OpenRouter's extensions."""
    usage = body.get("usage")
    if usage is not None and not isinstance(usage, dict):
        raise WireError(400, "usage: expected an object")
    include = bool(usage and usage.get("include") is True)
    route = body.get("provider")
    if route is not None and not isinstance(route, dict):
        raise WireError(400, "provider: expected an object")
    if route is None and not include:
        return False, None
    order = (route or {}).get("order")
    served = order[0] if isinstance(order, list) and order and isinstance(order[0], str) else None
    return include, served or "harness-sim"


def parse(body: Any) -> SimRequest:
    """A :class:`SimRequest` from a request body; WireError where OpenAI answers 400."""
    if not isinstance(body, dict):
        raise WireError(400, "We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError(400, "you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "'messages' must be a non-empty array")
    tools = []
    for t in body.get("tools") or []:
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise WireError(400, "Missing required parameter: 'tools[].function.name'")
        tools.append({"name": fn["name"], "parameters": fn.get("parameters") or {}})
    chars = 0
    # Automatic prompt caching: the prefix up to each message boundary, tools first.
    prefix = hashlib.blake2b(digest_size=16)
    points: list[tuple[str, int]] = []
    if tools:
        tools_json = json.dumps(body["tools"])
        chars += len(tools_json)
        prefix.update(json.dumps(body["tools"], sort_keys=True).encode())
    task_text = ""
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise WireError(400, "Invalid value for 'messages[].role'")
        text = _text(m.get("content"))
        chars += len(text)
        for call in m.get("tool_calls") or []:
            fn = call.get("function") or {} if isinstance(call, dict) else {}
            chars += len(str(fn.get("name", ""))) + len(str(fn.get("arguments", "")))
        if m["role"] == "user" and text.strip():
            task_text = text
        prefix.update(json.dumps(m, sort_keys=True).encode())
        points.append((_digest(prefix), chars))
    usage_include, served_by = _route(body)
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise WireError(400, "Invalid 'max_tokens': expected an integer >= 1")
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
    # The replicate's draw: the seed, else the end-user id, as the harness sends both.
    variation = body.get("seed")
    if variation is None:
        variation = body.get("user")
    return SimRequest(
        protocol="openai",
        model=model,
        task_text=task_text,
        input_chars=chars,
        after_tool_result=messages[-1].get("role") in ("tool", "function"),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tools=body.get("parallel_tool_calls", True) is not False,
        max_tokens=max_tokens,
        stop=stops,
        stream=bool(body.get("stream")),
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        variation=str(variation) if variation is not None else "0",
        cache_points=points,
        usage_include=usage_include,
        served_by=served_by,
    )


def _usage(reply: Reply) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    if reply.report_cost:
        cost = (
            (reply.input_tokens - reply.cached_tokens) * SIM_RATES["input"]
            + reply.cached_tokens * SIM_RATES["cached_input"]
            + reply.output_tokens * SIM_RATES["output"]
        )
        usage["cost"] = round(cost, 10)
    return usage


def _call_id(key: str) -> str:
    return f"call_{key}"


def render(reply: Reply, model: str) -> bytes:
    """The non-streaming response body."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text if reply.text or not reply.tool_calls else None,
        "refusal": None,
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(c.key),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in reply.tool_calls
        ]
    body = {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_harness_sim",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _FINISH[reply.finish],
            }
        ],
        "usage": _usage(reply),
    }
    if reply.served_by:
        body["provider"] = reply.served_by
    return dumps(body).encode()


def render_stream(
    reply: Reply, model: str, chunk_chars: int, chunk_tokens: int, include_usage: bool
) -> list[Event]:
    """The SSE events of a streamed response, each with the tokens it carries."""
    head = {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_harness_sim",
    }
    if reply.served_by:
        head["provider"] = reply.served_by
    prefix = dumps(head)[:-1]  # every chunk starts the same; only "choices" differs
    tail = ',"usage":null}' if include_usage else "}"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse(f'{prefix},"choices":[{dumps(choice)}]{tail}')

    events: list[Event] = [(chunk({"role": "assistant", "content": "", "refusal": None}), 0)]
    per_char = chunk_tokens / max(1, chunk_chars)
    for piece in chunks(reply.text, chunk_chars):
        events.append((chunk({"content": piece}), len(piece) * per_char))
    for i, call in enumerate(reply.tool_calls):
        start = {
            "index": i,
            "id": _call_id(call.key),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append((chunk({"tool_calls": [start]}), len(call.name) * per_char))
        for piece in chunks(call.arguments, chunk_chars):
            delta = {"tool_calls": [{"index": i, "function": {"arguments": piece}}]}
            events.append((chunk(delta), len(piece) * per_char))
    events.append((chunk({}, _FINISH[reply.finish]), 0))
    if include_usage:
        events.append((sse(f'{prefix},"choices":[],"usage":{dumps(_usage(reply))}}}'), 0))
    events.append((b"data: [DONE]\n\n", 0))
    return events
