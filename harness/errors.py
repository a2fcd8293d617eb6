"""The one error tree of the harness.

::

    HarnessError                     shown to the user as one line
    ├── ConfigError                  bad config value / unknown key (exit code 2)
    │   └── MissingCredentialsError  env var(s) for an API key not set
    ├── TaskError                    a task suite could not be loaded
    ├── BudgetExceededError          a hard budget would be exceeded
    ├── SandboxError                 the sandbox failed (infrastructure, never the model's fault)
    │   └── SandboxUnavailableError  no isolation backend works on this host
    └── LLMError                     a provider call failed (see ``kind``)
        ├── RateLimitError           429                       retryable, retry_after
        ├── OverloadedError          503 / 529 overloaded       retryable, retry_after
        ├── ServerError              other 5xx                  retryable
        ├── ProviderTimeoutError     connect/read/total timeout retryable
        ├── ProviderConnectionError  refused / reset            retryable
        ├── StreamCutError           stream ended early         retryable
        ├── MalformedResponseError   unparseable body           retryable
        ├── AuthenticationError      401 / 403                  final
        ├── NotFoundError            404 (unknown model)        final
        ├── BadRequestError          400 / 422                  final
        │   └── ContextLengthError   prompt over the window     final
        ├── ContentRefusalError      provider refused           final
        └── BudgetRefusedError       the call gate refused      final, nothing sent

Providers classify (``classify_http_error``); the client's retry loop only
reads ``retryable`` and ``retry_after``. Messages never contain secrets:
response bodies are truncated and scrubbed before they land in an error.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "BudgetRefusedError",
    "ConfigError",
    "ContentRefusalError",
    "ContextLengthError",
    "HarnessError",
    "LLMError",
    "MalformedResponseError",
    "MissingCredentialsError",
    "NotFoundError",
    "OverloadedError",
    "ProviderConnectionError",
    "ProviderTimeoutError",
    "RateLimitError",
    "SandboxError",
    "SandboxUnavailableError",
    "ServerError",
    "StreamCutError",
    "TaskError",
    "classify_http_error",
    "parse_retry_after",
]


class HarnessError(Exception):
    """Base of every error the harness shows to its user as one line."""


class ConfigError(HarnessError):
    """A config value is wrong; the message names the key."""


class MissingCredentialsError(ConfigError):
    """Environment variables for API keys are not set."""


class TaskError(HarnessError):
    """A task suite could not be loaded."""


class BudgetExceededError(HarnessError):
    """A call would take spend past a hard budget."""


class SandboxError(HarnessError):
    """The sandbox itself failed (could not start, died, broke its protocol): not a verdict."""


class SandboxUnavailableError(SandboxError):
    """No isolation backend works here; the message says why and how to enable one."""


class LLMError(HarnessError):
    """A provider call failed. ``kind`` is the stable name stored in DuckDB."""

    kind = "llm_error"
    retryable = False
    rate_headers: dict[str, str] | None = None
    """The response's rate-limit headers (``x-ratelimit-*``, ``anthropic-ratelimit-*``,
    ``retry-after``), set by the adapter when there were any."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        http_status: int | None = None,
        retry_after: float | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.http_status = http_status
        self.retry_after = retry_after
        self.body = body[:2000] if body else body

    def __str__(self) -> str:
        where = "/".join(p for p in (self.provider, self.model) if p)
        status = f" HTTP {self.http_status}" if self.http_status else ""
        prefix = f"{where}{status}: " if where or status else ""
        return f"{prefix}{self.args[0] if self.args else self.kind}"


class RateLimitError(LLMError):
    """429: too many requests or tokens; wait ``retry_after`` if given."""

    kind = "rate_limit"
    retryable = True


class OverloadedError(LLMError):
    """503 / Anthropic 529: the provider is overloaded."""

    kind = "overloaded"
    retryable = True


class ServerError(LLMError):
    """Any other 5xx."""

    kind = "server_error"
    retryable = True


class ProviderTimeoutError(LLMError):
    """Connect, read (between chunks) or total timeout."""

    kind = "timeout"
    retryable = True


class ProviderConnectionError(LLMError):
    """Connection refused, reset or closed before a response."""

    kind = "connection"
    retryable = True


class StreamCutError(LLMError):
    """A stream ended before its terminal event."""

    kind = "stream_cut"
    retryable = True


class MalformedResponseError(LLMError):
    """The body is not what the protocol promises (bad JSON, wrong type, HTML page)."""

    kind = "malformed_response"
    retryable = True


class AuthenticationError(LLMError):
    """401/403: the key is missing, wrong or lacks access."""

    kind = "auth"


class NotFoundError(LLMError):
    """404: unknown model or path."""

    kind = "not_found"


class BadRequestError(LLMError):
    """400/422: the request itself is wrong; retrying cannot help."""

    kind = "bad_request"


class ContextLengthError(BadRequestError):
    """The prompt does not fit the model's context window."""

    kind = "context_length"


class ContentRefusalError(LLMError):
    """The provider refused the content."""

    kind = "content_refusal"


class BudgetRefusedError(LLMError):
    """The client's call gate (a budget) refused the call; no request was sent.

    Wraps the gate's :class:`BudgetExceededError` (as ``__cause__``), so a
    caller holding only a call's outcome can tell a refusal from a failure.
    """

    kind = "budget_refused"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_CONTEXT_HINTS = (
    "context length",
    "context_length",
    "maximum context",
    "too long",
    "prompt is too long",
)


def classify_http_error(
    status: int,
    body: str,
    *,
    provider: str,
    model: str,
    retry_after: float | None = None,
) -> LLMError:
    """Map an HTTP error status and body to the most specific error."""
    lowered = body.lower()
    snippet = " ".join(body.split())[:300] or "(empty body)"
    kw = dict(
        provider=provider, model=model, http_status=status, retry_after=retry_after, body=body
    )
    if status == 429:
        return RateLimitError(f"rate limited: {snippet}", **kw)
    if status in (503, 529) or "overloaded" in lowered:
        return OverloadedError(f"overloaded: {snippet}", **kw)
    if status >= 500:
        return ServerError(f"server error: {snippet}", **kw)
    if status in (401, 403):
        return AuthenticationError(f"authentication failed: {snippet}", **kw)
    if status == 404:
        return NotFoundError(f"not found: {snippet}", **kw)
    if status in (400, 413, 422):
        if any(h in lowered for h in _CONTEXT_HINTS):
            return ContextLengthError(f"context length exceeded: {snippet}", **kw)
        return BadRequestError(f"bad request: {snippet}", **kw)
    return LLMError(f"unexpected HTTP {status}: {snippet}", **kw)
