"""Rate limits: bucket maths, AIMD decrease and recovery, rate headers, a 429 storm over HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from omegaconf import OmegaConf

from harness.config.schema import AIMDConfig, ReliabilityConfig
from harness.cost.pricing import Pricer
from harness.errors import ConfigError, RateLimitError
from harness.llm.client import CallContext, LLMClient
from harness.llm.ratelimit import (
    ModelLimiter,
    RateLimitInfo,
    TokenBucket,
    estimate_tokens,
    parse_duration,
    parse_rate_headers,
)
from harness.llm.retry import RetryPolicy
from harness.llm.types import ChatRequest, Message

QWEN = "qwen/qwen-2.5-coder-32b-instruct"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# -- token bucket ---------------------------------------------------------------------


def test_bucket_starts_full_then_charges_debt_at_its_rate() -> None:
    b = TokenBucket(60, now=0.0)  # 1 per second, burst 60
    assert b.reserve(60, 0.0) == 0.0
    assert b.reserve(1, 0.0) == pytest.approx(1.0)  # one in debt: wait 1 s
    assert b.reserve(2, 0.0) == pytest.approx(3.0)  # queued behind it
    # 3 s later the debt is repaid and nothing is left
    assert b.reserve(0, 3.0) == 0.0 and b.level == pytest.approx(0.0)
    assert b.reserve(0, 1e6) == 0.0 and b.level == 60  # refills only to capacity


def test_bucket_refund_and_clamp() -> None:
    b = TokenBucket(6000, now=0.0)  # 100 tokens/s
    b.reserve(5000, 0.0)
    b.refund(1000, 0.0)  # usage was 1000 below the estimate
    assert b.level == pytest.approx(2000)
    b.refund(-3000, 0.0)  # usage above the estimate takes more
    assert b.reserve(0, 0.0) == pytest.approx(10.0)  # 1000 in debt at 100/s
    b.clamp(50, 20.0)  # the provider says 50 left
    assert b.level == 50
    with pytest.raises(ValueError):
        TokenBucket(0, now=0.0)


def test_a_request_larger_than_the_allowance_waits_in_proportion() -> None:
    b = TokenBucket(600, now=0.0)  # 10/s
    assert b.reserve(1200, 0.0) == pytest.approx(60.0)  # not forever


def test_estimate_tokens() -> None:
    assert estimate_tokens(400, 64) == 164
    assert estimate_tokens(3, 0) == 0


async def test_rpm_makes_requests_past_the_burst_wait() -> None:
    lim = ModelLimiter(rpm=1200)  # 20/s after a burst of 1200
    for _ in range(1200):
        await lim.acquire(0)
    t0 = time.monotonic()
    for _ in range(4):
        await lim.acquire(0)
    assert time.monotonic() - t0 == pytest.approx(0.2, abs=0.08)


# -- headers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5", 0.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", [None, "", "soon", "1x", "s1", "1s junk"])
def test_parse_duration_rejects(text: str | None) -> None:
    assert parse_duration(text) is None


def test_openai_rate_headers() -> None:
    # The example response headers of OpenAI's guide "Rate limits" (section
    # "Rate limits in headers", platform.openai.com/docs/guides/rate-limits).
    headers = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-limit-tokens": "150000",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-remaining-tokens": "149984",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    info = parse_rate_headers(headers)
    assert info == RateLimitInfo(59, 149984, 1.0, 360.0, None)
    assert info.pause_s() is None  # nothing used up


def test_anthropic_rate_headers_take_the_tightest_allowance() -> None:
    # Header names of Anthropic's "Rate limits" page (docs.anthropic.com,
    # "Response headers"): resets are RFC 3339 times.
    now = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2024-06-01T12:00:07Z",
        "anthropic-ratelimit-tokens-remaining": "9000",
        "anthropic-ratelimit-tokens-reset": "2024-06-01T12:00:02Z",
        "anthropic-ratelimit-input-tokens-remaining": "4000",
        "anthropic-ratelimit-input-tokens-reset": "2024-06-01T12:00:03Z",
        "anthropic-ratelimit-output-tokens-remaining": "8000",
        "anthropic-ratelimit-output-tokens-reset": "2024-06-01T12:00:01Z",
        "retry-after": "4",
    }
    info = parse_rate_headers(headers, now)
    assert info.remaining_requests == 0 and info.reset_requests_s == pytest.approx(7.0)
    assert info.remaining_tokens == 4000 and info.reset_tokens_s == pytest.approx(3.0)
    assert info.retry_after_s == 4.0
    assert info.pause_s() == pytest.approx(7.0)  # requests used up until their reset


def test_retry_after_ms_wins_over_retry_after() -> None:
    info = parse_rate_headers({"retry-after-ms": "250", "retry-after": "3"})
    assert info.retry_after_s == pytest.approx(0.25)


async def test_used_up_allowance_pauses_the_model() -> None:
    clock = FakeClock()
    lim = ModelLimiter(rpm=100, max_concurrency=4, clock=clock)
    epoch = await lim.acquire(0)
    lim.on_success(epoch, 0, None, RateLimitInfo(remaining_requests=0, reset_requests_s=5.0))
    assert lim.paused_until == pytest.approx(clock.t + 5.0)
    assert lim.rpm is not None and lim.rpm.level == 0  # clamped to what the provider said


# -- AIMD ---------------------------------------------------------------------------------


async def test_aimd_halves_once_per_window_and_recovers_additively() -> None:
    lim = ModelLimiter(max_concurrency=8, increase=1.0, decrease=0.5)
    epochs = [await lim.acquire(0) for _ in range(8)]
    assert lim.in_flight == 8 and lim.limit == 8
    # eight calls sent together all get 429: the limit halves once, not eight times
    for e in epochs:
        lim.on_error(e, 0, congestion=True)
    assert lim.limit == 4 and lim.decreases == 1 and lim.in_flight == 0
    # the next window's 429 halves again, down to the floor of 1 at most
    for _ in range(5):
        e = await lim.acquire(0)
        lim.on_error(e, 0, congestion=True)
    assert lim.limit == 1 and lim.min_limit == 1
    # non-congestion errors do not shrink it
    e = await lim.acquire(0)
    lim.on_error(e, 0, congestion=False)
    assert lim.limit == 1
    # each success adds 1/limit: back at the ceiling after ~ (8² − 1²)/2 successes
    successes = 0
    while lim.limit < 8:
        e = await lim.acquire(0)
        lim.on_success(e, 0, None)
        successes += 1
        assert successes < 100
    assert lim.limit == 8 and 25 <= successes <= 40
    e = await lim.acquire(0)
    lim.on_success(e, 0, None)
    assert lim.limit == 8, "never above the ceiling"


async def test_slots_queue_in_order_and_a_cancelled_waiter_leaks_nothing() -> None:
    lim = ModelLimiter(max_concurrency=2)
    await lim.acquire(0)
    await lim.acquire(0)
    order: list[int] = []

    async def take(i: int) -> None:
        await lim.acquire(0)
        order.append(i)

    waiters = [asyncio.create_task(take(i)) for i in range(3)]
    await asyncio.sleep(0.01)
    assert order == [] and lim.in_flight == 2
    waiters[0].cancel()
    await asyncio.sleep(0)
    lim.on_success(0, 0, None)  # one slot frees: waiter 1 (0 was cancelled)
    await asyncio.sleep(0.01)
    assert order == [1] and lim.in_flight == 2
    lim.on_success(0, 0, None)
    await asyncio.sleep(0.01)
    assert order == [1, 2] and lim.in_flight == 2
    lim.on_success(0, 0, None)
    lim.on_success(0, 0, None)
    assert lim.in_flight == 0


async def test_retry_after_pauses_every_call_to_the_model() -> None:
    lim = ModelLimiter(max_concurrency=4)
    e = await lim.acquire(0)
    lim.on_error(e, 0, congestion=True, retry_after=0.2)
    t0 = time.monotonic()
    await lim.acquire(0)
    assert time.monotonic() - t0 >= 0.19


def test_bad_aimd_settings_are_config_errors(compose) -> None:
    models = {k: OmegaConf.to_object(v) for k, v in compose([]).portfolio.models.items()}
    rel = ReliabilityConfig(aimd=AIMDConfig(decrease=1.5))
    with pytest.raises(ConfigError, match=r"reliability\.aimd"):
        LLMClient(
            models=models, mode="live", retry=RetryPolicy(), pricer=Pricer(models),
            reliability=rel,
        )  # fmt: skip


# -- over HTTP ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models():
    from harness.config.compose import compose_config

    cfg = compose_config([])
    return {k: OmegaConf.to_object(v) for k, v in cfg.portfolio.models.items()}


@pytest.fixture(scope="module")
def sim():
    from harness.sim.process import SimProcess
    from harness.sim.settings import load_default_settings

    with SimProcess(load_default_settings()) as proc:
        yield proc


def _req(stream: bool = False) -> ChatRequest:
    return ChatRequest(
        model=QWEN, messages=(Message("user", "Write hello world in Python."),), max_tokens=64,
        stream=stream,
    )  # fmt: skip


async def test_adapter_keeps_the_rate_headers_of_a_429(models, sim) -> None:
    client = LLMClient(
        models=models, mode="sim", sim_url=sim.url, retry=RetryPolicy(max_attempts=1),
        pricer=Pricer(models),
    )  # fmt: skip
    sim.queue_faults(QWEN, ["429:0.3"])
    adapter = client.adapter("qwen-2-5-coder")
    with pytest.raises(RateLimitError) as info:
        await adapter.chat(_req())
    ok = await adapter.chat(_req())
    await client.aclose()
    assert info.value.rate_headers == {"retry-after": "0.3"}
    assert ok.rate_headers is None  # the simulator sends no x-ratelimit-* on success


async def test_a_429_storm_shrinks_concurrency_and_every_call_completes(models, sim) -> None:
    rows: list[dict] = []
    rel = ReliabilityConfig(aimd=AIMDConfig(max_concurrency=8))
    client = LLMClient(
        models=models,
        mode="sim",
        sim_url=sim.url,
        retry=RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.05, max_attempts=8),
        pricer=Pricer(models),
        sink=rows.append,
        reliability=rel,
    )
    lim = client.limiter("qwen-2-5-coder")
    assert lim is not None and lim.limit == 8
    sim.reset()
    sim.queue_faults(QWEN, ["429:0.05"] * 12)
    calls = 16
    outs = await asyncio.gather(
        *(
            client.chat(
                "qwen-2-5-coder", _req(stream=True), CallContext(run_id="r", trial_id=f"t{i}")
            )
            for i in range(calls)
        )
    )
    await client.aclose()
    assert all(o.response is not None and o.error is None for o in outs)
    errors = [r for r in rows if r["status"] == "error"]
    assert len(errors) == 12 and {r["error_kind"] for r in errors} == {"rate_limit"}
    assert len(rows) == calls + 12
    assert lim.decreases >= 1 and lim.min_limit <= 4, "429s cut the concurrency"
    assert lim.min_limit >= 1 and lim.in_flight == 0
    assert lim.limit > lim.min_limit, "successes let it recover"
    assert sim.stats()["max_in_flight"] <= 8
