"""Trial expansion: paired and split designs."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf
from scipy.stats import binomtest

from harness.config.schema import Config
from harness.errors import ConfigError
from harness.runner import build_trials, split_unit
from harness.tasks.humaneval import load_humaneval


def _conf(compose, *overrides: str) -> Config:
    return OmegaConf.to_object(compose(["experiment=ab_sonnet_vs_qwen", *overrides]))


def test_paired_runs_every_arm_on_every_task(compose) -> None:
    tasks = load_humaneval(limit=10)
    specs = build_trials(_conf(compose, "replicates=3"), tasks)
    assert len(specs) == 10 * 2 * 3
    assert len({s.trial_id for s in specs}) == len(specs)
    assert {(s.task.task_id, s.replicate) for s in specs if s.arm == "sonnet"} == {
        (s.task.task_id, s.replicate) for s in specs if s.arm == "qwen"
    }
    assert all(s.assign_u is None for s in specs)


def test_split_assignment_is_stable_and_close_to_its_ratio(compose) -> None:
    tasks = load_humaneval()
    conf = _conf(compose, "design.kind=split", "design.split_ratio=0.3")
    first = build_trials(conf, tasks)
    again = build_trials(_conf(compose, "design.kind=split", "design.split_ratio=0.3"), tasks)
    assert [(s.task.task_id, s.arm) for s in first] == [(s.task.task_id, s.arm) for s in again]
    assert len(first) == len(tasks), "one arm per task"
    n_first = sum(s.arm == "sonnet" for s in first)
    assert binomtest(n_first, len(tasks), 0.3).pvalue > 0.001
    for s in first:
        assert s.assign_u == split_unit("ab_sonnet_vs_qwen", s.task.task_id)
        assert (s.arm == "sonnet") == (s.assign_u < 0.3)
    other = build_trials(_conf(compose, "design.kind=split", "design.salt=other"), tasks)
    assert [s.arm for s in other] != [s.arm for s in first], "the salt changes the assignment"


def test_split_unit_is_uniform() -> None:
    us = [split_unit("salt", f"task-{i}") for i in range(4000)]
    assert all(0.0 <= u < 1.0 for u in us)
    assert binomtest(sum(u < 0.5 for u in us), len(us), 0.5).pvalue > 0.001


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("arms.qwen.model=no-such-model", "arms.qwen.model"),
        ("design.kind=crossover", "design.kind"),
        ("replicates=0", "replicates"),
        ("arms.qwen.router=psychic", "psychic"),
    ],
)
def test_bad_design_values_are_config_errors(compose, override: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        build_trials(_conf(compose, override), load_humaneval(limit=2))
