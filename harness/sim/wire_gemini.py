"""Google Gemini API on the wire: ``POST /v1beta/models/{model}:generateContent``.

Non-streaming JSON and ``:streamGenerateContent?alt=sse`` streaming, where
every event is a whole ``GenerateContentResponse`` fragment (text pieces with
running ``usageMetadata`` holding the prompt count, function calls whole, one
part each) and the last one carries ``finishReason`` and the full usage; there
is no terminal event, the body just ends (events framed with CRLF, as Google
sends them). ``functionCall`` parts carry no ``id`` (as in Gemini 1.5/2.x), tool
results come back as ``functionResponse`` parts. Usage follows protobuf JSON:
zero counts are left out (no ``cachedContentTokenCount`` when nothing was
cached). Errors are ``{"error": {"code", "message", "status"}}`` with the
google.rpc status name (RESOURCE_EXHAUSTED for 429, UNAVAILABLE for 503 …).

Requests are checked as Gemini checks them where the harness could get them
wrong: an OBJECT parameter schema without properties and JSON Schema keywords
outside Gemini's Schema subset are refused with Gemini's 400.

Two prompt markers make the simulated model answer the ways a real one
sometimes does, so clients can be tested against them:

- :data:`BLOCK_MARKER` in the last user message: the prompt is blocked before
  generation (no candidates, ``promptFeedback.blockReason: SAFETY``).
- :data:`MALFORMED_CALL_MARKER`: the candidate ends with ``finishReason:
  MALFORMED_FUNCTION_CALL`` and no content.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from harness.sim.behaviour import Reply, SimRequest
from harness.sim.wire_common import Event, WireError, chunks, dumps

__all__ = [
    "BLOCK_MARKER",
    "MALFORMED_CALL_MARKER",
    "adjust",
    "error_body",
    "model_resource",
    "parse",
    "render",
    "render_stream",
]

BLOCK_MARKER = "[sim:block]"
MALFORMED_CALL_MARKER = "[sim:malformed_function_call]"

_FINISH = {
    "stop": "STOP",
    "stop_sequence": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "malformed_function_call": "MALFORMED_FUNCTION_CALL",
}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_SCHEMA_KEYS = frozenset(
    "type format title description nullable enum maxItems minItems properties required "
    "minProperties maxProperties minLength maxLength pattern example anyOf propertyOrdering "
    "default items minimum maximum".split()
)
_RATINGS = [
    {"category": c, "probability": "NEGLIGIBLE"}
    for c in (
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
    )
]


def error_body(status: int, message: str, kind: str | None = None) -> bytes:
    """A Google API error body for ``status`` (``kind`` used when it is a status name)."""
    name = kind if kind and kind.isupper() else _STATUS.get(status, "INTERNAL")
    return dumps({"error": {"code": status, "message": message, "status": name}}).encode()


def model_resource(model_id: str) -> dict[str, Any]:
    """A ``Model`` resource as ``GET /v1beta/models/{id}`` returns it."""
    return {
        "name": f"models/{model_id}",
        "version": "sim",
        "displayName": model_id,
        "description": "A model of the harness simulator.",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 8192,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        return
    for key in schema:
        if key not in _SCHEMA_KEYS:
            raise WireError(
                400,
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                "Cannot find field.",
            )
    kind = schema.get("type")
    if isinstance(kind, str) and kind.lower() == "object" and not schema.get("properties"):
        raise WireError(400, f"* {where}.properties: should be non-empty for OBJECT type")
    for name, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.properties[{name}].value")
    if "items" in schema:
        _check_schema(schema["items"], f"{where}.items")


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = []
    for i, t in enumerate(body.get("tools") or []):
        if not isinstance(t, dict):
            raise WireError(400, f"tools[{i}]: expected an object")
        decls = t.get("functionDeclarations", t.get("function_declarations")) or []
        for j, d in enumerate(decls):
            where = f"tools[{i}].function_declarations[{j}]"
            if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not d["name"]:
                raise WireError(400, f"* GenerateContentRequest.{where}.name: Name is empty.")
            _check_schema(d.get("parameters"), f"{where}.parameters")
            tools.append({"name": d["name"], "parameters": d.get("parameters") or {}})
    return tools


def _tool_choice(body: dict[str, Any]) -> str:
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    mode = str(config.get("mode") or "AUTO").upper()
    if mode == "NONE":
        return "none"
    if mode == "ANY":
        allowed = config.get("allowedFunctionNames") or []
        return f"tool:{allowed[0]}" if len(allowed) == 1 else "required"
    return "auto"


def parse(body: Any, model: str, *, stream: bool) -> SimRequest:
    """A :class:`SimRequest` from a body (the model and method come from the URL)."""
    if not isinstance(body, dict):
        raise WireError(400, "Invalid JSON payload received.")
    contents = body.get("contents")
    if isinstance(contents, dict):
        contents = [contents]  # the API takes a single Content too
    if not isinstance(contents, list) or not contents:
        raise WireError(400, "* GenerateContentRequest.contents: contents is not specified")
    chars = 0
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    if isinstance(system, dict):
        chars += sum(len(str(p.get("text", ""))) for p in system.get("parts") or [])
    task_text = ""
    last_is_result = False
    for i, c in enumerate(contents):
        if not isinstance(c, dict) or c.get("role", "user") not in ("user", "model", "function"):
            raise WireError(400, f"Please use a valid role: user, model. (contents[{i}])")
        parts = c.get("parts")
        if isinstance(parts, dict):
            parts = [parts]
        if not isinstance(parts, list) or not parts:
            raise WireError(400, f"* GenerateContentRequest.contents[{i}].parts: must not be empty")
        texts, results = [], False
        for p in parts:
            if not isinstance(p, dict):
                raise WireError(400, f"contents[{i}].parts: expected objects")
            if isinstance(p.get("text"), str):
                texts.append(p["text"])
            elif "functionCall" in p:
                fc = p["functionCall"] or {}
                chars += len(str(fc.get("name", ""))) + len(json.dumps(fc.get("args", {})))
            elif "functionResponse" in p:
                results = True
                chars += len(json.dumps(p["functionResponse"]))
        text = "".join(texts)
        chars += len(text)
        role = c.get("role", "user")
        if role == "user" and text.strip():
            task_text = text
        last_is_result = role in ("user", "function") and results
    tools = _tools(body)
    if tools:
        chars += len(json.dumps(body["tools"]))
    config = body.get("generationConfig") or {}
    if not isinstance(config, dict):
        raise WireError(400, "generationConfig: expected an object")
    max_tokens = config.get("maxOutputTokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise WireError(400, "generationConfig.maxOutputTokens: expected an integer >= 1")
    stops = [s for s in config.get("stopSequences") or [] if isinstance(s, str)]
    if len(stops) > 5:
        raise WireError(400, "The maximum number of stop sequences is 5.")
    seed = config.get("seed")
    return SimRequest(
        protocol="gemini",
        model=model,
        task_text=task_text,
        input_chars=chars,
        after_tool_result=last_is_result,
        tools=tools,
        tool_choice=_tool_choice(body),
        parallel_tools=True,
        max_tokens=max_tokens,
        stop=stops,
        stream=stream,
        variation=str(seed) if seed is not None else "0",
    )


def adjust(reply: Reply, req: SimRequest) -> Reply:
    """Turn the reply into a blocked prompt or a malformed call when the prompt asks."""
    if BLOCK_MARKER in req.task_text:
        reply.finish, reply.text, reply.tool_calls, reply.output_tokens = "blocked", "", [], 0
    elif MALFORMED_CALL_MARKER in req.task_text:
        reply.finish, reply.text, reply.tool_calls = "malformed_function_call", "", []
    return reply


def _usage(reply: Reply, *, final: bool = True) -> dict[str, Any]:
    # Protobuf JSON drops zero counts; intermediate stream chunks hold the prompt only.
    out = reply.output_tokens if final else 0
    usage: dict[str, Any] = {"promptTokenCount": reply.input_tokens}
    if out:
        usage["candidatesTokenCount"] = out
    usage["totalTokenCount"] = reply.input_tokens + out
    if reply.cached_tokens:
        usage["cachedContentTokenCount"] = reply.cached_tokens
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": reply.input_tokens}]
    return usage


def _args(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}  # cut short by max_tokens
    return value if isinstance(value, dict) else {}


def _head(model: str, response_id: str) -> dict[str, Any]:
    return {"modelVersion": model, "responseId": response_id}


def _candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if finish is not None:
        cand["finishReason"] = finish
        if finish == "MALFORMED_FUNCTION_CALL":
            del cand["content"]
            cand["finishMessage"] = "Malformed function call: the call's arguments are not JSON."
    cand["index"] = 0
    if finish is not None:
        cand["safetyRatings"] = _RATINGS
    return cand


def _blocked(reply: Reply, model: str, response_id: str) -> dict[str, Any]:
    ratings = [dict(r) for r in _RATINGS]
    ratings[2]["probability"] = "MEDIUM"
    return {
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": ratings},
        "usageMetadata": _usage(reply),
        **_head(model, response_id),
    }


def render(reply: Reply, model: str) -> bytes:
    """The non-streaming response body."""
    response_id = secrets.token_urlsafe(16)
    if reply.finish == "blocked":
        return dumps(_blocked(reply, model, response_id)).encode()
    parts: list[dict[str, Any]] = []
    if reply.text:
        parts.append({"text": reply.text})
    for c in reply.tool_calls:
        parts.append({"functionCall": {"name": c.name, "args": _args(c.arguments)}})
    body = {
        "candidates": [_candidate(parts, _FINISH[reply.finish])],
        "usageMetadata": _usage(reply),
        **_head(model, response_id),
    }
    return dumps(body).encode()


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + dumps(obj).encode() + b"\r\n\r\n"


def render_stream(reply: Reply, model: str, chunk_chars: int, chunk_tokens: int) -> list[Event]:
    """The SSE events of a streamed response, each with the tokens it carries."""
    response_id = secrets.token_urlsafe(16)
    head = _head(model, response_id)
    if reply.finish == "blocked":
        return [(_event(_blocked(reply, model, response_id)), 0)]
    running = _usage(reply, final=False)
    per_char = chunk_tokens / max(1, chunk_chars)
    events: list[Event] = []
    for piece in chunks(reply.text, chunk_chars):
        body = {"candidates": [_candidate([{"text": piece}], None)], "usageMetadata": running}
        events.append((_event({**body, **head}), len(piece) * per_char))
    for c in reply.tool_calls:
        part = {"functionCall": {"name": c.name, "args": _args(c.arguments)}}
        body = {"candidates": [_candidate([part], None)], "usageMetadata": running}
        events.append((_event({**body, **head}), (len(c.name) + len(c.arguments)) * per_char))
    last = {
        "candidates": [_candidate([{"text": ""}], _FINISH[reply.finish])],
        "usageMetadata": _usage(reply),
        **head,
    }
    events.append((_event(last), 0))
    return events
