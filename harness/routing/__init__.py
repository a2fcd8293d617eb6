"""Routers: pure functions of task and context to a model, with a reason.

One class per strategy (``simple``, ``cost``, ``quality``, ``learning``);
:func:`build_router` makes an arm's router from its config and
:class:`ArmRouting` runs them at dispatch time.
"""

from __future__ import annotations

from harness.routing.base import (
    BaseRouter,
    Decision,
    Feedback,
    ModelRates,
    NoRouteError,
    RouteContext,
    Router,
)
from harness.routing.cost import BudgetAwareRouter, CostOptimizedRouter
from harness.routing.dispatch import ArmRouting, rates_from_pricer
from harness.routing.factory import STRATEGIES, arm_candidates, build_router, make_router
from harness.routing.learning import BanditRouter, LatencyRouter
from harness.routing.quality import CapabilityRouter, TaskMapRouter, fit_score
from harness.routing.simple import (
    AbSplitRouter,
    FixedRouter,
    LeastBusyRouter,
    RoundRobinRouter,
    unit_uniform,
)

__all__ = [
    "STRATEGIES",
    "AbSplitRouter",
    "ArmRouting",
    "BanditRouter",
    "BaseRouter",
    "BudgetAwareRouter",
    "CapabilityRouter",
    "CostOptimizedRouter",
    "Decision",
    "Feedback",
    "FixedRouter",
    "LatencyRouter",
    "LeastBusyRouter",
    "ModelRates",
    "NoRouteError",
    "RoundRobinRouter",
    "RouteContext",
    "Router",
    "TaskMapRouter",
    "arm_candidates",
    "build_router",
    "fit_score",
    "make_router",
    "rates_from_pricer",
    "unit_uniform",
]
