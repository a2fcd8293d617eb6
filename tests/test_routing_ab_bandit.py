"""ab_split: sticky across processes and close to its ratio; bandit: converges, trades cost."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

from scipy.stats import binomtest

from harness.config.schema import BanditSettings, Capabilities, ModelConfig
from harness.routing import AbSplitRouter, BanditRouter, Feedback, ModelRates, RouteContext
from harness.runner import split_unit
from harness.tasks.types import Task
from tests.conftest import REPO

UNITS = [f"HumanEval/{i}" for i in range(3000)]


def _assignments(salt: str, ratio: float) -> list[str]:
    router = AbSplitRouter(["control", "treatment"], split_ratio=ratio, salt=salt)
    return [router.assign(u) for u in UNITS]


def test_ab_split_is_close_to_its_ratio() -> None:
    got = _assignments("exp-1", 0.3)
    n_control = got.count("control")
    # Exact binomial test of H0: P(control) = 0.3 (scipy.stats.binomtest).
    assert binomtest(n_control, len(UNITS), 0.3).pvalue > 0.001
    assert 0.25 < n_control / len(UNITS) < 0.35


def test_ab_split_is_sticky_across_runs_and_processes() -> None:
    here = _assignments("exp-1", 0.3)
    assert here == _assignments("exp-1", 0.3), "a new router assigns the same way"
    assert here != _assignments("exp-2", 0.3), "the salt changes the assignment"
    code = (
        "import json; from harness.routing import AbSplitRouter as R; "
        f"r = R(['control', 'treatment'], split_ratio=0.3, salt='exp-1'); "
        f"print(json.dumps([r.assign(f'HumanEval/{{i}}') for i in range({len(UNITS)})]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # str hash() would differ; sha256 does not
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True
    ).stdout
    assert json.loads(out) == here


def test_ab_split_is_independent_of_the_split_design_coin() -> None:
    # The runner's split design hashes the same salt and task id; ab_split must not copy it.
    router = AbSplitRouter(["control", "treatment"], split_ratio=0.5, salt="s")
    both = sum(router.assign(u) == "control" and split_unit("s", u) < 0.5 for u in UNITS)
    assert binomtest(both, len(UNITS), 0.25).pvalue > 0.001


def test_ab_split_three_arms_share_the_rest_equally() -> None:
    router = AbSplitRouter(["a", "b", "c"], split_ratio=0.5, salt="s")
    got = [router.assign(u) for u in UNITS]
    assert binomtest(got.count("b"), got.count("b") + got.count("c"), 0.5).pvalue > 0.001


# -- bandit ----------------------------------------------------------------------------------


def _models(*keys: str) -> dict[str, ModelConfig]:
    return {
        k: ModelConfig(
            provider="openai",
            protocol="openai",
            model_id=k,
            api_base="http://127.0.0.1:1",
            capabilities=Capabilities(),
        )
        for k in keys
    }


TASK = Task("t/1", "builtin", "simple", "x" * 200, "f", "", "")


def _play(p_success: dict[str, float], cost: dict[str, float], weight: float, rounds: int):
    """Route/observe ``rounds`` times on a Bernoulli problem; returns the picks."""
    models = _models(*p_success)
    router = BanditRouter(list(models), BanditSettings(cost_weight=weight, seed=7), rng_key="arm")
    env = random.Random(11)  # the environment's own seeded coin
    ctx = RouteContext(models=models, price=lambda k: ModelRates(0, 0))
    picks = []
    for _ in range(rounds):
        m = router.route(TASK, ctx).model
        picks.append(m)
        router.observe(Feedback(m, "simple", env.random() < p_success[m], cost_usd=cost[m]))
    return picks, router


def test_bandit_converges_to_the_better_model() -> None:
    picks, router = _play({"weak": 0.4, "strong": 0.8}, {"weak": 0.0, "strong": 0.0}, 0.0, 400)
    late = picks[-100:]
    assert late.count("strong") >= 90, late.count("strong")
    a, b = router.posterior("simple", "strong")
    assert abs(a / (a + b) - 0.8) < 0.1


def test_bandit_cost_weight_trades_quality_for_cost() -> None:
    p = {"dear": 0.85, "cheap": 0.75}
    cost = {"dear": 0.05, "cheap": 0.0}
    # Value: 0.85 - 10 * 0.05 = 0.35 against 0.75: the cheap model wins once costs are seen.
    picks, _ = _play(p, cost, 10.0, 300)
    assert picks[-100:].count("cheap") >= 90
    picks, _ = _play(p, cost, 0.0, 600)
    assert picks[-200:].count("dear") > 100, "without a cost weight quality decides"
