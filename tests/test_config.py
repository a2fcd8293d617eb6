"""Every experiment config composes; bad config fails at compose time with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import REPO, run_cli

EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))
SEED_MODELS = {
    "gpt-4-turbo",
    "gpt-4o",
    "claude-3-opus",
    "claude-3-5-sonnet",
    "gemini-1-5-pro",
    "qwen-2-5-coder",
    "deepseek-coder",
    "llama-3-70b",
}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("endpoints", ["live", "sim"])
def test_every_experiment_composes(compose, experiment: str, endpoints: str) -> None:
    cfg = compose([f"experiment={experiment}", f"endpoints={endpoints}"])
    assert cfg.experiment_name == experiment
    assert cfg.arms, "an experiment defines arms"
    # every arm's model or candidates are portfolio keys (router arms have no single model)
    from harness.routing import ArmRouting

    ArmRouting.from_config(OmegaConf.to_object(cfg))
    assert cfg.endpoints.mode == endpoints
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


def test_ab_experiment_shape(compose) -> None:
    cfg = compose(["experiment=ab_sonnet_vs_qwen"])
    assert cfg.design.kind == "paired"
    assert cfg.tasks.suite == "humaneval"
    models = cfg.portfolio.models
    assert models[cfg.arms.sonnet.model].protocol == "anthropic"
    assert models[cfg.arms.qwen.model].protocol == "openai"
    assert models[cfg.arms.qwen.model].provider == "openrouter"
    # one override moves Qwen to a self-hosted server
    cfg2 = compose(["experiment=ab_sonnet_vs_qwen", "arms.qwen.model=qwen-2-5-coder-vllm"])
    m = cfg2.portfolio.models[cfg2.arms.qwen.model]
    assert (
        m.provider == "vllm" and m.api_key_env is None and m.api_base.startswith("http://localhost")
    )


def test_seed_portfolio_is_complete(compose) -> None:
    models = compose([]).portfolio.models
    assert SEED_MODELS <= set(models)
    for key, m in models.items():
        assert m.protocol in ("openai", "anthropic", "gemini"), key
        assert m.context_window > 0
        assert set(m.capabilities) == {"coding", "reasoning", "long_context", "speed"}


def test_required_overrides_apply(compose, tmp_path: Path) -> None:
    cfg = compose(
        [
            "experiment=ab_sonnet_vs_qwen",
            "endpoints=sim",
            "tasks=builtin",
            "tasks.limit=3",
            "replicates=2",
            f"results_dir={tmp_path}",
            "seed=7",
            "runner.concurrency=4",
        ],
        return_hydra_config=True,
    )
    assert (cfg.tasks.suite, cfg.tasks.limit, cfg.replicates, cfg.seed) == ("builtin", 3, 2, 7)
    assert cfg.runner.concurrency == 4
    run_dir = Path(cfg.hydra.run.dir)
    assert run_dir.parent == tmp_path / "ab_sonnet_vs_qwen"


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("runner.concurency=3", "runner.concurency"),
        ("replicates=abc", "replicates"),
        ("experiment=no_such_experiment", "experiment/no_such_experiment"),
        ("tasks.limit=[1,2]", "tasks.limit"),
    ],
)
def test_bad_config_is_one_line_exit_2(compose, override: str, needle: str) -> None:
    # fails at compose time already
    with pytest.raises(Exception):  # noqa: B017 - Hydra raises several types
        compose([override])
    proc = run_cli(["experiment=ab_sonnet_vs_qwen", "endpoints=sim", override], timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_bad_sweep_value_is_caught_before_running() -> None:
    proc = run_cli(
        ["-m", "experiment=ab_sonnet_vs_qwen", "endpoints=sim", "replicates=1,x"], timeout=60
    )
    assert proc.returncode == 2
    assert "replicates" in proc.stderr and "Traceback" not in proc.stderr


def test_help_works_without_running() -> None:
    proc = run_cli(["--help"], timeout=60)
    assert proc.returncode == 0
    assert "experiment" in proc.stdout


def test_every_portfolio_model_can_be_overridden_from_the_command_line(compose) -> None:
    # Hydra's override grammar cannot address a key with a dot in it.
    models = list(compose([]).portfolio.models)
    cfg = compose([f"portfolio.models.{m}.context_window={1000 + i}" for i, m in enumerate(models)])
    assert [cfg.portfolio.models[m].context_window for m in models] == [
        1000 + i for i in range(len(models))
    ]
