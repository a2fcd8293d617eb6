"""The end-of-run report: markdown, a console table, figures and the tables behind them.

:func:`build_report` reads one run through a DuckDB connection and returns a
:class:`Report` (no files touched); :func:`write_report` writes ``report.md``
and the figures as PNG next to it. A run against the simulator says so on the
first line of both texts.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.analysis.compare import compare_arms
from harness.analysis.frames import arm_summary, calls_frame, runs_frame, trials_frame

if TYPE_CHECKING:
    import duckdb
    from matplotlib.figure import Figure

__all__ = ["SIMULATED_BANNER", "Report", "build_report", "write_report"]

#: First line of every report of a simulated run (markdown prefixes "> ").
SIMULATED_BANNER = "SIMULATED run: endpoints=sim — figures describe the simulator, not real models."


@dataclass
class Report:
    """Everything the end-of-run report shows.

    Attributes:
        run_id: The run reported on.
        simulated: True when the run was against the simulator.
        markdown: The text of ``report.md`` (figures referenced as ``<name>.png``).
        console: Plain-text version for the terminal.
        figures: Figures by file stem.
        tables: The DataFrames behind the text: ``arms``, ``comparison``, ``errors``.
    """

    run_id: str
    simulated: bool
    markdown: str
    console: str
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


# --------------------------------------------------------------------------- formatting


def _ok(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and x is not pd.NA


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if _ok(x) else "–"


def _usd(x: float) -> str:
    if not _ok(x):
        return "–"
    if abs(x) >= 100:
        return f"${x:,.0f}"
    if abs(x) >= 1:
        return f"${x:.2f}"
    return f"${x:.3g}"


def _ms(x: float) -> str:
    return f"{x:,.0f} ms" if _ok(x) else "–"


def _p(p: float) -> str:
    if not _ok(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _p_eq(p: float) -> str:
    text = _p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def _ci_text(metric: str, est: float, lo: float, hi: float) -> str:
    if not _ok(est):
        return "–"
    if metric == "success":
        body = f"{100 * est:+.1f} pp"
        return f"{body} [{100 * lo:+.1f}, {100 * hi:+.1f}]" if _ok(lo) else body
    return f"{est:.2f}× [{lo:.2f}, {hi:.2f}]" if _ok(lo) else f"{est:.2f}×"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    out.append("|" + "|".join("---" for _ in headers) + "|")
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


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


def _comparison_rows(comp: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    headers = [
        "comparison",
        "metric",
        "estimate [95% CI]",
        "CI method",
        "test",
        "p",
        "mid-p",
        "tasks",
        "dropped",
    ]
    rows = []
    for _, r in comp.iterrows():
        rows.append(
            [
                f"{r.arm_a} vs {r.arm_b}",
                r.metric,
                _ci_text(r.metric, r.estimate, r.ci_low, r.ci_high),
                r.ci_method,
                r.test,
                _p(r.p_value),
                _p(r.p_value_midp),
                str(r.n_tasks),
                str(r.n_dropped),
            ]
        )
    return headers, rows


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


def _reading(comp: pd.DataFrame, alpha: float, simulated: bool) -> list[str]:
    level = f"{alpha:g}"
    paragraphs = []
    for (a, b), rows in comp.groupby(["arm_a", "arm_b"], sort=False):
        by = {r.metric: r for _, r in rows.iterrows()}
        parts = []
        s = by.get("success")
        if s is None or not _ok(s.estimate):
            parts.append(
                "Success could not be compared: no task has a verifier outcome for both arms."
            )
        else:
            p_text = f"{s.test} {_p_eq(s.p_value)}"
            if _ok(s.p_value_midp):
                p_text += f" (mid-p {_p(s.p_value_midp)})"
            parts.append(
                f"On success, {a} scored {_pct(s.value_a)} and {b} {_pct(s.value_b)} over "
                f"{s.n_tasks} tasks: a difference of {100 * s.estimate:+.1f} points "
                + (
                    f"(95% CI {100 * s.ci_low:+.1f} to {100 * s.ci_high:+.1f}; {p_text})."
                    if _ok(s.ci_low)
                    else f"({p_text})."
                )
            )
            if _ok(s.p_value) and s.p_value < alpha and s.estimate != 0:
                better = a if s.estimate > 0 else b
                parts.append(f"{better} is better on success, significant at the {level} level.")
            else:
                parts.append(
                    f"The difference is not significant at the {level} level: this run does "
                    "not show either arm better on success."
                )
                if _ok(s.p_value_midp) and s.p_value_midp < alpha:
                    parts.append(
                        "The mid-p test, less conservative than the exact one, would call it "
                        "significant; treat it as suggestive and run more tasks."
                    )
        for metric, noun in (("cost_usd", "cost per trial"), ("latency_ms", "latency")):
            r = by.get(metric)
            if r is None or not _ok(r.estimate):
                continue
            sig = _ok(r.p_value) and r.p_value < alpha
            ci = f"95% CI {r.ci_low:.2f}× to {r.ci_high:.2f}×, " if _ok(r.ci_low) else ""
            parts.append(
                f"{a}'s {noun} was {r.estimate:.2f}× {b}'s (ratio of geometric means, "
                f"{ci}{_p_eq(r.p_value)}{'' if sig else '; not significant'})."
            )
        paragraphs.append(" ".join(parts))
    if simulated and paragraphs:
        paragraphs.append(
            "These numbers come from the simulator's model profiles, not from the real models."
        )
    return paragraphs


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
        ("started", str(run.get("started_at") or "")),
        ("finished", str(run.get("finished_at") or "")),
        ("git commit", str(run.get("git_commit") or "")),
    ]
    return [(k, v) for k, v in items if v and v != "None"]


_METHODS_NOTE = (
    "Methods: the task is the unit of inference — replicates are averaged per task and arm "
    "first, and on the paired design the arms are paired on the task. Success with one "
    "replicate: Wilson interval per arm; risk difference with Newcombe's square-and-add "
    "interval (1998, method 10); exact conditional McNemar test, mid-p alongside (Fagerland "
    "et al. 2013). Several replicates: t intervals and a paired t test on per-task success "
    "fractions. Cost and latency: ratio of geometric means of per-task means, t on the log "
    "scale (tasks with a missing or zero value are dropped and counted). Split design: "
    "Fisher's exact test with Newcombe's hybrid score interval, Welch t on logs. Trials "
    "without a verifier outcome are excluded from success. No correction for multiple "
    "comparisons."
)


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
    note = "SIMULATED" if simulated else None

    tables: dict[str, pd.DataFrame] = {}
    figures: dict[str, Figure] = {}
    md: list[str] = []
    txt: list[str] = []
    if simulated:
        md.append(f"> {SIMULATED_BANNER}")
        txt.append(SIMULATED_BANNER)
    title = f"Report: {run.get('experiment', '')} / {run_id}"
    md += ["", f"# {title}", ""] if simulated else [f"# {title}", ""]
    txt.append(title)
    header = _header(run, cfg, trials, arms)
    md.append(_md_table(["", ""], [[k, v] for k, v in header]))
    txt += [f"  {k:<11} {v}" for k, v in header if k != "question"]
    if str(run.get("status")) != "completed":
        warn = f"Run status is {run.get('status')!r}: the figures cover the trials finished so far."
        md += ["", f"**{warn}**"]
        txt.append(f"! {warn}")

    if trials.empty:
        md += ["", "No trials recorded."]
        txt.append("No trials recorded.")
        return Report(
            run_id, simulated, "\n".join(md) + "\n", "\n".join(txt) + "\n", figures, tables
        )

    summary = arm_summary(trials, arms, alpha)
    tables["arms"] = summary
    h, rows = _arm_rows(summary)
    md += ["", "## Per arm", "", _md_table(h, rows)]
    # The terminal gets the same table without the long columns (the header names the models).
    txt += ["", _text_table(*_drop(h, rows, "model", "CI method", "total cost"))]

    if len(arms) >= 2:
        comp = compare_arms(
            trials, design if design in ("paired", "split") else "paired", arms, alpha
        )
        tables["comparison"] = comp
        h, rows = _comparison_rows(comp)
        md += ["", f"## Comparison ({design} design)", "", _md_table(h, rows)]
        txt += ["", _text_table(*_drop(h, rows, "CI method"))]
        reading = _reading(comp, alpha, simulated)
        md += ["", "## Reading", "", *(p + "\n" for p in reading)]
        txt += ["", *(textwrap.fill(p, 100) for p in reading)]

    errors = _errors_table(trials, calls, arms)
    tables["errors"] = errors
    err_h = ["arm", *errors.columns]
    err_rows = [[str(a), *(str(v) for v in r)] for a, r in errors.iterrows()]
    md += ["", "## Errors and usage", "", _md_table(err_h, err_rows)]
    md += [
        "",
        "`usage_missing`: successful calls whose provider reported no token counts; "
        "`cost_missing`: successful calls without a price; `unverified`: trials without a "
        "verifier outcome (left out of success).",
    ]
    n_fail = int(errors["failed_calls"].sum())
    txt += [
        "",
        f"calls {int(errors['calls'].sum())}, failed {n_fail}, retries "
        f"{int(errors['retries'].sum())}, usage missing {int(errors['usage_missing'].sum())}, "
        f"unverified trials {int(errors['unverified'].sum())}",
    ]

    from harness.analysis.plots import latency_cdf, success_vs_cost, ttft_cdf

    figures["success_vs_cost"] = success_vs_cost(summary, note=note)
    figures["latency_cdf"] = latency_cdf(trials, order=arms, note=note)
    if trials["ttft_ms"].notna().any():
        figures["ttft_cdf"] = ttft_cdf(trials, order=arms, note=note)
    captions = {
        "success_vs_cost": "Success rate vs mean cost per trial (95% CIs)",
        "latency_cdf": "Trial latency CDF by arm",
        "ttft_cdf": "Time to first token CDF by arm",
    }
    md += ["", "## Figures", ""]
    md += [f"![{captions[name]}]({name}.png)\n" for name in figures]
    md += ["## Methods", "", _METHODS_NOTE]
    return Report(run_id, simulated, "\n".join(md) + "\n", "\n".join(txt) + "\n", figures, tables)


def write_report(report: Report, run_dir: str | Path, dpi: int = 110) -> Path:
    """Write ``report.md`` and each figure as ``<name>.png`` into ``run_dir``.

    Returns:
        Path of ``report.md``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, fig in report.figures.items():
        fig.savefig(run_dir / f"{name}.png", dpi=dpi)
    path = run_dir / "report.md"
    path.write_text(report.markdown, encoding="utf-8")
    return path
