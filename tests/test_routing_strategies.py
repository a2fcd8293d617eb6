"""Each router's decisions on constructed cases: fit, ties, missing prices, cooldowns, budgets."""

from __future__ import annotations

import pytest

from harness.config.schema import (
    BanditSettings,
    BudgetAwareSettings,
    Capabilities,
    CapabilitySettings,
    CostOptimizedSettings,
    LatencySettings,
    ModelConfig,
)
from harness.routing import (
    BanditRouter,
    BudgetAwareRouter,
    CapabilityRouter,
    CostOptimizedRouter,
    Decision,
    Feedback,
    FixedRouter,
    LatencyRouter,
    LeastBusyRouter,
    ModelRates,
    NoRouteError,
    RoundRobinRouter,
    RouteContext,
    TaskMapRouter,
    fit_score,
)
from harness.tasks.requirements import CATEGORY_NEEDS, Needs
from harness.tasks.types import Task


def _model(window: int = 100_000, *, coding=1.0, reasoning=1.0, long_context=1.0, speed=1.0):
    return ModelConfig(
        provider="openai",
        protocol="openai",
        model_id="gpt-test",  # family gpt: 4 chars per token by default
        api_base="http://127.0.0.1:1",
        context_window=window,
        max_output_tokens=1000,
        capabilities=Capabilities(coding, reasoning, long_context, speed),
    )


def _task(chars: int = 400, category: str = "code_generation", difficulty: float = 0.0) -> Task:
    return Task(
        task_id=f"t/{category}/{chars}",
        suite="builtin",
        category=category,
        prompt="x" * chars,
        entry_point="f",
        reference="",
        tests="",
        difficulty=difficulty,
    )


def _ctx(models, prices=None, **kw) -> RouteContext:
    prices = prices or {}
    return RouteContext(models=models, price=lambda k: prices.get(k), max_output_tokens=1000, **kw)


RATES = {
    "dear": ModelRates(10.0, 30.0),
    "mid": ModelRates(3.0, 15.0),
    "cheap": ModelRates(0.1, 0.2),
}


# -- fixed ---------------------------------------------------------------------------------


def test_fixed_keeps_its_model_and_warns_when_it_cannot_fit() -> None:
    models = {"small": _model(window=1500)}
    d = FixedRouter("small").route(_task(4000), _ctx(models, available=lambda k: False))
    assert d == Decision("small", d.reason, ("small",))
    assert "over context" in d.reason and "cooling down" in d.reason
    # Without a context (static callers) it still answers.
    assert FixedRouter("small").route(_task()).model == "small"


# -- screening shared by every strategy ----------------------------------------------------


def test_over_context_model_is_never_chosen_even_when_cheapest() -> None:
    # 4000 chars ≈ 1000 tokens + 8 overhead + 1000 reserved output > 1500
    models = {"cheap": _model(window=1500), "dear": _model(window=100_000)}
    d = CostOptimizedRouter(list(models), CostOptimizedSettings()).route(
        _task(4000), _ctx(models, RATES)
    )
    assert d.model == "dear"
    assert "cheap over context (2008 > 1500 tokens)" in d.reason


def test_no_candidate_fits_raises_no_route() -> None:
    models = {"a": _model(window=1000), "b": _model(window=1200)}
    with pytest.raises(NoRouteError, match="no candidate's context window fits"):
        LeastBusyRouter(list(models)).route(_task(8000), _ctx(models))


def test_cooling_down_model_is_skipped_unless_all_are() -> None:
    models = {"cheap": _model(), "dear": _model()}
    router = CostOptimizedRouter(list(models), CostOptimizedSettings())
    d = router.route(_task(), _ctx(models, RATES, available=lambda k: k != "cheap"))
    assert d.model == "dear" and "cooling down: cheap" in d.reason
    d = router.route(_task(), _ctx(models, RATES, available=lambda k: False))
    assert d.model == "cheap" and "availability ignored" in d.reason


# -- round_robin ---------------------------------------------------------------------------


def test_round_robin_cycles_and_skips_unusable() -> None:
    models = {k: _model() for k in ("a", "b", "c")}
    rr = RoundRobinRouter(list(models))
    assert [rr.route(_task(), _ctx(models)).model for _ in range(6)] == list("abcabc")
    rr = RoundRobinRouter(list(models))
    picks = [rr.route(_task(), _ctx(models, available=lambda k: k != "b")).model for _ in range(3)]
    assert picks == ["a", "c", "c"]  # b's turn goes to the next usable one


# -- cost_optimized ------------------------------------------------------------------------


def test_cost_optimized_picks_cheapest_capable() -> None:
    models = {
        "dear": _model(),
        "mid": _model(),
        "cheap": _model(coding=0.2, reasoning=0.2, speed=0.2, long_context=0.2),
    }
    d = CostOptimizedRouter(list(models), CostOptimizedSettings()).route(
        _task(), _ctx(models, RATES)
    )
    assert d.model == "mid"
    assert "below capability" in d.reason and "cheap" in d.reason
    assert d.candidates == ("dear", "mid", "cheap")


def test_cost_optimized_missing_price_ranks_last_and_says_so() -> None:
    models = {"unpriced": _model(), "dear": _model()}
    d = CostOptimizedRouter(list(models), CostOptimizedSettings()).route(
        _task(), _ctx(models, RATES)
    )
    assert d.model == "dear"
    assert "price unknown, ranked last: unpriced" in d.reason
    # No price anywhere: the first capable in portfolio order, said plainly.
    d = CostOptimizedRouter(list(models), CostOptimizedSettings()).route(_task(), _ctx(models))
    assert d.model == "unpriced" and "no candidate has a known price" in d.reason


def test_cost_optimized_tie_goes_to_portfolio_order() -> None:
    models = {"first": _model(), "second": _model()}
    prices = {"first": ModelRates(1, 1), "second": ModelRates(1, 1)}
    router = CostOptimizedRouter(["first", "second"], CostOptimizedSettings())
    assert router.route(_task(), _ctx(models, prices)).model == "first"


def test_cost_optimized_harder_tasks_need_more_capability() -> None:
    models = {"dear": _model(), "cheap": _model(coding=0.8, reasoning=0.6, speed=0.8)}
    router = CostOptimizedRouter(list(models), CostOptimizedSettings())
    easy = router.route(_task(category="complex_debugging", difficulty=-3), _ctx(models, RATES))
    hard = router.route(_task(category="complex_debugging", difficulty=3), _ctx(models, RATES))
    assert (easy.model, hard.model) == ("cheap", "dear")


# -- capability ----------------------------------------------------------------------------


def test_fit_score_is_the_seeds_formula_for_boolean_needs() -> None:
    caps = Capabilities(coding=1.0, reasoning=0.6, long_context=0.6, speed=1.0)
    # Seed §3.3, coding-heavy, not complex, simple: 0.4*1 + 0.2*0.6 + 0.3*1 - 0.3*(6/100)
    needs = Needs(coding=1.0, reasoning=0.0, long_context=0.0, speed=1.0)
    got = fit_score(caps, needs, CapabilitySettings(), effective_per_mtok=6.0)
    assert got == pytest.approx(0.4 + 0.12 + 0.3 - 0.018)


def test_capability_prefers_reasoning_for_debugging_and_speed_for_simple() -> None:
    models = {
        "thinker": _model(coding=1.0, reasoning=1.0, speed=0.4),
        "sprinter": _model(coding=1.0, reasoning=0.6, speed=1.0),
    }
    prices = {"thinker": ModelRates(1, 1), "sprinter": ModelRates(1, 1)}
    router = CapabilityRouter(list(models), CapabilitySettings())
    assert router.route(_task(category="complex_debugging"), _ctx(models, prices)).model == (
        "thinker"
    )
    assert router.route(_task(category="simple"), _ctx(models, prices)).model == "sprinter"


def test_capability_unknown_price_is_charged_the_dearest_and_ties_by_order() -> None:
    models = {"unpriced": _model(), "priced": _model()}
    prices = {"priced": ModelRates(50.0, 50.0)}
    d = CapabilityRouter(list(models), CapabilitySettings()).route(_task(), _ctx(models, prices))
    # Same ratings, and the unpriced one is charged the same price: a tie -> portfolio order.
    assert d.model == "unpriced"
    assert "price unknown, charged the dearest known: unpriced" in d.reason


def test_capability_measured_scores_replace_ratings() -> None:
    models = {"rated_high": _model(), "measured": _model(coding=0.1, reasoning=0.1, speed=0.1)}
    s = CapabilitySettings(scores={"measured": {"code_generation": 1.0}, "rated_high": {}})
    s.scores["rated_high"] = {"code_generation": 0.2}
    d = CapabilityRouter(list(models), s).route(_task(), _ctx(models))
    assert d.model == "measured" and "measured" in d.reason


# -- task_map ------------------------------------------------------------------------------


def test_task_map_primary_then_fallbacks() -> None:
    models = {"p": _model(), "f1": _model(), "f2": _model(window=1500), "other": _model()}
    router = TaskMapRouter(list(models), {"code_generation": ["p", "f1", "f2"]})
    d = router.route(_task(4000), _ctx(models))
    assert (d.model, d.fallbacks) == ("p", ("f1",))  # f2 cannot hold the prompt
    assert "primary for code_generation" in d.reason
    d = router.route(_task(), _ctx(models, available=lambda k: k != "p"))
    assert (d.model, d.fallbacks) == ("f1", ("f2",))
    assert "fallback 1" in d.reason
    d = router.route(_task(category="security"), _ctx(models))
    assert d.model == "p" and "no entry for security" in d.reason


# -- least_busy ----------------------------------------------------------------------------


def test_least_busy_picks_fewest_in_flight_ties_by_order() -> None:
    models = {k: _model() for k in ("a", "b", "c")}
    router = LeastBusyRouter(list(models))
    assert router.route(_task(), _ctx(models, in_flight={"a": 3, "b": 1, "c": 1})).model == "b"
    assert router.route(_task(), _ctx(models, in_flight={})).model == "a"


# -- latency -------------------------------------------------------------------------------


def test_latency_explores_then_follows_the_moving_average() -> None:
    models = {k: _model() for k in ("a", "b")}
    router = LatencyRouter(list(models), LatencySettings(alpha=0.5))
    first, second = (router.route(_task(), _ctx(models)).model for _ in range(2))
    assert (first, second) == ("a", "b"), "unexplored models spread before any feedback"
    router.observe(Feedback("a", "code_generation", True, latency_ms=100.0))
    router.observe(Feedback("b", "code_generation", True, latency_ms=300.0))
    assert router.route(_task(), _ctx(models)).model == "a"
    router.observe(Feedback("a", "code_generation", True, latency_ms=900.0))  # EMA: 500
    router.observe(Feedback("a", "code_generation", False, latency_ms=None))  # no latency
    assert router.ema["a"] == pytest.approx(500.0)
    d = router.route(_task(), _ctx(models))
    assert d.model == "b" and "lowest mean latency" in d.reason


# -- budget_aware --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spent", "expected"),
    [(0.0, "dear"), (0.49, "dear"), (0.5, "mid"), (0.79, "mid"), (0.8, "cheap"), (2.0, "cheap")],
)
def test_budget_aware_steps_down_at_thresholds(spent: float, expected: str) -> None:
    models = {k: _model() for k in ("cheap", "mid", "dear")}  # portfolio order is not price order
    router = BudgetAwareRouter(
        list(models), BudgetAwareSettings(thresholds=[0.5, 0.8]), tiers=[], budget_usd=1.0
    )
    d = router.route(_task(), _ctx(models, RATES, spent_usd=spent))
    assert d.model == expected
    assert f"at {spent:.0%} of $1 spent" in d.reason


def test_budget_aware_explicit_tiers_and_empty_tier() -> None:
    models = {k: _model() for k in ("a", "b", "c")}
    router = BudgetAwareRouter(
        list(models),
        BudgetAwareSettings(thresholds=[0.5]),
        tiers=[["a", "b"], ["c"]],
        budget_usd=None,
    )
    ctx = _ctx(models, spent_usd=0.0, budget_usd=10.0, available=lambda k: k != "a")
    assert router.route(_task(), ctx).model == "b"
    ctx = _ctx(models, spent_usd=6.0, budget_usd=10.0, available=lambda k: k != "c")
    d = router.route(_task(), ctx)
    assert d.model == "a" and "tier 2 had none usable" in d.reason


# -- bandit (convergence is in test_routing_ab_bandit.py) ----------------------------------


def test_bandit_is_seeded_and_learns_from_failures() -> None:
    models = {k: _model() for k in ("a", "b")}

    def picks(seed: int) -> list[str]:
        r = BanditRouter(list(models), BanditSettings(seed=seed), rng_key="arm")
        return [r.route(_task(), _ctx(models)).model for _ in range(20)]

    assert picks(1) == picks(1)
    assert picks(1) != picks(2)
    r = BanditRouter(list(models), BanditSettings(seed=0), rng_key="arm")
    r.observe(Feedback("a", "code_generation", None, error_kind="llm_error"))
    r.observe(Feedback("b", "code_generation", True, cost_usd=0.01))
    r.observe(Feedback("b", "code_generation", None))  # unknown: teaches nothing
    assert r.posterior("code_generation", "a") == (1.0, 2.0)
    assert r.posterior("code_generation", "b") == (2.0, 1.0)
    assert r.posterior("simple", "b") == (1.0, 1.0)


def test_category_needs_cover_every_category() -> None:
    from harness.tasks.types import CATEGORIES

    assert set(CATEGORY_NEEDS) == set(CATEGORIES)
