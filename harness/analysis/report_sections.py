"""The report's supporting sections: errors and usage, warnings, achieved MDE, routers, caching.

Every section is built only when it has something to show. The MDE table
(:func:`harness.analysis.power.achieved_mde_table`), the router evaluation
(:mod:`harness.analysis.router_eval`) and the replicates-as-tasks check
(:func:`harness.analysis.compare.replicate_sensitivity`) are looked up when
the report is built; while one is not there its section is left out.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.analysis.html import Block, Heading, Text, table
from harness.analysis.report_compare import _overall
from harness.analysis.report_format import _num, _ok, _p, _pct, _usd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FEW_TASKS"]

#: Fewer tasks than this in a run earns a warning: intervals are wide and tests weak.
FEW_TASKS = 30


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


def _errors_section(errors: pd.DataFrame) -> tuple[list[Block], list[str]]:
    """The errors-and-usage table with its legend, and the console's one-line summary."""
    err_h = ["arm", *errors.columns]
    err_rows = [[str(a), *(str(v) for v in r)] for a, r in errors.iterrows()]
    blocks: list[Block] = [
        Heading("Errors and usage"),
        table(err_h, err_rows),
        Text(
            "`usage_missing`: successful calls whose provider reported no token counts; "
            "`cost_missing`: successful calls without a price; `unverified`: trials without "
            "a verifier outcome (left out of success)."
        ),
    ]
    txt = [
        "",
        f"calls {int(errors['calls'].sum())}, failed {int(errors['failed_calls'].sum())}, "
        f"retries {int(errors['retries'].sum())}, usage missing "
        f"{int(errors['usage_missing'].sum())}, unverified trials "
        f"{int(errors['unverified'].sum())}",
    ]
    return blocks, txt


def _replicates_as_tasks(
    trials: pd.DataFrame, design: str, comp: pd.DataFrame, alpha: float, control: str | None
) -> pd.DataFrame:
    """Would treating each replicate as a separate task change a success verdict?

    For each compared pair with replicates, the naive analysis the harness
    refuses to do (paired: exact McNemar on (task, replicate) pairs; split:
    Fisher's exact test on all trials) next to the report's per-task p-value,
    from :func:`harness.analysis.compare.replicate_sensitivity`.
    """
    from harness.analysis.compare import replicate_sensitivity

    return _from_replicate_sensitivity(replicate_sensitivity, trials, design, comp, alpha, control)


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


def _mde_blocks(
    trials: pd.DataFrame, alpha: float, control: str | None, arms: Sequence[str] | None = None
) -> tuple[list[Block], pd.DataFrame | None]:
    from harness.analysis.power import achieved_mde_table

    mde = achieved_mde_table(
        trials,
        alpha=alpha,
        power=0.8,
        control=control,
        arms=list(arms) if arms is not None else None,  # the comparison table's order
    )
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
    from harness.analysis.router_eval import cost_quality_figure, router_eval_table

    tab = router_eval_table(trials, n_boot=2000, seed=0)
    fig = cost_quality_figure(tab)

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
