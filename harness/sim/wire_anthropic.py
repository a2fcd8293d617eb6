"""Anthropic Messages on the wire: ``POST /v1/messages``.

Non-streaming JSON and SSE streaming (``message_start``, ``content_block_start``
/ ``content_block_delta`` (``text_delta``, ``input_json_delta``) /
``content_block_stop``, ``message_delta`` with the stop reason and output
tokens, ``message_stop``; a ``ping`` after the start), ``tool_use`` blocks,
tool results as ``tool_result`` blocks in user messages, errors as
``{"type": "error", "error": {"type", "message"}}``.

Prompt caching as documented: the prompt is read in the order tools → system
→ messages, and each block carrying ``cache_control`` (or the last block, for
a top-level ``cache_control``) ends a cacheable prefix. The first request with
a prefix of at least the profile's ``cache_min_tokens`` reports it as
``cache_creation_input_tokens``; a repeat within the simulator's TTL as
``cache_read_input_tokens``; ``input_tokens`` is what is left.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from harness.sim.behaviour import Reply, SimRequest
from harness.sim.wire_common import Event, WireError, chunks, dumps, sse

__all__ = ["error_body", "parse", "render", "render_stream"]

_STOP = {
    "stop": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool_calls": "tool_use",
}
_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str, kind: str | None = None) -> bytes:
    """An Anthropic error body for ``status``."""
    err = {"type": kind or _ERRORS.get(status, "api_error"), "message": message}
    return dumps({"type": "error", "error": err}).encode()


def _block_text(block: Any) -> tuple[str, bool]:
    """(text it carries, whether it is a tool result)."""
    if not isinstance(block, dict):
        raise WireError(400, "messages: content blocks must be objects")
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", "")), False
    if kind == "tool_use":
        return str(block.get("name", "")) + json.dumps(block.get("input", {})), False
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, list):
            content = "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
        return str(content), True
    return "", False


class _Prefix:
    """The running prompt prefix: its digest, its characters, its breakpoints."""

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self.chars = 0
        self.points: list[tuple[str, int]] = []

    def add(self, block: Any, chars: int) -> None:
        """Extend the prefix by one block; a ``cache_control`` on it marks a breakpoint."""
        if isinstance(block, dict):
            marked = block.get("cache_control") is not None
            block = {k: v for k, v in block.items() if k != "cache_control"}
        else:
            marked = False
        self._hash.update(json.dumps(block, sort_keys=True).encode())
        self.chars += chars
        if marked:
            self.mark()

    def mark(self) -> None:
        """A breakpoint at the end of the prefix so far."""
        point = (self._hash.copy().hexdigest(), self.chars)
        if point not in self.points:
            self.points.append(point)


def _tool_choice(value: Any) -> tuple[str, bool]:
    if value is None:
        return "auto", True
    if not isinstance(value, dict) or value.get("type") not in ("auto", "any", "tool", "none"):
        raise WireError(400, "tool_choice: expected auto, any, tool or none")
    parallel = not value.get("disable_parallel_tool_use", False)
    kind = value["type"]
    if kind == "tool":
        return f"tool:{value.get('name', '')}", parallel
    return ("required" if kind == "any" else kind), parallel


def parse(body: Any) -> SimRequest:
    """A :class:`SimRequest` from a request body; WireError where Anthropic answers 400."""
    if not isinstance(body, dict):
        raise WireError(400, "request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError(400, "model: Field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise WireError(400, "max_tokens: Field required (an integer >= 1)")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, "messages: at least one message is required")
    # The cached prefix runs tools → system → messages.
    prefix = _Prefix()
    tools = []
    for t in body.get("tools") or []:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            raise WireError(400, "tools: each tool needs a name")
        tools.append({"name": t["name"], "parameters": t.get("input_schema") or {}})
        prefix.add(t, len(json.dumps({k: v for k, v in t.items() if k != "cache_control"})))
    system = body.get("system") or ""
    if isinstance(system, list):
        for b in system:
            if not isinstance(b, dict) or b.get("type") != "text":
                raise WireError(400, "system: expected text blocks")
            prefix.add(b, len(str(b.get("text", ""))))
    else:
        prefix.add(str(system), len(str(system)))
    task_text = ""
    last_is_result = False
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise WireError(400, "messages: roles must be 'user' or 'assistant'")
        content = m.get("content")
        if isinstance(content, str):
            texts, results = [content], False
            prefix.add({"role": m["role"], "text": content}, len(content))
        elif isinstance(content, list):
            parts = []
            for b in content:
                part = _block_text(b)
                parts.append(part)
                prefix.add({"role": m["role"], **b}, len(part[0]))
            texts = [t for t, is_result in parts if not is_result]
            results = any(is_result for _, is_result in parts)
        else:
            raise WireError(400, "messages: content must be a string or a list of blocks")
        text = "".join(texts)
        if m["role"] == "user" and text.strip():
            task_text = text
        last_is_result = m["role"] == "user" and results
    if body.get("cache_control") is not None:
        prefix.mark()  # automatic caching: the breakpoint sits on the last block
    choice, parallel = _tool_choice(body.get("tool_choice"))
    metadata = body.get("metadata") or {}
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    return SimRequest(
        protocol="anthropic",
        model=model,
        task_text=task_text,
        input_chars=prefix.chars,
        after_tool_result=last_is_result,
        tools=tools,
        tool_choice=choice,
        parallel_tools=parallel,
        max_tokens=max_tokens,
        stop=[s for s in body.get("stop_sequences") or [] if isinstance(s, str)],
        stream=bool(body.get("stream")),
        variation=str(user) if user is not None else "0",
        cache_points=prefix.points,
        cache_explicit=True,
    )


def _input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}  # cut short by max_tokens
    return value if isinstance(value, dict) else {}


def _usage(reply: Reply) -> dict[str, Any]:
    # Anthropic's input_tokens excludes what was read from or written to the prompt cache.
    return {
        "input_tokens": reply.input_tokens - reply.cached_tokens - reply.cache_write_tokens,
        "cache_creation_input_tokens": reply.cache_write_tokens,
        "cache_read_input_tokens": reply.cached_tokens,
        "output_tokens": reply.output_tokens,
    }


def _message(reply: Reply, model: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"msg_{secrets.token_hex(12)}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _STOP[reply.finish],
        "stop_sequence": reply.stop_sequence,
        "usage": _usage(reply),
    }


def render(reply: Reply, model: str) -> bytes:
    """The non-streaming response body."""
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for c in reply.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": f"toolu_{c.key}",
                "name": c.name,
                "input": _input(c.arguments),
            }
        )
    return dumps(_message(reply, model, content)).encode()


def render_stream(reply: Reply, model: str, chunk_chars: int, chunk_tokens: int) -> list[Event]:
    """The SSE events of a streamed response, each with the tokens it carries."""
    start = _message(reply, model, [])
    start.update(stop_reason=None, stop_sequence=None)
    start["usage"] = dict(start["usage"], output_tokens=1)
    events: list[Event] = [
        (sse(dumps({"type": "message_start", "message": start}), "message_start"), 0),
        (sse('{"type":"ping"}', "ping"), 0),
    ]
    per_char = chunk_tokens / max(1, chunk_chars)
    index = 0

    def block(kind: str, payload: dict[str, Any]) -> bytes:
        return sse(dumps({"type": kind, "index": index, **payload}), kind)

    if reply.text:
        events.append(
            (block("content_block_start", {"content_block": {"type": "text", "text": ""}}), 0)
        )
        for piece in chunks(reply.text, chunk_chars):
            delta = {"delta": {"type": "text_delta", "text": piece}}
            events.append((block("content_block_delta", delta), len(piece) * per_char))
        events.append((block("content_block_stop", {}), 0))
        index += 1
    for c in reply.tool_calls:
        tool = {"type": "tool_use", "id": f"toolu_{c.key}", "name": c.name, "input": {}}
        events.append(
            (block("content_block_start", {"content_block": tool}), len(c.name) * per_char)
        )
        for piece in chunks(c.arguments, chunk_chars):
            delta = {"delta": {"type": "input_json_delta", "partial_json": piece}}
            events.append((block("content_block_delta", delta), len(piece) * per_char))
        events.append((block("content_block_stop", {}), 0))
        index += 1
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": _STOP[reply.finish], "stop_sequence": reply.stop_sequence},
        "usage": {"output_tokens": reply.output_tokens},
    }
    events.append((sse(dumps(delta), "message_delta"), 0))
    events.append((sse('{"type":"message_stop"}', "message_stop"), 0))
    return events
