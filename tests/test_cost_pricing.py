"""Prices: genai-prices for listed models (checked call by call), config overrides otherwise."""

from __future__ import annotations

import random

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
            assert got.source.startswith("genai-prices ")
            checked += 1
    assert checked >= 6 * 50


def test_seed_prices_match_the_seed_document(models) -> None:
    # Seed §5.1 list prices per 1M input / output tokens.
    pricer = Pricer(models)
    million = Usage(input_tokens=1_000_000, output_tokens=0)
    assert pricer.price("claude-3.5-sonnet", million).cost_usd == pytest.approx(3.0)
    assert pricer.price("gpt-4-turbo", million).cost_usd == pytest.approx(10.0)
    assert pricer.price("claude-3-opus", million).cost_usd == pytest.approx(15.0)


def test_config_override_and_missing_prices(models) -> None:
    pricer = Pricer(models)
    p = pricer.price("deepseek-coder", Usage(input_tokens=2_000_000, output_tokens=1_000_000))
    assert p.source == "config"
    assert p.cost_usd == pytest.approx(2 * 0.14 + 0.28)
    assert pricer.price("qwen-2.5-coder", Usage()).cost_usd is None  # no usage: no cost, not 0
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
