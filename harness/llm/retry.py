"""When to try a failed call again, and after how long.

The policy is pure: the client's retry loop asks :meth:`RetryPolicy.next_delay`
after each failed attempt and sleeps for the answer, or gives up on ``None``.
Providers decide *whether* an error is retryable (``LLMError.retryable``) and
what the server asked for (``retry_after``); the policy decides *when*.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.errors import ConfigError, LLMError

__all__ = ["RetryPolicy"]

_DEFAULT_RNG = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring Retry-After, bounded twice.

    Attempt ``n`` (1-based: the first call is attempt 1) that failed is
    followed by a wait of ``initial_backoff_s * multiplier ** (n - 1)``, spread
    by ``± jitter`` (a fraction) and capped at ``max_backoff_s`` — unless the
    server sent Retry-After, in which case the wait is at least what it asked
    (plus up to ``jitter`` of it, so clients told the same instant do not return
    together). A call stops after ``max_attempts`` attempts, or when the next
    wait would end past ``max_total_s`` since its first attempt started.
    """

    max_attempts: int = 5
    """Attempts in total, the first one included (1 = never retry)."""
    initial_backoff_s: float = 0.5
    """Wait after the first failed attempt, before jitter."""
    max_backoff_s: float = 30.0
    """Cap on a computed backoff (a server's Retry-After may exceed it)."""
    multiplier: float = 2.0
    """Growth of the backoff per attempt."""
    jitter: float = 0.25
    """Relative spread of each wait, in [0, 1)."""
    max_total_s: float = 300.0
    """No retry may start later than this after the call's first attempt."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"retry.max_attempts must be >= 1, got {self.max_attempts}")
        if self.initial_backoff_s < 0 or self.max_backoff_s < 0:
            raise ConfigError("retry.initial_backoff_s and retry.max_backoff_s must be >= 0")
        if self.multiplier < 1:
            raise ConfigError(f"retry.multiplier must be >= 1, got {self.multiplier}")
        if not 0 <= self.jitter < 1:
            raise ConfigError(f"retry.jitter must be in [0, 1), got {self.jitter}")
        if self.max_total_s < 0:
            raise ConfigError(f"retry.max_total_s must be >= 0, got {self.max_total_s}")

    def backoff(self, attempt: int) -> float:
        """The un-jittered, capped wait after failed attempt ``attempt``."""
        # Cap the exponent's input so a large attempt cannot overflow a float.
        exponent = min(max(attempt - 1, 0), 64)
        return min(self.max_backoff_s, self.initial_backoff_s * self.multiplier**exponent)

    def next_delay(
        self,
        attempt: int,
        error: LLMError,
        elapsed_s: float,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up.

        Args:
            attempt: The 1-based number of the attempt that just failed.
            error: Its classified error (``retryable``, ``retry_after``).
            elapsed_s: Seconds since the call's first attempt started.
            rng: Source of jitter (seed it for reproducible schedules).

        Returns:
            The wait in seconds, or None when the error is final, the attempts
            are used up, or the wait would end past ``max_total_s``.
        """
        if not error.retryable or attempt >= self.max_attempts:
            return None
        r = rng or _DEFAULT_RNG
        retry_after = error.retry_after
        if retry_after is not None and retry_after >= 0:
            # Never earlier than asked: jitter only ever adds.
            delay = retry_after * (1.0 + r.uniform(0.0, self.jitter))
        else:
            base = self.backoff(attempt)
            delay = min(self.max_backoff_s, base * (1.0 + r.uniform(-self.jitter, self.jitter)))
        if elapsed_s + delay > self.max_total_s:
            return None
        return delay
