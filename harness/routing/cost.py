"""Strategies that follow price: cost_optimized (seed §3.2) and budget_aware."""

from __future__ import annotations

from collections.abc import Sequence

from harness.config.schema import BudgetAwareSettings, CostOptimizedSettings
from harness.routing.base import BaseRouter, Decision, RouteContext, need_ctx
from harness.tasks.requirements import TaskRequirements
from harness.tasks.types import Task

__all__ = ["BudgetAwareRouter", "CostOptimizedRouter", "expected_cost"]


def expected_cost(
    key: str, req: TaskRequirements, ctx: RouteContext, output_tokens: int
) -> float | None:
    """Expected USD of one call of ``key`` on this task at list price; None if unpriced."""
    rates = ctx.price(key)
    if rates is None:
        return None
    return rates.cost(ctx.input_tokens(key, req), output_tokens)


def _fmt_usd(x: float | None) -> str:
    return "price unknown" if x is None else f"${x:.6f}"


class CostOptimizedRouter(BaseRouter):
    """The cheapest candidate whose context window and capability fit the task.

    Capability fits when the need-weighted mean of the model's ratings
    (:meth:`~harness.tasks.requirements.Needs.weighted`) reaches
    ``min_fit_easy + complexity * (min_fit_hard - min_fit_easy)``. Candidates
    rank by expected cost (estimated input + ``expected_output_tokens`` at list
    price); a model without a price is unknown and ranks after every priced
    one. If no candidate is capable enough, the most capable fitting one is
    chosen and the reason says so.
    """

    name = "cost_optimized"

    def __init__(self, candidates: Sequence[str], settings: CostOptimizedSettings) -> None:
        super().__init__(candidates)
        self.s = settings

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:
        ctx = need_ctx(self.name, ctx)
        sc = self.screen(task, ctx)
        req = sc.req
        need = self.s.min_fit_easy + req.complexity * (self.s.min_fit_hard - self.s.min_fit_easy)
        fit = {k: req.needs.weighted(ctx.models[k].capabilities) for k in sc.usable}
        capable = [k for k in sc.usable if fit[k] >= need - 1e-9]
        notes = list(sc.notes)
        if not capable:
            best = max(sc.usable, key=lambda k: fit[k])
            notes.append(f"none reaches capability {need:.2f}")
            return self.decide(best, f"most capable ({fit[best]:.2f})", notes)
        costs = {k: expected_cost(k, req, ctx, self.s.expected_output_tokens) for k in capable}
        # Unknown prices last; stable sort keeps portfolio order among ties.
        ranked = sorted(capable, key=lambda k: (costs[k] is None, costs[k] or 0.0))
        best = ranked[0]
        unknown = [k for k in capable if costs[k] is None]
        if unknown:
            notes.append(f"price unknown, ranked last: {', '.join(unknown)}")
        weaker = [k for k in sc.usable if k not in capable]
        if weaker:
            notes.append(f"below capability {need:.2f}: {', '.join(weaker)}")
        why = f"cheapest capable ({_fmt_usd(costs[best])} expected)"
        if costs[best] is None:
            why = "capable; no candidate has a known price"
        return self.decide(best, why, notes)


class BudgetAwareRouter(BaseRouter):
    """Steps down to cheaper tiers as the arm's spend passes budget thresholds.

    Tier ``i`` is used once spend has passed ``i`` thresholds (shares of the
    budget). Without explicit ``tiers`` each candidate is its own tier, dearest
    first by effective list price (a model without a price counts as dearest:
    nothing says it is cheap). Within a tier the first usable model wins; if the
    tier has none, cheaper tiers are tried, then dearer ones.
    """

    name = "budget_aware"

    def __init__(
        self,
        candidates: Sequence[str],
        settings: BudgetAwareSettings,
        *,
        tiers: Sequence[Sequence[str]],
        budget_usd: float | None,
    ) -> None:
        super().__init__(candidates)
        self.thresholds = sorted(settings.thresholds)
        self.tiers = [tuple(t) for t in tiers]
        self.budget_usd = budget_usd

    @staticmethod
    def auto_tiers(candidates: Sequence[str], ctx: RouteContext) -> list[list[str]]:
        """One tier per candidate, dearest first (unknown price first); ties by portfolio order."""

        def price(k: str) -> float:
            r = ctx.price(k)
            return float("inf") if r is None else r.effective(0.75)

        return [[k] for k in sorted(candidates, key=lambda k: -price(k))]

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:
        ctx = need_ctx(self.name, ctx)
        budget = self.budget_usd if self.budget_usd is not None else ctx.budget_usd
        if not budget or budget <= 0:
            raise ValueError("budget_aware: no budget (set budget_aware.budget_usd)")
        tiers = self.tiers or [tuple(t) for t in self.auto_tiers(self.candidates, ctx)]
        share = ctx.spent_usd / budget
        level = min(sum(share >= t for t in self.thresholds), len(tiers) - 1)
        sc = self.screen(task, ctx)
        order = list(range(level, len(tiers))) + list(range(level - 1, -1, -1))
        for i in order:
            for key in tiers[i]:
                if key in sc.usable:
                    moved = "" if i == level else f", tier {level + 1} had none usable"
                    why = (
                        f"tier {i + 1}/{len(tiers)} at {share:.0%} of ${budget:g} spent"
                        f" (thresholds {', '.join(f'{t:.0%}' for t in self.thresholds)}){moved}"
                    )
                    return self.decide(key, why, sc.notes)
        raise AssertionError("screen() returned no usable candidate")  # pragma: no cover
