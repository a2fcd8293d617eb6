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
    "Report",
    "TestResult",
    "arm_summary",
    "build_report",
    "calls_frame",
    "compare_arms",
    "compare_paired",
    "compare_unpaired",
    "fisher_exact",
    "latency_cdf",
    "log_ratio_paired",
    "log_ratio_unpaired",
    "mcnemar_exact",
    "mcnemar_midp",
    "mean_ci",
    "open_results",
    "paired_mean_difference",
    "paired_risk_difference",
    "per_task",
    "risk_difference_unpaired",
    "runs_frame",
    "success_vs_cost",
    "trials_frame",
    "ttft_cdf",
    "welch_mean_difference",
    "wilson_ci",
    "write_report",
]

_WHERE = {
    "stats": (
        "TestResult", "fisher_exact", "log_ratio_paired", "log_ratio_unpaired", "mcnemar_exact",
        "mcnemar_midp", "mean_ci", "paired_mean_difference", "paired_risk_difference",
        "risk_difference_unpaired", "welch_mean_difference", "wilson_ci",
    ),
    "frames": (
        "arm_summary", "calls_frame", "open_results", "per_task", "runs_frame", "trials_frame",
    ),
    "compare": ("compare_arms", "compare_paired", "compare_unpaired"),
    "plots": ("latency_cdf", "success_vs_cost", "ttft_cdf"),
    "report": ("Report", "build_report", "write_report"),
}  # fmt: skip
_MODULE_OF = {name: mod for mod, names in _WHERE.items() for name in names}

if TYPE_CHECKING:
    from harness.analysis.compare import compare_arms, compare_paired, compare_unpaired
    from harness.analysis.frames import (
        arm_summary,
        calls_frame,
        open_results,
        per_task,
        runs_frame,
        trials_frame,
    )
    from harness.analysis.plots import latency_cdf, success_vs_cost, ttft_cdf
    from harness.analysis.report import Report, build_report, write_report
    from harness.analysis.stats import (
        TestResult,
        fisher_exact,
        log_ratio_paired,
        log_ratio_unpaired,
        mcnemar_exact,
        mcnemar_midp,
        mean_ci,
        paired_mean_difference,
        paired_risk_difference,
        risk_difference_unpaired,
        welch_mean_difference,
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
