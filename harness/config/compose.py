"""Compose the project config outside ``@hydra.main`` (tests, tools, validation)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

__all__ = ["CONF_DIR", "compose_config"]

#: The repository's ``conf/`` folder (the package is installed editable).
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def compose_config(
    overrides: Sequence[str] = (), *, return_hydra_config: bool = False
) -> DictConfig:
    """Compose ``conf/config.yaml`` with overrides, exactly as the CLI would."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from harness.config.resolvers import register_resolvers
    from harness.config.schema import register_configs

    register_configs()
    register_resolvers()
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(
            config_name="config",
            overrides=list(overrides),
            return_hydra_config=return_hydra_config,
        )
