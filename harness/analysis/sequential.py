"""Monitoring a running paired experiment with always-valid p-values (mixture SPRT).

A fixed-sample p-value checked after every task inflates false positives:
peek often enough and it dips below α by chance. An always-valid p-value
(Johari, Koomen, Pekelis & Walsh, "Always valid inference: continuous monitoring
of A/B tests", Operations Research 70(3), 2022; Robbins 1970 for mixture
likelihood ratios) may be read at any time, and stopping the first time it
falls below α keeps P(false rejection) ≤ α.

The statistic. The primary metric is success, and arms are paired on the
task (and replicate). A (task, replicate) pair where exactly one arm succeeded
is *discordant*; among discordant pairs let W be those arm A won and L those
arm B won. Under H0 (the arms have the same success probability on every
task) each discordant pair is A's with probability exactly 1/2, whatever the
task's difficulty, and independently of earlier pairs — the sequential form of
McNemar's test. Against the alternative θ = P(A wins | discordant) ≠ 1/2 the
mixture likelihood ratio over a Beta(a, a) prior on θ is

    Λ_m = B(a + W, a + L) / B(a, a) · 2^m,   m = W + L,

a nonnegative martingale with mean 1 under H0, so by Ville's inequality
P(sup_m Λ_m ≥ 1/α) ≤ α: the test is exact, with no variance to estimate. The
always-valid p-value is p_m = min(1, min_{j ≤ m} 1/Λ_j), non-increasing.

The mixing prior is set by τ, its standard deviation around 1/2:
a = (1/(4τ²) − 1)/2 (τ = 0.1 gives Beta(12, 12)). τ near the effect you expect
on θ detects that effect fastest; a success-rate difference δ with a share D of
discordant pairs is θ − 1/2 = δ / (2D) (e.g. δ = 0.05, D = 0.25: 0.1).

Caveats: with one replicate and tasks in random order the test is also exact
for the weaker null of equal overall success rates (McNemar's null); with
several replicates it tests per-task equality. Pairs enter in the order they
complete; a pair with a missing outcome (LLM error, verifier off) never
enters. The split design has no pairs and is not monitored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import betaln

__all__ = [
    "Monitor",
    "beta_a",
    "mixture_log_lr",
    "monitor_from_config",
    "monitor_from_trials",
]

_LOG2 = math.log(2.0)


def beta_a(tau: float) -> float:
    """Parameter a of the Beta(a, a) mixing prior whose sd around 1/2 is ``tau``."""
    if not 0.0 < tau < 0.5:
        raise ValueError(f"monitor tau must be in (0, 0.5), got {tau}")
    return (1.0 / (4.0 * tau * tau) - 1.0) / 2.0


def mixture_log_lr(wins_a: Any, wins_b: Any, tau: float) -> Any:
    """log Λ of the Beta-mixture SPRT after ``wins_a`` and ``wins_b`` discordant pairs.

    Vectorised over numpy arrays (used by the type-I error simulation).
    """
    a = beta_a(tau)
    w = np.asarray(wins_a, dtype=float)
    l_ = np.asarray(wins_b, dtype=float)
    out = betaln(a + w, a + l_) - betaln(a, a) + (w + l_) * _LOG2
    return float(out) if out.ndim == 0 else out


def _is_outcome(value: Any) -> bool:
    if value is None:
        return False
    try:
        return not math.isnan(float(value))
    except (TypeError, ValueError):
        return False


class Monitor:
    """Always-valid p-value for ``arm_a`` vs ``arm_b`` on success, updated trial by trial.

    Args:
        arm_a: First arm (``wins_a`` counts pairs only it solved).
        arm_b: Second arm.
        alpha: Level at which ``should_stop`` fires (when ``early_stop``).
        tau: Sd of the Beta mixing prior of P(A wins | discordant) around 1/2.
        early_stop: Whether ``should_stop`` may become true.
    """

    def __init__(
        self,
        arm_a: str,
        arm_b: str,
        *,
        alpha: float = 0.05,
        tau: float = 0.1,
        early_stop: bool = False,
    ) -> None:
        if arm_a == arm_b:
            raise ValueError(f"monitor needs two different arms, got {arm_a!r} twice")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"monitor alpha must be in (0, 1), got {alpha}")
        beta_a(tau)  # validates tau
        self.arm_a, self.arm_b = arm_a, arm_b
        self.alpha, self.tau, self.early_stop = alpha, tau, early_stop
        self.wins_a = 0
        self.wins_b = 0
        self.n_pairs = 0
        self.log_lr = 0.0
        self._max_log_lr = 0.0
        self._pending: dict[tuple[str, int], dict[str, bool]] = {}

    @property
    def n_discordant(self) -> int:
        """Discordant pairs so far (W + L)."""
        return self.wins_a + self.wins_b

    @property
    def p_value(self) -> float:
        """Always-valid p-value: min over time of 1/Λ, capped at 1 (never increases)."""
        return math.exp(-self._max_log_lr)

    @property
    def should_stop(self) -> bool:
        """True once early stopping is enabled and the p-value is below alpha."""
        return self.early_stop and self.p_value < self.alpha

    @property
    def rejected(self) -> bool:
        """The p-value has fallen below alpha (whether or not early stop is on)."""
        return self.p_value < self.alpha

    def update(self, trial_row: Mapping[str, Any]) -> None:
        """Add one finished trial (a ``trials`` row: arm, task_id, replicate, success).

        Rows of other arms and rows without an outcome are ignored; a pair
        enters the statistic when both arms' trials of a (task, replicate) are in.
        """
        arm = trial_row.get("arm")
        if arm not in (self.arm_a, self.arm_b):
            return
        success = trial_row.get("success")
        if not _is_outcome(success):
            return
        key = (str(trial_row.get("task_id")), int(trial_row.get("replicate") or 0))
        slot = self._pending.setdefault(key, {})
        slot[str(arm)] = bool(success)
        if len(slot) == 2:
            del self._pending[key]
            self._add_pair(slot[self.arm_a], slot[self.arm_b])

    def _add_pair(self, a: bool, b: bool) -> None:
        self.n_pairs += 1
        if a == b:
            return
        if a:
            self.wins_a += 1
        else:
            self.wins_b += 1
        self.log_lr = mixture_log_lr(self.wins_a, self.wins_b, self.tau)
        self._max_log_lr = max(self._max_log_lr, self.log_lr)

    def summary(self) -> str:
        """Short text for a progress bar: the p-value and the discordant pairs behind it."""
        stop = " STOP" if self.should_stop else ""
        return (
            f"mSPRT {self.arm_a}−{self.arm_b} p={self.p_value:.3g} "
            f"({self.wins_a}:{self.wins_b} of {self.n_pairs} pairs){stop}"
        )

    def state(self) -> dict[str, Any]:
        """The monitor's figures as a dict (for reports and logs)."""
        return {
            "arm_a": self.arm_a,
            "arm_b": self.arm_b,
            "p_value": self.p_value,
            "wins_a": self.wins_a,
            "wins_b": self.wins_b,
            "n_pairs": self.n_pairs,
            "alpha": self.alpha,
            "tau": self.tau,
            "rejected": self.rejected,
            "method": "Beta-mixture SPRT on discordant pairs (always-valid p)",
        }


def monitor_from_trials(
    trials: Any,
    arm_a: str,
    arm_b: str,
    *,
    alpha: float = 0.05,
    tau: float = 0.1,
    early_stop: bool = False,
    order_by: Sequence[str] = ("finished_at", "trial_id"),
) -> Monitor:
    """Replay a run's trials (a ``trials`` frame) through a :class:`Monitor`.

    Trials are fed in the order they finished (``finished_at``, ties by
    ``trial_id``), which reproduces what the live monitor saw as long as the
    run's rows carry their finish times.
    """
    mon = Monitor(arm_a, arm_b, alpha=alpha, tau=tau, early_stop=early_stop)
    keys = [c for c in order_by if c in trials.columns]
    frame = trials.sort_values(keys, kind="stable") if keys else trials
    cols = [c for c in ("arm", "task_id", "replicate", "success") if c in frame.columns]
    for row in frame[cols].to_dict("records"):
        mon.update(row)
    return mon


def monitor_from_config(cfg: Any) -> Monitor | None:
    """The run's monitor from the composed config, or None when off or not applicable.

    Reads ``cfg.monitor`` (``enabled``, ``arms``, ``alpha``, ``tau``,
    ``early_stop``), ``cfg.arms`` and ``cfg.design.kind``; works on the typed
    dataclass or a DictConfig.

    Raises:
        ConfigError: ``monitor.arms`` does not name two configured arms.
    """
    from harness.errors import ConfigError

    mcfg = getattr(cfg, "monitor", None)
    if mcfg is None or not mcfg.enabled:
        return None
    design = getattr(getattr(cfg, "design", None), "kind", "paired")
    if design != "paired":
        return None
    arms = list(cfg.arms)
    if not mcfg.arms and len(arms) < 2:
        return None  # one arm (e.g. collecting trajectories): nothing to compare
    chosen = list(mcfg.arms) if mcfg.arms else arms[:2]
    if len(chosen) != 2 or any(a not in arms for a in chosen) or chosen[0] == chosen[1]:
        raise ConfigError(
            f"monitor.arms must name two different configured arms, got {chosen} "
            f"(arms: {', '.join(arms)})"
        )
    try:
        return Monitor(
            chosen[0],
            chosen[1],
            alpha=float(mcfg.alpha),
            tau=float(mcfg.tau),
            early_stop=bool(mcfg.early_stop),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
