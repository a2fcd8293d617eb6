"""Strategies that match models to tasks: capability (seed §3.3) and task_map (seed §2.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.config.schema import CapabilitySettings
from harness.routing.base import BaseRouter, Decision, NoRouteError, RouteContext, need_ctx
from harness.tasks.requirements import Needs
from harness.tasks.types import Task

__all__ = ["CapabilityRouter", "TaskMapRouter", "fit_score"]


def fit_score(
    caps: object, needs: Needs, s: CapabilitySettings, effective_per_mtok: float
) -> float:
    """The seed's ``calculate_fit_score`` with need-dependent weights.

    ``Σ_d (base_d + extra_d · need_d) · rating_d − cost · effective_per_mtok / cost_scale``.
    With the defaults and needs of 0 or 1 this is the seed's formula exactly
    (coding 0.2/0.4, reasoning 0.2/0.4, speed 0.1/0.3, cost 0.3, $/100), plus a
    long-context term the seed handles only by filtering.
    """
    total = 0.0
    for dim in ("coding", "reasoning", "speed", "long_context"):
        w = getattr(s, dim)
        total += (w.base + w.extra * getattr(needs, dim)) * getattr(caps, dim)
    return total - s.cost * effective_per_mtok / s.cost_scale_per_mtok


class _Measured:
    """Ratings replaced by one measured success rate on every dimension."""

    def __init__(self, rate: float) -> None:
        self.coding = self.reasoning = self.speed = self.long_context = rate


class CapabilityRouter(BaseRouter):
    """The candidate with the highest fit score among those whose context fits.

    Ratings come from ``portfolio.models.<key>.capabilities`` unless
    ``capability.scores[<key>][<category>]`` holds a measured success rate
    (``route_fit``), which then stands for every rating of that model on that
    category. A model without a price is charged the dearest known effective
    price among the candidates (pessimistic) and the reason says so.
    """

    name = "capability"

    def __init__(self, candidates: Sequence[str], settings: CapabilitySettings) -> None:
        super().__init__(candidates)
        self.s = settings

    def scores(self, task: Task, ctx: RouteContext, keys: Sequence[str]) -> dict[str, float]:
        """Fit score of each of ``keys`` for the task (before screening notes)."""
        req = ctx.requirements(task)
        prices = {k: ctx.price(k) for k in keys}
        known = [r.effective(self.s.input_share) for r in prices.values() if r is not None]
        worst = max(known, default=0.0)
        out = {}
        for k in keys:
            measured = self.s.scores.get(k, {}).get(task.category)
            caps = _Measured(measured) if measured is not None else ctx.models[k].capabilities
            r = prices[k]
            eff = worst if r is None else r.effective(self.s.input_share)
            out[k] = fit_score(caps, req.needs, self.s, eff)
        return out

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:
        ctx = need_ctx(self.name, ctx)
        sc = self.screen(task, ctx)
        score = self.scores(task, ctx, sc.usable)
        best = max(sc.usable, key=lambda k: score[k])  # first maximum: portfolio order
        notes = list(sc.notes)
        unknown = [k for k in sc.usable if ctx.price(k) is None]
        if unknown:
            notes.append(f"price unknown, charged the dearest known: {', '.join(unknown)}")
        measured = task.category in self.s.scores.get(best, {})
        src = "measured" if measured else "rated"
        ranking = ", ".join(f"{k}={score[k]:.3f}" for k in sc.usable)
        return self.decide(best, f"best fit ({src}; {ranking})", notes)


class TaskMapRouter(BaseRouter):
    """Seed §2.2: task category -> primary model, then its fallbacks.

    The first model of the category's chain that fits and is available is
    chosen; the fitting models after it in the chain become the call's fallbacks. A
    category without an entry (or whose chain cannot take the task) goes to
    the first fitting candidate in portfolio order.
    """

    name = "task_map"

    def __init__(self, candidates: Sequence[str], table: Mapping[str, Sequence[str]]) -> None:
        super().__init__(candidates)
        self.table = {cat: tuple(chain) for cat, chain in table.items()}

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:
        ctx = need_ctx(self.name, ctx)
        chain = self.table.get(task.category, ())
        if chain:
            try:
                sc = self.screen(task, ctx, among=chain)
            except NoRouteError:  # the chain cannot take it: any fitting candidate may
                sc = None
            if sc is not None:
                best = sc.usable[0]
                # the chain after the chosen model (the client skips cooling ones itself)
                rest = sc.fitting[sc.fitting.index(best) + 1 :]
                where = "primary" if best == chain[0] else f"fallback {chain.index(best)}"
                return self.decide(best, f"{where} for {task.category}", sc.notes, rest)
        sc = self.screen(task, ctx)
        why = "no entry" if not chain else "no model of its chain fits"
        return self.decide(
            sc.usable[0], f"first fitting candidate ({why} for {task.category})", sc.notes
        )
