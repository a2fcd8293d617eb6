"""Calibration on ground truth: many small simulated experiments whose truth is known.

``python -m harness experiment=aa_calibration endpoints=sim`` (any experiment with
``kind: calibration``) runs ``calibration.experiments`` simulated copies of the
configured experiment and checks the analysis against the simulator's own
behaviour model:

- both arms answer with *identical* profiles (an A/A test): the share of
  experiments the report's test calls significant is the false-positive rate,
  shown with its Wilson interval next to α;
- the profiles differ (a known effect): the true per-task success
  probabilities are ``harness.sim.behaviour.probability`` of each profile, so the
  true effect, the variance components and hence the planned power
  (``harness.analysis.power``) are exact; the share of significant experiments
  is the empirical power, shown next to the plan.

Every experiment also reports whether its confidence interval covered the true
effect, and the always-valid monitor (``harness.analysis.sequential``) is
replayed on it to show its false-positive rate under continuous peeking.

Why in-process. Running a thousand experiments through HTTP and the verifier
would take hours, so each trial's outcome is drawn here with the simulator's own
draw (:meth:`harness.sim.behaviour.Behaviour.draw`, the same hash of seed,
profile, task and the request's variation that the server computes) and the
experiment is analysed by the same function as the report
(:func:`harness.analysis.compare.compare_design`). Experiment *e* is the run
``seed = cfg.seed + e`` would be; split designs also vary the assignment salt
per experiment so tasks are re-randomised. ``calibration.through_http=true``
runs a few of those experiments end to end (simulator over HTTP, verifier) and
compares their trials with the in-process draws. (A wrong answer is a mutant
that the hidden tests usually, not always, reject, so a few outcomes may
differ: the draw is the model's intent, the verifier the measurement.)
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from harness.errors import ConfigError

__all__ = [
    "CalibrationResult",
    "GroundTruth",
    "calibrate",
    "ground_truth",
    "run_calibration",
    "simulate_trials",
]

log = logging.getLogger(__name__)

#: ± tolerance (absolute) between empirical and planned power that counts as agreement.
POWER_TOLERANCE = 0.05
#: Mixing sd of the replayed monitor (the ``monitor.tau`` default).
_MONITOR_TAU = 0.1


@dataclass
class GroundTruth:
    """What the simulator's behaviour model says about the configured experiment."""

    arms: tuple[str, str]
    profiles: tuple[str, str]
    """Simulator profile names the arms answer as (they seed the draws)."""
    variations: tuple[str, str]
    """How each arm's request carries the replicate (``seed`` or ``user``), as the wire sends it."""
    tasks: list[Any]
    p_a: np.ndarray
    p_b: np.ndarray
    design: str
    replicates: int
    alpha: float
    components: dict[str, float]
    planned_power: float
    """Power of the paired/two-sample t at the true effect (Miller's model, t version)."""
    planned_mcnemar: tuple[float, float] | None
    """Paired design, one replicate: exact power (size under A/A) of the exact and the mid-p
    McNemar tests the report runs (``power_mcnemar``); None otherwise."""
    aa: bool
    """The two profiles give every task the same success probability (an A/A test)."""

    @property
    def effect(self) -> float:
        """True difference of mean success probability over the tasks (a − b)."""
        return float(self.components["effect"])


@dataclass
class CalibrationResult:
    """The per-experiment table, the summary checks and the report text."""

    truth: GroundTruth
    experiments: pd.DataFrame
    summary: pd.DataFrame
    report_text: str
    elapsed_s: float
    run_dir: Path | None = None
    status: str = "completed"
    http: pd.DataFrame | None = field(default=None)


def _typed(cfg: Any) -> Any:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_object(cfg)
    return cfg


def ground_truth(cfg: Any) -> GroundTruth:
    """The experiment's arms, tasks and true per-task success probabilities.

    Raises:
        ConfigError: Not two fixed-model arms, a model without a simulator
            profile, or both arms drawing from the same profile (they would
            answer identically, which is no experiment at all).
    """
    from harness.analysis.power import (
        components_from_probabilities,
        power_mcnemar,
        power_paired,
        power_split,
    )
    from harness.runner import load_tasks
    from harness.sim.behaviour import probability
    from harness.sim.settings import settings_from_config

    conf = _typed(cfg)
    arms = list(conf.arms)
    if len(arms) != 2:
        raise ConfigError(f"calibration needs exactly two arms, got {len(arms)}: {arms}")
    for name in arms:
        if not conf.arms[name].model:
            raise ConfigError(f"calibration: arms.{name} needs a fixed model (arms.{name}.model)")
    if conf.design.kind not in ("paired", "split"):
        raise ConfigError(f"design.kind must be 'paired' or 'split', got {conf.design.kind!r}")
    settings = settings_from_config(conf.sim, conf.portfolio.models)
    profiles, variations = [], []
    for name in arms:
        model = conf.portfolio.models[conf.arms[name].model]
        profiles.append(settings.model_ids[model.model_id])
        # The wire modules take the variation from OpenAI's ``seed`` and Anthropic's
        # ``metadata.user_id``; the agent sends seed=rseed and user=f"harness-r{rseed}".
        variations.append("user" if model.protocol == "anthropic" else "seed")
    if profiles[0] == profiles[1]:
        raise ConfigError(
            f"calibration: both arms answer as simulator profile {profiles[0]!r}, so their draws "
            "are identical; give each arm its own profile (identical parameters for an A/A test)"
        )
    tasks = load_tasks(conf)
    prof = [settings.profiles[p] for p in profiles]
    p_a = np.array([probability(prof[0], t) for t in tasks])
    p_b = np.array([probability(prof[1], t) for t in tasks])
    comp = components_from_probabilities(p_a, p_b)
    k, alpha = int(conf.replicates), float(conf.calibration.alpha)
    if conf.design.kind == "paired":
        planned = power_paired(
            comp["effect"],
            len(tasks),
            sd_between=comp["sd_between"],
            sd_within=comp["sd_within"],
            replicates=k,
            alpha=alpha,
        )
    else:
        r = float(conf.design.split_ratio)
        planned = power_split(
            comp["effect"],
            len(tasks) * r,
            len(tasks) * (1 - r),
            sd_between=comp["sd_between_split"],
            sd_within=comp["sd_within_split"],
            replicates=k,
            alpha=alpha,
        )
    mcnemar = None
    if conf.design.kind == "paired" and k == 1:
        # Draws of the two arms are independent given the task.
        p_ab, p_ba = float(np.mean(p_a * (1 - p_b))), float(np.mean(p_b * (1 - p_a)))
        n = len(tasks)
        mcnemar = (
            power_mcnemar(n, p_ab, p_ba, alpha=alpha),
            power_mcnemar(n, p_ab, p_ba, alpha=alpha, midp=True),
        )
    return GroundTruth(
        arms=(arms[0], arms[1]),
        profiles=(profiles[0], profiles[1]),
        variations=(variations[0], variations[1]),
        tasks=tasks,
        p_a=p_a,
        p_b=p_b,
        design=conf.design.kind,
        replicates=k,
        alpha=alpha,
        components=comp,
        planned_power=planned,
        planned_mcnemar=mcnemar,
        aa=bool(np.array_equal(p_a, p_b)),
    )


class _Drawer:
    """The simulator's correctness draw, reused across experiments (only the seed changes)."""

    def __init__(self, cfg: Any, truth: GroundTruth) -> None:
        from harness.sim.behaviour import Behaviour
        from harness.sim.recognise import TaskIndex
        from harness.sim.settings import settings_from_config

        conf = _typed(cfg)
        self._settings = settings_from_config(conf.sim, conf.portfolio.models)
        self._behaviour = Behaviour(self._settings, TaskIndex(truth.tasks))
        self._profiles = {
            a: self._settings.profiles[p] for a, p in zip(truth.arms, truth.profiles, strict=True)
        }
        self._names = dict(zip(truth.arms, truth.profiles, strict=True))
        self._variation = dict(zip(truth.arms, truth.variations, strict=True))

    def draws(self, seed: int, specs: Sequence[Any]) -> list[bool]:
        """The simulator's correctness draw of every trial spec for run seed ``seed``."""
        from harness.agents.single_shot import replicate_seed

        self._behaviour.settings = dataclasses.replace(self._settings, seed=seed)
        draw = self._behaviour.draw
        out = []
        for spec in specs:
            rseed = replicate_seed(seed, spec.replicate)
            variation = str(rseed) if self._variation[spec.arm] == "seed" else f"harness-r{rseed}"
            out.append(
                draw(self._names[spec.arm], self._profiles[spec.arm], spec.task, variation).correct
            )
        return out


def _specs(conf: Any, truth: GroundTruth, experiment: int) -> list[Any]:
    from harness.runner import build_trials

    if conf.design.kind == "split":
        # Re-randomise the assignment per experiment (a fixed salt would fix it).
        salt = f"{conf.design.salt}#calibration{experiment}"
        conf = dataclasses.replace(conf, design=dataclasses.replace(conf.design, salt=salt))
    return build_trials(conf, truth.tasks)


def simulate_trials(
    cfg: Any, truth: GroundTruth, experiment: int, drawer: Any = None, specs: Any = None
) -> pd.DataFrame:
    """The ``trials`` rows experiment ``experiment`` would produce, drawn in-process.

    Trials come from the runner's own :func:`~harness.runner.build_trials` (so
    the design, replicates and split assignment are the run's); each success is
    the simulator's draw for seed ``cfg.seed + experiment``.
    """
    conf = _typed(cfg)
    seed = int(conf.seed) + experiment
    specs = specs if specs is not None else _specs(conf, truth, experiment)
    drawer = drawer or _Drawer(conf, truth)
    success = drawer.draws(seed, specs)
    return pd.DataFrame(
        {
            "trial_id": [s.trial_id for s in specs],
            "task_id": [s.task.task_id for s in specs],
            "task_category": [s.task.category for s in specs],
            "arm": [s.arm for s in specs],
            "model": [s.model for s in specs],
            "replicate": [s.replicate for s in specs],
            "assign_u": [s.assign_u for s in specs],
            "success": np.asarray(success, dtype=float),
            "status": "ok",
        }
    )


def _analyse(trials: pd.DataFrame, truth: GroundTruth, rng: np.random.Generator) -> dict[str, Any]:
    """The report's comparison of the success metric (one row), plus secondary checks."""
    from harness.analysis.compare import compare_design
    from harness.analysis.stats import mcnemar_midp

    a, b = truth.arms
    # One comparison, so no correction; n_boot=1 skips the effect-size bootstrap, which
    # calibration does not check (it checks the test and the interval of the difference).
    row = compare_design(
        trials,
        design=truth.design,
        metrics=("success",),
        arms=[a, b],
        alpha=truth.alpha,
        correction="none",
        n_boot=1,
    ).iloc[0]
    out = {
        "estimate": float(row["estimate"]),
        "ci_low": float(row["ci_low"]),
        "ci_high": float(row["ci_high"]),
        "p_value": float(row["p_value"]),
        "test": str(row["method"]),
        "n_tasks": int(row["n_tasks"]),
    }
    out["p_value_midp"] = float("nan")
    if truth.design == "paired" and truth.replicates == 1:
        pivot = trials.pivot_table(index="task_id", columns="arm", values="success")
        wins_a = int(((pivot[a] == 1) & (pivot[b] == 0)).sum())
        wins_b = int(((pivot[a] == 0) & (pivot[b] == 1)).sum())
        out["p_value_midp"] = float(mcnemar_midp(wins_a, wins_b, truth.alpha).p_value)
    out["monitor_p"] = float("nan")
    if truth.design == "paired" and truth.aa:  # its false-positive rate is what is checked
        out["monitor_p"] = _monitor_p(trials, truth, rng)
    return out


def _monitor_p(trials: pd.DataFrame, truth: GroundTruth, rng: np.random.Generator) -> float:
    """Final always-valid p of the monitor fed the (task, replicate) pairs in random order.

    The same statistic as :class:`~harness.analysis.sequential.Monitor` (a test
    checks they agree), vectorised: pairs arrive in a random completion order,
    as in a live run, and the p-value is 1 / the running maximum of Λ.
    """
    from harness.analysis.sequential import mixture_log_lr

    a, b = truth.arms
    wide = trials.pivot_table(index=["task_id", "replicate"], columns="arm", values="success")
    ya, yb = wide[a].to_numpy(), wide[b].to_numpy()
    order = rng.permutation(len(ya))
    ya, yb = ya[order], yb[order]
    wins_a, wins_b = np.cumsum((ya == 1) & (yb == 0)), np.cumsum((ya == 0) & (yb == 1))
    llr = mixture_log_lr(wins_a, wins_b, _MONITOR_TAU)
    return float(math.exp(-max(0.0, float(np.max(llr, initial=0.0)))))


def calibrate(
    cfg: Any, experiments: int | None = None, *, progress: bool = False
) -> CalibrationResult:
    """Run the in-process calibration (no files, no printing).

    Args:
        cfg: The composed config (DictConfig or typed :class:`~harness.config.schema.Config`).
        experiments: Number of simulated experiments (default ``calibration.experiments``).
        progress: Show a progress bar on stderr.
    """
    conf = _typed(cfg)
    n_exp = int(experiments if experiments is not None else conf.calibration.experiments)
    if n_exp < 1:
        raise ConfigError(f"calibration.experiments must be >= 1, got {n_exp}")
    truth = ground_truth(conf)
    drawer = _Drawer(conf, truth)
    started = time.perf_counter()
    bar = None
    if progress:
        import sys

        from tqdm import tqdm

        bar = tqdm(total=n_exp, unit="experiment", file=sys.stderr, mininterval=0.5)
    rows = []
    rng = np.random.default_rng(int(conf.seed))
    fixed = _specs(conf, truth, 0) if truth.design == "paired" else None
    for e in range(n_exp):
        trials = simulate_trials(conf, truth, e, drawer, fixed)
        res = _analyse(trials, truth, rng)
        truth_effect = _true_effect(trials, truth)
        res.update(
            experiment=e,
            seed=int(conf.seed) + e,
            true_effect=truth_effect,
            rejected=res["p_value"] < truth.alpha,
            covered=res["ci_low"] <= truth_effect <= res["ci_high"],
        )
        rows.append(res)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    frame = pd.DataFrame(rows)
    cols = ["experiment", "seed", "n_tasks", "true_effect", "estimate", "ci_low", "ci_high"]
    cols += ["p_value", "p_value_midp", "monitor_p", "rejected", "covered", "test"]
    frame = frame[cols]
    summary = summarise(frame, truth)
    elapsed = time.perf_counter() - started
    text = render(summary, truth, conf, n_exp, elapsed)
    return CalibrationResult(truth, frame, summary, text, elapsed)


def _true_effect(trials: pd.DataFrame, truth: GroundTruth) -> float:
    """The estimand of this experiment: mean true success difference over its tasks.

    Paired: the mean of p_a − p_b over the tasks. Split: each arm's mean true
    probability over the tasks it was given (the difference the test estimates).
    """
    if truth.design == "paired":
        return truth.effect
    index = {t.task_id: i for i, t in enumerate(truth.tasks)}
    a, b = truth.arms
    ia = [index[t] for t in trials.loc[trials["arm"] == a, "task_id"].unique()]
    ib = [index[t] for t in trials.loc[trials["arm"] == b, "task_id"].unique()]
    if not ia or not ib:
        return float("nan")
    return float(truth.p_a[ia].mean() - truth.p_b[ib].mean())


def _wilson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float, float]:
    from harness.analysis.stats import wilson_ci

    r = wilson_ci(int(k), int(n), alpha)
    return r.estimate, r.ci_low, r.ci_high


def summarise(frame: pd.DataFrame, truth: GroundTruth) -> pd.DataFrame:
    """One row per check: the observed rate with its 95 % Wilson CI, the target and a verdict.

    Checks: the report's test (false-positive rate for A/A, power otherwise),
    the mid-p McNemar (paired, one replicate), the always-valid monitor, and the
    coverage of the confidence interval.
    """
    alpha = truth.alpha
    n = len(frame)
    rows = []

    def add(
        check: str, test: str, hits: int, total: int, target: float, rule: str, expected: float
    ) -> None:
        rate, lo, hi = _wilson(hits, total)
        if rule == "in_ci":
            # A discrete exact test's size is below α by design: it passes when its own size
            # under the model is inside the CI instead (the expected column says which).
            ok = lo <= target <= hi or (expected <= target and lo <= expected <= hi)
        elif rule == "at_most":
            ok = lo <= target
        else:  # within the power tolerance
            ok = abs(rate - target) <= POWER_TOLERANCE
        rows.append(
            {
                "check": check,
                "test": test,
                "hits": int(hits),
                "experiments": int(total),
                "rate": rate,
                "ci_low": lo,
                "ci_high": hi,
                "target": target,
                "expected": expected,
                "rule": {
                    "in_ci": "target inside the 95 % CI"
                    + (" (or the exact test's own size ≤ it)" if expected < target else ""),
                    "at_most": "not above target (CI reaches it)",
                    "power": f"within ±{POWER_TOLERANCE:.2f} of plan",
                }[rule],
                "ok": bool(ok),
            }
        )

    test = str(frame["test"].iloc[0]) if n else ""
    rej = int((frame["p_value"] < alpha).sum())
    # What the model predicts for each test: the t power (α under A/A), or with one replicate
    # the exact McNemar's own power/size, which the normal formulas overstate.
    exact, mid = truth.planned_mcnemar or (truth.planned_power, truth.planned_power)
    if truth.aa:
        add("false-positive rate", test, rej, n, alpha, "in_ci", exact)
    else:
        add("power (vs planned)", test, rej, n, exact, "power", exact)
    midp = frame["p_value_midp"].dropna()
    if len(midp):
        name = "mid-p McNemar"
        hits = int((midp < alpha).sum())
        if truth.aa:
            add("false-positive rate", name, hits, len(midp), alpha, "in_ci", mid)
        else:
            add("power (vs planned)", name, hits, len(midp), mid, "power", mid)
    mon = frame["monitor_p"].dropna()
    if len(mon) and truth.aa:
        hits = int((mon < alpha).sum())
        add(
            "false-positive rate, continuous peeking",
            "mSPRT monitor",
            hits,
            len(mon),
            alpha,
            "at_most",
            alpha,
        )
    cov = frame["covered"].dropna()
    add(
        "CI coverage of the true effect",
        "confidence interval",
        int(cov.sum()),
        len(cov),
        1 - alpha,
        "in_ci",
        1 - alpha,
    )
    return pd.DataFrame(rows)


def render(summary: pd.DataFrame, truth: GroundTruth, conf: Any, n_exp: int, elapsed: float) -> str:
    """The calibration report as markdown (also printed)."""
    a, b = truth.arms
    c = truth.components
    kind = "A/A (identical profiles)" if truth.aa else "known effect"
    lines = [
        f"# Calibration: {conf.experiment_name} — {kind}",
        "",
        "SIMULATED: ground truth is the simulator's behaviour model "
        "(P(correct) = sigmoid(skill + category offset − task difficulty)).",
        "",
        f"- arms: `{a}` (profile `{truth.profiles[0]}`) vs `{b}` (profile `{truth.profiles[1]}`)",
        f"- design: {truth.design}, {len(truth.tasks)} tasks ({conf.tasks.suite}), "
        f"{truth.replicates} replicate(s); α = {truth.alpha}",
        f"- experiments: {n_exp} (seeds {conf.seed} … {int(conf.seed) + n_exp - 1}), "
        f"{elapsed:.1f} s in-process",
        f"- true success rates: {c['rate_a']:.4f} vs {c['rate_b']:.4f}; "
        f"true effect {truth.effect:+.4f}",
        f"- variance components (paired): σ_b = {c['sd_between']:.4f}, σ_w = {c['sd_within']:.4f}; "
        f"planned power at the true effect: {truth.planned_power:.3f}"
        + (" (= α: no effect)" if truth.aa else ""),
    ]
    if truth.planned_mcnemar is not None:
        ex, mid = truth.planned_mcnemar
        lines.append(
            f"- one replicate: the report runs the exact McNemar test; its exact "
            f"{'size' if truth.aa else 'power'} under this model is {ex:.3f} "
            f"(mid-p: {mid:.3f}) — `expected` below"
        )
    lines += [
        "",
        "| check | test | hits / experiments | rate | 95 % CI (Wilson) | target | expected "
        "| rule | ok |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in summary.itertuples(index=False):
        lines.append(
            f"| {r.check} | {r.test} | {r.hits} / {r.experiments} | {r.rate:.4f} | "
            f"[{r.ci_low:.4f}, {r.ci_high:.4f}] | {r.target:.4f} | {r.expected:.4f} | {r.rule} | "
            f"{'yes' if r.ok else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def _http_check(cfg: DictConfig, truth: GroundTruth, run_dir: Path, n: int) -> pd.DataFrame:
    """Run ``n`` of the experiments end to end and compare their trials with the draws."""
    from harness.analysis.frames import trials_frame
    from harness.runner import run_experiment
    from harness.store.reader import open_results

    conf = _typed(cfg)
    drawer = _Drawer(conf, truth)
    rows = []
    for e in range(n):
        sub = cfg.copy()
        OmegaConf.set_struct(sub, False)
        sub.kind = "ab"
        sub.seed = int(cfg.seed) + e
        sub.runner.report = False
        sub.runner.progress = False
        if sub.design.kind == "split":
            sub.design.salt = f"{conf.design.salt}#calibration{e}"
        folder = run_dir / "http" / f"experiment-{e}"
        run_experiment(sub, run_dir=folder)
        con = open_results(folder)
        try:
            real = trials_frame(con)
        finally:
            con.close()
        drawn = simulate_trials(conf, truth, e, drawer)
        merged = real.merge(drawn[["trial_id", "success"]], on="trial_id", suffixes=("", "_drawn"))
        agree = int((merged["success"] == merged["success_drawn"]).sum())
        rng = np.random.default_rng(e)
        p_real = _analyse(real, truth, rng)["p_value"]
        p_drawn = _analyse(drawn, truth, rng)["p_value"]
        rows.append(
            {
                "experiment": e,
                "trials": len(real),
                "matched": len(merged),
                "agree": agree,
                "verified_pass_drawn_wrong": int(
                    ((merged["success"] == 1) & (merged["success_drawn"] == 0)).sum()
                ),
                "verified_fail_drawn_right": int(
                    ((merged["success"] == 0) & (merged["success_drawn"] == 1)).sum()
                ),
                "unverified": int(real["success"].isna().sum()),
                "p_value_http": p_real,
                "p_value_in_process": p_drawn,
            }
        )
    return pd.DataFrame(rows)


def run_calibration(cfg: DictConfig, run_dir: str | Path | None = None) -> CalibrationResult:
    """Entry point for ``kind=calibration``: run, write ``report.md`` and CSVs to the run folder.

    ``run_dir`` defaults to Hydra's output folder.
    """
    if cfg.endpoints.mode != "sim":
        raise ConfigError(
            "calibration checks the analysis against the simulator's ground truth: "
            "use endpoints=sim"
        )
    if run_dir is None:
        from hydra.core.hydra_config import HydraConfig

        run_dir = Path(HydraConfig.get().runtime.output_dir)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    conf = _typed(cfg)
    result = calibrate(conf, progress=bool(conf.runner.progress))
    result.run_dir = run_dir
    text = result.report_text
    if conf.calibration.through_http:
        http = _http_check(cfg, result.truth, run_dir, int(conf.calibration.http_experiments))
        result.http = http
        http.to_csv(run_dir / "calibration_http.csv", index=False)
        text += "\n## Through the real stack (simulator over HTTP + verifier)\n\n"
        text += _markdown_table(http) + "\n"
        result.report_text = text
    result.experiments.to_csv(run_dir / "calibration_experiments.csv", index=False)
    result.summary.to_csv(run_dir / "calibration_summary.csv", index=False)
    (run_dir / "report.md").write_text(text, encoding="utf-8")
    return result


def _markdown_table(frame: pd.DataFrame) -> str:
    cols: Sequence[str] = list(frame.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else str(v) for v in row]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
