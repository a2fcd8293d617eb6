"""Strategies that ignore quality: fixed, round_robin, least_busy, ab_split (seed §3.1, §3.4)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from harness.routing.base import BaseRouter, Decision, RouteContext, need_ctx
from harness.tasks.types import Task

__all__ = ["AbSplitRouter", "FixedRouter", "LeastBusyRouter", "RoundRobinRouter", "unit_uniform"]


class FixedRouter(BaseRouter):
    """Always the arm's model — the control every other strategy is compared with.

    It is not screened: a fixed arm measures its model, so an over-long prompt is
    still sent (the reason warns, the call records the provider's error).
    """

    name = "fixed"

    def __init__(self, model: str) -> None:
        super().__init__((model,))
        self._model = model

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:
        notes = []
        if ctx is not None:
            req = ctx.requirements(task)
            need = ctx.input_tokens(self._model, req) + ctx.output_reserve(self._model)
            window = ctx.models[self._model].context_window
            if need > window:
                notes.append(f"warning: over context ({need} > {window} tokens)")
            if not ctx.available(self._model):
                notes.append("cooling down, sent anyway")
        return self.decide(self._model, "(arm model)", notes)


class RoundRobinRouter(BaseRouter):
    """Candidates in turn (seed §3.1), skipping any that cannot take the task.

    The turn advances by one per decision; a skipped candidate loses its turn,
    so the split stays even when nothing is skipped.
    """

    name = "round_robin"

    def __init__(self, candidates: Sequence[str]) -> None:
        super().__init__(candidates)
        self._next = 0

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:
        ctx = need_ctx(self.name, ctx)
        sc = self.screen(task, ctx)
        n = len(self.candidates)
        start = self._next
        self._next = (self._next + 1) % n
        for step in range(n):
            key = self.candidates[(start + step) % n]
            if key in sc.usable:
                return self.decide(key, f"turn {start + 1}/{n}", sc.notes)
        raise AssertionError("screen() returned no usable candidate")  # pragma: no cover


class LeastBusyRouter(BaseRouter):
    """The candidate with the fewest calls in flight; ties by portfolio order."""

    name = "least_busy"

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:
        ctx = need_ctx(self.name, ctx)
        sc = self.screen(task, ctx)
        best = min(sc.usable, key=lambda k: ctx.in_flight.get(k, 0))
        loads = ", ".join(f"{k}={ctx.in_flight.get(k, 0)}" for k in sc.usable)
        return self.decide(best, f"fewest in flight ({loads})", sc.notes)


def unit_uniform(salt: str, unit: str) -> float:
    """A uniform in [0, 1) from sha256 of (salt, unit): the same in every run and process.

    Prefixed with ``ab_split`` so it is independent of the runner's split design,
    which hashes the same salt and task id.
    """
    digest = hashlib.sha256(f"ab_split\x00{salt}\x00{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class AbSplitRouter(BaseRouter):
    """Seed §3.4: a sticky hash split of units between candidates.

    ``u = sha256(salt, unit)``; ``u < split_ratio`` goes to the first candidate
    (the control, in the arm's own order), the rest is shared equally by the
    others. Sticky: a cooling-down model is still chosen (availability would
    break the assignment); only a model over its context window is replaced,
    by the first fitting candidate, and the reason says so.
    """

    name = "ab_split"

    def __init__(self, candidates: Sequence[str], *, split_ratio: float, salt: str) -> None:
        super().__init__(candidates)
        if len(self.candidates) < 2:
            raise ValueError("ab_split needs at least two candidates")
        if not 0.0 < split_ratio < 1.0:
            raise ValueError(f"ab_split.split_ratio must be in (0, 1), got {split_ratio}")
        self.split_ratio = split_ratio
        self.salt = salt

    def assign(self, unit: str) -> str:
        """The candidate a unit is assigned to."""
        u = unit_uniform(self.salt, unit)
        if u < self.split_ratio:
            return self.candidates[0]
        rest = self.candidates[1:]
        share = (u - self.split_ratio) / (1.0 - self.split_ratio)
        return rest[min(int(share * len(rest)), len(rest) - 1)]

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:
        ctx = need_ctx(self.name, ctx)
        unit = ctx.unit_id or task.task_id
        chosen = self.assign(unit)
        sc = self.screen(task, ctx)
        why = f"unit {unit} assigned (ratio {self.split_ratio})"
        if chosen not in sc.fitting:
            return self.decide(sc.fitting[0], f"instead of {chosen}: {why}", sc.notes)
        notes = [n for n in sc.notes if not n.startswith(("cooling", "every"))]
        if not ctx.available(chosen):
            notes.append("cooling down, sent anyway (sticky)")
        return self.decide(chosen, why, notes)
