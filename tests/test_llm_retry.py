"""RetryPolicy: exponential backoff with jitter, Retry-After honoured, bounded twice."""

from __future__ import annotations

import random

import pytest

from harness.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    LLMError,
    OverloadedError,
    RateLimitError,
    ServerError,
    StreamCutError,
)
from harness.llm.retry import RetryPolicy


def test_defaults_match_the_config_schema() -> None:
    from dataclasses import asdict

    from harness.config.schema import RetryConfig

    assert asdict(RetryPolicy()) == asdict(RetryConfig())


@pytest.mark.parametrize("err", [AuthenticationError("x"), BadRequestError("x"), LLMError("x")])
def test_final_errors_are_not_retried(err: LLMError) -> None:
    assert RetryPolicy().next_delay(1, err, 0.0) is None


def test_backoff_without_jitter_is_exponential_and_capped() -> None:
    p = RetryPolicy(max_attempts=10, initial_backoff_s=0.5, multiplier=2, max_backoff_s=3, jitter=0)
    delays = [p.next_delay(n, ServerError("x"), 0.0) for n in range(1, 10)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    assert p.next_delay(10, ServerError("x"), 0.0) is None  # attempt 10 of 10 was the last


def test_jitter_spreads_within_bounds_and_is_seedable() -> None:
    p = RetryPolicy(initial_backoff_s=1.0, multiplier=2, jitter=0.25, max_backoff_s=100)
    draws = [p.next_delay(2, StreamCutError("x"), 0.0, random.Random(i)) for i in range(400)]
    assert all(d is not None and 1.5 <= d <= 2.5 for d in draws)
    assert max(draws) - min(draws) > 0.5  # really spread, not constant
    again = [p.next_delay(2, StreamCutError("x"), 0.0, random.Random(i)) for i in range(400)]
    assert draws == again


def test_jittered_backoff_never_exceeds_the_cap() -> None:
    p = RetryPolicy(max_attempts=20, initial_backoff_s=1, max_backoff_s=5, jitter=0.5)
    rng = random.Random(1)
    assert all(p.next_delay(n, ServerError("x"), 0.0, rng) <= 5 for n in range(1, 20))


def test_retry_after_is_a_floor_even_above_the_backoff_cap() -> None:
    p = RetryPolicy(initial_backoff_s=0.5, max_backoff_s=2, jitter=0.25, max_total_s=300)
    rng = random.Random(0)
    for retry_after in (0.0, 0.1, 7.0, 45.0):
        err = RateLimitError("x", retry_after=retry_after)
        for _ in range(100):
            d = p.next_delay(1, err, 0.0, rng)
            assert d is not None and retry_after <= d <= retry_after * 1.25
    # an overloaded 529 with Retry-After too
    assert p.next_delay(1, OverloadedError("x", retry_after=3), 0.0, rng) >= 3


def test_total_time_budget() -> None:
    p = RetryPolicy(initial_backoff_s=1, jitter=0, max_total_s=10)
    assert p.next_delay(1, ServerError("x"), 8.5) == 1
    assert p.next_delay(1, ServerError("x"), 9.5) is None  # 9.5 + 1 > 10
    # a server asking for longer than the budget allows: give up now, do not wait in vain
    assert p.next_delay(1, RateLimitError("x", retry_after=60), 0.0) is None


def test_max_attempts_one_means_never_retry() -> None:
    assert RetryPolicy(max_attempts=1).next_delay(1, ServerError("x"), 0.0) is None


@pytest.mark.parametrize(
    "kw",
    [
        {"max_attempts": 0},
        {"jitter": 1.0},
        {"jitter": -0.1},
        {"multiplier": 0.5},
        {"initial_backoff_s": -1},
    ],
)
def test_invalid_policy_is_a_config_error(kw: dict) -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(**kw)
