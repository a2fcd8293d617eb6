"""The end-of-run report: markdown, self-contained HTML, a console text, figures and tables.

:func:`build_report` reads one run through a DuckDB connection and returns a
:class:`Report` (no files touched); :func:`build_cross_report` puts several
runs' reports side by side (the members of a sweep, say); :func:`write_report`
writes ``report.md``, ``report.html`` and the figures as PNG. A run against the
simulator says so on the first line of every text.

Some sections render functions that other modules provide (the design-aware
comparison, the achieved MDE, the router evaluation). Each is looked up when
the report is built; while one is not there, the report falls back (the plain
pairwise comparison) or leaves its section out. Only the absence of that
module or name is tolerated: an error inside it propagates.
"""

from __future__ import annotations

import importlib
import inspect
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.analysis.compare import compare_arms
from harness.analysis.frames import (
    arm_summary,
    cache_summary,
    calls_frame,
    category_summary,
    model_category_success,
    runs_frame,
    trials_frame,
)
from harness.analysis.html import (
    Banner,
    Block,
    FigureRef,
    Heading,
    Items,
    Links,
    Text,
    png_bytes,
    render_html,
    render_markdown,
    table,
)

if TYPE_CHECKING:
    import duckdb
    from matplotlib.figure import Figure

__all__ = [
    "COMPARISON_COLUMNS",
    "FEW_TASKS",
    "MANY_PAIRS",
    "SIMULATED_BANNER",
    "Report",
    "build_cross_report",
    "build_report",
    "write_report",
]

#: First line of every report of a simulated run (markdown prefixes "> ").
SIMULATED_BANNER = "SIMULATED run: endpoints=sim — figures describe the simulator, not real models."

#: Fewer tasks than this in a run earns a warning: intervals are wide and tests weak.
FEW_TASKS = 30

#: Columns of the comparison table every report renders (the design-aware contract).
COMPARISON_COLUMNS: tuple[str, ...] = (
    "arm_a",
    "arm_b",
    "metric",
    "category",
    "n_tasks",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "method",
    "why",
    "effect_name",
    "effect",
    "effect_lo",
    "effect_hi",
)


@dataclass
class Report:
    """Everything a report shows.

    Attributes:
        run_id: The run reported on (a label for a cross-run report).
        simulated: True when the run (every run, for a cross-run report) was
            against the simulator.
        markdown: The text of ``report.md`` (figures referenced as ``<name>.png``).
        console: Plain-text version for the terminal.
        figures: Figures by file stem.
        tables: The DataFrames behind the text (``arms``, ``comparison``,
            ``errors``, ``categories`` …; a section left out has no table).
        blocks: The document both texts are rendered from.
        warnings: The warnings shown at the top, one sentence each.
        meta: Facts about the run for cross-run reports (experiment, design,
            status, endpoints, seed, tasks, trials, started_at, config).
        title: The report's title.
    """

    run_id: str
    simulated: bool
    markdown: str
    console: str
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    title: str = ""

    def html(self, dpi: int = 110, images: Mapping[str, bytes] | None = None) -> str:
        """The report as one self-contained HTML page (figures embedded as PNG).

        Args:
            dpi: Resolution of the figures rendered here.
            images: Figures already rendered to PNG, by name (not rendered again).
        """
        figures: dict[str, Figure | bytes] = {**self.figures, **(images or {})}
        return render_html(self.blocks, figures, title=self.title or self.run_id, dpi=dpi)


# --------------------------------------------------------------------------- lookup


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """``module.name`` if both exist, else None.

    Only a missing module or name means "not there yet"; any other error
    raised while importing the module is a real bug and propagates.
    """
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise
    return getattr(mod, name, None)


# --------------------------------------------------------------------------- formatting


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


# --------------------------------------------------------------------------- content


def _config(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text.strip():
        return {}
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _arm_order(cfg: dict[str, Any], trials: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(trials["arm"].tolist()))
    arms = cfg.get("arms") if isinstance(cfg.get("arms"), dict) else {}
    order = [a for a in arms if a in present]
    return order + sorted(a for a in present if a not in order)


def _control(cfg: dict[str, Any]) -> str | None:
    design = cfg.get("design")
    control = design.get("control") if isinstance(design, dict) else None
    return str(control) if control else None


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


# --------------------------------------------------------------------------- comparison

_WHY = (
    (
        "on logs",
        "cost and latency are positive and right-skewed: compared as a ratio of geometric "
        "means of per-task means, t on the log scale ({pairing})",
    ),
    (
        "mcnemar",
        "paired binary outcome, one replicate: only tasks where the arms disagree carry "
        "information; the exact conditional test is valid at any number of tasks",
    ),
    (
        "paired t",
        "paired design with replicates: replicates are averaged per task first and the "
        "per-task differences are tested, so the task stays the unit",
    ),
    (
        "fisher",
        "split design, one replicate: two independent groups of tasks with binary "
        "outcomes; exact test given the margins",
    ),
    (
        "welch",
        "split design with replicates: per-task success fractions of two independent "
        "groups of tasks, variances not assumed equal",
    ),
)


def _why(method: str) -> str:
    low = method.lower()
    for key, text in _WHY:
        if key in low:
            pairing = "paired on the task" if "paired" in low else "independent groups, Welch"
            return text.format(pairing=pairing)
    return ""


def _holm(p: pd.Series) -> pd.Series:
    from statsmodels.stats.multitest import multipletests

    vals = pd.to_numeric(p, errors="coerce")
    mask = vals.notna()
    out = pd.Series(np.nan, index=p.index)
    if mask.any():
        out[mask] = multipletests(vals[mask].to_numpy(dtype=float), method="holm")[1]
    return out


def _legacy_comparison(
    trials: pd.DataFrame, design: str, arms: Sequence[str], alpha: float
) -> pd.DataFrame:
    """compare_arms, reshaped to :data:`COMPARISON_COLUMNS` (Holm across all rows)."""
    comp = compare_arms(trials, design if design in ("paired", "split") else "paired", arms, alpha)
    out = comp.copy()
    out["category"] = "all"
    out["method"] = comp["test"].astype(str)
    out["why"] = out["method"].map(_why)
    out["p_adjusted"] = _holm(comp["p_value"])
    # The estimate already is the effect (risk difference or ratio); no second size here.
    out["effect_name"] = ""
    out["effect"] = out["effect_lo"] = out["effect_hi"] = np.nan
    return out[[*COMPARISON_COLUMNS, *(c for c in out.columns if c not in COMPARISON_COLUMNS)]]


def _comparison(
    trials: pd.DataFrame, design: str, arms: Sequence[str], alpha: float, control: str | None
) -> tuple[pd.DataFrame, str]:
    """The comparison frame and which function produced it."""
    compare_design = _optional("harness.analysis.compare", "compare_design")
    if compare_design is None:
        return _legacy_comparison(trials, design, arms, alpha), "compare_arms"
    kwargs: dict[str, Any] = {}
    if "arms" in inspect.signature(compare_design).parameters:
        kwargs["arms"] = list(arms)  # config order, so "a vs b" reads as the experiment does
    comp = compare_design(trials, design=design, control=control, alpha=alpha, **kwargs)
    return comp, "compare_design"


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


#: Above this many arm pairs the reading is a summary, not one paragraph per pair.
MANY_PAIRS = 6


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


# --------------------------------------------------------------------------- checks


def _errors_table(trials: pd.DataFrame, calls: pd.DataFrame, arms: Sequence[str]) -> pd.DataFrame:
    arm_of = trials.set_index("trial_id")["arm"] if len(trials) else pd.Series(dtype=object)
    calls = calls.assign(arm=calls["trial_id"].map(arm_of).fillna("(no trial)"))
    rows = []
    for arm in [*arms, *sorted(set(calls["arm"]) - set(arms))]:
        t = trials[trials["arm"] == arm]
        c = calls[calls["arm"] == arm]
        ok_calls = c[c["status"] == "ok"]
        failed = c[c["status"] != "ok"]
        kinds = failed["error_kind"].fillna("unknown").value_counts()
        rows.append(
            {
                "arm": arm,
                "trials": len(t),
                "trials_ok": int((t["status"] == "ok").sum()),
                "llm_error": int((t["status"] == "llm_error").sum()),
                "verifier_error": int((t["status"] == "verifier_error").sum()),
                "unverified": int(t["success"].isna().sum()),
                "calls": len(c),
                "calls_ok": len(ok_calls),
                "failed_calls": len(failed),
                "retries": int((c["attempt"].fillna(1) > 1).sum()),
                "usage_missing": int(
                    (ok_calls["input_tokens"].isna() | ok_calls["output_tokens"].isna()).sum()
                ),
                "cost_missing": int(ok_calls["cost_usd"].isna().sum()),
                "error_kinds": ", ".join(f"{k} {v}" for k, v in kinds.items()),
            }
        )
    return pd.DataFrame(rows).set_index("arm") if rows else pd.DataFrame()


def _replicates_as_tasks(
    trials: pd.DataFrame, design: str, comp: pd.DataFrame, alpha: float, control: str | None
) -> pd.DataFrame:
    """Would treating each replicate as a separate task change a success verdict?

    For each compared pair with replicates, the naive analysis the harness
    refuses to do (paired: exact McNemar on (task, replicate) pairs; split:
    Fisher's exact test on all trials) next to the report's per-task p-value,
    from :func:`harness.analysis.compare.replicate_sensitivity`. Empty while
    that helper is not there.
    """
    helper = _optional("harness.analysis.compare", "replicate_sensitivity")
    if helper is None:
        return pd.DataFrame()
    return _from_replicate_sensitivity(helper, trials, design, comp, alpha, control)


def _from_replicate_sensitivity(
    helper: Callable[..., pd.DataFrame],
    trials: pd.DataFrame,
    design: str,
    comp: pd.DataFrame,
    alpha: float,
    control: str | None,
) -> pd.DataFrame:
    """compare.replicate_sensitivity, with the report's column names."""
    success = _overall(comp)
    success = success[success["metric"] == "success"]
    if success.empty:
        return pd.DataFrame()
    arms = list(dict.fromkeys([*success["arm_a"], *success["arm_b"]]))
    kwargs: dict[str, Any] = {}
    if "arms" in inspect.signature(helper).parameters:
        kwargs["arms"] = arms
    sens = helper(trials, design=design, control=control, alpha=alpha, **kwargs)
    if sens.empty:
        return pd.DataFrame()
    sens = sens[sens["replicates"] > 1]
    method = {r.arm_a + "\0" + r.arm_b: r.method for r in success.itertuples()}
    naive = (
        "Fisher's exact test on trials"
        if design == "split"
        else "exact McNemar on (task, replicate) pairs"
    )
    return pd.DataFrame(
        {
            "arm_a": sens["arm_a"],
            "arm_b": sens["arm_b"],
            "n_tasks": sens["n_tasks"],
            "p_per_task": sens["p_task"],
            "method_per_task": [
                method.get(a + "\0" + b, "")
                for a, b in zip(sens["arm_a"], sens["arm_b"], strict=True)
            ],
            "n_units_naive": sens["n_units_naive"],
            "p_replicates_as_tasks": sens["p_naive"],
            "method_naive": naive,
            "changes_answer": sens["changes"].astype(bool),
        }
    ).reset_index(drop=True)


def _warnings(
    run: pd.Series,
    trials: pd.DataFrame,
    errors: pd.DataFrame,
    simulated: bool,
    naive: pd.DataFrame | None,
    alpha: float,
) -> list[str]:
    out = []
    status = str(run.get("status") or "")
    stop = run.get("stop_reason")
    stop_text = f" ({stop})" if isinstance(stop, str) and stop else ""
    if simulated:
        out.append(
            "Simulated endpoints: every answer came from the simulator's model profiles; the "
            "figures test the harness, not the real models."
        )
    if status == "budget_stopped":
        out.append(
            f"Budget stop{stop_text}: the run hit its spending cap and ended before every "
            "trial ran; tasks not finished by every arm drop out of paired comparisons."
        )
    elif status == "early_stopped":
        out.append(
            f"Early stop{stop_text}: the monitoring rule ended the run. The fixed-sample tests "
            "below do not account for the stopping rule; the always-valid p-value that "
            "stopped it is the one to quote."
        )
    elif status and status != "completed":
        out.append(
            f"Run status is {status!r}{stop_text}: the figures cover the trials finished so far."
        )
    n_tasks = int(trials["task_id"].nunique()) if len(trials) else 0
    if 0 < n_tasks < FEW_TASKS:
        out.append(
            f"Few tasks: {n_tasks} (< {FEW_TASKS}). Intervals are wide and only large "
            "differences can be detected; see the achieved MDE."
        )
    if len(errors):
        missing, ok_calls = int(errors["usage_missing"].sum()), int(errors["calls_ok"].sum())
        if missing:
            out.append(
                f"Missing usage: {missing} of {ok_calls} successful calls reported no token "
                "counts (stored as NULL, not 0); their tokens and any cost priced from them "
                "are missing from the totals."
            )
        unverified = int(errors["unverified"].sum())
        if unverified:
            out.append(
                f"{unverified} trials have no verifier outcome and are left out of success "
                "(not counted as failures)."
            )
    if naive is not None and len(naive) and naive["changes_answer"].any():
        for _, r in naive[naive["changes_answer"]].iterrows():
            task_sig = "significant" if r.p_per_task < alpha else "not significant"
            naive_sig = "significant" if r.p_replicates_as_tasks < alpha else "not significant"
            out.append(
                f"Replicates as tasks would change the answer for {r.arm_a} vs {r.arm_b}: "
                f"per task ({r.n_tasks} tasks, {r.method_per_task}) p = {_p(r.p_per_task)}, "
                f"{task_sig}; treating the {r.n_units_naive} replicates as independent tasks "
                f"({r.method_naive}) would give p = {_p(r.p_replicates_as_tasks)}, "
                f"{naive_sig}. The report uses the per-task analysis."
            )
    return out


# --------------------------------------------------------------------------- header


def _header(
    run: pd.Series, cfg: dict[str, Any], trials: pd.DataFrame, arms: Sequence[str]
) -> list[tuple[str, str]]:
    models = trials.groupby("arm")["model"].agg(
        lambda s: ", ".join(sorted(set(map(str, s.dropna()))))
    )
    reps = cfg.get("replicates")
    if not isinstance(reps, int):
        reps = int(trials["replicate"].max()) + 1 if len(trials) else 0
    tasks_cfg = cfg.get("tasks") if isinstance(cfg.get("tasks"), dict) else {}
    suite = tasks_cfg.get("name") or tasks_cfg.get("suite")
    n_tasks = int(trials["task_id"].nunique())
    stop = run.get("stop_reason")
    items = [
        ("experiment", str(run.get("experiment", ""))),
        ("question", str(cfg.get("question") or "")),
        ("run_id", str(run["run_id"])),
        ("design", str(run.get("design") or "")),
        ("endpoints", str(run.get("endpoints_mode") or "")),
        ("seed", str(run.get("seed"))),
        ("tasks", f"{n_tasks}" + (f" ({suite})" if suite else "")),
        ("replicates", str(reps)),
        ("arms", "; ".join(f"{a} = {models.get(a, '?')}" for a in arms)),
        ("trials", str(len(trials))),
        ("status", str(run.get("status") or "")),
        ("stop reason", str(stop) if isinstance(stop, str) and stop else ""),
        ("started", str(run.get("started_at") or "")),
        ("finished", str(run.get("finished_at") or "")),
        ("git commit", str(run.get("git_commit") or "")),
    ]
    return [(k, v) for k, v in items if v and v != "None"]


_METHODS_NOTE = (
    "The task is the unit of inference — replicates are averaged per task and arm "
    "first, and on the paired design the arms are paired on the task. Success with one "
    "replicate: Wilson interval per arm; several replicates: t interval on per-task success "
    "fractions. Cost per trial: t interval on per-task means. The comparison table names the "
    "test of every row and why it was chosen; adjusted p-values correct for multiple "
    "comparisons across arms and metrics (Holm unless the table says otherwise). Cost and "
    "latency are compared as ratios of geometric means on the log scale (tasks with a "
    "missing or zero value are dropped). Trials without a verifier outcome are excluded "
    "from success. Usage a provider did not report is NULL, never 0, and counted above."
)


# --------------------------------------------------------------------------- sections


def _mde_blocks(
    trials: pd.DataFrame, alpha: float, control: str | None, arms: Sequence[str] | None = None
) -> tuple[list[Block], pd.DataFrame | None]:
    fn = _optional("harness.analysis.power", "achieved_mde_table")
    if fn is None:
        return [], None
    kwargs: dict[str, Any] = {}
    if arms is not None and "arms" in inspect.signature(fn).parameters:
        kwargs["arms"] = list(arms)  # the comparison table's order
    mde = fn(trials, alpha=alpha, power=0.8, control=control, **kwargs)
    if mde is None or len(mde) == 0:
        return [], mde
    headers = ["comparison", "tasks", "replicates", "SD between tasks", "SD within", "MDE"]
    headers.append("method")
    rows = [
        [
            f"{r.arm_a} vs {r.arm_b}",
            str(r.n_tasks),
            str(r.replicates),
            _num(r.sd_between),
            _num(r.sd_within),
            f"{100 * r.mde:.1f} pp" if _ok(r.mde) else "–",
            str(r.method),
        ]
        for _, r in mde.iterrows()
    ]
    first = mde.iloc[0]
    text = (
        f"At α = {alpha:g} and 80% power this run's design could detect a success difference "
        f"of {100 * first.mde:.1f} points ({first.arm_a} vs {first.arm_b}); smaller true "
        "differences may exist unseen."
        if _ok(first.mde)
        else "The minimum detectable effect could not be computed for this run."
    )
    fold = f"{len(rows)} comparisons (click to show)" if len(rows) > 40 else None
    blocks: list[Block] = [
        Heading("Achieved minimum detectable effect"),
        Text(text),
        table(headers, rows, fold=fold),
    ]
    return blocks, mde


def _router_blocks(
    trials: pd.DataFrame,
) -> tuple[list[Block], pd.DataFrame | None, Figure | None]:
    routers = trials["router"].dropna().astype(str) if "router" in trials else pd.Series([])
    if not (routers != "fixed").any():
        return [], None, None
    fn = _optional("harness.analysis.router_eval", "router_eval_table")
    if fn is None:
        return [], None, None
    tab = fn(trials, n_boot=2000, seed=0)
    fig_fn = _optional("harness.analysis.router_eval", "cost_quality_figure")
    fig = fig_fn(tab) if fig_fn is not None else None

    def ci(r: Any, est: str, lo: str, hi: str, fmt: Callable[[Any], str]) -> str:
        if not _ok(r.get(est)):
            return "–"
        if _ok(r.get(lo)) and _ok(r.get(hi)):
            return f"{fmt(r.get(est))} [{fmt(r.get(lo))}, {fmt(r.get(hi))}]"
        return fmt(r.get(est))

    headers = [
        "arm",
        "router",
        "success [95% CI]",
        "cost/trial [95% CI]",
        "gap recovered (PGR) [95% CI]",
        "PGR per $ [95% CI]",
    ]
    rows = [
        [
            str(r.get("arm")),
            str(r.get("router")),
            ci(r, "success", "success_lo", "success_hi", _pct),
            ci(r, "cost_per_trial", "cost_lo", "cost_hi", _usd),
            ci(r, "pgr", "pgr_lo", "pgr_hi", _pct),
            ci(r, "pgr_per_dollar", "pgr_per_dollar_lo", "pgr_per_dollar_hi", _num),
        ]
        for _, r in tab.iterrows()
    ]
    cheap, best = tab.attrs.get("cheap_arm"), tab.attrs.get("best_arm")
    refs = f"cheapest: {cheap}, best: {best}" if cheap and best else "fixed-model arms"
    blocks: list[Block] = [
        Heading("Routers vs fixed models"),
        Text(
            "Each router's share of the success gap between the cheapest and the best fixed "
            f"model ({refs}) that it recovers (PGR), and that share per dollar of cost per "
            "trial, with paired bootstrap CIs over tasks."
        ),
        table(headers, rows),
    ]
    return blocks, tab, fig


def _cache_blocks(cache: pd.DataFrame) -> list[Block]:
    if cache.empty:
        return []
    saving = float(cache["cache_savings_usd"].sum(min_count=1))
    cost = float(cache["cost_usd"].sum(min_count=1))
    read = cache["cached_input_tokens"].sum(min_count=1)
    written = cache["cache_write_tokens"].sum(min_count=1)
    parts = []
    if _ok(saving):
        share = saving / (cost + saving) if _ok(cost) and cost + saving > 0 else math.nan
        parts.append(
            f"Prompt caching saved {_usd(saving)}"
            + (
                f" ({_pct(share)} of what these calls would have cost uncached)"
                if _ok(share)
                else ""
            )
            + "."
        )
    parts.append(f"Cached input tokens read: {_num(read)}; cache-write tokens: {_num(written)}.")
    headers = [
        "arm",
        "calls with cache reads",
        "cached input tokens",
        "cache-write tokens",
        "saving",
        "saving share",
        "cost",
    ]
    rows = [
        [
            str(arm),
            str(r.calls_cached),
            _num(r.cached_input_tokens),
            _num(r.cache_write_tokens),
            _usd(r.cache_savings_usd),
            _pct(r.saving_share),
            _usd(r.cost_usd),
        ]
        for arm, r in zip(cache.index, cache.itertuples(index=False), strict=True)
    ]
    return [Heading("Prompt caching"), Text(" ".join(parts)), table(headers, rows)]


def _fixed_arms(trials: pd.DataFrame, arms: Sequence[str]) -> list[str]:
    if "router" not in trials:
        return list(arms)
    routers = trials.groupby("arm")["router"].agg(lambda s: set(s.dropna().astype(str)))
    return [a for a in arms if routers.get(a, set()) <= {"fixed"}]


# --------------------------------------------------------------------------- build


def build_report(con: duckdb.DuckDBPyConnection, run_id: str, alpha: float = 0.05) -> Report:
    """Build the report of one run.

    Args:
        con: Connection exposing ``runs``, ``trials`` and ``calls`` (a run's
            database or :func:`~harness.analysis.frames.open_results`).
        run_id: The run to report on.
        alpha: Significance level; intervals are 1 − alpha.

    Returns:
        A :class:`Report`; nothing is written.

    Raises:
        ValueError: No run with that id.
    """
    runs = runs_frame(con, run_id, full=True)
    if runs.empty:
        raise ValueError(f"no run {run_id!r} in this database")
    run = runs.iloc[0]
    cfg = _config(run.get("config"))
    simulated = bool(run.get("simulated") is True or run.get("endpoints_mode") == "sim")
    trials = trials_frame(con, run_id)
    calls = calls_frame(con, run_id)
    arms = _arm_order(cfg, trials)
    design = str(run.get("design") or "paired")
    control = _control(cfg)
    note = "SIMULATED" if simulated else None
    title = f"Report: {run.get('experiment', '')} / {run_id}"
    meta: dict[str, Any] = {
        "experiment": str(run.get("experiment") or ""),
        "design": design,
        "status": str(run.get("status") or ""),
        "stop_reason": run.get("stop_reason"),
        "endpoints": str(run.get("endpoints_mode") or ""),
        "seed": run.get("seed"),
        "n_tasks": int(trials["task_id"].nunique()) if len(trials) else 0,
        "n_trials": len(trials),
        "started_at": run.get("started_at"),
        "config": cfg,
    }

    tables: dict[str, pd.DataFrame] = {}
    figures: dict[str, Figure] = {}
    blocks: list[Block] = []
    head_txt: list[str] = []
    if simulated:
        blocks.append(Banner(SIMULATED_BANNER))
        head_txt.append(SIMULATED_BANNER)
    blocks.append(Heading(title, 1))
    head_txt.append(title)
    header = _header(run, cfg, trials, arms)
    blocks.append(table(["", ""], [[k, v] for k, v in header], plain=True))
    head_txt += [f"  {k:<11} {v}" for k, v in header if k != "question"]

    errors = _errors_table(trials, calls, arms)
    if trials.empty:
        warnings = _warnings(run, trials, errors, simulated, None, alpha)
        blocks += _warning_blocks(warnings)
        blocks.append(Text("No trials recorded."))
        txt = [*head_txt, *_warning_lines(warnings), "No trials recorded."]
        return _finish(run_id, simulated, blocks, txt, figures, tables, warnings, meta, title)

    summary = arm_summary(trials, arms, alpha)
    tables["arms"] = summary
    tables["errors"] = errors

    naive: pd.DataFrame | None = None
    comp_blocks: list[Block] = []
    comp_txt: list[str] = []
    if len(arms) >= 2:
        comp, source = _comparison(trials, design, arms, alpha, control)
        tables["comparison"] = comp
        naive = _replicates_as_tasks(trials, design, comp, alpha, control)
        if len(naive):
            tables["replicates_as_tasks"] = naive
        order = {m: i for i, m in enumerate(dict.fromkeys(comp["metric"]))}
        shown = comp.sort_values("metric", key=lambda m: m.map(order), kind="stable")
        h, rows = _comparison_rows(shown)
        # A multi-arm table runs to hundreds of rows: folded in HTML, so the page stays readable.
        fold = f"{len(rows)} comparisons (click to show)" if len(rows) > 40 else None
        comp_blocks += [Heading(f"Comparison ({design} design)"), table(h, rows, fold=fold)]
        comp_blocks += [Text("Why these tests:"), Items(tuple(_why_items(shown)))]
        if source == "compare_arms":
            comp_blocks.append(
                Text("Adjusted p-values: Holm across every pair and metric of this table.")
            )
        comp_txt += ["", _text_table(*_drop(h, rows, "effect size [95% CI]"))]
        reading = _reading(comp, summary, alpha, simulated)
        comp_blocks += [Heading("Reading"), *(Text(p) for p in reading)]
        comp_txt += ["", *(textwrap.fill(p, 100) for p in reading)]

    warnings = _warnings(run, trials, errors, simulated, naive, alpha)
    blocks += _warning_blocks(warnings)

    h, rows = _arm_rows(summary)
    blocks += [Heading("Per arm"), table(h, rows)]
    # The terminal gets the same table without the long columns (the header names the models).
    arm_txt = ["", _text_table(*_drop(h, rows, "model", "CI method", "total cost"))]

    from harness.analysis.plots import category_heatmap, latency_cdf, success_vs_cost, ttft_cdf

    cats = category_summary(trials, arms, alpha)
    if len(cats):
        tables["categories"] = cats
        rates = model_category_success(trials)
        tables["category_model"] = rates
        figures["category_heatmap"] = category_heatmap(rates, note=note)
        blocks += [
            Heading("Success by category"),
            table(*_category_table(cats, arms)),
            FigureRef(
                "category_heatmap",
                "Success rate per task category and answering model (per-task means; "
                "number of tasks in brackets)",
                wide=rates.shape[1] > 4,
            ),
        ]

    blocks += comp_blocks

    mde_blocks, mde = _mde_blocks(trials, alpha, control, arms)
    if mde is not None:
        tables["mde"] = mde
    blocks += mde_blocks

    router_blocks, router_tab, router_fig = _router_blocks(trials)
    if router_tab is not None:
        tables["routers"] = router_tab
    blocks += router_blocks

    if router_fig is not None:
        figures["cost_quality"] = router_fig
        caption = "Cost–quality of routers and fixed models (95% CIs)"
    else:
        figures["cost_quality"] = success_vs_cost(
            summary, frontier=_fixed_arms(trials, arms), note=note
        )
        caption = (
            "Success rate vs mean cost per trial, per-task means with 95% CIs on both axes; "
            "dashed: frontier of the fixed-model arms"
        )
    blocks += [Heading("Cost and quality"), FigureRef("cost_quality", caption)]

    figures["latency_cdf"] = latency_cdf(trials, order=arms, note=note)
    lat = [FigureRef("latency_cdf", "Trial latency CDF by arm")]
    if trials["ttft_ms"].notna().any():
        figures["ttft_cdf"] = ttft_cdf(trials, order=arms, note=note)
        lat.append(FigureRef("ttft_cdf", "Time to first token CDF by arm (streamed calls)"))
    blocks += [Heading("Latency"), *lat]

    cache = cache_summary(trials, calls, arms)
    if len(cache):
        tables["cache"] = cache
    blocks += _cache_blocks(cache)

    err_h = ["arm", *errors.columns]
    err_rows = [[str(a), *(str(v) for v in r)] for a, r in errors.iterrows()]
    blocks += [
        Heading("Errors and usage"),
        table(err_h, err_rows),
        Text(
            "`usage_missing`: successful calls whose provider reported no token counts; "
            "`cost_missing`: successful calls without a price; `unverified`: trials without "
            "a verifier outcome (left out of success)."
        ),
        Heading("Methods"),
        Text(_METHODS_NOTE),
    ]
    err_txt = [
        "",
        f"calls {int(errors['calls'].sum())}, failed {int(errors['failed_calls'].sum())}, "
        f"retries {int(errors['retries'].sum())}, usage missing "
        f"{int(errors['usage_missing'].sum())}, unverified trials "
        f"{int(errors['unverified'].sum())}",
    ]
    txt = [*head_txt, *_warning_lines(warnings), *arm_txt, *comp_txt, *err_txt]
    return _finish(run_id, simulated, blocks, txt, figures, tables, warnings, meta, title)


def _warning_blocks(warnings: Sequence[str]) -> list[Block]:
    return [Heading("Warnings"), Items(tuple(warnings), warning=True)] if warnings else []


def _warning_lines(warnings: Sequence[str]) -> list[str]:
    # The simulated banner already opens the console text.
    shown = [w for w in warnings if not w.startswith("Simulated endpoints")]
    return [f"! {textwrap.shorten(w, 200, placeholder=' …')}" for w in shown]


def _finish(
    run_id: str,
    simulated: bool,
    blocks: list[Block],
    txt: list[str],
    figures: dict[str, Figure],
    tables: dict[str, pd.DataFrame],
    warnings: list[str],
    meta: dict[str, Any],
    title: str,
) -> Report:
    return Report(
        run_id,
        simulated,
        render_markdown(blocks),
        "\n".join(txt) + "\n",
        figures,
        tables,
        blocks,
        warnings,
        meta,
        title,
    )


# --------------------------------------------------------------------------- files


def write_report(report: Report, run_dir: str | Path, dpi: int = 110, html: bool = True) -> Path:
    """Write ``report.md``, ``report.html`` and each figure as ``<name>.png`` into ``run_dir``.

    Args:
        report: What :func:`build_report` or :func:`build_cross_report` returned.
        run_dir: Destination folder (created if needed).
        dpi: Resolution of the PNGs (files and embedded).
        html: Also write the self-contained ``report.html``.

    Returns:
        Path of ``report.md``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, fig in report.figures.items():
        images[name] = png_bytes(fig, dpi)  # rendered once, for the file and the HTML
        (run_dir / f"{name}.png").write_bytes(images[name])
    path = run_dir / "report.md"
    path.write_text(report.markdown, encoding="utf-8")
    if html:
        (run_dir / "report.html").write_text(report.html(dpi, images), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- across runs

#: Config keys that differ between any two runs and say nothing about the experiment.
_RUN_SPECIFIC = ("resume", "run_id", "results_dir", "hydra")


def _flatten(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = str(v)
    return out


def _varied_keys(configs: Sequence[Mapping[str, Any]], limit: int = 6) -> list[str]:
    """Config keys whose values differ between runs (a sweep's swept keys)."""
    flat = [_flatten(c) for c in configs]
    keys = sorted({k for f in flat for k in f})
    varied = [
        k
        for k in keys
        if len({f.get(k, "–") for f in flat}) > 1
        and not any(k == r or k.startswith(r + ".") for r in _RUN_SPECIFIC)
    ]
    return varied[:limit]


def build_cross_report(
    reports: Sequence[Report],
    *,
    links: Mapping[str, str] | None = None,
    title: str = "Report across runs",
) -> Report:
    """Put several runs' reports side by side: one row per run × arm, one section per run.

    Args:
        reports: Single-run reports from :func:`build_report`, in display order.
        links: Relative link to each run's own report, by run id.
        title: The page title (the CLI names the folder).

    Returns:
        A :class:`Report` with tables ``runs`` and ``arms`` (index ``run_id/arm``)
        and one figure, ``cost_quality`` (every run × arm a point).
    """
    links = dict(links or {})
    simulated = bool(reports) and all(r.simulated for r in reports)
    blocks: list[Block] = []
    txt: list[str] = []
    if simulated:
        banner = "SIMULATED runs: endpoints=sim — figures describe the simulator, not real models."
        blocks.append(Banner(banner))
        txt.append(banner)
    blocks.append(Heading(title, 1))
    txt.append(title)
    warnings: list[str] = []
    sims = [r.run_id for r in reports if r.simulated]
    if sims and not simulated:
        warnings.append(
            f"Simulated endpoints in {len(sims)} of {len(reports)} runs ({', '.join(sims)}): "
            "do not compare their figures with the live runs'."
        )
    experiments = {r.meta.get("experiment") for r in reports}
    if len(experiments) > 1:
        warnings.append(
            f"The runs belong to {len(experiments)} experiments: arms with the same name may "
            "not be the same treatment; compare within an experiment."
        )
    flagged = [r.run_id for r in reports if [w for w in r.warnings if "Simulated" not in w]]
    if flagged:
        warnings.append(
            f"{len(flagged)} of {len(reports)} runs have warnings of their own (see their "
            "sections): " + ", ".join(flagged)
        )
    blocks += _warning_blocks(warnings)
    txt += _warning_lines(warnings)

    varied = _varied_keys([r.meta.get("config") or {} for r in reports])
    run_rows = []
    for r in reports:
        m = r.meta
        run_rows.append(
            {
                "run_id": r.run_id,
                "experiment": m.get("experiment", ""),
                "design": m.get("design", ""),
                "endpoints": m.get("endpoints", ""),
                "status": m.get("status", ""),
                "seed": m.get("seed"),
                "tasks": m.get("n_tasks", 0),
                "trials": m.get("n_trials", 0),
                **{k: _flatten(m.get("config") or {}).get(k, "–") for k in varied},
            }
        )
    runs = pd.DataFrame(run_rows)
    blocks += [Heading("Runs")]
    if varied:
        blocks.append(
            Text(
                "Config keys that differ between the runs: "
                + ", ".join(f"`{k}`" for k in varied)
                + "."
            )
        )
    blocks.append(table(list(runs.columns), runs.astype(str).values.tolist()))
    txt += ["", _text_table(list(runs.columns), runs.astype(str).values.tolist())]

    frames = []
    for r in reports:
        arms = r.tables.get("arms")
        if arms is None or arms.empty:
            continue
        f = arms.copy()
        f.insert(0, "run_id", r.run_id)
        f.insert(1, "arm", f.index.astype(str))
        f.index = [f"{r.run_id}/{a}" for a in f.index]
        frames.append(f)
    tables: dict[str, pd.DataFrame] = {"runs": runs}
    figures: dict[str, Figure] = {}
    if frames:
        arms_all = pd.concat(frames)
        tables["arms"] = arms_all
        h, rows = _arm_rows(arms_all.drop(columns=["run_id", "arm"]))
        rows = [
            [str(run), str(arm), *row[1:]]
            for (run, arm), row in zip(
                arms_all[["run_id", "arm"]].itertuples(index=False), rows, strict=True
            )
        ]
        h = ["run", "arm", *h[1:]]
        blocks += [Heading("Arms side by side"), table(h, rows)]
        txt += ["", _text_table(*_drop(h, rows, "model", "CI method", "total cost"))]
        from harness.analysis.plots import success_vs_cost

        figures["cost_quality"] = success_vs_cost(
            arms_all.drop(columns=["run_id", "arm"]),
            note="SIMULATED" if simulated else None,
            title="Success vs cost per run and arm",
        )
        blocks.append(
            FigureRef(
                "cost_quality",
                "Success rate vs mean cost per trial for every run × arm (per-task means, 95% CIs)",
            )
        )
    else:
        blocks.append(Text("No trials recorded in any run."))

    blocks.append(Heading("Per run"))
    for r in reports:
        m = r.meta
        blocks.append(Heading(f"{r.run_id}", 3))
        facts = (
            f"{m.get('experiment', '')}, {m.get('design', '')} design, {m.get('endpoints', '')} "
            f"endpoints, status {m.get('status', '')}; {m.get('n_tasks', 0)} tasks, "
            f"{m.get('n_trials', 0)} trials."
        )
        blocks.append(Text(facts))
        own = [w for w in r.warnings if not w.startswith("Simulated endpoints")]
        if own:
            blocks.append(Items(tuple(own), warning=True))
        if r.run_id in links:
            href = links[r.run_id]
            md_href = href[: -len(".html")] + ".md" if href.endswith(".html") else href
            blocks.append(Links(((f"{r.run_id}: report.html", href), ("report.md", md_href))))
    return _finish(
        "cross-run",
        simulated,
        blocks,
        txt,
        figures,
        tables,
        warnings,
        {"runs": len(reports)},
        title,
    )
