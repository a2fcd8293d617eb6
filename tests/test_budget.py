"""Budget: reservation maths, refusals, settling, alerts, waiting, prior spend from DuckDB."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from harness.config.schema import ModelConfig, PriceOverride
from harness.cost.budget import (
    MESSAGE_OVERHEAD_TOKENS,
    Budget,
    BudgetCapError,
    PriorSpend,
    estimate_input_bytes,
    read_prior_spend,
    track_trial,
)
from harness.cost.pricing import Pricer
from harness.errors import BudgetExceededError, ConfigError
from harness.llm.types import ChatRequest, Message

# $1 in, $4 out, $1.25 cache write per Mtok: worst case prices input at $1.25.
PRICE = PriceOverride(input_per_mtok=1.0, output_per_mtok=4.0, cache_write_per_mtok=1.25)


def _pricer() -> Pricer:
    m = ModelConfig(provider="x", protocol="openai", model_id="m", api_base="http://h", price=PRICE)
    return Pricer({"m": m})


def _req(chars: int = 1000, max_tokens: int = 1000) -> ChatRequest:
    return ChatRequest(
        model="m", messages=(Message("system", "s" * 10), Message("user", "é" * (chars // 2))),
        max_tokens=max_tokens,
    )  # fmt: skip


def _worst(req: ChatRequest) -> float:
    tokens = estimate_input_bytes(req) + 1 + MESSAGE_OVERHEAD_TOKENS * (len(req.messages) + 1)
    return (tokens * 1.25 + req.max_tokens * 4.0) / 1e6


def test_reservation_is_the_list_price_worst_case() -> None:
    req = _req(1000, 1000)
    assert estimate_input_bytes(req) == 10 + 1000  # "é" is two UTF-8 bytes
    b = Budget(_pricer(), run_usd=1.0)
    r = b.reserve("m", req)
    # (1010 + 1 + 8 * 3) tokens * $1.25 + 1000 * $4, per million
    assert r.amount_usd == pytest.approx((1035 * 1.25 + 4000) / 1e6)
    assert b.held_usd == pytest.approx(r.amount_usd)
    b.settle(r, 0.001)
    assert (b.held_usd, b.spent_usd) == (0.0, pytest.approx(0.001))
    # chars_per_token halves the input part of the hold
    half = Budget(_pricer(), run_usd=1.0, chars_per_token=2.0).worst_case("m", req)
    assert half == pytest.approx(((505 + 1 + 24) * 1.25 + 4000) / 1e6)


def test_no_cap_holds_nothing() -> None:
    b = Budget(_pricer())
    r = b.reserve("m", _req())
    assert r.amount_usd == 0.0 and not b.enabled
    b.settle(r, 5.0)


def test_holds_refuse_then_settling_makes_room() -> None:
    req = _req()
    w = _worst(req)
    b = Budget(_pricer(), run_usd=2.5 * w)  # two worst cases fit, not three
    r1, r2 = b.reserve("m", req), b.reserve("m", req)
    with pytest.raises(BudgetCapError) as exc:
        b.reserve("m", req)
    assert not exc.value.final and exc.value.scope == "run"
    assert isinstance(exc.value, BudgetExceededError)
    assert "run cap" in str(exc.value)
    b.settle(r1, 0.1 * w)  # the actual cost was far below the hold
    r3 = b.reserve("m", req)
    assert b.held_usd == pytest.approx(2 * w)
    b.settle(r2, w)
    b.settle(r3, w)
    # spent 2.1 w: another worst case (3.1 w > 2.5 w) can never fit -> final, sticky
    with pytest.raises(BudgetCapError) as exc:
        b.reserve("m", req)
    assert exc.value.final and b.exhausted is not None
    with pytest.raises(BudgetCapError):
        b.reserve("m", _req(10, 1))  # even a tiny call: at the cap no new calls
    assert b.spent_usd <= 2.5 * w


def test_unknown_cost_keeps_the_hold() -> None:
    req = _req()
    b = Budget(_pricer(), run_usd=1.0)
    r = b.reserve("m", req)
    b.settle(r, None)  # e.g. cancelled mid-request: the provider may bill it
    assert b.held_usd == 0.0 and b.spent_usd == pytest.approx(_worst(req))


def test_every_scope_is_checked_with_its_prior_spend() -> None:
    req = _req()
    w = _worst(req)
    prior = PriorSpend(run=0.0, day=1.0 - 1.5 * w, month=0.2)
    b = Budget(_pricer(), run_usd=10.0, daily_usd=1.0, monthly_usd=100.0, prior=prior)
    b.reserve("m", req)
    with pytest.raises(BudgetCapError) as exc:
        b.reserve("m", req)
    assert exc.value.scope == "day" and not exc.value.final
    assert set(b.remaining()) == {"run", "day", "month"}
    assert b.remaining()["month"] == pytest.approx(100.0 - 0.2 - w)


def test_a_new_utc_day_starts_from_zero() -> None:
    now = [datetime(2026, 5, 31, 23, 59, tzinfo=UTC)]
    req = _req()
    w = _worst(req)
    prior = PriorSpend(day=1.0, month=1.0, at=now[0])
    b = Budget(_pricer(), daily_usd=1.0, monthly_usd=5.0, prior=prior, clock=lambda: now[0])
    with pytest.raises(BudgetCapError) as exc:
        b.reserve("m", req)
    assert exc.value.final
    # The exhausted flag is sticky for this process; a fresh budget the next day has room.
    now[0] += timedelta(minutes=2)  # 1 June: new day and new month
    b2 = Budget(_pricer(), daily_usd=1.0, monthly_usd=5.0, prior=prior, clock=lambda: now[0])
    r = b2.reserve("m", req)
    assert r.amount_usd == pytest.approx(w)
    assert b2.remaining()["day"] == pytest.approx(1.0 - w)


def test_alerts_fire_once_each(caplog: pytest.LogCaptureFixture) -> None:
    req = _req()
    seen: list[str] = []
    b = Budget(_pricer(), run_usd=1.0, on_alert=seen.append)
    caplog.set_level(logging.WARNING, logger="harness.cost.budget")
    for cost in (0.3, 0.25, 0.01, 0.3):  # 0.3, 0.55 (50 %), 0.56, 0.86 (80 %)
        b.settle(b.reserve("m", req), cost)
    assert b.alerts_fired == [("run", 0.5), ("run", 0.8)]
    b.settle(b.reserve("m", req), 0.137)  # 0.997: a worst case ($0.0053) no longer fits
    with pytest.raises(BudgetCapError):
        b.reserve("m", req)  # final: the 100 % alert
    with pytest.raises(BudgetCapError):
        b.reserve("m", req)
    assert b.alerts_fired == [("run", 0.5), ("run", 0.8), ("run", 1.0)]
    assert seen == ["budget run 50%", "budget run 80%", "budget run 100%"]
    msgs = [r.getMessage() for r in caplog.records if r.name == "harness.cost.budget"]
    assert len(msgs) == 3 and "80%" in msgs[1] and "$1.00 cap" in msgs[1]


def test_prior_spend_over_a_threshold_alerts_at_start() -> None:
    b = Budget(_pricer(), daily_usd=10.0, prior=PriorSpend(day=8.5))
    assert b.alerts_fired == [("day", 0.5), ("day", 0.8)]


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="run_usd"):
        Budget(_pricer(), run_usd=-1)
    with pytest.raises(ConfigError, match="alerts"):
        Budget(_pricer(), run_usd=1, alerts=[1.5])
    unpriced = ModelConfig(provider="nobody", protocol="openai", model_id="no/such",
                           api_base="http://h")  # fmt: skip
    b = Budget(Pricer({"u": unpriced}), run_usd=1.0)
    with pytest.raises(BudgetCapError, match="no price"):
        b.reserve("u", _req())


async def test_waiters_wake_when_holds_settle_and_trials_keep_their_own_notes() -> None:
    req = _req()
    w = _worst(req)
    b = Budget(_pricer(), run_usd=1.5 * w)
    order: list[str] = []

    async def first() -> None:
        with track_trial() as note:
            r = b.reserve("m", req)
            await asyncio.sleep(0.05)
            b.settle(r, 0.1 * w)
        assert (note.reserved, note.refused) == (1, None)
        order.append("settled")

    async def second() -> None:
        await asyncio.sleep(0.01)
        with track_trial() as note:
            with pytest.raises(BudgetCapError) as exc:
                b.reserve("m", req)
        assert note.refused is exc.value and note.reserved == 0
        await b.wait_for_room(exc.value.amount_usd, timeout_s=5)
        order.append("woke")
        b.reserve("m", req)

    await asyncio.gather(first(), second())
    assert order == ["settled", "woke"]


def _run_db(path, rows: list[tuple[str, datetime, float | None]]) -> None:
    from harness.store.migrations import migrate

    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        migrate(con)
        for run_id, at, cost in rows:
            con.execute(
                "INSERT INTO calls (call_id, run_id, started_at, cost_usd) VALUES (?, ?, ?, ?)",
                [f"{run_id}-{at.isoformat()}", run_id, at, cost],
            )


def test_prior_spend_is_read_from_every_run_database(tmp_path) -> None:
    now = datetime(2026, 5, 20, 12, tzinfo=UTC)
    today, earlier, last_month = (
        now - timedelta(hours=3),
        now - timedelta(days=5),
        now.replace(month=4),
    )
    _run_db(tmp_path / "res/a/r1/harness.duckdb",
            [("r1", today, 1.0), ("r1", earlier, 2.0), ("r1", last_month, 4.0)])  # fmt: skip
    _run_db(tmp_path / "res/b/r2/harness.duckdb", [("r2", today, 0.5), ("r2", today, None)])
    own = tmp_path / "res/b/r2/harness.duckdb"
    p = read_prior_spend(tmp_path / "res", run_db=own, now=now)
    assert (p.run, p.day, p.month) == pytest.approx((0.5, 1.5, 3.5))
    assert p.unreadable == ()
    empty = read_prior_spend(tmp_path / "nothing-here", now=now)
    assert (empty.run, empty.day, empty.month) == (0.0, 0.0, 0.0)


def test_request_stop_first_wins(tmp_path) -> None:
    from harness.runner import RunSummary

    s = RunSummary(run_id="r", run_dir=tmp_path, status="running", trials_total=10)
    cancelled: list[bool] = []
    s._cancel = lambda: cancelled.append(True)
    assert s.request_stop("budget_stopped", "run cap reached")
    assert not s.request_stop("early_stopped", "p < 0.05", cancel_in_flight=True)
    assert (s.stop_status, s.stop_reason, cancelled) == ("budget_stopped", "run cap reached", [])


async def test_waiters_wake_when_the_last_hold_settles_despite_float_residue() -> None:
    """Holds settled in another order than taken can leave a float residue (1e-19):
    "nothing in flight" must still be exact, or waiters sleep forever."""

    def residue(amounts: list[float]) -> float:
        held = 0.0
        for x in amounts:
            held += x
        for x in reversed(amounts):
            held = max(0.0, held - x)
        return held

    probe = Budget(_pricer(), run_usd=100.0)
    for step in range(1, 200):  # find holds whose float sum does not return to 0
        reqs = [_req(1000 + step * i, 1000 + 13 * i) for i in range(2)]
        amounts = [probe.worst_case("m", r) for r in reqs]
        if residue(amounts) > 0:
            break
    assert residue(amounts) > 0, "no residue case found: the test would prove nothing"
    b = Budget(_pricer(), run_usd=sum(amounts) + 0.5 * amounts[0])
    res = [b.reserve("m", r) for r in reqs]
    with pytest.raises(BudgetCapError):
        b.reserve("m", reqs[0])
    waiter = asyncio.create_task(b.wait_for_room(amounts[0]))
    for r in reversed(res):
        b.settle(r, r.amount_usd * 0.9)
    assert b.held_usd == 0.0
    # spent (0.9 of both holds) + the next hold no longer fits, but nothing is in
    # flight: the waiter must return (its retry is then refused as final).
    await asyncio.wait_for(waiter, 2.0)
