"""Routing at dispatch time: one router per arm, the context they share, their feedback.

The runner calls :meth:`ArmRouting.route` right before a trial's call and
:meth:`ArmRouting.observe` once the trial is verified. This object holds the
only mutable state routing needs outside the routers: calls in flight per
model and spend per arm. It runs on the event loop's thread, so it needs no lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from harness.config.schema import Config, ModelConfig
from harness.errors import ConfigError
from harness.llm.types import Usage
from harness.routing.base import Decision, Feedback, ModelRates, NoRouteError, RouteContext, Router
from harness.routing.factory import build_router, check_top_level
from harness.tasks.types import Task

__all__ = ["ArmRouting", "rates_from_pricer"]


def rates_from_pricer(pricer: Any) -> Callable[[str], ModelRates | None]:
    """A price lookup over a :class:`~harness.cost.pricing.Pricer`, memoised per model.

    Rates are the price of a million input tokens and of a million output
    tokens at the current list price; None when the pricer has no price.
    """
    memo: dict[str, ModelRates | None] = {}

    def lookup(key: str) -> ModelRates | None:
        if key not in memo:
            pin = pricer.price(key, Usage(input_tokens=1_000_000, output_tokens=0)).cost_usd
            pout = pricer.price(key, Usage(input_tokens=0, output_tokens=1_000_000)).cost_usd
            memo[key] = None if pin is None or pout is None else ModelRates(pin, pout)
        return memo[key]

    return lookup


class ArmRouting:
    """The routers of an experiment's arms and the dispatch-time context they read."""

    def __init__(
        self,
        routers: Mapping[str, Router],
        models: Mapping[str, ModelConfig],
        *,
        chars_per_token: Mapping[str, Mapping[str, float]] | None = None,
        price: Callable[[str], ModelRates | None] | None = None,
        available: Callable[[str], bool] | None = None,
        max_output_tokens: int = 1024,
        extra_prompt_chars: int = 0,
        budget_usd: float | None = None,
    ) -> None:
        self.routers = dict(routers)
        self.models = models
        self._cpt = {a: dict((chars_per_token or {}).get(a, {})) for a in self.routers}
        self._price = price
        self._available = available
        self._max_out = max_output_tokens
        self._extra = extra_prompt_chars
        self._budget = budget_usd
        self.in_flight: dict[str, int] = {}
        self._requirements: dict[str, Any] = {}
        self.spent: dict[str, float] = {a: 0.0 for a in self.routers}

    @classmethod
    def from_config(
        cls,
        cfg: Config,
        *,
        pricer: Any = None,
        available: Callable[[str], bool] | None = None,
        budget_usd: float | None = None,
    ) -> ArmRouting:
        """Every arm's router, built and validated (raises ConfigError)."""
        from harness.agents.single_shot import SYSTEM_PROMPT

        models = cfg.portfolio.models
        if budget_usd is None:  # the run's cap, when the budget config has one
            budget_usd = getattr(getattr(cfg, "budget", None), "run_usd", None)
        check_top_level(cfg.router)
        routers = {
            name: build_router(name, arm, models, budget_usd=budget_usd)
            for name, arm in cfg.arms.items()
        }
        return cls(
            routers,
            models,
            chars_per_token={name: arm.chars_per_token for name, arm in cfg.arms.items()},
            price=rates_from_pricer(pricer) if pricer is not None else None,
            available=available,
            max_output_tokens=cfg.runner.max_tokens,
            extra_prompt_chars=len(SYSTEM_PROMPT),
            budget_usd=budget_usd,
        )

    def context(self, arm: str, task: Task) -> RouteContext:
        """The context arm ``arm``'s router sees for ``task`` now."""
        kw: dict[str, Any] = {}
        if self._price is not None:
            kw["price"] = self._price
        if self._available is not None:
            kw["available"] = self._available
        return RouteContext(
            models=self.models,
            in_flight=self.in_flight,
            spent_usd=self.spent.get(arm, 0.0),
            budget_usd=self._budget,
            unit_id=task.task_id,
            max_output_tokens=self._max_out,
            extra_prompt_chars=self._extra,
            chars_per_token=self._cpt.get(arm, {}),
            requirements_cache=self._requirements,
            **kw,
        )

    def route(self, arm: str, task: Task) -> Decision:
        """Route one trial of ``arm`` on ``task`` and count it in flight.

        A task no candidate can take yields ``Decision(model="")`` whose reason
        says why; the agent records it as a ``route_error`` trial without a call.
        """
        try:
            router = self.routers[arm]
        except KeyError:
            raise ConfigError(f"no router for arm {arm!r}") from None
        try:
            d = router.route(task, self.context(arm, task))
        except NoRouteError as exc:
            return Decision("", str(exc), tuple(getattr(router, "candidates", ())))
        self.in_flight[d.model] = self.in_flight.get(d.model, 0) + 1
        return d

    def dispatch(self, spec: Any) -> Any:
        """The trial spec with its arm's decision (``model``, ``route_reason``, ``decision``)."""
        d = self.route(spec.arm, spec.task)
        return replace(spec, model=d.model, route_reason=d.reason, decision=d)

    def observe(self, spec: Any, row: Mapping[str, Any] | None) -> None:
        """Feed a dispatched trial's ``trials`` row back (None: it made no call)."""
        if spec.decision is not None:
            self.feedback(spec.arm, spec.task, spec.decision, row)

    def feedback(
        self, arm: str, task: Task, decision: Decision, row: Mapping[str, Any] | None
    ) -> None:
        """Release the in-flight slot and give the router the trial's outcome."""
        if not decision.model:
            return
        self.in_flight[decision.model] = max(0, self.in_flight.get(decision.model, 0) - 1)
        if row is None:
            return
        cost = row.get("cost_usd")
        if cost:
            self.spent[arm] = self.spent.get(arm, 0.0) + float(cost)
        answered = row.get("model")
        self.routers[arm].observe(
            Feedback(
                model=decision.model,
                category=task.category,
                success=row.get("success"),
                cost_usd=cost,
                latency_ms=row.get("latency_ms"),
                ttft_ms=row.get("ttft_ms"),
                error_kind=None if row.get("status") == "ok" else row.get("status"),
                answered_by=answered if answered and answered != decision.model else None,
            )
        )
