"""Prices: genai-prices for listed models (checked call by call), config overrides otherwise."""

from __future__ import annotations

import random

import genai_prices
import pytest
from genai_prices import Usage as GPUsage
from genai_prices import calc_price
from omegaconf import OmegaConf

from harness.cost.pricing import Pricer
from harness.llm.types import Usage


@pytest.fixture(scope="module")
def models():
    from harness.config.compose import compose_config

    cfg = compose_config([])
    return {k: OmegaConf.to_object(v) for k, v in cfg.portfolio.models.items()}


def test_prices_equal_genai_prices_for_random_usage(models) -> None:
    pricer = Pricer(models)
    rng = random.Random(7)
    checked = 0
    for key, m in models.items():
        if m.price is not None:
            continue
        for _ in range(50):
            inp = rng.randint(1, 300_000)  # crosses Gemini's 128k tier
            cached = rng.choice([None, 0, rng.randint(0, min(inp, 5000))])
            usage = Usage(
                input_tokens=inp, output_tokens=rng.randint(1, 8000), cached_input_tokens=cached
            )
            want = calc_price(
                GPUsage(
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cache_read_tokens=cached or None,
                ),
                model_ref=m.model_id,
                provider_id=m.provider,
            )
            got = pricer.price(key, usage)
            assert got.cost_usd == pytest.approx(float(want.total_price), rel=1e-12, abs=1e-12), key
            assert got.source == "genai-prices"
            assert got.version == genai_prices.__version__
            checked += 1
    assert checked >= 6 * 50


def test_seed_prices_match_the_seed_document(models) -> None:
    # Seed §5.1 list prices per 1M input / output tokens.
    pricer = Pricer(models)
    million = Usage(input_tokens=1_000_000, output_tokens=0)
    assert pricer.price("claude-3-5-sonnet", million).cost_usd == pytest.approx(3.0)
    assert pricer.price("gpt-4-turbo", million).cost_usd == pytest.approx(10.0)
    assert pricer.price("claude-3-opus", million).cost_usd == pytest.approx(15.0)


def test_config_override_and_missing_prices(models) -> None:
    pricer = Pricer(models)
    p = pricer.price("deepseek-coder", Usage(input_tokens=2_000_000, output_tokens=1_000_000))
    assert (p.source, p.version, p.cache_savings_usd) == ("config", "config", 0.0)
    assert p.cost_usd == pytest.approx(2 * 0.14 + 0.28)
    assert pricer.price("qwen-2-5-coder", Usage()).cost_usd is None  # no usage: no cost, not 0
    m = models["deepseek-coder"]
    unknown = {
        "x": type(m)(
            provider="openrouter",
            protocol="openai",
            model_id="no/such-model",
            api_base="http://localhost",
            price=None,
        )
    }
    p = Pricer(unknown).price("x", Usage(input_tokens=10, output_tokens=10))
    assert (p.cost_usd, p.source) == (None, "no price")


def _model(models, model_id: str, provider: str, price=None):
    return type(models["deepseek-coder"])(
        provider=provider,
        protocol="openai",
        model_id=model_id,
        api_base="http://localhost",
        price=price,
    )


def test_cache_reads_and_writes_priced_at_their_own_rates(models) -> None:
    # Anthropic bills cache writes above the input rate and reads below it; both
    # at genai-prices' own rates, and the savings against the uncached price.
    pricer = Pricer(models)
    m = models["claude-3-5-sonnet"]
    rng = random.Random(11)
    for _ in range(200):
        inp = rng.randint(1, 200_000)
        read = rng.randint(0, inp)
        write = rng.randint(0, inp - read)
        out = rng.randint(1, 4000)
        usage = Usage(input_tokens=inp, output_tokens=out, cached_input_tokens=read,
                      cache_write_tokens=write)  # fmt: skip
        want = calc_price(
            GPUsage(input_tokens=inp, output_tokens=out, cache_read_tokens=read or None,
                    cache_write_tokens=write or None),
            model_ref=m.model_id, provider_id=m.provider,
        )  # fmt: skip
        plain = calc_price(
            GPUsage(input_tokens=inp, output_tokens=out), model_ref=m.model_id,
            provider_id=m.provider,
        )  # fmt: skip
        got = pricer.price("claude-3-5-sonnet", usage)
        assert got.cost_usd == pytest.approx(float(want.total_price), rel=1e-12, abs=1e-12)
        assert got.cache_savings_usd == pytest.approx(
            float(plain.total_price - want.total_price), rel=1e-9, abs=1e-12
        )
    # Worked case: $3 in, $0.30 read, $3.75 write, $15 out per Mtok.
    got = pricer.price(
        "claude-3-5-sonnet",
        Usage(input_tokens=1000, output_tokens=100, cached_input_tokens=200,
              cache_write_tokens=300),
    )  # fmt: skip
    assert got.cost_usd == pytest.approx((500 * 3 + 200 * 0.3 + 300 * 3.75 + 100 * 15) / 1e6)
    assert got.cache_savings_usd == pytest.approx((200 * (3 - 0.3) - 300 * (3.75 - 3)) / 1e6)
    assert (
        pricer.price(
            "claude-3-5-sonnet", Usage(input_tokens=10, output_tokens=1, cached_input_tokens=11)
        ).cost_usd
        is None
    )  # more cached than sent: refused, not guessed


def test_prices_follow_the_request_time(models) -> None:
    # DeepSeek's off-peak discount is a time-of-day condition in genai-prices:
    # the same usage costs differently at 01:00 and 20:00 UTC.
    from datetime import UTC, datetime

    m = {"ds": _model(models, "deepseek-chat", "deepseek")}
    pricer = Pricer(m)
    usage = Usage(input_tokens=100_000, output_tokens=10_000)
    costs = []
    for hour in (1, 20, 1):
        when = datetime(2025, 3, 1, hour, tzinfo=UTC)
        want = calc_price(GPUsage(input_tokens=100_000, output_tokens=10_000),
                          model_ref="deepseek-chat", provider_id="deepseek",
                          genai_request_timestamp=when)  # fmt: skip
        got = pricer.price("ds", usage, when)
        assert got.cost_usd == pytest.approx(float(want.total_price), rel=1e-12)
        costs.append(got.cost_usd)
    assert costs[0] != costs[1] and costs[0] == costs[2]


def test_self_hosted_priced_from_gpu_hours(models) -> None:
    from harness.config.schema import PriceOverride
    from harness.errors import ConfigError

    gpu = PriceOverride(gpu_hour_usd=2.0, throughput_tok_s=1500.0)
    pricer = Pricer({"local": _model(models, "qwen", "vllm", gpu)})
    p = pricer.price("local", Usage(input_tokens=1_000_000, output_tokens=1_000_000))
    # $2/h over 1500 tok/s * 3600 s = 5.4 M tokens an hour: $0.37037 per Mtok, both ways.
    assert p.cost_usd == pytest.approx(2 * 2.0 / 5.4)
    assert (p.source, p.version) == ("gpu-hour", "config")
    prefill = PriceOverride(gpu_hour_usd=2.0, throughput_tok_s=1500.0, input_throughput_tok_s=15000)
    p = Pricer({"l": _model(models, "q", "vllm", prefill)}).price(
        "l", Usage(input_tokens=1_000_000, output_tokens=0)
    )
    assert p.cost_usd == pytest.approx(2.0 / 54)
    for bad in (
        PriceOverride(gpu_hour_usd=2.0),
        PriceOverride(gpu_hour_usd=2.0, throughput_tok_s=0.0),
        PriceOverride(gpu_hour_usd=2.0, throughput_tok_s=10.0, input_per_mtok=1.0),
    ):
        with pytest.raises(ConfigError, match=r"portfolio\.models\.bad\.price"):
            Pricer({"bad": _model(models, "q", "vllm", bad)})


def test_config_cache_write_rate_and_max_cost(models) -> None:
    from harness.config.schema import PriceOverride

    over = PriceOverride(input_per_mtok=1.0, output_per_mtok=4.0, cached_input_per_mtok=0.1,
                         cache_write_per_mtok=1.25)  # fmt: skip
    pricer = Pricer({"c": _model(models, "x", "custom", over)})
    p = pricer.price("c", Usage(input_tokens=1000, output_tokens=10, cached_input_tokens=500,
                                cache_write_tokens=400))  # fmt: skip
    assert p.cost_usd == pytest.approx((100 * 1.0 + 500 * 0.1 + 400 * 1.25 + 10 * 4.0) / 1e6)
    # Worst case: every input token at the dearer of input and cache-write rates.
    assert pricer.max_cost("c", 1000, 10) == pytest.approx((1000 * 1.25 + 10 * 4.0) / 1e6)
    full = Pricer(models)
    rng = random.Random(5)
    for key in models:
        for _ in range(30):
            inp, out = rng.randint(1, 300_000), rng.randint(1, 8000)
            bound = full.max_cost(key, inp, out)
            if bound is None:
                continue
            read = rng.randint(0, inp)
            write = rng.randint(0, inp - read)
            u = Usage(input_tokens=inp, output_tokens=out, cached_input_tokens=read,
                      cache_write_tokens=write)  # fmt: skip
            cost = full.price(key, u).cost_usd
            assert cost is not None and cost <= bound * (1 + 1e-12), key


def test_conditional_prices_equal_genai_prices_at_random_times(models) -> None:
    # Date- and time-conditional prices are picked per call and their flat rates
    # cached per price: check against calc_price at many request times.
    from datetime import UTC, datetime, timedelta

    m = {"ds": _model(models, "deepseek-chat", "deepseek"), "q": models["qwen-2-5-coder"]}
    pricer = Pricer(m)
    rng = random.Random(11)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    seen = set()
    for _ in range(300):
        key = rng.choice(["ds", "q"])
        when = start + timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60))
        usage = Usage(input_tokens=rng.randint(1, 50_000), output_tokens=rng.randint(1, 5000))
        want = calc_price(GPUsage(input_tokens=usage.input_tokens,
                                  output_tokens=usage.output_tokens),
                          model_ref=m[key].model_id, provider_id=m[key].provider,
                          genai_request_timestamp=when)  # fmt: skip
        got = pricer.price(key, usage, when)
        assert got.cost_usd == pytest.approx(float(want.total_price), rel=1e-12, abs=1e-15)
        seen.add((key, round(got.cost_usd / (usage.input_tokens + usage.output_tokens), 12)))
    assert len({k for k, _ in seen}) == 2
