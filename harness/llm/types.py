"""Provider-neutral request and response types.

Every adapter translates a :class:`ChatRequest` into its wire protocol and the
wire response back into a :class:`ChatResponse`; nothing above the adapters
sees a provider's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "FinishReason",
    "Message",
    "Role",
    "ToolCall",
    "ToolSpec",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]


class FinishReason(StrEnum):
    """Why generation stopped, normalized across protocols."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call the model asked for.

    ``arguments`` is the parsed JSON object, or None when ``raw_arguments`` did
    not parse (a malformed tool call is kept, not dropped).
    """

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message. ``tool_call_id`` is set on ``role="tool"`` results."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage. None means the provider did not report it (never 0 by default).

    ``input_tokens`` counts the whole prompt, cached tokens included (OpenAI's
    ``prompt_tokens``; for Anthropic ``input_tokens + cache_read_input_tokens +
    cache_creation_input_tokens``), so prices apply the same way everywhere.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A provider-neutral chat request.

    ``model`` is the provider's API model id. ``seed`` is sent where the
    protocol has one (OpenAI ``seed``); ``user`` is an opaque end-user id sent as
    OpenAI ``user`` / Anthropic ``metadata.user_id``. Both vary per replicate so
    that replicates are independent draws.
    """

    model: str
    messages: tuple[Message, ...]
    max_tokens: int = 1024
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    stream: bool = False
    seed: int | None = None
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ChatResponse:
    """A parsed response plus what the transport measured.

    ``latency_ms`` is request start to last byte; ``ttft_ms`` is request start
    to the first content or tool-call delta (streams only).
    """

    content: str
    model: str
    finish_reason: FinishReason
    usage: Usage
    tool_calls: tuple[ToolCall, ...] = ()
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    http_status: int = 200
    response_id: str | None = None
    raw_body: str | None = None
    provider_cost_usd: float | None = None
    """What the provider itself billed for the call, in USD, where it says so
    (OpenRouter's ``usage.cost``); None otherwise. The pricer may prefer it."""
    rate_headers: dict[str, str] | None = None
    """The response's rate-limit headers (``x-ratelimit-*``, ``anthropic-ratelimit-*``,
    ``retry-after``) as sent, names in lower case; None when there were none."""
