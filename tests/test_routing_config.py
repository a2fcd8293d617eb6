"""Router arms from the real config: policies compose; a bad one fails naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from harness.config.schema import Config
from harness.errors import ConfigError
from harness.routing import STRATEGIES, ArmRouting, TaskMapRouter
from harness.runner import build_trials
from harness.tasks.registry import load_suite
from harness.tasks.types import CATEGORIES

CONF_ROUTER = Path(__file__).resolve().parents[1] / "conf" / "router"


def _experiment(tmp_path: Path, body: str) -> list[str]:
    exp = tmp_path / "conf" / "experiment"
    exp.mkdir(parents=True)
    (exp / "t.yaml").write_text("# @package _global_\n" + body)
    return [f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "experiment=t"]


def _conf(compose, overrides: list[str]) -> Config:
    return OmegaConf.to_object(compose(overrides))


def test_fixed_arms_are_unchanged(compose) -> None:
    conf = _conf(compose, ["experiment=ab_sonnet_vs_qwen"])
    specs = build_trials(conf, load_suite("builtin")[:3])
    assert {(s.arm, s.model, s.models) for s in specs} == {
        ("sonnet", "claude-3-5-sonnet", ("claude-3-5-sonnet",)),
        ("qwen", "qwen-2-5-coder", ("qwen-2-5-coder",)),
    }
    assert all(s.router == "fixed" for s in specs)


def test_every_policy_file_composes_as_an_arm(compose, tmp_path: Path) -> None:
    names = sorted(p.stem for p in CONF_ROUTER.glob("*.yaml") if not p.stem.startswith("fitted"))
    assert {"fixed", "task_map", "cost_optimized", "capability"} <= set(names)
    body = "defaults:\n" + "".join(f"  - /router@arms.{n}: {n}\n" for n in names)
    body += "arms:\n  fixed: {model: gpt-4o}\n"
    conf = _conf(compose, _experiment(tmp_path, body))
    routing = ArmRouting.from_config(conf)
    assert set(routing.routers) == set(names)
    seed_map = routing.routers["task_map"]
    assert isinstance(seed_map, TaskMapRouter)
    assert set(seed_map.table) == set(CATEGORIES), "the seed's table covers every category"
    assert seed_map.table["simple"] == ("qwen-2-5-coder", "llama-3-70b", "deepseek-coder")


def test_arm_settings_override_a_policy_file(compose, tmp_path: Path) -> None:
    body = (
        "defaults:\n  - /router@arms.cap: capability\n"
        "arms:\n  cap:\n    capability: {cost: 0.9}\n    candidates: [gpt-4o, qwen-2-5-coder]\n"
    )
    arm = _conf(compose, _experiment(tmp_path, body)).arms["cap"]
    assert arm.router == "capability" and arm.capability.cost == 0.9
    assert arm.capability.coding.extra == 0.2, "the rest comes from the file"
    assert arm.candidates == ["gpt-4o", "qwen-2-5-coder"]


def test_top_level_router_is_every_arms_default(compose) -> None:
    conf = _conf(
        compose,
        [
            "experiment=ab_sonnet_vs_qwen",
            "router.router=round_robin",
            "router.candidates=[gpt-4o,qwen-2-5-coder]",
            "arms.sonnet.model=null",
            "arms.qwen.model=null",
        ],
    )
    assert {a.router for a in conf.arms.values()} == {"round_robin"}
    specs = build_trials(conf, load_suite("builtin")[:2])
    assert {s.models for s in specs} == {("gpt-4o", "qwen-2-5-coder")}
    assert {s.model for s in specs} == {""}, "routed at dispatch"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["arms.qwen.router=psychic"], "arms.qwen.router: unknown router strategy 'psychic'"),
        (["arms.qwen.model=nope"], "arms.qwen.model: 'nope' not in the portfolio"),
        (
            ["arms.qwen.router=cost_optimized", "arms.qwen.model=null"],
            "arms.qwen.candidates: the cost_optimized router needs candidates",
        ),
        (
            ["arms.qwen.router=least_busy", "arms.qwen.candidates=[gpt-4o,gpt-5-ultra]"],
            "arms.qwen.candidates: 'gpt-5-ultra' not in the portfolio",
        ),
        (
            [
                "arms.qwen.router=task_map",
                "arms.qwen.model=null",
                "+arms.qwen.task_map.table={debugging:{primary:gpt-4o}}",
            ],
            "arms.qwen.task_map.table: unknown categories ['debugging']",
        ),
        (
            ["arms.qwen.router=budget_aware", "arms.qwen.candidates=[gpt-4o,qwen-2-5-coder]"],
            "arms.qwen.budget_aware.budget_usd",
        ),
        (
            [
                "arms.qwen.router=ab_split",
                "arms.qwen.candidates=[gpt-4o,qwen-2-5-coder]",
                "arms.qwen.ab_split.split_ratio=1.5",
            ],
            "split_ratio must be in",
        ),
    ],
)
def test_bad_router_config_is_one_clear_error(compose, overrides: list[str], needle: str) -> None:
    conf = _conf(compose, ["experiment=ab_sonnet_vs_qwen", *overrides])
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        build_trials(conf, load_suite("builtin")[:2])


def test_an_arm_override_stays_in_its_arm(compose, tmp_path: Path) -> None:
    arm = "{router: bandit, candidates: [gpt-4o]}"
    body = f"arms:\n  a: {arm}\n  b: {arm}\n"
    conf = _conf(compose, [*_experiment(tmp_path, body), "arms.a.bandit.cost_weight=5"])
    assert (conf.arms["a"].bandit.cost_weight, conf.arms["b"].bandit.cost_weight) == (5.0, 10.0)
    ArmRouting.from_config(conf)


def test_top_level_settings_are_refused(compose) -> None:
    # capability.yaml's settings are the defaults: as the top-level router it is every arm's.
    conf = _conf(compose, ["experiment=ab_sonnet_vs_qwen", "router=capability"])
    assert {s.router for s in build_trials(conf, load_suite("builtin")[:2])} == {"capability"}
    # task_map.yaml's table is not a default, and arms would not inherit it: refused.
    conf = _conf(compose, ["experiment=ab_sonnet_vs_qwen", "router=task_map"])
    with pytest.raises(ConfigError, match=r"router\.task_map: arms inherit only"):
        build_trials(conf, load_suite("builtin")[:2])


def test_strategy_list_is_complete() -> None:
    assert len(STRATEGIES) == 10
