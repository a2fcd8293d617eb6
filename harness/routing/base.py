"""The router interface: decisions, the context a router reads, the feedback it learns from.

A router never does I/O: it looks at the task, the :class:`RouteContext` and its
own state, and says which portfolio model to call, why, which candidates it
considered, and which models the call may fall back to. Strategies that learn
take :class:`Feedback` through ``observe`` once a trial is verified.

Conventions every strategy follows:

* Candidates are kept in portfolio order (the order of ``portfolio.models``),
  and every tie is broken by that order — the first candidate wins — so a
  decision is a function of (task, context, state) alone.
* A model whose context window cannot hold the estimated prompt plus the
  completion cap is never chosen (``fixed`` excepted: the arm *is* that model,
  and the reason says the call will likely fail).
* A model the client reports unavailable (cooling down after failures) is
  skipped; if every candidate is, availability is ignored and the reason says so.
* A router that finds no candidate raises :class:`NoRouteError`; the trial is
  recorded with status ``route_error`` and no call is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness.config.schema import ModelConfig
from harness.errors import HarnessError
from harness.tasks.requirements import (
    TaskRequirements,
    chars_per_token,
    model_family,
    requirements,
)
from harness.tasks.types import Task

__all__ = [
    "BaseRouter",
    "Decision",
    "Feedback",
    "ModelRates",
    "NoRouteError",
    "RouteContext",
    "Router",
    "Screen",
    "need_ctx",
]


@dataclass(frozen=True, slots=True)
class Decision:
    """What a router chose.

    Attributes:
        model: Portfolio key to call.
        reason: One line saying why (stored on the trial and on every call).
        candidates: Portfolio keys considered, in portfolio order.
        fallbacks: Portfolio keys the call may move to, in order, if ``model`` fails.
    """

    model: str
    reason: str
    candidates: tuple[str, ...] = ()
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelRates:
    """List price of a model, USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """USD of a call with this usage (no caching)."""
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6

    def effective(self, input_share: float) -> float:
        """Blended $/Mtok (the seed's "Effective $/1M" is ``input_share`` = 0.75)."""
        return input_share * self.input_per_mtok + (1.0 - input_share) * self.output_per_mtok


def _no_price(_key: str) -> ModelRates | None:
    return None


def _always(_key: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class RouteContext:
    """Everything outside the task a router may read. Built by the caller, never mutated.

    Attributes:
        models: The portfolio: key -> config (context window, capabilities, …).
        price: Portfolio key -> list price, or None when unknown.
        available: Portfolio key -> False while the client cools the model down.
        in_flight: Portfolio key -> calls running now.
        spent_usd: What this arm has spent so far (``budget_aware``).
        budget_usd: The budget the caller gives the router, if any.
        unit_id: The unit ``ab_split`` hashes (default: the task id).
        max_output_tokens: Completion cap of the call (reserved in the context window).
        extra_prompt_chars: Characters the agent adds to the task prompt (system prompt).
        n_messages: Messages the agent sends.
        chars_per_token: Family -> characters per token, overriding the defaults.
        requirements_cache: Task id -> requirements, shared across decisions (same agent).
    """

    models: Mapping[str, ModelConfig]
    price: Callable[[str], ModelRates | None] = _no_price
    available: Callable[[str], bool] = _always
    in_flight: Mapping[str, int] = field(default_factory=dict)
    spent_usd: float = 0.0
    budget_usd: float | None = None
    unit_id: str | None = None
    max_output_tokens: int = 1024
    extra_prompt_chars: int = 0
    n_messages: int = 2
    chars_per_token: Mapping[str, float] = field(default_factory=dict)
    requirements_cache: dict[str, TaskRequirements] | None = None

    def requirements(self, task: Task) -> TaskRequirements:
        """The task's requirements as this agent will send it (memoised by task id if cached)."""
        cache = self.requirements_cache
        if cache is not None:
            hit = cache.get(task.task_id)
            if hit is not None:
                return hit
        req = requirements(task, extra_chars=self.extra_prompt_chars, n_messages=self.n_messages)
        if cache is not None:
            cache[task.task_id] = req
        return req

    def input_tokens(self, key: str, req: TaskRequirements) -> int:
        """Estimated prompt tokens of ``req`` for portfolio model ``key``."""
        cfg = self.models[key]
        cpt = chars_per_token(model_family(cfg.model_id, key), self.chars_per_token)
        return req.input_tokens(cpt)

    def output_reserve(self, key: str) -> int:
        """Completion tokens reserved in the context window."""
        return min(self.max_output_tokens, self.models[key].max_output_tokens)


@dataclass(frozen=True, slots=True)
class Feedback:
    """The outcome of one routed trial, once verified.

    Attributes:
        model: The model the router chose (credit goes to the decision).
        category: The task's category.
        success: Verified success; None when unknown (verifier off, no answer).
        cost_usd: What the trial cost (all its calls), None if unpriced.
        latency_ms: Latency of the answering call.
        ttft_ms: Time to first token of the answering call.
        error_kind: The call's error kind when it failed, else None.
        answered_by: The model that answered, if a fallback did.
    """

    model: str
    category: str
    success: bool | None
    cost_usd: float | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    error_kind: str | None = None
    answered_by: str | None = None


class NoRouteError(HarnessError):
    """No candidate can take the task (every context window too small)."""


class Router(Protocol):
    """What the runner needs from a router."""

    name: str
    candidates: tuple[str, ...]

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision: ...

    def observe(self, feedback: Feedback) -> None: ...


@dataclass(slots=True)
class Screen:
    """Candidates that can take a task, with notes on those that cannot."""

    usable: list[str]
    notes: list[str]
    req: TaskRequirements
    fitting: list[str]


class BaseRouter:
    """Shared plumbing: candidate screening and reasons. Subclasses set ``name``."""

    name = "base"

    def __init__(self, candidates: Sequence[str]) -> None:
        if not candidates:
            raise ValueError(f"{self.name}: no candidates")
        self.candidates: tuple[str, ...] = tuple(candidates)

    def observe(self, feedback: Feedback) -> None:
        """Learn from a verified trial (no-op for strategies that do not learn)."""

    def route(self, task: Task, ctx: RouteContext | None = None) -> Decision:  # pragma: no cover
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------

    def screen(self, task: Task, ctx: RouteContext, among: Iterable[str] | None = None) -> Screen:
        """Candidates whose context window fits the task and that are available.

        ``usable`` keeps the order of ``among`` (default: the candidates).
        Raises NoRouteError when none fits the context window.
        """
        req = ctx.requirements(task)
        names = list(self.candidates if among is None else among)
        notes: list[str] = []
        fitting = []
        for key in names:
            need = ctx.input_tokens(key, req) + ctx.output_reserve(key)
            window = ctx.models[key].context_window
            if need > window:
                notes.append(f"{key} over context ({need} > {window} tokens)")
            else:
                fitting.append(key)
        if not fitting:
            raise NoRouteError(
                f"{self.name}: no candidate's context window fits task {task.task_id}: "
                + "; ".join(notes)
            )
        usable = [k for k in fitting if ctx.available(k)]
        cooling = [k for k in fitting if k not in usable]
        if cooling and usable:
            notes.append(f"cooling down: {', '.join(cooling)}")
        elif not usable:
            notes.append("every fitting candidate is cooling down; availability ignored")
            usable = fitting
        return Screen(usable=usable, notes=notes, req=req, fitting=fitting)

    def decide(
        self, model: str, why: str, notes: Sequence[str] = (), fallbacks: Sequence[str] = ()
    ) -> Decision:
        """A decision whose reason is ``<strategy>: <model> <why>[; notes]``."""
        reason = f"{self.name}: {model} {why}"
        if notes:
            reason += "; " + "; ".join(notes)
        return Decision(model, reason, self.candidates, tuple(fallbacks))


def need_ctx(router: str, ctx: RouteContext | None) -> RouteContext:
    """The context, or a clear error for a strategy that needs one."""
    if ctx is None:
        raise ValueError(f"{router}: route() needs a RouteContext")
    return ctx
