"""The router interface and the ``fixed`` strategy.

A router never does I/O: it looks at the task and its own state and says which
portfolio model to call, why, and which candidates it considered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from harness.errors import ConfigError
from harness.tasks.types import Task

__all__ = ["Decision", "FixedRouter", "Router", "make_router"]


@dataclass(frozen=True, slots=True)
class Decision:
    model: str
    reason: str
    candidates: tuple[str, ...] = ()


class Router(Protocol):
    name: str

    def route(self, task: Task) -> Decision: ...


class FixedRouter:
    """Always the arm's model."""

    name = "fixed"

    def __init__(self, model: str) -> None:
        self._model = model

    def route(self, task: Task) -> Decision:
        return Decision(self._model, f"fixed: arm model {self._model}", (self._model,))


_STRATEGIES = {"fixed": FixedRouter}


def make_router(strategy: str, *, model: str) -> Router:
    """Build an arm's router; unknown strategies name the valid ones."""
    try:
        cls = _STRATEGIES[strategy]
    except KeyError:
        raise ConfigError(
            f"unknown router strategy {strategy!r}; valid: {', '.join(sorted(_STRATEGIES))}"
        ) from None
    return cls(model)
