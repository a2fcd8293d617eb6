"""The hook a budget (or any admission control) plugs into the client.

The client calls :meth:`CallGate.reserve` before each hop of a logical call
(a hop is one model of a fallback chain; its retries share the reservation)
and :meth:`CallGate.settle` once the hop is over, with the actual cost of all
its attempts. A gate that refuses raises :class:`~harness.errors.BudgetExceededError`
and nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from harness.llm.types import ChatRequest

__all__ = ["CallGate", "Reservation"]


@dataclass(slots=True)
class Reservation:
    """What a gate holds for one hop; ``amount_usd`` is stored as ``calls.reserved_usd``."""

    model_key: str
    amount_usd: float


class CallGate(Protocol):
    def reserve(self, model_key: str, req: ChatRequest) -> Reservation:
        """Hold the hop's worst-case cost; raise BudgetExceededError to refuse."""
        ...

    def settle(self, reservation: Reservation, cost_usd: float | None) -> None:
        """Replace the hold with the actual cost (None: unknown, keep the hold)."""
        ...
