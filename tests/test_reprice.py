"""Stored costs of a real simulated run equal genai-prices for the stored usage."""

from __future__ import annotations

import genai_prices
import pandas as pd
import pytest
from genai_prices import Usage as GPUsage
from genai_prices import calc_price

from harness.cost.reprice import reprice, run_pricer
from harness.runner import run_experiment


def _count(v) -> int | None:
    return None if pd.isna(v) or int(v) == 0 else int(v)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from harness.config.compose import compose_config

    tmp = tmp_path_factory.mktemp("reprice")
    cfg = compose_config(
        [
            # Every seed model as a fixed arm (genai-prices: OpenAI, Anthropic, Google
            # tiers, OpenRouter; config: DeepSeek) plus the router arms.
            "experiment=routers_vs_fixed",
            "endpoints=sim",
            "tasks.limit=4",
            "replicates=1",
            "verifier.enabled=false",
            "runner.progress=false",
            "runner.report=false",
            "sim.time_scale=0.002",
            f"results_dir={tmp}",
        ]
    )
    # Cache reads and writes: Anthropic breakpoints on the shared system prompt,
    # OpenAI's automatic prefix cache and a share reported cached. (Keys with a
    # dot cannot be named in a Hydra override.)
    cfg.portfolio.models["claude-3-5-sonnet"].prompt_cache = True
    cfg.sim.profiles["claude-3-5-sonnet"].cache_min_tokens = 10
    cfg.sim.profiles["gpt-4o"].cache_min_tokens = 10
    cfg.sim.profiles["gpt-4o"].cached_share = 0.5
    d = tmp / "run"
    summary = run_experiment(cfg, run_dir=d)
    assert summary.status == "completed"
    return d


def test_stored_costs_equal_genai_prices_for_the_stored_usage(run_dir) -> None:
    df = reprice(run_dir, run_pricer(run_dir))
    assert len(df) == 13 * 4  # 13 arms x 4 tasks, every call reported usage
    gp = df[df["stored_price_source"] == "genai-prices"]
    assert {"claude-3-5-sonnet", "gpt-4o", "gemini-1-5-pro", "qwen-2-5-coder"} <= set(
        gp["portfolio_model"]
    )
    assert (gp["stored_price_version"] == genai_prices.__version__).all()
    # Caching really happened, both ways, so its rates were exercised.
    assert (gp["cached_input_tokens"].fillna(0) > 0).sum() >= 4
    assert (gp["cache_write_tokens"].fillna(0) > 0).any()
    models = run_pricer(run_dir).models
    for row in gp.itertuples(index=False):
        m = models[row.portfolio_model]
        want = calc_price(
            GPUsage(
                input_tokens=int(row.input_tokens),
                output_tokens=int(row.output_tokens),
                cache_read_tokens=_count(row.cached_input_tokens),
                cache_write_tokens=_count(row.cache_write_tokens),
            ),
            model_ref=m.model_id,
            provider_id=m.provider,
            genai_request_timestamp=pd.Timestamp(row.started_at).to_pydatetime(),
        )
        assert row.stored_cost_usd == pytest.approx(float(want.total_price), rel=1e-12, abs=1e-15)
    # Re-pricing reproduces every stored figure, overrides included.
    assert df["diff_usd"].abs().max() < 1e-12
    assert (df["price_source"] == df["stored_price_source"]).all()
    assert (df["price_version"] == df["stored_price_version"]).all()
    assert (df["cache_savings_usd"] - df["stored_cache_savings_usd"]).abs().max() < 1e-12
    ds = df[df["portfolio_model"] == "deepseek-coder"]
    assert (ds["stored_price_source"] == "config").all() and len(ds) >= 4


def test_reprice_at_another_time_and_with_another_portfolio(run_dir) -> None:
    from datetime import UTC, datetime

    pricer = run_pricer(run_dir)
    later = reprice(run_dir, pricer, when=datetime(2025, 1, 1, tzinfo=UTC))
    assert later["cost_usd"].notna().all()  # these models have one price over time
    only = type(pricer)({"gpt-4o": pricer.models["gpt-4o"]})
    part = reprice(run_dir, only)
    assert (part.loc[part["portfolio_model"] != "gpt-4o", "price_source"] == "unknown model").all()
    assert part.loc[part["portfolio_model"] != "gpt-4o", "cost_usd"].isna().all()
