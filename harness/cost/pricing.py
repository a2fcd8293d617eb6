"""Price a call from its usage: genai-prices, or the portfolio's override.

Every price carries its source (``genai-prices <version>`` or ``config``), so a
stored cost can be audited and re-derived later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from harness.config.schema import ModelConfig
from harness.llm.types import Usage

__all__ = ["Price", "Pricer"]


@dataclass(frozen=True, slots=True)
class Price:
    cost_usd: float | None
    source: str


class Pricer:
    """Prices calls of a portfolio's models. Lookups that fail are remembered."""

    def __init__(self, models: Mapping[str, ModelConfig]) -> None:
        import genai_prices

        self._models = models
        self._gp = genai_prices
        self._gp_source = f"genai-prices {genai_prices.__version__}"
        self._missing: set[str] = set()
        # Flat per-token rates, looked up once per model: calc_price costs ~0.2 ms a call.
        self._flat: dict[str, tuple[float, float, float] | None] = {}

    def price(self, model_key: str, usage: Usage, when: datetime | None = None) -> Price:
        """Cost of one call; ``cost_usd`` is None when usage or a price is missing."""
        cfg = self._models[model_key]
        if usage.input_tokens is None and usage.output_tokens is None:
            return Price(None, "no usage")
        inp = usage.input_tokens or 0
        out = usage.output_tokens or 0
        cached = usage.cached_input_tokens or 0
        if cfg.price is not None:
            p = cfg.price
            cached_rate = (
                p.cached_input_per_mtok if p.cached_input_per_mtok is not None else p.input_per_mtok
            )
            cost = (
                (inp - cached) * p.input_per_mtok + cached * cached_rate + out * p.output_per_mtok
            ) / 1e6
            return Price(cost, "config")
        if model_key in self._missing:
            return Price(None, "no price")
        flat = self._flat.get(model_key)
        if flat is not None:
            rin, rout, rcached = flat
            return Price(
                ((inp - cached) * rin + cached * rcached + out * rout) / 1e6, self._gp_source
            )
        try:
            calc = self._gp.calc_price(
                self._gp.Usage(
                    input_tokens=inp,
                    output_tokens=out,
                    cache_read_tokens=cached or None,
                    cache_write_tokens=usage.cache_write_tokens,
                ),
                model_ref=cfg.model_id,
                provider_id=cfg.provider,
                genai_request_timestamp=when or datetime.now(UTC),
            )
        except LookupError:
            self._missing.add(model_key)
            return Price(None, "no price")
        if model_key not in self._flat:
            self._flat[model_key] = _flat_rates(calc.model_price)
        return Price(float(calc.total_price), self._gp_source)


def _flat_rates(mp: Any) -> tuple[float, float, float] | None:
    """(input, output, cache-read) $/MTok when the price is flat, else None (tiered, …)."""
    rin, rout = mp.input_mtok, mp.output_mtok
    rcached = mp.cache_read_mtok if mp.cache_read_mtok is not None else rin
    if not all(isinstance(r, Decimal) for r in (rin, rout, rcached)):
        return None
    if getattr(mp, "requests_kcount", None):
        return None
    return float(rin), float(rout), float(rcached)
