"""Cooldowns: counting failures in a window, and the client skipping a cooling model."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from harness.config.schema import ReliabilityConfig
from harness.cost.pricing import Pricer
from harness.errors import (
    BadRequestError,
    ConfigError,
    ContextLengthError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
)
from harness.llm.client import CallContext, LLMClient
from harness.llm.health import HealthTracker
from harness.llm.retry import RetryPolicy
from harness.llm.types import ChatRequest, Message

QWEN = "qwen/qwen-2.5-coder-32b-instruct"
SONNET = "claude-3-5-sonnet-20241022"


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_n_failures_within_the_window_cool_a_model_down() -> None:
    clock = FakeClock()
    h = HealthTracker(3, window_s=10, cooldown_s=5, clock=clock)
    assert h.record("m", ServerError("x")) is False
    clock.t += 4
    assert h.record("m", ProviderTimeoutError("x")) is False
    assert h.is_available("m")
    clock.t += 4
    assert h.record("m", RateLimitError("x")) is True
    assert not h.is_available("m") and h.is_available("other")
    assert h.cooldown_left("m") == pytest.approx(5)
    assert h.record("m", ServerError("x")) is False, "no new cooldown while cooling"
    clock.t += 5
    assert h.is_available("m") and h.cooldown_left("m") == 0
    # the count started afresh after the cooldown
    assert h.record("m", ServerError("x")) is False
    assert h.cooldowns == 1


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = FakeClock()
    h = HealthTracker(2, window_s=10, cooldown_s=5, clock=clock)
    h.record("m", ServerError("x"))
    clock.t += 10.5
    assert h.record("m", ServerError("x")) is False
    assert h.is_available("m")


@pytest.mark.parametrize(
    "err", [BadRequestError("x"), ContextLengthError("x")], ids=["bad_request", "context"]
)
def test_the_requests_own_faults_never_count(err) -> None:
    h = HealthTracker(1, clock=FakeClock())
    assert h.record("m", err) is False and h.is_available("m")


def test_zero_failures_switches_cooldowns_off() -> None:
    h = HealthTracker(0)
    for _ in range(100):
        h.record("m", ServerError("x"))
    assert h.is_available("m") and not h.enabled


@pytest.mark.parametrize("kw", [{"failures": -1}, {"window_s": 0}, {"cooldown_s": -1}], ids=str)
def test_bad_settings_are_config_errors(kw) -> None:
    with pytest.raises(ConfigError, match=r"reliability\.cooldown"):
        HealthTracker(**kw)


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


def _client(models, sim, rows: list, **rel) -> LLMClient:
    return LLMClient(
        models=models,
        mode="sim",
        sim_url=sim.url,
        retry=RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.02, max_attempts=5),
        pricer=Pricer(models),
        sink=rows.append,
        reliability=ReliabilityConfig(**rel),
    )


def _req(model_id: str) -> ChatRequest:
    return ChatRequest(model=model_id, messages=(Message("user", "Say hi."),), max_tokens=32)


CTX = CallContext(run_id="r", trial_id="t")


async def test_a_cooling_model_is_skipped_and_reported_unavailable(models, sim) -> None:
    rows: list[dict] = []
    client = _client(
        models, sim, rows,
        cooldown_failures=2, cooldown_window_s=60, cooldown_s=60,
        fallbacks={"qwen-2-5-coder": ["claude-3-5-sonnet"]},
    )  # fmt: skip
    sim.reset()
    sim.queue_faults(QWEN, ["500"] * 5)
    first = await client.chat("qwen-2-5-coder", _req(QWEN), CTX)
    # two failures cooled Qwen down: the call moved on without spending its other retries
    assert first.model == "claude-3-5-sonnet" and first.error is None
    assert [r["portfolio_model"] for r in rows] == ["qwen-2-5-coder"] * 2 + ["claude-3-5-sonnet"]
    assert not client.is_available("qwen-2-5-coder")
    assert client.is_available("claude-3-5-sonnet")
    assert client.health.cooldown_left("qwen-2-5-coder") > 50
    # the next call goes straight to the fallback: no request reaches Qwen
    rows.clear()
    qwen_before = sim.stats()["by_model"].get(QWEN, {})
    assert sum(qwen_before.values()) == 2
    second = await client.chat("qwen-2-5-coder", _req(QWEN), CTX)
    await client.aclose()
    assert second.model == "claude-3-5-sonnet" and second.fallbacks == 1
    assert [(r["portfolio_model"], r["fallback_from"]) for r in rows] == [
        ("claude-3-5-sonnet", "qwen-2-5-coder")
    ]
    assert sim.stats()["by_model"].get(QWEN, {}) == qwen_before
    sim.reset()


async def test_a_cooling_model_without_an_available_fallback_is_still_tried(models, sim) -> None:
    rows: list[dict] = []
    client = _client(models, sim, rows, cooldown_failures=1, cooldown_s=60)
    sim.reset()
    sim.queue_faults(QWEN, ["500"])
    out = await client.chat("qwen-2-5-coder", _req(QWEN), CTX)
    # cooled after the first failure, but with nowhere to go it kept retrying
    assert out.error is None and out.model == "qwen-2-5-coder" and out.attempts == 2
    assert not client.is_available("qwen-2-5-coder")
    again = await client.chat("qwen-2-5-coder", _req(QWEN), CTX)
    await client.aclose()
    assert again.error is None and again.model == "qwen-2-5-coder"


async def test_defaults_never_cool_down(models, sim) -> None:
    rows: list[dict] = []
    client = _client(models, sim, rows)
    sim.queue_faults(QWEN, ["500"] * 4)
    out = await client.chat("qwen-2-5-coder", _req(QWEN), CTX)
    await client.aclose()
    assert out.error is None and out.attempts == 5
    assert client.is_available("qwen-2-5-coder")
