"""The report across runs: several runs' reports side by side (the members of a sweep, say).

:func:`build_cross_report` takes single-run :class:`~harness.analysis.report_document.Report`
objects from :func:`harness.analysis.report.build_report` and reads only what they carry
(their ``meta``, ``warnings`` and ``arms`` table); it never opens a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.analysis.html import Banner, Block, FigureRef, Heading, Items, Links, Text, table
from harness.analysis.report_document import Report, _finish, _warning_blocks, _warning_lines
from harness.analysis.report_format import _arm_rows, _drop, _text_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["build_cross_report"]

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
    unsafe = [r.run_id for r in reports if r.meta.get("sandbox_unsafe")]
    if unsafe:
        banner = (
            f"UNSAFE SANDBOX in {len(unsafe)} of {len(reports)} runs ({', '.join(unsafe)}): "
            "model code ran without OS-level isolation; their verdicts could have been forged."
        )
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
