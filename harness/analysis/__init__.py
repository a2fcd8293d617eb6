"""Analysis of run results: frames, statistics, comparisons, plots, reports.

Importing this package is cheap: pandas, scipy and matplotlib load on first
use of a name that needs them (module ``__getattr__``), so ``python -m
harness --help`` stays fast.

    from harness import analysis as ha
    con = ha.open_results("results")
    trials = ha.trials_frame(con, run_id)
    ha.arm_summary(trials); ha.compare_arms(trials, "paired")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "CORRECTIONS",
    "Report",
    "TestResult",
    "achieved_mde_table",
    "adjust_pvalues",
    "arm_summary",
    "bootstrap_quantile_ci",
    "build_cross_report",
    "build_report",
    "cache_summary",
    "calls_frame",
    "category_heatmap",
    "category_summary",
    "cliffs_delta",
    "cluster_bootstrap_mean",
    "clustered_mean",
    "clustered_paired_difference",
    "compare_arms",
    "compare_design",
    "compare_paired",
    "compare_unpaired",
    "correction_name",
    "fisher_exact",
    "latency_cdf",
    "log_ratio_paired",
    "log_ratio_unpaired",
    "mann_whitney",
    "mcnemar_asymptotic",
    "mcnemar_exact",
    "mcnemar_midp",
    "mean_ci",
    "model_category_success",
    "odds_ratio",
    "open_results",
    "paired_bootstrap",
    "paired_cliffs_delta",
    "paired_mean_difference",
    "paired_risk_difference",
    "paired_t",
    "paired_table",
    "per_task",
    "quantile_ratio",
    "replicate_sensitivity",
    "risk_difference",
    "risk_difference_unpaired",
    "router_eval_table",
    "runs_frame",
    "success_vs_cost",
    "trials_frame",
    "ttft_cdf",
    "two_proportion_ztest",
    "welch_mean_difference",
    "welch_t",
    "wilcoxon_signed_rank",
    "wilson_ci",
    "write_report",
]

_WHERE = {
    "stats": (
        "TestResult", "bootstrap_quantile_ci", "cluster_bootstrap_mean", "clustered_mean",
        "clustered_paired_difference", "fisher_exact", "log_ratio_paired", "log_ratio_unpaired",
        "mann_whitney", "mcnemar_asymptotic", "mcnemar_exact", "mcnemar_midp", "mean_ci",
        "paired_bootstrap", "paired_mean_difference", "paired_risk_difference", "paired_t",
        "paired_table", "quantile_ratio", "risk_difference_unpaired", "two_proportion_ztest",
        "welch_mean_difference", "welch_t", "wilcoxon_signed_rank", "wilson_ci",
    ),
    "effects": (
        "cliffs_delta", "odds_ratio", "paired_cliffs_delta", "risk_difference",
    ),
    "multiple": (
        "CORRECTIONS", "adjust_pvalues", "correction_name",
    ),
    "frames": (
        "arm_summary", "cache_summary", "calls_frame", "category_summary", "model_category_success",
        "open_results", "per_task", "runs_frame", "trials_frame",
    ),
    "compare": (
        "compare_arms", "compare_design", "compare_paired", "compare_unpaired",
        "replicate_sensitivity",
    ),
    "power": (
        "achieved_mde_table",
    ),
    "router_eval": (
        "router_eval_table",
    ),
    "plots": (
        "category_heatmap", "latency_cdf", "success_vs_cost", "ttft_cdf",
    ),
    "report": (
        "Report", "build_cross_report", "build_report", "write_report",
    ),
}  # fmt: skip
_MODULE_OF = {name: mod for mod, names in _WHERE.items() for name in names}

if TYPE_CHECKING:
    from harness.analysis.compare import (
        compare_arms,
        compare_design,
        compare_paired,
        compare_unpaired,
        replicate_sensitivity,
    )
    from harness.analysis.effects import (
        cliffs_delta,
        odds_ratio,
        paired_cliffs_delta,
        risk_difference,
    )
    from harness.analysis.frames import (
        arm_summary,
        cache_summary,
        calls_frame,
        category_summary,
        model_category_success,
        open_results,
        per_task,
        runs_frame,
        trials_frame,
    )
    from harness.analysis.multiple import CORRECTIONS, adjust_pvalues, correction_name
    from harness.analysis.plots import category_heatmap, latency_cdf, success_vs_cost, ttft_cdf
    from harness.analysis.power import achieved_mde_table
    from harness.analysis.report import Report, build_cross_report, build_report, write_report
    from harness.analysis.router_eval import router_eval_table
    from harness.analysis.stats import (
        TestResult,
        bootstrap_quantile_ci,
        cluster_bootstrap_mean,
        clustered_mean,
        clustered_paired_difference,
        fisher_exact,
        log_ratio_paired,
        log_ratio_unpaired,
        mann_whitney,
        mcnemar_asymptotic,
        mcnemar_exact,
        mcnemar_midp,
        mean_ci,
        paired_bootstrap,
        paired_mean_difference,
        paired_risk_difference,
        paired_t,
        paired_table,
        quantile_ratio,
        risk_difference_unpaired,
        two_proportion_ztest,
        welch_mean_difference,
        welch_t,
        wilcoxon_signed_rank,
        wilson_ci,
    )


def __getattr__(name: str) -> Any:
    mod = _MODULE_OF.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
