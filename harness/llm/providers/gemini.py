"""Google Gemini API (native): ``POST {api_base}/models/{model}:generateContent``.

``api_base`` ends at the API version, ``https://generativelanguage.googleapis.com/v1beta``.
Streams go to ``:streamGenerateContent?alt=sse``. The key travels in the
``x-goog-api-key`` header, never in the URL (``?key=`` would put it in access
logs and in every error that quotes the URL).

Request mapping: system messages → ``systemInstruction``; user / assistant →
``contents`` with roles ``user`` / ``model`` (consecutive turns of one role
merged); tools → ``tools[0].functionDeclarations`` (the JSON Schema trimmed to
the OpenAPI subset Gemini accepts); an assistant's tool calls → ``functionCall``
parts; tool results (``role="tool"``) → ``functionResponse`` parts of a user
turn, the function's name looked up from the call they answer;
``max_tokens`` / ``temperature`` / ``stop`` / ``seed`` → ``generationConfig``.
``req.extra`` is merged last, one level deep for objects (so
``extra={"generationConfig": {"thinkingConfig": …}}`` adds to the config).
Gemini has no end-user id, so ``req.user`` is not sent.

Response mapping:

- ``functionCall`` parts, parallel ones included, become tool calls. Gemini
  sends an ``id`` only in newer API versions; without one the call gets a
  stable synthesized id (``gemini-call-<i>-<hash of name and args>``), which is
  never sent back. A ``thoughtSignature`` on a call is remembered by the
  adapter and returned with that call in the follow-up request (Gemini 3
  rejects tool loops without it).
- ``finishReason``: STOP → stop (tool_calls when the answer holds function
  calls), MAX_TOKENS → length, SAFETY / RECITATION / BLOCKLIST /
  PROHIBITED_CONTENT / SPII / IMAGE_SAFETY / LANGUAGE → content_filter,
  MALFORMED_FUNCTION_CALL / UNEXPECTED_TOOL_CALL / TOO_MANY_TOOL_CALLS → error
  (never stop), OTHER / unspecified → unknown.
- A prompt blocked before generation (``promptFeedback.blockReason``, no
  candidates) is a response with finish reason content_filter and no content —
  the OpenAI (``content_filter``) and Anthropic (``refusal``) adapters treat
  refusals the same way, as an answer, not an exception.
- ``usageMetadata``: ``input_tokens`` = promptTokenCount (it already includes
  the cached part) + toolUsePromptTokenCount; ``output_tokens`` =
  candidatesTokenCount + thoughtsTokenCount, because Google bills thinking as
  output and OpenAI's ``completion_tokens`` counts reasoning the same way;
  ``reasoning_tokens`` = thoughtsTokenCount; ``cached_input_tokens`` =
  cachedContentTokenCount. Protobuf JSON leaves out zero counts, so a missing
  candidatesTokenCount is derived from totalTokenCount when both totals are
  there; any other missing field stays None, never 0.

Streams: every SSE event is a whole ``GenerateContentResponse`` fragment and
there is no terminal event — the body simply ends. A stream counts as complete
when its body ended cleanly *and* a chunk carried a ``finishReason`` (or the
prompt was blocked); otherwise it is a :class:`~harness.errors.StreamCutError`.
Usage comes from the last chunk that has ``usageMetadata`` (Gemini repeats
running totals); TTFT is stamped at the first text or function-call part.

Errors come as ``{"error": {"code", "message", "status", "details"}}`` and are
classified by HTTP status like every adapter's, then refined: a 400 whose
message says the input token count exceeds the maximum is a
:class:`~harness.errors.ContextLengthError`; ``API_KEY_INVALID`` (sent as 400)
is an :class:`~harness.errors.AuthenticationError`; a ``RetryInfo.retryDelay``
in the details is used when no Retry-After header came.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from typing import Any

import httpx2

from harness.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    LLMError,
)
from harness.llm.providers.base import (
    ProviderAdapter,
    ResponseShapeError,
    StreamState,
    as_count,
)
from harness.llm.types import ChatRequest, ChatResponse, FinishReason, Message, ToolCall, Usage

__all__ = [
    "SYNTH_ID_PREFIX",
    "GeminiAdapter",
    "error_status",
    "finish_reason",
    "parse_usage",
]

#: Prefix of tool-call ids made up for calls Gemini sent without one.
SYNTH_ID_PREFIX = "gemini-call-"

_CONTENT_FILTER = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII")
_FINISH: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    **dict.fromkeys((*_CONTENT_FILTER, "IMAGE_SAFETY", "LANGUAGE"), FinishReason.CONTENT_FILTER),
    "MALFORMED_FUNCTION_CALL": FinishReason.ERROR,
    "UNEXPECTED_TOOL_CALL": FinishReason.ERROR,
    "TOO_MANY_TOOL_CALLS": FinishReason.ERROR,
    "OTHER": FinishReason.UNKNOWN,
    "FINISH_REASON_UNSPECIFIED": FinishReason.UNKNOWN,
}

# google.rpc.Code names → the HTTP status Google sends them with (for errors
# that arrive inside a 200 stream, where only the body says what went wrong).
_STATUS = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}

_TOKEN_LIMIT_HINTS = ("input token count", "exceeds the maximum number of tokens")
_KEY_INVALID_HINTS = ("api_key_invalid", "api key not valid", "api key expired")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")

# JSON Schema keywords Gemini's Schema object (an OpenAPI 3.0 subset) accepts in
# function parameters; others (additionalProperties, $schema, $defs …) make it 400.
_SCHEMA_KEYS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "propertyOrdering",
        "default",
        "items",
        "minimum",
        "maximum",
    }
)
_SIGNATURES_KEPT = 4096


def finish_reason(value: Any, *, has_calls: bool = False) -> FinishReason:
    """Normalize a Gemini ``finishReason`` (unknown or missing → UNKNOWN).

    STOP with function calls in the answer is TOOL_CALLS; every other reason
    keeps its own meaning even when calls are present (MAX_TOKENS stays LENGTH).
    """
    reason = _FINISH.get(value, FinishReason.UNKNOWN) if isinstance(value, str) else None
    if reason is None:
        return FinishReason.UNKNOWN
    if reason is FinishReason.STOP and has_calls:
        return FinishReason.TOOL_CALLS
    return reason


def parse_usage(meta: Any) -> Usage:
    """Gemini ``usageMetadata`` → :class:`Usage` (see the module docstring for the sums)."""
    if not isinstance(meta, dict):
        return Usage()
    prompt = as_count(meta.get("promptTokenCount"))
    tool_prompt = as_count(meta.get("toolUsePromptTokenCount"))
    candidates = as_count(meta.get("candidatesTokenCount"))
    thoughts = as_count(meta.get("thoughtsTokenCount"))
    total = as_count(meta.get("totalTokenCount"))
    inp = None if prompt is None else prompt + (tool_prompt or 0)
    if candidates is not None:
        out: int | None = candidates + (thoughts or 0)
    elif inp is not None and total is not None and total >= inp:
        # Protobuf JSON omits zero fields: the total still says what was generated.
        out = total - inp
    else:
        out = None
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        cached_input_tokens=as_count(meta.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
    )


def error_status(error: Any) -> int:
    """The HTTP status a Google error object stands for (500 when it does not say)."""
    if isinstance(error, dict):
        code = error.get("code")
        if isinstance(code, int) and 400 <= code <= 599:
            return code
        status = error.get("status")
        if isinstance(status, str) and status in _STATUS:
            return _STATUS[status]
    return 500


def _error_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # the non-SSE stream format wraps errors in a list
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else None


def _retry_delay(error: dict[str, Any]) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "37s"``)."""
    details = error.get("details")
    if not isinstance(details, list):
        return None
    for d in details:
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(d.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _schema(value: Any) -> Any:
    """A JSON Schema trimmed to what Gemini's ``Schema`` accepts (recursively)."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, v in value.items():
        if key not in _SCHEMA_KEYS:
            continue
        if key == "type" and isinstance(v, list):
            # ["string", "null"] → type string, nullable
            kinds = [k for k in v if k != "null"]
            if len(kinds) < len(v):
                out["nullable"] = True
            v = kinds[0] if kinds else "null"
        elif key == "properties" and isinstance(v, dict):
            v = {name: _schema(s) for name, s in v.items()}
        elif key == "items":
            v = _schema(v)
        elif key == "anyOf" and isinstance(v, list):
            v = [_schema(s) for s in v]
        out[key] = v
    return out


def _declaration(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    decl: dict[str, Any] = {"name": name, "description": description}
    params = _schema(parameters)
    # An OBJECT schema without properties is rejected ("should be non-empty for
    # OBJECT type"); a function without parameters simply omits them.
    if isinstance(params, dict) and (params.get("properties") or params.get("type") != "object"):
        decl["parameters"] = params
    return decl


def _synth_id(index: int, name: str, args: Any) -> str:
    digest = hashlib.blake2b(
        f"{name}\x1f{json.dumps(args, sort_keys=True)}".encode(), digest_size=6
    ).hexdigest()
    return f"{SYNTH_ID_PREFIX}{index}-{digest}"


def _tool_call(index: int, fc: Any) -> ToolCall:
    if not isinstance(fc, dict):
        raise ResponseShapeError(f"functionCall #{index} is not an object")
    name = str(fc.get("name") or "")
    args = fc.get("args", {})
    call_id = fc.get("id")
    if not isinstance(call_id, str) or not call_id:
        call_id = _synth_id(index, name, args)
    return ToolCall(
        id=call_id,
        name=name,
        arguments=args if isinstance(args, dict) else None,
        raw_arguments=json.dumps(args),
    )


def _fold_parts(
    parts: Any, texts: list[str], calls: list[ToolCall], signatures: dict[str, str]
) -> bool:
    """Add one candidate's parts to the answer; True if any text or call was new."""
    if not isinstance(parts, list):
        return False
    seen = False
    for part in parts:
        if not isinstance(part, dict):
            raise ResponseShapeError("a content part is not an object")
        if "functionCall" in part:
            call = _tool_call(len(calls), part["functionCall"])
            calls.append(call)
            sig = part.get("thoughtSignature")
            if isinstance(sig, str) and sig:
                signatures[call.id] = sig
            seen = True
        elif part.get("thought") is True:
            continue  # a thought summary: not part of the answer
        elif isinstance(part.get("text"), str) and part["text"]:
            texts.append(part["text"])
            seen = True
    return seen


def _first_candidate(data: dict[str, Any]) -> dict[str, Any] | None:
    candidates = data.get("candidates")
    if candidates is None:
        return None
    if not isinstance(candidates, list):
        raise ResponseShapeError("'candidates' is not a list")
    if not candidates:
        return None
    first = candidates[0]
    if not isinstance(first, dict):
        raise ResponseShapeError("candidates[0] is not an object")
    return first


def _block_reason(data: dict[str, Any]) -> str | None:
    feedback = data.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    return reason if isinstance(reason, str) and reason else None


class GeminiAdapter(ProviderAdapter):
    """Gemini ``generateContent`` / ``streamGenerateContent``, with function calling."""

    protocol = "gemini"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # tool-call id → thoughtSignature, to send back with the call next turn.
        self._signatures: OrderedDict[str, str] = OrderedDict()

    # -- endpoint and auth --------------------------------------------------------------

    def _endpoint(self, api_base: str) -> str:
        return f"{api_base}/models"

    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": api_key} if api_key else {}

    def call_url(self, req: ChatRequest) -> str:
        """The URL of one call: the model is part of the path, streaming picks the method."""
        model = req.model.removeprefix("models/")
        if req.stream:
            return f"{self._url}/{model}:streamGenerateContent?alt=sse"
        return f"{self._url}/{model}:generateContent"

    # -- request ------------------------------------------------------------------------

    def _contents(self, messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
        """(system text, contents) with consecutive turns of one role merged."""
        system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
        names = {tc.id: tc.name for m in messages for tc in m.tool_calls}
        out: list[dict[str, Any]] = []
        for m in messages:
            if m.role == "system":
                continue
            parts: list[dict[str, Any]] = []
            if m.role == "tool":
                call_id = m.tool_call_id or ""
                response: dict[str, Any] = {
                    "name": m.name or names.get(call_id, ""),
                    "response": _tool_output(m.content),
                }
                if call_id and not call_id.startswith(SYNTH_ID_PREFIX):
                    response["id"] = call_id
                parts.append({"functionResponse": response})
            else:
                if m.content:
                    parts.append({"text": m.content})
                for tc in m.tool_calls if m.role == "assistant" else ():
                    call: dict[str, Any] = {"name": tc.name, "args": tc.arguments or {}}
                    if tc.id and not tc.id.startswith(SYNTH_ID_PREFIX):
                        call["id"] = tc.id
                    part: dict[str, Any] = {"functionCall": call}
                    sig = self._signatures.get(tc.id)
                    if sig:
                        part["thoughtSignature"] = sig
                    parts.append(part)
            if not parts:
                parts.append({"text": ""})
            role = "model" if m.role == "assistant" else "user"
            if out and out[-1]["role"] == role:
                # Parallel tool results (and the text after them) form one turn.
                out[-1]["parts"].extend(parts)
            else:
                out.append({"role": role, "parts": parts})
        return system, out

    def request_body(self, req: ChatRequest) -> dict[str, Any]:
        """The ``GenerateContentRequest`` body (the model is in the URL, not here)."""
        system, contents = self._contents(req.messages)
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        if req.tools:
            body["tools"] = [
                {
                    "functionDeclarations": [
                        _declaration(t.name, t.description, t.parameters) for t in req.tools
                    ]
                }
            ]
        config: dict[str, Any] = {
            "maxOutputTokens": req.max_tokens,
            "temperature": req.temperature,
        }
        if req.stop:
            config["stopSequences"] = list(req.stop)
        if req.seed is not None:
            config["seed"] = req.seed
        body["generationConfig"] = config
        for key, value in req.extra.items():
            if isinstance(value, dict) and isinstance(body.get(key), dict):
                body[key] = {**body[key], **value}
            else:
                body[key] = value
        return body

    # -- response -----------------------------------------------------------------------

    def _remember(self, signatures: dict[str, str]) -> None:
        for call_id, sig in signatures.items():
            self._signatures[call_id] = sig
            self._signatures.move_to_end(call_id)
        while len(self._signatures) > _SIGNATURES_KEPT:
            self._signatures.popitem(last=False)

    def _parse(self, data: dict[str, Any], req: ChatRequest) -> ChatResponse:
        if isinstance(data.get("error"), dict):
            raise self._in_body_error(data["error"], json.dumps(data), req)
        candidate = _first_candidate(data)
        blocked = _block_reason(data)
        if candidate is None and blocked is None:
            raise ResponseShapeError("no 'candidates' and no promptFeedback.blockReason")
        texts: list[str] = []
        calls: list[ToolCall] = []
        signatures: dict[str, str] = {}
        reason: Any = None
        if candidate is not None:
            content = candidate.get("content")
            if isinstance(content, dict):
                _fold_parts(content.get("parts"), texts, calls, signatures)
            reason = candidate.get("finishReason")
        self._remember(signatures)
        return ChatResponse(
            content="".join(texts),
            model=_model(data, req),
            finish_reason=(
                FinishReason.CONTENT_FILTER
                if candidate is None
                else finish_reason(reason, has_calls=bool(calls))
            ),
            usage=parse_usage(data.get("usageMetadata")),
            tool_calls=tuple(calls),
            response_id=data.get("responseId") if isinstance(data.get("responseId"), str) else None,
        )

    def _stream_state(self, req: ChatRequest) -> StreamState:
        return _GeminiStream(self, req)

    # -- errors -------------------------------------------------------------------------

    def _http_error(self, response: httpx2.Response, text: str, req: ChatRequest) -> LLMError:
        return self._refine(super()._http_error(response, text, req), text)

    def _in_body_error(self, error: dict[str, Any], text: str, req: ChatRequest) -> LLMError:
        err = self._error_from_payload(error_status(error), text, req, http_status=200)
        return self._refine(err, text)

    def _refine(self, err: LLMError, text: str) -> LLMError:
        """Gemini specifics the status alone does not tell (see the module docstring)."""
        error = _error_object(text)
        if error is None:
            return err
        if err.retry_after is None:
            err.retry_after = _retry_delay(error)
        if not isinstance(err, BadRequestError) or isinstance(err, ContextLengthError):
            return err
        lowered = text.lower()
        snippet = " ".join(str(error.get("message") or text).split())[:300]
        better: LLMError | None = None
        kw: dict[str, Any] = {
            "provider": err.provider,
            "model": err.model,
            "http_status": err.http_status,
            "retry_after": err.retry_after,
            "body": err.body,
        }
        if any(h in lowered for h in _KEY_INVALID_HINTS):
            better = AuthenticationError(f"authentication failed: {snippet}", **kw)
        elif any(h in lowered for h in _TOKEN_LIMIT_HINTS):
            better = ContextLengthError(f"context length exceeded: {snippet}", **kw)
        if better is None:
            return err
        for name, value in vars(err).items():  # keep whatever else the base attached
            vars(better).setdefault(name, value)
        return better

    # -- transport: a per-call URL, and streams that end with their body ---------------

    def _in_band_error(self, text: str, req: ChatRequest) -> LLMError | None:
        error = _error_object(text)
        return None if error is None else self._in_body_error(error, text, req)


def _tool_output(content: str) -> dict[str, Any]:
    """A tool result as the JSON object ``functionResponse.response`` must be."""
    try:
        value = json.loads(content)
    except ValueError:
        value = None
    # Google's convention: the function's output under "output" (errors under "error").
    return value if isinstance(value, dict) else {"output": content}


def _model(data: dict[str, Any], req: ChatRequest) -> str:
    version = data.get("modelVersion")
    return version if isinstance(version, str) and version else req.model


class _GeminiStream(StreamState):
    """Folds ``GenerateContentResponse`` chunks; complete once a finishReason arrived."""

    terminal = "a finishReason"

    __slots__ = (
        "_adapter",
        "_blocked",
        "_calls",
        "_finish",
        "_id",
        "_model",
        "_req",
        "_signatures",
        "_texts",
        "_usage",
        "done",
    )

    def __init__(self, adapter: GeminiAdapter, req: ChatRequest) -> None:
        self._adapter = adapter
        self._req = req
        # Set by the adapter after the body ended; never mid-stream (see _call_stream).
        self.done = False
        self._texts: list[str] = []
        self._calls: list[ToolCall] = []
        self._signatures: dict[str, str] = {}
        self._finish: Any = None
        self._blocked: str | None = None
        self._usage: Any = None
        self._id: str | None = None
        self._model: str | None = None

    @property
    def finished(self) -> bool:
        """A chunk said the answer is over (a finishReason, or a blocked prompt)."""
        return self._finish is not None or self._blocked is not None

    def ended(self, pending: bool) -> bool:
        # No terminal event: read to the end of the body, then ask whether the
        # answer finished (and no partial event was left).
        self.done = self.finished and not pending
        return self.done

    def on_event(self, event: str, data: str) -> bool:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise ResponseShapeError(
                f"invalid JSON in a stream chunk ({exc.msg} at char {exc.pos})"
            ) from None
        if not isinstance(chunk, dict):
            raise ResponseShapeError(f"a stream chunk is {type(chunk).__name__}, not an object")
        if isinstance(chunk.get("error"), dict):
            raise self._adapter._in_body_error(chunk["error"], data, self._req)
        if self._id is None and isinstance(chunk.get("responseId"), str):
            self._id = chunk["responseId"]
        if self._model is None and isinstance(chunk.get("modelVersion"), str):
            self._model = chunk["modelVersion"] or None
        if isinstance(chunk.get("usageMetadata"), dict):
            self._usage = chunk["usageMetadata"]
        blocked = _block_reason(chunk)
        if blocked:
            self._blocked = blocked
        candidate = _first_candidate(chunk)
        if candidate is None:
            return False
        seen = False
        content = candidate.get("content")
        if isinstance(content, dict):
            seen = _fold_parts(content.get("parts"), self._texts, self._calls, self._signatures)
        if isinstance(candidate.get("finishReason"), str):
            self._finish = candidate["finishReason"]
        return seen

    def finish(self) -> ChatResponse:
        self._adapter._remember(self._signatures)
        content = "".join(self._texts)
        parts: list[dict[str, Any]] = [{"text": content}] if content else []
        for call in self._calls:
            fc: dict[str, Any] = {"name": call.name, "args": call.arguments}
            if not call.id.startswith(SYNTH_ID_PREFIX):
                fc["id"] = call.id
            parts.append({"functionCall": fc})
        model = self._model or self._req.model
        # The non-streaming response this stream amounts to (not every chunk).
        raw: dict[str, Any] = {}
        if self._blocked is not None and not self._texts and not self._calls:
            raw["promptFeedback"] = {"blockReason": self._blocked}
            reason = FinishReason.CONTENT_FILTER
        else:
            raw["candidates"] = [
                {
                    "content": {"parts": parts, "role": "model"},
                    "finishReason": self._finish,
                    "index": 0,
                }
            ]
            reason = finish_reason(self._finish, has_calls=bool(self._calls))
        raw.update(usageMetadata=self._usage, modelVersion=model, responseId=self._id)
        return ChatResponse(
            content=content,
            model=model,
            finish_reason=reason,
            usage=parse_usage(self._usage),
            tool_calls=tuple(self._calls),
            response_id=self._id,
            raw_body=json.dumps(raw, separators=(",", ":")),
        )
