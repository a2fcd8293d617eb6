"""How report cells and plain-text tables are written: percentages, dollars, p-values, CIs.

Helpers shared by the report modules (:mod:`harness.analysis.report` and its
sections); a missing value (None, NA, NaN) is always written ``–``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

# Internal to the report modules: nothing here is public API.
__all__: list[str] = []


def _ok(x: Any) -> bool:
    if x is None or x is pd.NA:
        return False
    try:
        return not math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _pct(x: Any) -> str:
    return f"{100 * float(x):.1f}%" if _ok(x) else "–"


def _usd(x: Any) -> str:
    if not _ok(x):
        return "–"
    x = float(x)
    if abs(x) < 5e-9:
        return "$0"  # float noise from sums of differences, not a saving
    if abs(x) >= 100:
        return f"${x:,.0f}"
    if abs(x) >= 1:
        return f"${x:.2f}"
    return f"${x:.3g}"


def _ms(x: Any) -> str:
    return f"{float(x):,.0f} ms" if _ok(x) else "–"


def _num(x: Any) -> str:
    if not _ok(x):
        return "–"
    x = float(x)
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _p(p: Any) -> str:
    if not _ok(p):
        return "–"
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def _p_eq(p: Any) -> str:
    text = _p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def _is_ratio(row: Any) -> bool:
    words = f"{row.get('effect_name', '')} {row.get('method', '')}".lower()
    return row.get("metric") != "success" and ("ratio" in words or "log" in words)


def _estimate_text(row: Any) -> str:
    est, lo, hi = row.get("estimate"), row.get("ci_low"), row.get("ci_high")
    if not _ok(est):
        return "–"
    if row.get("metric") == "success":
        body = f"{100 * est:+.1f} pp"
        return f"{body} [{100 * lo:+.1f}, {100 * hi:+.1f}]" if _ok(lo) and _ok(hi) else body
    if _is_ratio(row):
        return f"{est:.2f}× [{lo:.2f}, {hi:.2f}]" if _ok(lo) and _ok(hi) else f"{est:.2f}×"
    return f"{_num(est)} [{_num(lo)}, {_num(hi)}]" if _ok(lo) and _ok(hi) else _num(est)


def _effect_text(row: Any) -> str:
    name, eff = row.get("effect_name"), row.get("effect")
    if not isinstance(name, str) or not name or not _ok(eff):
        return "–"
    lo, hi = row.get("effect_lo"), row.get("effect_hi")
    ci = f" [{float(lo):.2f}, {float(hi):.2f}]" if _ok(lo) and _ok(hi) else ""
    return f"{name} {float(eff):.2f}{ci}"


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(s.rstrip() for s in out)


def _drop(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *names: str
) -> tuple[list[str], list[list[str]]]:
    keep = [i for i, h in enumerate(headers) if h not in names]
    return [headers[i] for i in keep], [[r[i] for i in keep] for r in rows]


def _arm_rows(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    headers = [
        "arm",
        "model",
        "tasks",
        "trials",
        "success [95% CI]",
        "CI method",
        "cost/trial [95% CI]",
        "cost/success",
        "total cost",
        "latency p50",
        "latency p95",
        "TTFT p50",
        "errors",
    ]
    rows = []
    for arm, r in summary.iterrows():
        succ = (
            f"{_pct(r.success_rate)} [{_pct(r.success_ci_low)}, {_pct(r.success_ci_high)}]"
            if _ok(r.success_rate)
            else "–"
        )
        cost = (
            f"{_usd(r.mean_cost_usd)} [{_usd(r.cost_ci_low)}, {_usd(r.cost_ci_high)}]"
            if _ok(r.mean_cost_usd)
            else "–"
        )
        rows.append(
            [
                str(arm),
                r.model,
                str(r.n_tasks),
                str(r.n_trials),
                succ,
                r.success_ci_method,
                cost,
                _usd(r.cost_per_success_usd),
                _usd(r.total_cost_usd),
                _ms(r.latency_p50_ms),
                _ms(r.latency_p95_ms),
                _ms(r.ttft_p50_ms),
                str(r.n_errors),
            ]
        )
    return headers, rows


def _category_table(cats: pd.DataFrame, arms: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """Success [CI] (tasks) per category and arm; the shorter list becomes the columns."""
    categories = sorted(cats["category"].unique())
    cell = {
        (r.arm, r.category): f"{_pct(r.success_rate)} [{_pct(r.success_ci_low)}, "
        f"{_pct(r.success_ci_high)}] ({r.n_tasks})"
        for r in cats.itertuples(index=False)
    }
    if len(arms) <= len(categories):
        headers = ["category", *[f"{a} [95% CI] (tasks)" for a in arms]]
        rows = [[c, *(cell.get((a, c), "–") for a in arms)] for c in categories]
    else:
        headers = ["arm", *[f"{c} [95% CI] (tasks)" for c in categories]]
        rows = [[a, *(cell.get((a, c), "–") for c in categories)] for a in arms]
    return headers, rows
