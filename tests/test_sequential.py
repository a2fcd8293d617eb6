"""Always-valid monitoring (analysis.sequential): type-I error under peeking, power, replay."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

from harness.analysis.sequential import (
    Monitor,
    beta_a,
    mixture_log_lr,
    monitor_from_config,
    monitor_from_trials,
)
from harness.errors import ConfigError

ALPHA = 0.05


def _paired_outcomes(
    rng: np.random.Generator, sequences: int, pairs: int, shift_a: float
) -> tuple[np.ndarray, np.ndarray]:
    """Binary outcomes of two arms on tasks of random difficulty (the simulator's logit model)."""
    difficulty = rng.normal(0.0, 1.0, (sequences, pairs))
    p_b = 1 / (1 + np.exp(-(1.0 - difficulty)))
    p_a = 1 / (1 + np.exp(-(1.0 + shift_a - difficulty)))
    return rng.random((sequences, pairs)) < p_a, rng.random((sequences, pairs)) < p_b


def test_mixture_lr_by_hand() -> None:
    # τ = 0.1 -> Beta(12, 12): sd = sqrt(1/(4·25)) = 0.1.
    assert beta_a(0.1) == pytest.approx(12.0)
    # 7 wins, 1 loss: Λ = B(19, 13) / B(12, 12) · 2^8.
    want = math.exp(betaln(19, 13) - betaln(12, 12)) * 256
    assert math.exp(mixture_log_lr(7, 1, 0.1)) == pytest.approx(want, rel=1e-12)
    # Λ is a martingale under θ = 1/2: one more pair keeps its expectation.
    lr = mixture_log_lr(3, 2, 0.1)
    nxt = 0.5 * math.exp(mixture_log_lr(4, 2, 0.1)) + 0.5 * math.exp(mixture_log_lr(3, 3, 0.1))
    assert nxt == pytest.approx(math.exp(lr), rel=1e-12)
    with pytest.raises(ValueError, match="tau"):
        beta_a(0.5)


def test_type_one_error_under_continuous_peeking() -> None:
    # Under H0 (same per-task probability in both arms), checking after every one of 400
    # pairs and stopping at the first p < α rejects at most α of the time (Ville's inequality:
    # exact, not asymptotic). 4000 sequences: se of the rate at 0.05 is 0.0034.
    rng = np.random.default_rng(11)
    a, b = _paired_outcomes(rng, 4000, 400, shift_a=0.0)
    wins_a, wins_b = np.cumsum(a & ~b, axis=1), np.cumsum(b & ~a, axis=1)
    ever = (mixture_log_lr(wins_a, wins_b, 0.1).max(axis=1) >= math.log(1 / ALPHA)).mean()
    assert ever <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / 4000)
    # The naive alternative — a fixed-sample McNemar z-test re-run after every pair — does
    # inflate false positives under the same peeking: this is what the monitor prevents.
    m = wins_a + wins_b
    z = np.abs(wins_a - wins_b) / np.sqrt(np.maximum(m, 1))
    naive = ((z > 1.959964) & (m >= 10)).any(axis=1).mean()
    assert naive > 2 * ALPHA > ever


def test_power_against_a_real_difference() -> None:
    rng = np.random.default_rng(12)
    a, b = _paired_outcomes(rng, 500, 400, shift_a=0.8)
    wins_a, wins_b = np.cumsum(a & ~b, axis=1), np.cumsum(b & ~a, axis=1)
    ever = (mixture_log_lr(wins_a, wins_b, 0.1).max(axis=1) >= math.log(1 / ALPHA)).mean()
    assert ever > 0.8


def test_monitor_pairs_rows_in_any_order_and_matches_the_vectorised_statistic() -> None:
    rng = np.random.default_rng(5)
    a, b = _paired_outcomes(rng, 1, 120, shift_a=0.7)
    rows = [
        {"arm": arm, "task_id": f"T/{i}", "replicate": 0, "success": float(y[0, i])}
        for i in range(120)
        for arm, y in (("a", a), ("b", b))
    ]
    order = rng.permutation(len(rows))
    mon = Monitor("a", "b", tau=0.1)
    seen = []
    for j in order:
        mon.update(rows[j])
        seen.append(mon.p_value)
    assert mon.n_pairs == 120
    assert mon.wins_a == int((a & ~b).sum()) and mon.wins_b == int((b & ~a).sum())
    assert mon.log_lr == pytest.approx(mixture_log_lr(mon.wins_a, mon.wins_b, 0.1))
    assert all(x >= y for x, y in itertools.pairwise(seen))  # never increases
    assert mon.p_value <= math.exp(-mon.log_lr) + 1e-15
    assert "mSPRT a−b p=" in mon.summary()


def test_monitor_ignores_other_arms_and_missing_outcomes() -> None:
    mon = Monitor("a", "b", early_stop=True)
    mon.update({"arm": "c", "task_id": "t", "replicate": 0, "success": 1.0})
    mon.update({"arm": "a", "task_id": "t", "replicate": 0, "success": float("nan")})
    mon.update({"arm": "b", "task_id": "t", "replicate": 0, "success": 0.0})
    assert mon.n_pairs == 0 and mon.p_value == 1.0 and not mon.should_stop
    for i in range(30):  # a wins every pair: the evidence piles up
        mon.update({"arm": "a", "task_id": f"u{i}", "replicate": 0, "success": True})
        mon.update({"arm": "b", "task_id": f"u{i}", "replicate": 0, "success": False})
    assert mon.rejected and mon.should_stop and "STOP" in mon.summary()
    off = Monitor("a", "b", early_stop=False)
    for i in range(30):
        off.update({"arm": "a", "task_id": f"u{i}", "replicate": 0, "success": True})
        off.update({"arm": "b", "task_id": f"u{i}", "replicate": 0, "success": False})
    assert off.rejected and not off.should_stop


def test_monitor_from_trials_replays_the_finish_order() -> None:
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    rows = []
    for i in range(40):
        for arm, s in (("a", i % 3 != 0), ("b", i % 5 == 0)):
            rows.append(
                {
                    "trial_id": f"{arm}/T/{i}/r0",
                    "arm": arm,
                    "task_id": f"T/{i}",
                    "replicate": 0,
                    "success": float(s),
                    "finished_at": t0 + pd.Timedelta(seconds=40 - i),
                }
            )
    frame = pd.DataFrame(rows)
    replay = monitor_from_trials(frame, "a", "b")
    live = Monitor("a", "b")
    for r in sorted(rows, key=lambda r: (r["finished_at"], r["trial_id"])):
        live.update(r)
    assert replay.state() == live.state()
    assert replay.n_pairs == 40


def test_monitor_from_config(compose) -> None:
    cfg = compose(["experiment=ab_sonnet_vs_qwen", "monitor.early_stop=true"])
    mon = monitor_from_config(cfg)
    assert mon is not None and (mon.arm_a, mon.arm_b) == ("sonnet", "qwen") and mon.early_stop
    assert (
        monitor_from_config(compose(["experiment=ab_sonnet_vs_qwen", "design.kind=split"])) is None
    )
    assert (
        monitor_from_config(compose(["experiment=ab_sonnet_vs_qwen", "monitor.enabled=false"]))
        is None
    )
    with pytest.raises(ConfigError, match=r"monitor\.arms"):
        monitor_from_config(compose(["experiment=ab_sonnet_vs_qwen", "monitor.arms=[sonnet,x]"]))
    # one arm (collecting trajectories): nothing to monitor, unless arms are named
    assert monitor_from_config(compose(["experiment=bench_overhead"])) is None
    with pytest.raises(ConfigError, match=r"monitor\.arms"):
        monitor_from_config(compose(["experiment=bench_overhead", "monitor.arms=[qwen,x]"]))
    with pytest.raises(ConfigError, match="tau"):
        monitor_from_config(compose(["experiment=ab_sonnet_vs_qwen", "monitor.tau=0.7"]))
