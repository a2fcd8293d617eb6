"""The client's call gate: reserve before a hop, settle after it, refuse without sending."""

from __future__ import annotations

import asyncio

import pytest
from omegaconf import OmegaConf

from harness.config.schema import ReliabilityConfig
from harness.cost.pricing import Pricer
from harness.errors import BudgetExceededError, BudgetRefusedError
from harness.llm.client import CallContext, LLMClient
from harness.llm.gate import CallGate, Reservation
from harness.llm.retry import RetryPolicy
from harness.llm.types import ChatRequest, Message

QWEN = "qwen/qwen-2.5-coder-32b-instruct"
SONNET = "claude-3-5-sonnet-20241022"


class CountingGate:
    """Admits ``allow`` reservations of ``amount`` USD each, then refuses; records settles."""

    def __init__(self, allow: int, amount: float = 0.5) -> None:
        self.allow = allow
        self.amount = amount
        self.reserved: list[tuple[str, str]] = []
        self.settled: list[tuple[Reservation, float | None]] = []

    def reserve(self, model_key: str, req: ChatRequest) -> Reservation:
        if len(self.reserved) >= self.allow:
            raise BudgetExceededError(f"budget of {self.allow} calls used up")
        self.reserved.append((model_key, req.model))
        return Reservation(model_key, self.amount)

    def settle(self, reservation: Reservation, cost_usd: float | None) -> None:
        self.settled.append((reservation, cost_usd))


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


def _client(models, sim, rows: list, gate: CallGate, **rel) -> LLMClient:
    return LLMClient(
        models=models,
        mode="sim",
        sim_url=sim.url,
        retry=RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.02, max_attempts=3),
        pricer=Pricer(models),
        sink=rows.append,
        reliability=ReliabilityConfig(**rel),
        gate=gate,
    )


def _req(model_id: str = QWEN, stream: bool = False) -> ChatRequest:
    return ChatRequest(
        model=model_id, messages=(Message("user", "Say hi."),), max_tokens=32, stream=stream
    )


CTX = CallContext(run_id="r", trial_id="t")


async def test_refused_after_n_reservations_and_nothing_is_sent(models, sim) -> None:
    rows: list[dict] = []
    gate = CountingGate(allow=2, amount=0.25)
    client = _client(models, sim, rows, gate)
    outs = [await client.chat("qwen-2-5-coder", _req(), CTX) for _ in range(2)]
    before = sim.stats()["total"]
    refused = await client.chat("qwen-2-5-coder", _req(), CTX)
    await client.aclose()
    assert all(o.error is None and not o.budget_refused for o in outs)
    assert refused.budget_refused and refused.response is None and refused.attempts == 0
    assert isinstance(refused.error, BudgetRefusedError)
    assert refused.error.kind == "budget_refused" and not refused.error.retryable
    assert isinstance(refused.error.__cause__, BudgetExceededError)
    assert sim.stats()["total"] == before, "a refused hop sends nothing"
    assert len(rows) == 2, "and logs no calls row"
    assert [r["reserved_usd"] for r in rows] == [0.25, 0.25]
    # each settle carries the actual cost of its hop
    assert [cost for _, cost in gate.settled] == pytest.approx([r["cost_usd"] for r in rows])
    assert all(cost > 0 for _, cost in gate.settled)


async def test_one_reservation_covers_a_hops_retries(models, sim) -> None:
    rows: list[dict] = []
    gate = CountingGate(allow=10)
    client = _client(models, sim, rows, gate)
    sim.queue_faults(QWEN, ["500", "429:0.01"])
    out = await client.chat("qwen-2-5-coder", _req(stream=True), CTX)
    await client.aclose()
    assert out.error is None and out.attempts == 3
    assert len(gate.reserved) == 1 and len(gate.settled) == 1
    assert [r["reserved_usd"] for r in rows] == [0.5] * 3
    (reservation, cost) = gate.settled[0]
    assert reservation.model_key == "qwen-2-5-coder"
    assert cost == pytest.approx(rows[-1]["cost_usd"]) and cost == pytest.approx(out.cost_usd)


async def test_each_fallback_hop_reserves_and_settles(models, sim) -> None:
    rows: list[dict] = []
    gate = CountingGate(allow=10)
    client = _client(models, sim, rows, gate, fallbacks={"qwen-2-5-coder": ["claude-3-5-sonnet"]})
    sim.queue_faults(QWEN, ["500"] * 3)
    out = await client.chat("qwen-2-5-coder", _req(), CTX)
    await client.aclose()
    assert out.model == "claude-3-5-sonnet" and out.error is None
    assert gate.reserved == [("qwen-2-5-coder", QWEN), ("claude-3-5-sonnet", SONNET)]
    # the failed hop cost nothing; the second costs what its row says
    assert [cost for _, cost in gate.settled] == pytest.approx([0.0, rows[-1]["cost_usd"]])


async def test_a_refused_fallback_hop_ends_the_call(models, sim) -> None:
    rows: list[dict] = []
    gate = CountingGate(allow=1)
    client = _client(models, sim, rows, gate, fallbacks={"qwen-2-5-coder": ["claude-3-5-sonnet"]})
    sim.queue_faults(QWEN, ["500"] * 3)
    out = await client.chat("qwen-2-5-coder", _req(), CTX)
    await client.aclose()
    assert out.budget_refused and isinstance(out.error, BudgetRefusedError)
    assert out.model == "claude-3-5-sonnet" and out.fallbacks == 1 and out.attempts == 3
    assert {r["portfolio_model"] for r in rows} == {"qwen-2-5-coder"}
    assert len(gate.settled) == 1


async def test_cancelled_mid_request_settles_with_unknown_cost(models, sim) -> None:
    rows: list[dict] = []
    gate = CountingGate(allow=10)
    client = _client(models, sim, rows, gate)
    sim.queue_faults(QWEN, ["hang:3"])
    task = asyncio.create_task(client.chat("qwen-2-5-coder", _req(), CTX))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.aclose()
    # the provider may bill a request it received: the hold is kept (None), not released
    assert [cost for _, cost in gate.settled] == [None]
    lim = client.limiter("qwen-2-5-coder")
    assert lim is None or lim.in_flight == 0
