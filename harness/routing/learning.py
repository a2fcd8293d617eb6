"""Strategies that learn from outcomes: latency (moving average) and bandit (Thompson sampling).

Both keep their state in memory for one run (a resumed run starts afresh) and
learn only through ``observe``. Under concurrency, which outcomes have arrived
when a trial is routed depends on timing, so their decisions are reproducible
only when trials run one at a time; the RNG itself is seeded.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from harness.config.schema import BanditSettings, LatencySettings
from harness.routing.base import BaseRouter, Decision, Feedback, RouteContext, need_ctx
from harness.routing.cost import expected_cost
from harness.tasks.types import Task

__all__ = ["BanditRouter", "LatencyRouter"]


class LatencyRouter(BaseRouter):
    """The lowest exponential moving average of observed latency (or TTFT).

    Unexplored models (no observation yet) are tried first, the least-routed
    of them first, so concurrent trials spread over them instead of piling on
    one. Failed calls carry no latency and leave the average alone.
    """

    name = "latency"

    def __init__(self, candidates: Sequence[str], settings: LatencySettings) -> None:
        super().__init__(candidates)
        if settings.metric not in ("latency", "ttft"):
            raise ValueError(f"latency.metric must be 'latency' or 'ttft', got {settings.metric!r}")
        if not 0.0 < settings.alpha <= 1.0:
            raise ValueError(f"latency.alpha must be in (0, 1], got {settings.alpha}")
        self.metric = settings.metric
        self.alpha = settings.alpha
        self.ema: dict[str, float] = {}
        self.routed: dict[str, int] = {}

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:
        ctx = need_ctx(self.name, ctx)
        sc = self.screen(task, ctx)
        fresh = [k for k in sc.usable if k not in self.ema]
        if fresh:
            best = min(fresh, key=lambda k: self.routed.get(k, 0))
            why = f"unexplored ({self.routed.get(best, 0)} routed, no {self.metric} yet)"
        else:
            best = min(sc.usable, key=lambda k: self.ema[k])
            avgs = ", ".join(f"{k}={self.ema[k]:.0f}" for k in sc.usable)
            why = f"lowest mean {self.metric} ms ({avgs})"
        self.routed[best] = self.routed.get(best, 0) + 1
        return self.decide(best, why, sc.notes)

    def observe(self, feedback: Feedback) -> None:
        value = feedback.latency_ms if self.metric == "latency" else feedback.ttft_ms
        if value is None:
            return
        old = self.ema.get(feedback.model)
        self.ema[feedback.model] = (
            value if old is None else self.alpha * value + (1 - self.alpha) * old
        )


class BanditRouter(BaseRouter):
    """Thompson sampling on verified success per (category, model), penalised by cost.

    Each (category, model) has a Beta(prior_successes + s, prior_failures + f)
    posterior. A decision draws one success probability per usable model and
    picks the largest ``draw − cost_weight · expected cost in USD``; the cost is
    the mean observed cost of that (category, model), else the list-price
    estimate (0 if unpriced, said in the reason). Trials with unknown success
    (verifier off, budget stop) teach nothing; a call that failed (``llm_error``)
    counts as a failure.
    """

    name = "bandit"

    def __init__(
        self,
        candidates: Sequence[str],
        settings: BanditSettings,
        *,
        rng_key: str,
        expected_output_tokens: int = 400,
    ) -> None:
        super().__init__(candidates)
        if settings.prior_successes <= 0 or settings.prior_failures <= 0:
            raise ValueError("bandit priors must be > 0")
        if settings.cost_weight < 0:
            raise ValueError("bandit.cost_weight must be >= 0")
        self.s = settings
        self.out_tokens = expected_output_tokens
        # A str seed is hashed with SHA-512: the same stream in every process.
        self.rng = random.Random(f"{settings.seed}:{rng_key}")
        self.wins: dict[tuple[str, str], float] = {}
        self.losses: dict[tuple[str, str], float] = {}
        self.cost_sum: dict[tuple[str, str], float] = {}
        self.cost_n: dict[tuple[str, str], int] = {}

    def posterior(self, category: str, model: str) -> tuple[float, float]:
        """(alpha, beta) of the Beta posterior of this (category, model)."""
        k = (category, model)
        return (
            self.s.prior_successes + self.wins.get(k, 0.0),
            self.s.prior_failures + self.losses.get(k, 0.0),
        )

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:
        ctx = need_ctx(self.name, ctx)
        sc = self.screen(task, ctx)
        cat = task.category
        values: dict[str, float] = {}
        parts = []
        unpriced = []
        for k in sc.usable:
            a, b = self.posterior(cat, k)
            draw = self.rng.betavariate(a, b)
            n = self.cost_n.get((cat, k), 0)
            if n:
                cost = self.cost_sum[(cat, k)] / n
            else:
                est = expected_cost(k, sc.req, ctx, self.out_tokens)
                if est is None:
                    unpriced.append(k)
                cost = est or 0.0
            values[k] = draw - self.s.cost_weight * cost
            parts.append(f"{k}=Beta({a:g},{b:g})->{values[k]:.3f}")
        best = max(sc.usable, key=lambda k: values[k])
        notes = list(sc.notes)
        if unpriced:
            notes.append(f"price unknown, no cost penalty yet: {', '.join(unpriced)}")
        return self.decide(best, f"best sampled value for {cat} ({', '.join(parts)})", notes)

    def observe(self, feedback: Feedback) -> None:
        k = (feedback.category, feedback.model)
        if feedback.success is not None:
            if feedback.success:
                self.wins[k] = self.wins.get(k, 0.0) + 1.0
            else:
                self.losses[k] = self.losses.get(k, 0.0) + 1.0
        elif feedback.error_kind == "llm_error":  # the model failed; a budget stop is not its fault
            self.losses[k] = self.losses.get(k, 0.0) + 1.0
        if feedback.cost_usd is not None:
            self.cost_sum[k] = self.cost_sum.get(k, 0.0) + feedback.cost_usd
            self.cost_n[k] = self.cost_n.get(k, 0) + 1
