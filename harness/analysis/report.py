"""The end-of-run report: markdown, self-contained HTML, a console text, figures and tables.

:func:`build_report` reads one run through a DuckDB connection and returns a
:class:`Report` (no files touched); :func:`build_cross_report` puts several
runs' reports side by side (the members of a sweep, say); :func:`write_report`
writes ``report.md``, ``report.html`` and the figures as PNG. A run against the
simulator says so on the first line of every text.

This module is the entry point and assembles the single-run report; the parts
live next to it: :mod:`~harness.analysis.report_document` (the :class:`Report`
record), :mod:`~harness.analysis.report_format` (cell formatting),
:mod:`~harness.analysis.report_compare` (comparison, why, reading),
:mod:`~harness.analysis.report_sections` (errors, warnings, MDE, routers,
caching) and :mod:`~harness.analysis.cross_report` (the report across runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.analysis.cross_report import build_cross_report
from harness.analysis.frames import (
    arm_summary,
    cache_summary,
    calls_frame,
    category_summary,
    model_category_success,
    runs_frame,
    trials_frame,
)
from harness.analysis.html import Banner, Block, FigureRef, Heading, Text, png_bytes, table
from harness.analysis.report_compare import COMPARISON_COLUMNS, MANY_PAIRS, _comparison_section
from harness.analysis.report_document import Report, _finish, _warning_blocks, _warning_lines
from harness.analysis.report_format import _arm_rows, _category_table, _drop, _text_table
from harness.analysis.report_sections import (
    FEW_TASKS,
    _cache_blocks,
    _errors_section,
    _errors_table,
    _fixed_arms,
    _mde_blocks,
    _replicates_as_tasks,
    _router_blocks,
    _warnings,
)

if TYPE_CHECKING:
    import duckdb
    from matplotlib.figure import Figure

__all__ = [
    "COMPARISON_COLUMNS",
    "FEW_TASKS",
    "MANY_PAIRS",
    "SIMULATED_BANNER",
    "UNSAFE_SANDBOX_BANNER",
    "Report",
    "build_cross_report",
    "build_report",
    "write_report",
]

#: First line of every report of a simulated run (markdown prefixes "> ").
SIMULATED_BANNER = "SIMULATED run: endpoints=sim — figures describe the simulator, not real models."
#: First line of every report of a run whose model code ran without OS-level isolation.
UNSAFE_SANDBOX_BANNER = (
    "UNSAFE SANDBOX: verifier.sandbox=unsafe_local — model code ran without OS-level "
    "isolation; a verdict could have been forged and the host reached."
)


def sandbox_unsafe(run: pd.Series) -> bool:
    """Whether the run's model code ran with ``unsafe_local`` (no OS-level isolation)."""
    value = run.get("sandbox")
    return isinstance(value, str) and value.startswith("unsafe_local")


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
        ("sandbox", str(run.get("sandbox") or "")),
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
        "sandbox": run.get("sandbox"),
        "sandbox_unsafe": sandbox_unsafe(run),
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
    if sandbox_unsafe(run):
        blocks.append(Banner(UNSAFE_SANDBOX_BANNER))
        head_txt.append(UNSAFE_SANDBOX_BANNER)
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
        comp, comp_blocks, comp_txt = _comparison_section(
            trials, summary, design, arms, alpha, control, simulated
        )
        tables["comparison"] = comp
        naive = _replicates_as_tasks(trials, design, comp, alpha, control)
        if len(naive):
            tables["replicates_as_tasks"] = naive

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

    err_blocks, err_txt = _errors_section(errors)
    blocks += [*err_blocks, Heading("Methods"), Text(_METHODS_NOTE)]
    txt = [*head_txt, *_warning_lines(warnings), *arm_txt, *comp_txt, *err_txt]
    return _finish(run_id, simulated, blocks, txt, figures, tables, warnings, meta, title)


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
