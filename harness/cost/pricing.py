"""Price a call from its usage: genai-prices at the request time, or the portfolio's override.

Every price carries its provenance: ``source`` says where it came from
(``genai-prices``, ``config`` for a per-token override, ``gpu-hour`` for a
self-hosted model priced from its GPU cost) and ``version`` which data
(the genai-prices package version, or ``config``), so a stored cost can be
audited and re-derived later (:mod:`harness.cost.reprice`).

Usage convention (:class:`~harness.llm.types.Usage`): ``input_tokens`` counts
the whole prompt, cache reads and cache writes included. So the cost is

    (input − cache_read − cache_write) · r_in + cache_read · r_read
      + cache_write · r_write + output · r_out

and ``cache_savings_usd`` is the price of the same usage with no caching (every
input token at ``r_in``) minus that cost — negative when cache writes cost more
than the reads saved.

Self-hosted models: ``r = gpu_hour_usd / (3600 · throughput_tok_s) · 1e6`` USD per
million tokens (input uses ``input_throughput_tok_s`` when given). E.g. a $2.00/h
GPU at 1500 tok/s is $0.370 per million tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from harness.config.schema import ModelConfig, PriceOverride
from harness.errors import ConfigError
from harness.llm.types import Usage

__all__ = ["Price", "Pricer", "Rates", "gpu_hour_rate"]


@dataclass(frozen=True, slots=True)
class Price:
    """A call's cost and where the price came from."""

    cost_usd: float | None
    source: str
    version: str | None = None
    """genai-prices package version, or ``config`` for overrides."""
    cache_savings_usd: float | None = None
    """Uncached price of the same usage minus ``cost_usd`` (0.0 when nothing was cached)."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Flat USD per million tokens for one model."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    def cost(self, inp: int, out: int, read: int, write: int) -> float:
        return ((inp - read - write) * self.input + read * self.cache_read
                + write * self.cache_write + out * self.output) / 1e6  # fmt: skip

    def uncached(self, inp: int, out: int) -> float:
        return (inp * self.input + out * self.output) / 1e6


def gpu_hour_rate(gpu_hour_usd: float, throughput_tok_s: float) -> float:
    """USD per million tokens of a GPU costing ``gpu_hour_usd`` an hour at this throughput."""
    return gpu_hour_usd / (3600.0 * throughput_tok_s) * 1e6


def _override_rates(key: str, p: PriceOverride) -> tuple[Rates, str]:
    """Flat rates of a config override and its source (``config`` or ``gpu-hour``)."""
    where = f"portfolio.models.{key}.price"
    if p.gpu_hour_usd is None and p.throughput_tok_s is None:
        rin = p.input_per_mtok
        return Rates(
            input=rin,
            output=p.output_per_mtok,
            cache_read=p.cached_input_per_mtok if p.cached_input_per_mtok is not None else rin,
            cache_write=p.cache_write_per_mtok if p.cache_write_per_mtok is not None else rin,
        ), "config"
    if p.gpu_hour_usd is None or p.throughput_tok_s is None:
        raise ConfigError(f"{where}: gpu_hour_usd and throughput_tok_s go together")
    if p.input_per_mtok or p.output_per_mtok or p.cached_input_per_mtok is not None:
        raise ConfigError(f"{where}: give per-token rates or gpu_hour_usd, not both")
    tps_in = p.input_throughput_tok_s or p.throughput_tok_s
    if p.gpu_hour_usd < 0 or p.throughput_tok_s <= 0 or tps_in <= 0:
        raise ConfigError(f"{where}: gpu_hour_usd must be >= 0 and throughputs > 0")
    rin = gpu_hour_rate(p.gpu_hour_usd, tps_in)
    rw = p.cache_write_per_mtok if p.cache_write_per_mtok is not None else rin
    return Rates(rin, gpu_hour_rate(p.gpu_hour_usd, p.throughput_tok_s), rin, rw), "gpu-hour"


class Pricer:
    """Prices calls of a portfolio's models. Lookups that fail are remembered."""

    def __init__(self, models: Mapping[str, ModelConfig]) -> None:
        import genai_prices

        self._models = models
        self.models: Mapping[str, ModelConfig] = models
        """The portfolio this pricer prices (portfolio key -> model)."""
        self._gp = genai_prices
        self.gp_version: str = genai_prices.__version__
        self._missing: set[str] = set()
        self._overrides: dict[str, tuple[Rates, str]] = {
            k: _override_rates(k, m.price) for k, m in models.items() if m.price is not None
        }
        # Flat per-token rates, looked up once per model: calc_price costs ~0.2 ms a
        # call. Only for models whose price has no date or tier conditions.
        self._flat: dict[str, Rates | None] = {}
        # Models with date conditions (e.g. off-peak hours): the price in force is
        # picked per call, and its flat rates are cached per price object.
        self._conditional: dict[str, Any] = {}
        self._rates_of: dict[int, tuple[Any, Rates | None]] = {}

    def price(self, model_key: str, usage: Usage, when: datetime | None = None) -> Price:
        """Cost of one call; ``cost_usd`` is None when usage or a price is missing.

        Args:
            model_key: Portfolio key.
            usage: Normalized usage of the call.
            when: Request time (genai-prices prices by date); default now.
        """
        if usage.input_tokens is None and usage.output_tokens is None:
            return Price(None, "no usage")
        inp = usage.input_tokens or 0
        out = usage.output_tokens or 0
        read = usage.cached_input_tokens or 0
        write = usage.cache_write_tokens or 0
        if read + write > inp:
            return Price(None, "invalid usage")
        over = self._overrides.get(model_key)
        if over is not None:
            rates, source = over
            cost = rates.cost(inp, out, read, write)
            return Price(cost, source, "config", rates.uncached(inp, out) - cost)
        rates = self._flat_rates(model_key, when)
        if rates is not None:
            cost = rates.cost(inp, out, read, write)
            return Price(cost, "genai-prices", self.gp_version, rates.uncached(inp, out) - cost)
        if model_key in self._missing:
            return Price(None, "no price")
        total = self._calc(model_key, inp, out, read, write, when)
        if total is None:
            return Price(None, "no price")
        plain = total if not (read or write) else self._calc(model_key, inp, out, 0, 0, when)
        savings = None if plain is None else plain - total
        return Price(total, "genai-prices", self.gp_version, savings)

    def max_cost(
        self, model_key: str, input_tokens: int, output_tokens: int, when: datetime | None = None
    ) -> float | None:
        """Worst-case list price of a call of this size (None: no price known).

        Every input token is priced at the dearer of the input and cache-write
        rates, so no caching outcome can cost more.
        """
        over = self._overrides.get(model_key)
        rates = over[0] if over is not None else self._flat_rates(model_key, when)
        if rates is not None:
            rin = max(rates.input, rates.cache_write)
            return (input_tokens * rin + output_tokens * rates.output) / 1e6
        if model_key in self._missing:
            return None
        plain = self._calc(model_key, input_tokens, output_tokens, 0, 0, when)
        if plain is None:
            return None
        written = self._calc(model_key, input_tokens, output_tokens, 0, input_tokens, when)
        return max(plain, written if written is not None else plain)

    def _flat_rates(self, model_key: str, when: datetime | None) -> Rates | None:
        if model_key not in self._flat and model_key not in self._missing:
            # One lookup fills the cache (or marks the model missing).
            self._calc(model_key, 1, 1, 0, 0, when)
        rates = self._flat.get(model_key)
        if rates is not None:
            return rates
        info = self._conditional.get(model_key)
        if info is None:
            return None
        mp = info.get_prices(when or datetime.now(UTC))
        hit = self._rates_of.get(id(mp))
        if hit is None or hit[0] is not mp:  # keep mp alive so its id stays unique
            hit = self._rates_of[id(mp)] = (mp, _flat_rates(mp))
        return hit[1]

    def _calc(
        self, model_key: str, inp: int, out: int, read: int, write: int, when: datetime | None
    ) -> float | None:
        cfg = self._models[model_key]
        try:
            calc = self._gp.calc_price(
                self._gp.Usage(
                    input_tokens=inp,
                    output_tokens=out,
                    cache_read_tokens=read or None,
                    cache_write_tokens=write or None,
                ),
                model_ref=cfg.model_id,
                provider_id=cfg.provider,
                genai_request_timestamp=when or datetime.now(UTC),
            )
        except LookupError:
            self._missing.add(model_key)
            return None
        if model_key not in self._flat:
            # A list of prices means date conditions: look those up per call.
            unconditional = not isinstance(calc.model.prices, list)
            self._flat[model_key] = _flat_rates(calc.model_price) if unconditional else None
            if not unconditional:
                self._conditional[model_key] = calc.model
        return float(calc.total_price)


def _flat_rates(mp: Any) -> Rates | None:
    """The model's rates when they are flat (no tiers, no per-request fee), else None."""
    rin, rout = mp.input_mtok, mp.output_mtok
    rread = mp.cache_read_mtok if mp.cache_read_mtok is not None else rin
    rwrite = mp.cache_write_mtok if mp.cache_write_mtok is not None else rin
    if not all(isinstance(r, Decimal) for r in (rin, rout, rread, rwrite)):
        return None
    if getattr(mp, "requests_kcount", None):
        return None
    return Rates(float(rin), float(rout), float(rread), float(rwrite))
