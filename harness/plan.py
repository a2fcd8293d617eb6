"""``python -m harness.plan experiment=<name> [overrides]`` — how many tasks and replicates?

Composes the experiment exactly as a run would (same overrides, same schema)
and prints, for the two arms compared (``plan.arms``, default the first two):

- where the variance components come from, and their values:
  ``plan.pilot=<run folder>`` (the pilot's per-task data), ``plan.rates=[a,b]``
  (assumed success rates, with ``plan.icc`` and ``plan.task_corr``), or by
  default the simulator profiles of the arms' models (``conf/sim/``: an
  assumption about the real models, exact for ``endpoints=sim``);
- the tasks needed to detect ``plan.mde`` at ``plan.alpha`` with ``plan.power``,
  for each replicate count in ``plan.replicates``;
- the minimum detectable effect of the configured design (tasks after the
  ``tasks.*`` filters × ``replicates``) and its power at ``plan.mde``.

Examples::

    python -m harness.plan experiment=ab_sonnet_vs_qwen
    python -m harness.plan experiment=ab_sonnet_vs_qwen plan.mde=0.03 plan.power=0.9
    python -m harness.plan experiment=ab_sonnet_vs_qwen plan.rates=[0.9,0.85] plan.icc=0.6
    python -m harness.plan experiment=ab_sonnet_vs_qwen plan.pilot=results/ab_sonnet_vs_qwen/<run>

No simulator or network is needed; reading a pilot opens its DuckDB file.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import ConfigError

__all__ = ["PlanResult", "main", "make_plan", "render_plan"]

_USAGE = """\
usage: python -m harness.plan experiment=<name> [key=value ...]

Tasks and replicates needed for a minimum detectable effect, and the MDE of the configured
design (Miller 2024, "Adding Error Bars to Evals"). Keys (all optional):
  plan.mde=0.05 plan.power=0.8 plan.alpha=0.05   the effect wanted, power, two-sided level
  plan.pilot=RUN_FOLDER                          variance components from a pilot run's trials
  plan.rates=[0.9,0.85]                          assumed success rates of the two arms, with
  plan.icc=1.0 plan.task_corr=0.5                  variance share between tasks; arms' correlation
  plan.arms=[a,b]                                the arms compared (default: the first two)
  plan.replicates=[1,2,3,5,10]                   replicate counts tabulated
  plan.method=t|z                                noncentral t (default) or Miller's normal formula
Without pilot or rates, the arms' simulator profiles (conf/sim) are the assumption.
Any run override (tasks.limit=N, replicates=K, design.kind=split …) changes the design planned.
"""


@dataclass
class PlanResult:
    """Everything :func:`render_plan` prints."""

    experiment: str
    arms: tuple[str, str]
    design: str
    source: str
    """Where the variance components came from, in words."""
    components: dict[str, float]
    """``effect`` (when known), ``rate_a``/``rate_b``, ``sd_between``, ``sd_within``."""
    mde_wanted: float
    alpha: float
    power: float
    method: str
    needed: pd.DataFrame
    """One row per replicate count: replicates, tasks, trials."""
    n_tasks: int
    """Tasks of the configured design (after filters)."""
    replicates: int
    mde_design: float
    power_design: float
    """Power of the configured design at ``mde_wanted``."""
    notes: list[str] = field(default_factory=list)
    mcnemar: dict[str, float] | None = None
    """Paired design: the exact McNemar test a one-replicate run reports — ``discordance``
    (share of tasks only one arm solves), ``power`` at the configured tasks and ``tasks``
    needed, both for ``mde_wanted``."""


def _arms(
    conf: Any, wanted: Sequence[str], available: Sequence[str] | None = None
) -> tuple[str, str]:
    pool = list(available) if available is not None else list(conf.arms)
    arms = list(wanted) if wanted else pool[:2]
    if len(arms) != 2 or arms[0] == arms[1] or any(a not in pool for a in arms):
        where = "the pilot's arms" if available is not None else "the configured arms"
        raise ConfigError(
            f"plan.arms must name two different arms of {where} ({', '.join(pool)}); got {arms}"
        )
    return arms[0], arms[1]


def _from_profiles(
    conf: Any, arms: tuple[str, str], tasks: list[Any]
) -> tuple[dict[str, float], str]:
    import numpy as np

    from harness.analysis.power import components_from_probabilities
    from harness.sim.behaviour import probability
    from harness.sim.settings import settings_from_config

    settings = settings_from_config(conf.sim, conf.portfolio.models)
    names, probs = [], []
    for arm in arms:
        key = conf.arms[arm].model
        if not key:
            raise ConfigError(
                f"arms.{arm} has no fixed model, so its simulator profile is unknown: "
                "give plan.rates=[a,b] or plan.pilot=<run folder>"
            )
        name = settings.model_ids[conf.portfolio.models[key].model_id]
        names.append(name)
        probs.append(np.array([probability(settings.profiles[name], t) for t in tasks]))
    if names[0] == names[1]:
        raise ConfigError(
            f"both arms answer as simulator profile {names[0]!r} (identical answers): "
            "give plan.rates=[a,b] or plan.pilot=<run folder>"
        )
    comp = components_from_probabilities(probs[0], probs[1])
    comp["discordance"] = float(np.mean(probs[0] * (1 - probs[1]) + probs[1] * (1 - probs[0])))
    src = (
        f"simulator profiles {names[0]!r} vs {names[1]!r} over the {len(tasks)} configured tasks "
        "(conf/sim: an ASSUMPTION about the real models, exact for endpoints=sim)"
    )
    return comp, src


def _from_pilot(
    path: str, conf: Any, wanted: Sequence[str], design: str
) -> tuple[tuple[str, str], dict[str, float], str, list[str]]:
    from harness.analysis.frames import runs_frame, trials_frame
    from harness.analysis.power import variance_components
    from harness.store.reader import open_results

    if not Path(path).exists():
        raise ConfigError(f"plan.pilot={path}: no such folder")
    con = open_results(path)
    try:
        runs = runs_frame(con)
        if runs.empty:
            raise ConfigError(f"plan.pilot={path}: no run found")
        run_id = str(runs["run_id"].iloc[-1])
        trials = trials_frame(con, run_id)
    finally:
        con.close()
    notes = []
    if len(runs) > 1:
        notes.append(f"the pilot folder holds {len(runs)} runs; using the latest, {run_id}")
    present = sorted(trials["arm"].dropna().unique())
    arms = _arms(conf, wanted or [a for a in conf.arms if a in present], present)
    vc = variance_components(trials, arms[0], arms[1], design=design)
    if vc["n_tasks"] < 2:
        raise ConfigError(
            f"plan.pilot={path}: fewer than 2 usable tasks for {arms[0]} vs {arms[1]}"
        )
    if not math.isfinite(vc["sd_within"]):
        notes.append(
            "the pilot has one replicate per task, so within-task variance cannot be separated: "
            "replicate counts > 1 are planned as if replicates did not help (conservative)"
        )
    src = (
        f"pilot run {run_id} ({vc['n_tasks']} tasks × {vc['replicates']} replicate(s), "
        f"{vc['design']})"
    )
    comp = {
        "effect": vc["effect"],
        "rate_a": vc["mean_a"],
        "rate_b": vc["mean_b"],
        "sd_between": vc["sd_between"],
        "sd_within": vc["sd_within"],
        "discordance": _pilot_discordance(trials, arms) if vc["design"] == "paired" else math.nan,
    }
    return arms, comp, src, notes


def _pilot_discordance(trials: pd.DataFrame, arms: tuple[str, str]) -> float:
    """Share of (task, replicate) pairs that exactly one arm solved."""
    t = trials[trials["success"].notna()]
    a = t[t["arm"] == arms[0]].set_index(["task_id", "replicate"])["success"]
    b = t[t["arm"] == arms[1]].set_index(["task_id", "replicate"])["success"]
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1).dropna()
    return float((both["a"] != both["b"]).mean()) if len(both) else math.nan


def _rates_discordance(comp: dict[str, float], icc: float, task_corr: float) -> float:
    """P(exactly one arm succeeds) = p_a + p_b − 2 E[p_a p_b], E[p_a p_b] = p_a p_b + Cov."""
    ra, rb = comp["rate_a"], comp["rate_b"]
    cov = task_corr * icc * math.sqrt(ra * (1 - ra) * rb * (1 - rb))
    return ra + rb - 2 * (ra * rb + cov)


def _mcnemar_plan(discordance: float, mde: float, n_tasks: int, alpha: float, power: float) -> Any:
    """Exact McNemar power at ``mde`` for the configured tasks, and tasks needed (one replicate).

    Keeps the source's share of discordant tasks and puts the difference at the MDE:
    p_ab = (D + mde)/2, p_ba = (D − mde)/2.
    """
    from harness.analysis.power import power_mcnemar

    if not math.isfinite(discordance) or discordance <= mde:
        return None
    p_ab, p_ba = (discordance + mde) / 2, (discordance - mde) / 2
    now = power_mcnemar(n_tasks, p_ab, p_ba, alpha=alpha)
    lo, hi = 2, 4
    while power_mcnemar(hi, p_ab, p_ba, alpha=alpha) < power:
        lo, hi = hi, hi * 2
        if hi > 20_000:
            return {"discordance": discordance, "power": now, "tasks": math.nan}
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if power_mcnemar(mid, p_ab, p_ba, alpha=alpha) >= power:
            hi = mid
        else:
            lo = mid
    return {"discordance": discordance, "power": now, "tasks": float(hi)}


def make_plan(cfg: Any) -> PlanResult:
    """Compute the plan for a composed config (DictConfig or typed Config); no printing."""
    from omegaconf import DictConfig, OmegaConf

    from harness.analysis.power import (
        components_from_rates,
        mde_paired,
        mde_split,
        power_paired,
        power_split,
        tasks_needed_paired,
        tasks_needed_split,
    )
    from harness.runner import load_tasks

    conf = OmegaConf.to_object(cfg) if isinstance(cfg, DictConfig) else cfg
    p = conf.plan
    design = conf.design.kind
    if design not in ("paired", "split"):
        raise ConfigError(f"design.kind must be 'paired' or 'split', got {design!r}")
    if p.method not in ("t", "z"):
        raise ConfigError(f"plan.method must be 't' or 'z', got {p.method!r}")
    for name, v in (("plan.mde", p.mde), ("plan.power", p.power), ("plan.alpha", p.alpha)):
        if not 0.0 < v < 1.0:
            raise ConfigError(f"{name} must be in (0, 1), got {v}")
    tasks = load_tasks(conf)
    notes: list[str] = []
    if p.pilot:
        arms, comp, source, notes = _from_pilot(p.pilot, conf, p.arms, design)
    else:
        arms = _arms(conf, p.arms)
        if p.rates:
            if len(p.rates) != 2:
                raise ConfigError(f"plan.rates needs two rates (one per arm), got {list(p.rates)}")
            try:
                comp = components_from_rates(
                    float(p.rates[0]), float(p.rates[1]), icc=p.icc, task_corr=p.task_corr
                )
            except ValueError as exc:
                raise ConfigError(f"plan: {exc}") from None
            source = (
                f"assumed success rates {p.rates[0]} vs {p.rates[1]}, icc {p.icc} "
                f"(share of variance between tasks), task correlation {p.task_corr}"
            )
        else:
            comp, source = _from_profiles(conf, arms, tasks)
    sd_b = comp["sd_between"]
    sd_w = comp["sd_within"] if math.isfinite(comp["sd_within"]) else 0.0
    if design == "split" and not p.pilot:
        sd_b, sd_w = comp["sd_between_split"], comp["sd_within_split"]
    kw = {"alpha": p.alpha, "power": p.power, "method": p.method}
    ratio = float(conf.design.split_ratio)
    reps = sorted({int(k) for k in p.replicates} | {int(conf.replicates)})
    if any(k < 1 for k in reps):
        raise ConfigError(f"plan.replicates must all be >= 1, got {list(p.replicates)}")
    rows = []
    for k in reps:
        try:
            if design == "paired":
                n = tasks_needed_paired(p.mde, sd_between=sd_b, sd_within=sd_w, replicates=k, **kw)
                trials = n * k * 2
            else:
                n = tasks_needed_split(
                    p.mde, sd_between=sd_b, sd_within=sd_w, replicates=k, ratio=ratio, **kw
                )
                trials = n * k
        except ValueError:
            n, trials = None, None
        rows.append({"replicates": k, "tasks": n, "trials": trials})
    needed = pd.DataFrame(rows)
    n_cfg, k_cfg = len(tasks), int(conf.replicates)
    if design == "paired":
        mde = mde_paired(n_cfg, sd_between=sd_b, sd_within=sd_w, replicates=k_cfg, **kw)
        pw = power_paired(
            p.mde, n_cfg, sd_between=sd_b, sd_within=sd_w, replicates=k_cfg,
            alpha=p.alpha, method=p.method,
        )  # fmt: skip
    else:
        na, nb = n_cfg * ratio, n_cfg * (1 - ratio)
        mde = mde_split(na, nb, sd_between=sd_b, sd_within=sd_w, replicates=k_cfg, **kw)
        pw = power_split(
            p.mde, na, nb, sd_between=sd_b, sd_within=sd_w, replicates=k_cfg,
            alpha=p.alpha, method=p.method,
        )  # fmt: skip
    suite_max = needed["tasks"].dropna()
    if len(suite_max) and int(suite_max.min()) > n_cfg and conf.tasks.limit is None:
        notes.append(
            f"the suite ({conf.tasks.suite}, after filters) has {n_cfg} tasks: fewer than any "
            "row needs — add tasks or accept a larger MDE"
        )
    mcnemar = None
    if design == "paired":
        disc = comp.get("discordance", math.nan)
        if p.rates and not p.pilot:
            disc = _rates_discordance(comp, p.icc, p.task_corr)
        mcnemar = _mcnemar_plan(disc, p.mde, n_cfg, p.alpha, p.power)
    return PlanResult(
        experiment=str(conf.experiment_name),
        arms=arms,
        design=design,
        source=source,
        components={**comp, "sd_between_used": sd_b, "sd_within_used": sd_w},
        mde_wanted=float(p.mde),
        alpha=float(p.alpha),
        power=float(p.power),
        method=p.method,
        needed=needed,
        n_tasks=n_cfg,
        replicates=k_cfg,
        mde_design=float(mde),
        power_design=float(pw),
        notes=notes,
        mcnemar=mcnemar,
    )


def render_plan(r: PlanResult) -> str:
    """The plan as plain text."""
    a, b = r.arms
    c = r.components
    method = "noncentral t" if r.method == "t" else "normal approximation (Miller's formula)"
    which = "of the paired difference" if r.design == "paired" else "per arm, pooled"
    lines = [
        f"plan: {r.experiment} — {a} vs {b}, {r.design} design",
        f"source: {r.source}",
    ]
    if math.isfinite(c.get("rate_a", math.nan)):
        lines.append(
            f"  success rates: {a} {c['rate_a']:.3f}, {b} {c['rate_b']:.3f} "
            f"(difference {c['rate_a'] - c['rate_b']:+.3f})"
        )
    lines.append(
        f"  variance components ({which}): between tasks σ_b = {c['sd_between_used']:.4f}, "
        f"within a task per replicate σ_w = {c['sd_within_used']:.4f}"
    )
    lines += [
        "",
        f"tasks needed to detect {r.mde_wanted:g} at α = {r.alpha:g} (two-sided) with power "
        f"{r.power:g} ({method}):",
        "  replicates   tasks   trials",
    ]
    for row in r.needed.itertuples(index=False):
        tasks = "—" if row.tasks is None or pd.isna(row.tasks) else f"{int(row.tasks)}"
        trials = "—" if row.trials is None or pd.isna(row.trials) else f"{int(row.trials)}"
        mark = "  ← configured" if row.replicates == r.replicates else ""
        lines.append(f"  {row.replicates:>10}   {tasks:>5}   {trials:>6}{mark}")
    lines += [
        "",
        f"configured design: {r.n_tasks} tasks × {r.replicates} replicate(s) → "
        f"MDE {r.mde_design:.4f} at α = {r.alpha:g}, power {r.power:g}; "
        f"power to detect {r.mde_wanted:g}: {r.power_design:.2f}",
    ]
    if r.mcnemar is not None:
        m = r.mcnemar
        need = "—" if not math.isfinite(m["tasks"]) else f"{int(m['tasks'])}"
        lines.append(
            f"one replicate: the report runs the exact McNemar test (conservative); with "
            f"{m['discordance']:.0%} of tasks discordant its power to detect {r.mde_wanted:g} "
            f"with {r.n_tasks} tasks is {m['power']:.2f}, and it needs ≈ {need} tasks for "
            f"power {r.power:g}"
        )
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    from harness.cli import EXIT_CONFIG, EXIT_ERROR, _first_line

    args = list(sys.argv[1:] if argv is None else argv)
    if {"-h", "--help"} & set(args):
        print(_USAGE)
        return 0
    try:
        from harness.config.compose import compose_config

        cfg = compose_config(args)
    except Exception as exc:  # Hydra's override/composition errors
        print(f"harness.plan: config error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        print(render_plan(make_plan(cfg)))
    except ConfigError as exc:
        print(f"harness.plan: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:  # one line for the user, not a traceback
        print(f"harness.plan: error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
