"""The report's comparison of arms: the table, why each test was chosen, and the reading.

The table comes from :func:`harness.analysis.compare.compare_design`, which picks
each test from the run's design and adjusts p-values across the table.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

import pandas as pd

from harness.analysis.compare import DESIGN_COLUMNS, compare_design
from harness.analysis.html import Block, Heading, Items, Text, table
from harness.analysis.report_format import (
    _drop,
    _effect_text,
    _estimate_text,
    _is_ratio,
    _ok,
    _p,
    _p_eq,
    _pct,
    _text_table,
)

__all__ = ["COMPARISON_COLUMNS", "MANY_PAIRS"]

#: Columns of the comparison table every report renders (the design-aware contract).
COMPARISON_COLUMNS: tuple[str, ...] = DESIGN_COLUMNS


#: Above this many arm pairs the reading is a summary, not one paragraph per pair.
MANY_PAIRS = 6


def _comparison(
    trials: pd.DataFrame, design: str, arms: Sequence[str], alpha: float, control: str | None
) -> pd.DataFrame:
    """The design-aware comparison, arms in config order so "a vs b" reads as the experiment."""
    return compare_design(trials, design=design, control=control, alpha=alpha, arms=list(arms))


def _overall(comp: pd.DataFrame) -> pd.DataFrame:
    if "category" not in comp:
        return comp
    cat = comp["category"]
    return comp[cat.isna() | cat.astype(str).isin(["all", "(all)", "overall", "", "None"])]


def _comparison_rows(comp: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    with_cat = len(_overall(comp)) != len(comp)
    headers = [
        "comparison",
        "metric",
        *(["category"] if with_cat else []),
        "estimate [95% CI]",
        "effect size [95% CI]",
        "test",
        "p",
        "p adjusted",
        "tasks",
    ]
    rows = []
    for _, r in comp.iterrows():
        rows.append(
            [
                f"{r.arm_a} vs {r.arm_b}",
                str(r.metric),
                *([str(r.get("category"))] if with_cat else []),
                _estimate_text(r),
                _effect_text(r),
                str(r.get("method", "")),
                _p(r.get("p_value")),
                _p(r.get("p_adjusted")),
                str(r.get("n_tasks", "")),
            ]
        )
    return headers, rows


def _why_items(comp: pd.DataFrame) -> list[str]:
    """One line per comparison row (per metric and test when there are many rows)."""
    if len(comp) > 3 * MANY_PAIRS:
        first = comp.drop_duplicates(["metric", "method"])
        return [
            f"**{r.metric}** ({((comp['metric'] == r.metric) & (comp['method'] == r.method)).sum()}"
            f" rows) — {r.method}"
            + (f": e.g. {r.why}" if isinstance(r.get("why"), str) and r.why else "")
            for _, r in first.iterrows()
        ]
    items = []
    seen: set[tuple[str, str]] = set()
    for _, r in comp.iterrows():
        method, why = str(r.get("method", "")), r.get("why")
        text = str(why) if isinstance(why, str) and why else ""
        ci = r.get("ci_method")
        if isinstance(ci, str) and ci and ci != method:
            text += f"{'; ' if text else ''}interval: {ci}"
        cat = r.get("category")
        where = f", {cat}" if isinstance(cat, str) and cat not in ("all", "") else ""
        key = (f"{r.arm_a} vs {r.arm_b}{where}", f"{r.metric} {method} {text}")
        if key in seen:
            continue
        seen.add(key)
        items.append(f"**{key[0]}, {r.metric}** — {method}" + (f": {text}" if text else ""))
    return items


def _decisive_p(r: Any) -> tuple[float, str]:
    adj, raw = r.get("p_adjusted"), r.get("p_value")
    if _ok(adj):
        text = f"adjusted {_p_eq(adj)}"
        if _ok(raw) and _p(raw) != _p(adj):
            text += f", raw {_p(raw)}"
        return float(adj), text
    return (float(raw), _p_eq(raw)) if _ok(raw) else (math.nan, "p = –")


def _reading_many(overall: pd.DataFrame, alpha: float) -> list[str]:
    """The reading of a multi-arm run: which pairs differ, after adjustment."""
    paragraphs = []
    for metric, noun in (
        ("success", "success"),
        ("cost_usd", "cost per trial"),
        ("latency_ms", "latency"),
    ):
        rows = overall[overall["metric"] == metric]
        if rows.empty:
            continue
        sig = []
        for _, r in rows.iterrows():
            p, p_text = _decisive_p(r)
            if _ok(p) and p < alpha and _ok(r.estimate):
                sig.append(f"{r.arm_a} vs {r.arm_b} {_estimate_text(r)} ({p_text})")
        head = f"{noun.capitalize()}, {len(rows)} pairs compared: "
        if not sig:
            paragraphs.append(
                head + f"no pair differs significantly at the {alpha:g} level after adjustment."
            )
            continue
        shown = "; ".join(sig[:8]) + (f"; and {len(sig) - 8} more" if len(sig) > 8 else "")
        paragraphs.append(
            head + f"{len(sig)} differ significantly at the {alpha:g} level after adjustment — "
            f"{shown}. The other {len(rows) - len(sig)} do not."
        )
    return paragraphs


def _reading(comp: pd.DataFrame, summary: pd.DataFrame, alpha: float, simulated: bool) -> list[str]:
    level = f"{alpha:g}"
    paragraphs = []
    overall = _overall(comp)
    pairs = overall.groupby(["arm_a", "arm_b"], sort=False)
    if pairs.ngroups > MANY_PAIRS:
        paragraphs = _reading_many(overall, alpha)
    for (a, b), rows in pairs if pairs.ngroups <= MANY_PAIRS else ():
        by = {r.metric: r for _, r in rows.iterrows()}
        parts = []
        s = by.get("success")
        if s is None or not _ok(s.estimate):
            parts.append(
                "Success could not be compared: no task has a verifier outcome for both arms."
            )
        else:
            va = s.get("value_a") if _ok(s.get("value_a")) else summary["success_rate"].get(a)
            vb = s.get("value_b") if _ok(s.get("value_b")) else summary["success_rate"].get(b)
            p, p_text = _decisive_p(s)
            mid = s.get("p_value_midp")
            ci = (
                f"95% CI {100 * s.ci_low:+.1f} to {100 * s.ci_high:+.1f}; "
                if _ok(s.ci_low) and _ok(s.ci_high)
                else ""
            )
            parts.append(
                f"On success, {a} scored {_pct(va)} and {b} {_pct(vb)} over "
                f"{s.n_tasks} tasks: a difference of {100 * s.estimate:+.1f} points "
                f"({ci}{s.method}; {p_text}" + (f", mid-p {_p(mid)}" if _ok(mid) else "") + ")."
            )
            if _ok(p) and p < alpha and s.estimate != 0:
                better = a if s.estimate > 0 else b
                parts.append(f"{better} is better on success, significant at the {level} level.")
            else:
                parts.append(
                    f"The difference is not significant at the {level} level: this run does "
                    "not show either arm better on success."
                )
                if _ok(mid) and float(mid) < alpha:
                    parts.append(
                        "The mid-p test, less conservative than the exact one, would call it "
                        "significant; treat it as suggestive and run more tasks."
                    )
        for metric, noun in (("cost_usd", "cost per trial"), ("latency_ms", "latency")):
            r = by.get(metric)
            if r is None or not _ok(r.estimate):
                continue
            p, p_text = _decisive_p(r)
            sig = _ok(p) and p < alpha
            if _is_ratio(r):
                ci = f"95% CI {r.ci_low:.2f}× to {r.ci_high:.2f}×, " if _ok(r.ci_low) else ""
                parts.append(
                    f"{a}'s {noun} was {r.estimate:.2f}× {b}'s (ratio of geometric means, "
                    f"{ci}{p_text}{'' if sig else '; not significant'})."
                )
            else:
                parts.append(
                    f"{a} − {b} on {noun}: {_estimate_text(r)} ({r.method}; {p_text}"
                    f"{'' if sig else '; not significant'})."
                )
        paragraphs.append(" ".join(parts))
    if simulated and paragraphs:
        paragraphs.append(
            "These numbers come from the simulator's model profiles, not from the real models."
        )
    return paragraphs


def _comparison_section(
    trials: pd.DataFrame,
    summary: pd.DataFrame,
    design: str,
    arms: Sequence[str],
    alpha: float,
    control: str | None,
    simulated: bool,
) -> tuple[pd.DataFrame, list[Block], list[str]]:
    """The comparison, why these tests and the reading of a run with two arms or more.

    Returns:
        The comparison frame (:data:`COMPARISON_COLUMNS` first), the blocks and
        the console lines.
    """
    comp = _comparison(trials, design, arms, alpha, control)
    order = {m: i for i, m in enumerate(dict.fromkeys(comp["metric"]))}
    shown = comp.sort_values("metric", key=lambda m: m.map(order), kind="stable")
    h, rows = _comparison_rows(shown)
    # A multi-arm table runs to hundreds of rows: folded in HTML, so the page stays readable.
    fold = f"{len(rows)} comparisons (click to show)" if len(rows) > 40 else None
    blocks: list[Block] = [Heading(f"Comparison ({design} design)"), table(h, rows, fold=fold)]
    blocks += [Text("Why these tests:"), Items(tuple(_why_items(shown)))]
    txt = ["", _text_table(*_drop(h, rows, "effect size [95% CI]"))]
    reading = _reading(comp, summary, alpha, simulated)
    blocks += [Heading("Reading"), *(Text(p) for p in reading)]
    txt += ["", *(textwrap.fill(p, 100) for p in reading)]
    return comp, blocks, txt
