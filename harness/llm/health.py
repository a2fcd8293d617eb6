"""Deployment health: a model that keeps failing cools down for a while.

A *failure* here is an HTTP attempt that ended in a retryable error kind —
rate limit, overload, server error, timeout, connection, cut stream,
malformed body — i.e. the deployment's fault, not the request's (bad
request, context length, refusal, auth and not-found never count). When a
model collects ``failures`` of them within ``window_s`` seconds it is
unavailable for ``cooldown_s``: routers skip it (through
``LLMClient.is_available``) and fallback chains pass over it. When the
cooldown ends its count starts from zero.

``failures = 0`` switches this off: every model is always available.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from harness.errors import ConfigError, LLMError

__all__ = ["HealthTracker", "counts_as_failure"]


def counts_as_failure(err: LLMError) -> bool:
    """Whether an attempt's error speaks against the deployment (a retryable kind)."""
    return bool(err.retryable)


class HealthTracker:
    """Failure counts per model in a sliding window, and the cooldowns they start.

    Args:
        failures: Failures within the window that start a cooldown (0: never).
        window_s: Length of the sliding window, seconds.
        cooldown_s: How long a model stays unavailable.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        failures: int = 0,
        window_s: float = 60.0,
        cooldown_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 0:
            raise ConfigError(f"reliability.cooldown_failures must be >= 0, got {failures}")
        if window_s <= 0:
            raise ConfigError(f"reliability.cooldown_window_s must be > 0, got {window_s}")
        if cooldown_s < 0:
            raise ConfigError(f"reliability.cooldown_s must be >= 0, got {cooldown_s}")
        self.failures = failures
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._recent: dict[str, deque[float]] = {}
        self._until: dict[str, float] = {}
        self.cooldowns = 0
        """Cooldowns started so far (all models)."""

    @property
    def enabled(self) -> bool:
        return self.failures > 0

    def record(self, model_key: str, err: LLMError) -> bool:
        """Count one failed attempt; True when it started a cooldown."""
        if not self.failures or not counts_as_failure(err):
            return False
        now = self._clock()
        if self._until.get(model_key, 0.0) > now:
            return False  # already cooling down
        recent = self._recent.setdefault(model_key, deque())
        recent.append(now)
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        if len(recent) < self.failures:
            return False
        recent.clear()
        self._until[model_key] = now + self.cooldown_s
        self.cooldowns += 1
        return True

    def is_available(self, model_key: str) -> bool:
        """False while ``model_key`` cools down."""
        if not self._until:
            return True
        until = self._until.get(model_key)
        if until is None:
            return True
        if until > self._clock():
            return False
        del self._until[model_key]
        return True

    def cooldown_left(self, model_key: str) -> float:
        """Seconds of cooldown left for ``model_key`` (0 when available)."""
        until = self._until.get(model_key)
        return max(0.0, until - self._clock()) if until is not None else 0.0
