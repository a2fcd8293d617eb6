"""One real call per wire protocol against the live APIs (paid; skipped by default).

HARNESS_RUN_PAID=1 ANTHROPIC_API_KEY=... OPENROUTER_API_KEY=... pytest -q tests/test_live_paid.py
"""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from harness.cost.pricing import Pricer
from harness.llm.client import CallContext, LLMClient
from harness.llm.retry import RetryPolicy
from harness.llm.types import ChatRequest, Message

pytestmark = pytest.mark.paid


@pytest.mark.parametrize("key", ["claude-3-5-sonnet", "qwen-2-5-coder"])
@pytest.mark.parametrize("stream", [False, True])
async def test_one_live_call(key: str, stream: bool) -> None:
    from harness.config.compose import compose_config

    cfg = compose_config([])
    models = {k: OmegaConf.to_object(v) for k, v in cfg.portfolio.models.items()}
    rows: list[dict] = []
    client = LLMClient(
        models=models,
        mode="live",
        retry=RetryPolicy(max_attempts=3),
        pricer=Pricer(models),
        sink=rows.append,
    )
    client.prepare([key])
    req = ChatRequest(
        model=models[key].model_id,
        messages=(Message("user", "Reply with the single word: ok"),),
        max_tokens=8,
        stream=stream,
    )
    out = await client.chat(key, req, CallContext(run_id="live-smoke"))
    await client.aclose()
    assert out.response is not None, out.error
    assert out.response.usage.input_tokens and out.response.usage.output_tokens
    assert out.cost_usd is not None and out.cost_usd > 0
    assert rows[-1]["status"] == "ok"
