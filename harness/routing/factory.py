"""Build an arm's router from its config, validating it against the portfolio.

Every user error is a :class:`~harness.errors.ConfigError` naming the key
(``arms.<arm>.<field>``), raised before any call is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict

from harness.config.schema import ArmConfig, ModelConfig, RouterConfig
from harness.errors import ConfigError
from harness.routing.base import Router
from harness.routing.cost import BudgetAwareRouter, CostOptimizedRouter
from harness.routing.learning import BanditRouter, LatencyRouter
from harness.routing.quality import CapabilityRouter, TaskMapRouter
from harness.routing.simple import AbSplitRouter, FixedRouter, LeastBusyRouter, RoundRobinRouter
from harness.tasks.types import CATEGORIES

__all__ = ["STRATEGIES", "arm_candidates", "build_router", "check_top_level", "make_router"]

#: Every strategy name, in the order the README lists them.
STRATEGIES: tuple[str, ...] = (
    "fixed",
    "round_robin",
    "cost_optimized",
    "capability",
    "task_map",
    "ab_split",
    "latency",
    "least_busy",
    "budget_aware",
    "bandit",
)


def _check_keys(where: str, keys: Sequence[str], models: Mapping[str, ModelConfig]) -> None:
    bad = [k for k in keys if k not in models]
    if bad:
        raise ConfigError(
            f"{where}: {', '.join(map(repr, bad))} not in the portfolio "
            f"(known: {', '.join(models)})"
        )


def _portfolio_order(keys: Sequence[str], models: Mapping[str, ModelConfig]) -> list[str]:
    wanted = set(keys)
    return [k for k in models if k in wanted]


def arm_candidates(
    name: str, arm: RouterConfig, models: Mapping[str, ModelConfig]
) -> tuple[str, ...]:
    """The portfolio keys an arm may call, validated; portfolio order (ab_split: as listed)."""
    where = f"arms.{name}"
    strategy = arm.router
    model = getattr(arm, "model", None)
    cands = list(arm.candidates)
    if len(set(cands)) != len(cands):
        raise ConfigError(f"{where}.candidates lists a model twice: {cands}")
    if strategy == "fixed":
        if model is None:
            if len(cands) != 1:
                raise ConfigError(f"{where}.model: a fixed arm needs a model")
            model = cands[0]
        _check_keys(f"{where}.model", [model], models)
        if cands and cands != [model]:
            raise ConfigError(f"{where}.candidates: a fixed arm calls only its model {model!r}")
        return (model,)
    if strategy == "task_map" and not cands:
        cands = [k for e in arm.task_map.table.values() for k in (e.primary, *e.fallbacks)]
        cands = list(dict.fromkeys(cands))
    if not cands:
        raise ConfigError(
            f"{where}.candidates: the {strategy} router needs candidates (portfolio keys)"
        )
    _check_keys(f"{where}.candidates", cands, models)
    if model is not None and model not in cands:
        raise ConfigError(f"{where}.model={model!r} is not among its candidates")
    if strategy == "ab_split":
        return tuple(cands)
    return tuple(_portfolio_order(cands, models))


def build_router(
    name: str,
    arm: ArmConfig | RouterConfig,
    models: Mapping[str, ModelConfig],
    *,
    budget_usd: float | None = None,
) -> Router:
    """The router of arm ``name``.

    Args:
        name: The arm's name (used in errors and to seed the bandit).
        arm: Its config (strategy, candidates, per-strategy settings).
        models: The portfolio.
        budget_usd: The run's budget, if any (``budget_aware`` falls back to it).

    Raises:
        ConfigError: unknown strategy, unknown model key, a task_map category not
            in CATEGORIES, a bad setting.
    """
    where = f"arms.{name}"
    strategy = arm.router
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"{where}.router: unknown router strategy {strategy!r}; valid: {', '.join(STRATEGIES)}"
        )
    for fam, cpt in arm.chars_per_token.items():
        if not cpt > 0:
            raise ConfigError(f"{where}.chars_per_token.{fam} must be > 0, got {cpt}")
    cands = arm_candidates(name, arm, models)
    try:
        return _build(name, strategy, arm, cands, models, budget_usd)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _build(
    name: str,
    strategy: str,
    arm: RouterConfig,
    cands: tuple[str, ...],
    models: Mapping[str, ModelConfig],
    budget_usd: float | None,
) -> Router:
    where = f"arms.{name}"
    if strategy == "fixed":
        return FixedRouter(cands[0])
    if strategy == "round_robin":
        return RoundRobinRouter(cands)
    if strategy == "least_busy":
        return LeastBusyRouter(cands)
    if strategy == "cost_optimized":
        s = arm.cost_optimized
        if not 0 <= s.min_fit_easy <= s.min_fit_hard <= 1:
            raise ValueError("cost_optimized: need 0 <= min_fit_easy <= min_fit_hard <= 1")
        return CostOptimizedRouter(cands, s)
    if strategy == "capability":
        s = arm.capability
        if s.cost_scale_per_mtok <= 0 or not 0 <= s.input_share <= 1:
            raise ValueError("capability: cost_scale_per_mtok > 0 and 0 <= input_share <= 1")
        for key, per_cat in s.scores.items():
            _check_keys(f"{where}.capability.scores", [key], models)
            _check_categories(f"{where}.capability.scores.{key}", per_cat)
        return CapabilityRouter(cands, s)
    if strategy == "task_map":
        table = {}
        _check_categories(f"{where}.task_map.table", arm.task_map.table)
        for cat, entry in arm.task_map.table.items():
            chain = [entry.primary, *entry.fallbacks]
            _check_keys(f"{where}.task_map.table.{cat}", chain, models)
            outside = [k for k in chain if k not in cands]
            if outside:
                raise ConfigError(
                    f"{where}.task_map.table.{cat}: {', '.join(outside)} not among the "
                    f"arm's candidates"
                )
            table[cat] = chain
        return TaskMapRouter(cands, table)
    if strategy == "ab_split":
        s = arm.ab_split
        return AbSplitRouter(cands, split_ratio=s.split_ratio, salt=str(s.salt))
    if strategy == "latency":
        return LatencyRouter(cands, arm.latency)
    if strategy == "budget_aware":
        s = arm.budget_aware
        budget = s.budget_usd if s.budget_usd is not None else budget_usd
        if budget is None or budget <= 0:
            raise ConfigError(f"{where}.budget_aware.budget_usd: set a budget > 0 for this arm")
        if not s.thresholds or any(not 0 < t for t in s.thresholds):
            raise ConfigError(f"{where}.budget_aware.thresholds: shares > 0, e.g. [0.5, 0.8]")
        for i, tier in enumerate(s.tiers):
            outside = [k for k in tier if k not in cands]
            if outside or not tier:
                raise ConfigError(
                    f"{where}.budget_aware.tiers[{i}]: a non-empty list of the arm's candidates"
                )
        return BudgetAwareRouter(cands, s, tiers=s.tiers, budget_usd=budget)
    if strategy == "bandit":
        return BanditRouter(
            cands,
            arm.bandit,
            rng_key=name,
            expected_output_tokens=arm.cost_optimized.expected_output_tokens,
        )
    raise AssertionError(strategy)  # pragma: no cover - STRATEGIES checked above


def _check_categories(where: str, keys: Mapping[str, object]) -> None:
    bad = [c for c in keys if c not in CATEGORIES]
    if bad:
        raise ConfigError(f"{where}: unknown categories {bad}; valid: {', '.join(CATEGORIES)}")


#: Settings filled from the experiment (salt, seed): not compared by check_top_level.
_RUN_FILLED = ("salt", "seed")


def _settings(section: object) -> object:
    if isinstance(section, dict):
        return section
    return {k: v for k, v in asdict(section).items() if k not in _RUN_FILLED}  # type: ignore[call-overload]


def check_top_level(top: RouterConfig) -> None:
    """Reject per-strategy settings on the top-level ``router`` node: arms do not inherit them.

    (An inherited section would be an interpolation, and a dotted override of one
    arm's setting would then change every arm.)
    """
    default = RouterConfig()
    for sec in (
        "chars_per_token",
        "cost_optimized",
        "capability",
        "task_map",
        "ab_split",
        "latency",
        "budget_aware",
        "bandit",
    ):
        if _settings(getattr(top, sec)) != _settings(getattr(default, sec)):
            raise ConfigError(
                f"router.{sec}: arms inherit only router.router and router.candidates; "
                f"set {sec} per arm (arms.<arm>.{sec}, or '- /router@arms.<arm>: <file>' "
                "in the experiment's defaults)"
            )


def make_router(strategy: str, *, model: str) -> Router:
    """A single-model router (kept for callers of the first API)."""
    if strategy != "fixed":
        raise ConfigError(
            f"unknown router strategy {strategy!r} for a single model; use build_router"
        )
    return FixedRouter(model)
