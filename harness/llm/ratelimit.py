"""Client-side rate limits: token buckets, adaptive concurrency, providers' rate headers.

One :class:`ModelLimiter` per (provider, model). Before each HTTP attempt the
client awaits :meth:`ModelLimiter.acquire`, which waits, in this order, for

1. a pause the provider asked for (``Retry-After`` on a 429, or its rate
   headers saying a limit is used up until a reset time);
2. the configured requests/min and tokens/min buckets (``ModelConfig.rpm`` /
   ``tpm``); a request's tokens are estimated as prompt characters / 4 +
   ``max_tokens`` and corrected with the usage the provider reports;
3. a concurrency slot under an AIMD limit: each success adds
   ``increase / limit`` (about ``increase`` per full window of calls), a 429 or
   overload multiplies it by ``decrease`` — once per window, so a burst of 429s
   from calls sent together counts once — never below 1 nor above the ceiling.

After the attempt the client calls exactly one of :meth:`ModelLimiter.on_success`,
:meth:`ModelLimiter.on_error` or :meth:`ModelLimiter.on_cancel`, which gives the
slot back. Without configured limits the only per-call work is the AIMD slot's
counter (no await suspends, no clock read on the fast path).

Headers read (:func:`parse_rate_headers`)::

    retry-after, retry-after-ms                       seconds (or an HTTP date)
    x-ratelimit-remaining-requests / -tokens          OpenAI, OpenRouter, vLLM …
    x-ratelimit-reset-requests / -tokens              "1s", "6m0s", "20ms", "1h2m3.5s"
    anthropic-ratelimit-requests-remaining / -reset   reset: an RFC 3339 time
    anthropic-ratelimit-tokens-remaining / -reset     (also input-/output-tokens-*)
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "RATE_HEADER_PREFIXES",
    "ModelLimiter",
    "RateLimitInfo",
    "TokenBucket",
    "estimate_tokens",
    "parse_duration",
    "parse_rate_headers",
]

#: Response headers the adapters keep (lower case prefixes).
RATE_HEADER_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "retry-after")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def estimate_tokens(payload_chars: int, max_tokens: int) -> int:
    """Worst-case tokens of one request: prompt characters / 4 + the completion cap."""
    return payload_chars // 4 + max(0, max_tokens)


def parse_duration(text: str | None) -> float | None:
    """OpenAI's reset durations (``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m3.5s"``) in seconds.

    A bare number is seconds. None when absent or unparseable.
    """
    if not text:
        return None
    text = text.strip().lower()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    return total if pos == len(text) and pos > 0 else None


def _parse_reset(text: str | None, now: datetime) -> float | None:
    """Seconds until a reset given as a duration or as an RFC 3339 / ISO time."""
    seconds = parse_duration(text)
    if seconds is not None or not text:
        return seconds
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _count(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(float(text.strip()))
    except ValueError:
        return None
    return value if value >= 0 else None


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What a provider said about its limits in one response (None: not said)."""

    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float | None = None
    """Seconds until the request allowance is full again."""
    reset_tokens_s: float | None = None
    """Seconds until the token allowance is full again."""
    retry_after_s: float | None = None

    def pause_s(self) -> float | None:
        """How long to send nothing: Retry-After, or the reset of a used-up allowance."""
        waits = [self.retry_after_s or 0.0]
        if self.remaining_requests == 0 and self.reset_requests_s is not None:
            waits.append(self.reset_requests_s)
        if self.remaining_tokens == 0 and self.reset_tokens_s is not None:
            waits.append(self.reset_tokens_s)
        wait = max(waits)
        return wait if wait > 0 else None


def parse_rate_headers(headers: Mapping[str, str], now: datetime | None = None) -> RateLimitInfo:
    """Read OpenAI-style and Anthropic-style rate-limit headers (lower-case names).

    Where Anthropic gives several token allowances (tokens, input-tokens,
    output-tokens) the smallest remaining one counts, with the latest reset.
    """
    from harness.errors import parse_retry_after

    now = now or datetime.now(UTC)
    get = headers.get
    retry_after: float | None = None
    ms = get("retry-after-ms")
    if ms:
        try:
            retry_after = max(0.0, float(ms) / 1000.0)
        except ValueError:
            retry_after = None
    if retry_after is None:
        retry_after = parse_retry_after(get("retry-after"))

    req_left = _count(get("x-ratelimit-remaining-requests"))
    req_reset = _parse_reset(get("x-ratelimit-reset-requests"), now)
    tok_left = _count(get("x-ratelimit-remaining-tokens"))
    tok_reset = _parse_reset(get("x-ratelimit-reset-tokens"), now)
    a_req = _count(get("anthropic-ratelimit-requests-remaining"))
    if a_req is not None:
        req_left = a_req if req_left is None else min(req_left, a_req)
        req_reset = _parse_reset(get("anthropic-ratelimit-requests-reset"), now) or req_reset
    for kind in ("tokens", "input-tokens", "output-tokens"):
        left = _count(get(f"anthropic-ratelimit-{kind}-remaining"))
        if left is None:
            continue
        reset = _parse_reset(get(f"anthropic-ratelimit-{kind}-reset"), now)
        if tok_left is None or left < tok_left:
            tok_left = left
        if reset is not None and (tok_reset is None or reset > tok_reset):
            tok_reset = reset
    return RateLimitInfo(req_left, tok_left, req_reset, tok_reset, retry_after)


class TokenBucket:
    """A per-minute allowance refilled continuously, full at the start.

    :meth:`reserve` always takes the amount, letting the level go negative, and
    returns how long the caller must wait for that debt to be repaid — so
    waiters are served in the order they reserved and a request larger than
    the whole allowance still goes out (after a proportionate wait) instead of
    waiting forever.
    """

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, per_minute: float, now: float) -> None:
        if per_minute <= 0:
            raise ValueError(f"a rate limit must be > 0 per minute, got {per_minute}")
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self.level = self.capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def reserve(self, amount: float, now: float) -> float:
        """Take ``amount``; seconds to wait before using it (0 when available now)."""
        self._refill(now)
        self.level -= amount
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def refund(self, amount: float, now: float) -> None:
        """Give back ``amount`` (negative: take more, e.g. usage above the estimate)."""
        self._refill(now)
        self.level = min(self.capacity, self.level + amount)

    def clamp(self, remaining: float, now: float) -> None:
        """Never believe more is left than the provider says is."""
        self._refill(now)
        self.level = min(self.level, float(remaining))


class ModelLimiter:
    """Rate limits and adaptive concurrency of one (provider, model).

    Args:
        rpm: Requests per minute, or None.
        tpm: Tokens per minute (estimated per request), or None.
        max_concurrency: AIMD ceiling and starting limit; None disables AIMD.
        increase: AIMD additive step per full window of successes.
        decrease: AIMD multiplicative factor on a 429 / overload, in (0, 1).
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        max_concurrency: int | None = None,
        increase: float = 1.0,
        decrease: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if not 0 < decrease < 1:
            raise ValueError(f"AIMD decrease must be in (0, 1), got {decrease}")
        if increase <= 0:
            raise ValueError(f"AIMD increase must be > 0, got {increase}")
        self._clock = clock
        now = clock()
        self.rpm = TokenBucket(rpm, now) if rpm else None
        self.tpm = TokenBucket(tpm, now) if tpm else None
        self.ceiling = max_concurrency
        self.limit = float(max_concurrency) if max_concurrency else math.inf
        self._slots = max_concurrency or 0
        self.increase = increase
        self.decrease = decrease
        self.in_flight = 0
        self.paused_until = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._epoch = 0
        # Observations (tests, logs): how often and how far the limit fell.
        self.decreases = 0
        self.min_limit = self.limit

    @property
    def adaptive(self) -> bool:
        """Whether an AIMD concurrency limit applies."""
        return self.ceiling is not None

    async def acquire(self, tokens: int) -> int:
        """Wait until one request of ``tokens`` may go out; returns its window (epoch).

        Cancelling the wait gives back what it had taken.
        """
        await self._wait_pause()
        taken = False
        if self.rpm is not None or self.tpm is not None:
            now = self._clock()
            wait = 0.0
            if self.rpm is not None:
                wait = self.rpm.reserve(1, now)
            if self.tpm is not None:
                wait = max(wait, self.tpm.reserve(tokens, now))
            taken = True
            if wait > 0:
                try:
                    await asyncio.sleep(wait)
                except asyncio.CancelledError:
                    self._give_back(tokens)
                    raise
        if self.ceiling is not None:
            if self.in_flight < self._slots and not self._waiters:
                self.in_flight += 1
            else:
                try:
                    await self._wait_slot()
                except asyncio.CancelledError:
                    if taken:
                        self._give_back(tokens)
                    raise
        if self.paused_until:
            # A 429 may have arrived while this one queued: honour it too.
            try:
                await self._wait_pause()
            except asyncio.CancelledError:
                self.on_cancel(tokens)
                raise
        return self._epoch

    async def _wait_pause(self) -> None:
        while self.paused_until:
            left = self.paused_until - self._clock()
            if left <= 0:
                self.paused_until = 0.0
                return
            await asyncio.sleep(left)

    async def _wait_slot(self) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release_slot()  # granted just as we were cancelled
            else:
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
            raise

    def _release_slot(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self._slots:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    def _give_back(self, tokens: int) -> None:
        now = self._clock()
        if self.rpm is not None:
            self.rpm.refund(1, now)
        if self.tpm is not None:
            self.tpm.refund(tokens, now)

    def _set_limit(self, value: float) -> None:
        assert self.ceiling is not None
        self.limit = min(float(self.ceiling), max(1.0, value))
        self._slots = max(1, int(self.limit))
        if self.limit < self.min_limit:
            self.min_limit = self.limit
        self._wake()

    def _pause(self, seconds: float | None) -> None:
        if seconds and seconds > 0:
            self.paused_until = max(self.paused_until, self._clock() + seconds)

    def _apply_headers(self, info: RateLimitInfo | None) -> None:
        if info is None:
            return
        self._pause(info.pause_s())
        now = self._clock()
        if self.rpm is not None and info.remaining_requests is not None:
            self.rpm.clamp(info.remaining_requests, now)
        if self.tpm is not None and info.remaining_tokens is not None:
            self.tpm.clamp(info.remaining_tokens, now)

    def on_success(
        self, epoch: int, tokens: int, used: int | None, info: RateLimitInfo | None = None
    ) -> None:
        """An attempt answered: free its slot, grow the limit, correct the token estimate."""
        if self.tpm is not None and used is not None:
            self.tpm.refund(tokens - used, self._clock())
        if info is not None:
            self._apply_headers(info)
        if self.ceiling is not None:
            if self.limit < self.ceiling:
                self.limit = min(float(self.ceiling), self.limit + self.increase / self.limit)
                self._slots = max(1, int(self.limit))
            self._release_slot()

    def on_error(
        self,
        epoch: int,
        tokens: int,
        *,
        congestion: bool,
        retry_after: float | None = None,
        info: RateLimitInfo | None = None,
    ) -> None:
        """An attempt failed: free its slot; on congestion (429/overload) shrink and pause.

        Failed attempts are assumed to have used no tokens (refunded); they
        still count against requests/min, as providers count them.
        """
        if self.tpm is not None:
            self.tpm.refund(tokens, self._clock())
        self._apply_headers(info)
        if congestion:
            self._pause(retry_after)
            # Calls sent before the last decrease saw the old limit: one cut per window.
            if self.ceiling is not None and epoch == self._epoch:
                self._epoch += 1
                self.decreases += 1
                self._set_limit(self.limit * self.decrease)
        if self.ceiling is not None:
            self._release_slot()

    def on_cancel(self, tokens: int, *, sent: bool = False) -> None:
        """The attempt was cancelled before an answer: free its slot and its tokens.

        ``sent``: the request had gone out, so it still counts against requests/min.
        """
        now = self._clock()
        if self.rpm is not None and not sent:
            self.rpm.refund(1, now)
        if self.tpm is not None:
            self.tpm.refund(tokens, now)
        if self.ceiling is not None:
            self._release_slot()
