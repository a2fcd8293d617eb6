"""Simulator settings: the default YAML, the portfolio mapping, JSON round trips."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from harness.errors import ConfigError
from harness.sim.behaviour import probability
from harness.sim.settings import (
    FaultRates,
    ModelProfile,
    SimSettings,
    load_default_settings,
    repo_root,
    settings_from_config,
    settings_from_dict,
    settings_from_json,
    settings_to_json,
)
from harness.tasks.types import Task

SEED_PORTFOLIO = (
    "gpt-4-turbo",
    "gpt-4o",
    "claude-3-opus",
    "claude-3-5-sonnet",
    "gemini-1-5-pro",
    "qwen-2-5-coder",
    "deepseek-coder",
    "llama-3-70b",
)


def test_default_settings_cover_every_portfolio_model() -> None:
    settings = load_default_settings(seed=5)
    assert settings.seed == 5
    assert set(SEED_PORTFOLIO) <= set(settings.profiles)
    portfolio = OmegaConf.load(repo_root() / "conf/portfolio/seed.yaml").models
    for key, model in portfolio.items():
        assert settings.model_ids[model.model_id] == (model.get("sim_profile") or key)
    # Faults are off by default.
    for profile in settings.profiles.values():
        assert profile.faults == FaultRates()


def test_default_profiles_are_plausible() -> None:
    p = load_default_settings().profiles
    # Opus slowest, Qwen fastest; TTFT in the 0.4-1.5 s range.
    assert min(p.values(), key=lambda x: x.tokens_per_s) is p["claude-3-opus"]
    assert max(p.values(), key=lambda x: x.tokens_per_s) is p["qwen-2-5-coder"]
    assert all(400 <= x.ttft_ms <= 1500 for x in p.values())
    # On an average code_generation task Sonnet beats Qwen which beats Llama 3 70B.
    task = Task("t", "s", "code_generation", "p", "f", "r", "t")
    rates = {k: probability(v, task) for k, v in p.items()}
    assert rates["claude-3-5-sonnet"] > rates["qwen-2-5-coder"] > rates["llama-3-70b"]
    # Reasoning-heavy categories favour GPT-4 Turbo / Opus over the coder models.
    sec = dataclasses.replace(task, category="security")
    assert probability(p["claude-3-opus"], sec) - probability(p["claude-3-opus"], task) > 0
    assert probability(p["qwen-2-5-coder"], sec) - probability(p["qwen-2-5-coder"], task) < 0


def test_every_yaml_key_has_a_comment() -> None:
    text = Path(repo_root() / "conf/sim/default.yaml").read_text()
    for line in text.splitlines():
        if re.match(r"^\s*[\w.-]+:", line) and not line.rstrip().endswith(":"):
            assert "#" in line, f"no comment: {line!r}"


def test_composed_config_gives_the_same_settings(compose) -> None:
    cfg = compose(["endpoints=sim"])
    from_cfg = settings_from_config(cfg.sim, cfg.portfolio.models)
    assert from_cfg == load_default_settings(seed=int(cfg.sim.seed))


def test_json_round_trip() -> None:
    settings = load_default_settings(seed=3, time_scale=0.5)
    settings.profiles["gpt-4o"].faults.rate_limit = 0.25
    again = settings_from_json(settings_to_json(settings))
    assert again == settings
    assert isinstance(again.profiles["gpt-4o"], ModelProfile)
    assert again.profiles["gpt-4o"].faults.rate_limit == 0.25


def test_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"sim.profiles.x: unknown key\(s\) skil"):
        settings_from_dict({"profiles": {"x": {"skil": 1.0}}})
    with pytest.raises(ConfigError, match="sim: unknown key"):
        settings_from_dict({"time_scael": 1.0})
    with pytest.raises(ConfigError, match=r"portfolio\.models\.new-model"):
        settings_from_config({"profiles": {}}, {"new-model": {"model_id": "m"}})
    with pytest.raises(ConfigError, match="already answers"):
        settings_from_config(
            {"profiles": {"a": {}, "b": {}}},
            {"a": {"model_id": "same"}, "b": {"model_id": "same"}},
        )


def test_sim_profile_redirects_a_model() -> None:
    settings = settings_from_config(
        {"profiles": {"base": {"skill": 1.0}}},
        {"base": {"model_id": "m1"}, "self-hosted": {"model_id": "m2", "sim_profile": "base"}},
    )
    assert settings.model_ids == {"m1": "base", "m2": "base"}
    assert isinstance(settings, SimSettings)
    assert math.isclose(settings.profiles["base"].skill, 1.0)
