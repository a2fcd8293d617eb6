"""Which fault, if any, a request gets: the test-control queue first, then the profile's rates."""

from __future__ import annotations

import hashlib
import random
from collections import deque
from dataclasses import dataclass

from harness.sim.settings import ModelProfile

__all__ = ["FAULTS", "Fault", "FaultPlan", "parse_fault"]

#: Fault names ``POST /sim/faults`` accepts, with the HTTP status each answers.
FAULTS: dict[str, int] = {
    "429": 429,  # rate limited, with Retry-After ("429:0.2" sets its seconds)
    "500": 500,  # internal server error
    "503": 503,  # service unavailable
    "529": 529,  # overloaded (Anthropic's status)
    "hang": 200,  # silent for hang_s before answering ("hang:2" sets the seconds)
    "cut": 200,  # body stops midway: a stream ends cleanly without its terminal event,
    # a JSON body is closed short of its Content-Length
    "reset": 200,  # the connection drops midway through a stream or a body
    "malformed": 200,  # invalid JSON with status 200
    "html": 502,  # a proxy's HTML error page
    "empty": 200,  # status 200 and no body
    "wrong_content_type": 200,  # status 200, text/plain
}


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault to inject; ``arg`` is its optional number (Retry-After or hang seconds)."""

    name: str
    arg: float | None = None

    @property
    def status(self) -> int:
        return FAULTS[self.name]


def parse_fault(text: str) -> Fault:
    """``"429"``, ``"429:0.5"``, ``"hang:2"`` … as a :class:`Fault`; ValueError if unknown."""
    name, _, arg = str(text).partition(":")
    if name not in FAULTS:
        raise ValueError(f"unknown fault {text!r}; known: {', '.join(FAULTS)}")
    return Fault(name, float(arg) if arg else None)


class FaultPlan:
    """Queued faults per model (or ``*``) and seeded per-profile fault draws."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._queues: dict[str, deque[Fault]] = {}
        self._rngs: dict[str, random.Random] = {}

    def queue(self, model: str, faults: list[Fault]) -> None:
        """Faults for the next requests to ``model`` (an API model id, a profile, or ``*``)."""
        self._queues.setdefault(model, deque()).extend(faults)

    def pending(self) -> dict[str, list[str]]:
        """What is still queued, by key."""
        out = {}
        for key, q in self._queues.items():
            if q:
                out[key] = [f.name if f.arg is None else f"{f.name}:{f.arg:g}" for f in q]
        return out

    def reset(self) -> None:
        """Drop every queued fault and restart the seeded draws."""
        self._queues.clear()
        self._rngs.clear()

    def next(
        self, model: str, profile_name: str, profile: ModelProfile, protocol: str
    ) -> Fault | None:
        """The fault for one request: queued for the model, the profile or ``*``, else drawn."""
        for key in (model, profile_name, "*"):
            q = self._queues.get(key)
            if q:
                return q.popleft()
        rates = profile.faults
        table = (
            ("429", rates.rate_limit),
            ("500", rates.server_error),
            ("529" if protocol == "anthropic" else "503", rates.overloaded),
            ("hang", rates.hang),
            ("cut", rates.cut_stream),
        )
        if not any(rate > 0 for _, rate in table):
            return None
        rng = self._rngs.get(profile_name)
        if rng is None:
            digest = hashlib.blake2b(f"{self._seed}\x1f{profile_name}".encode(), digest_size=8)
            rng = self._rngs[profile_name] = random.Random(int.from_bytes(digest.digest(), "big"))
        r = rng.random()
        for name, rate in table:
            if r < rate:
                return Fault(name, rates.retry_after_s if name == "429" else None)
            r -= rate
        return None
