"""Re-price stored calls from their usage: audit stored costs, or price them anew.

Every ``calls`` row keeps its usage (input, output, cache-read and cache-write
tokens), the request time and the price's source and version, so its cost can
be derived again — with the prices in force at the request (``when=None``) or
at another date, with today's genai-prices or a changed portfolio override.

    from harness.cost.reprice import reprice, run_pricer
    df = reprice("results/ab_sonnet_vs_qwen", run_pricer("results/ab_sonnet_vs_qwen/<run>"))
    df[df.diff_usd.abs() > 1e-9]      # calls whose stored cost differs
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.cost.pricing import Pricer
from harness.errors import HarnessError
from harness.llm.types import Usage

if TYPE_CHECKING:
    import duckdb

__all__ = ["reprice", "run_pricer"]

_COLS = (
    "call_id", "run_id", "portfolio_model", "started_at", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "cost_usd", "price_source", "price_version",
    "cache_savings_usd",
)  # fmt: skip


def _int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


def reprice(
    con_or_path: duckdb.DuckDBPyConnection | str | Path,
    pricer: Pricer,
    when: datetime | None = None,
) -> pd.DataFrame:
    """Stored against recomputed cost for every call that reported usage.

    Args:
        con_or_path: A connection exposing ``calls`` (a run database or
            :func:`~harness.store.reader.open_results`), or a results folder,
            run folder or DuckDB file.
        pricer: Prices the portfolio keys in ``calls.portfolio_model`` (e.g.
            :func:`run_pricer` for the run's own portfolio).
        when: Price every call at this time; None: at its own ``started_at``.

    Returns:
        One row per call: ``call_id, run_id, portfolio_model, started_at``,
        the usage columns, ``stored_cost_usd, stored_price_source,
        stored_price_version, stored_cache_savings_usd``, the recomputed
        ``cost_usd, price_source, price_version, cache_savings_usd`` and
        ``diff_usd`` (recomputed − stored).
    """
    own = not hasattr(con_or_path, "execute")
    if own:
        from harness.store.reader import open_results

        con = open_results(con_or_path)  # type: ignore[arg-type]
    else:
        con = con_or_path  # type: ignore[assignment]
    try:
        have = {r[0] for r in con.execute("SELECT * FROM calls LIMIT 0").description}
        select = ", ".join(c if c in have else f"NULL AS {c}" for c in _COLS)
        stored = con.execute(
            f"SELECT {select} FROM calls "
            "WHERE input_tokens IS NOT NULL OR output_tokens IS NOT NULL "
            "ORDER BY run_id, started_at, call_id"
        ).df()
    finally:
        if own:
            con.close()
    stored = stored.rename(
        columns={
            "cost_usd": "stored_cost_usd",
            "price_source": "stored_price_source",
            "price_version": "stored_price_version",
            "cache_savings_usd": "stored_cache_savings_usd",
        }
    )
    known = set(pricer.models)
    out: dict[str, list[Any]] = {"cost_usd": [], "price_source": [], "price_version": [],
                                 "cache_savings_usd": []}  # fmt: skip
    for row in stored.itertuples(index=False):
        if row.portfolio_model not in known:
            price = None
        else:
            usage = Usage(
                input_tokens=_int(row.input_tokens),
                output_tokens=_int(row.output_tokens),
                cached_input_tokens=_int(row.cached_input_tokens),
                cache_write_tokens=_int(row.cache_write_tokens),
            )
            at = when or pd.Timestamp(row.started_at).to_pydatetime()
            price = pricer.price(row.portfolio_model, usage, at)
        out["cost_usd"].append(None if price is None else price.cost_usd)
        out["price_source"].append("unknown model" if price is None else price.source)
        out["price_version"].append(None if price is None else price.version)
        out["cache_savings_usd"].append(None if price is None else price.cache_savings_usd)
    for k, v in out.items():
        stored[k] = pd.Series(v, index=stored.index, dtype=float if "usd" in k else object)
    stored["diff_usd"] = stored["cost_usd"] - stored["stored_cost_usd"].astype(float)
    return stored


def run_pricer(path: str | Path, run_id: str | None = None) -> Pricer:
    """A :class:`Pricer` for the portfolio saved in a run's ``runs.config``.

    Args:
        path: A run folder, a DuckDB file, or a results folder (then ``run_id``).
        run_id: Which run's portfolio (default: the only or first run).
    """
    from omegaconf import OmegaConf

    from harness.config.schema import Config
    from harness.store.reader import open_results

    con = open_results(path)
    try:
        sql = "SELECT config FROM runs" + (" WHERE run_id = ?" if run_id else "")
        row = con.execute(
            sql + " ORDER BY started_at LIMIT 1", [run_id] if run_id else []
        ).fetchone()
    finally:
        con.close()
    if row is None or not row[0]:
        raise HarnessError(
            f"reprice: no run config in {path}" + (f" for {run_id}" if run_id else "")
        )
    saved = OmegaConf.create(row[0])
    portfolio = OmegaConf.merge(OmegaConf.structured(Config).portfolio, saved.get("portfolio", {}))
    models = OmegaConf.to_object(portfolio).models  # type: ignore[union-attr]
    return Pricer(models)
