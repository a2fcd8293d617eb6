"""Dataclass schemas for the Hydra config, registered in the ConfigStore."""

from __future__ import annotations

from harness.config.schema import (
    ArmConfig,
    Config,
    DesignConfig,
    EndpointsConfig,
    ModelConfig,
    RunnerConfig,
    register_configs,
)

__all__ = [
    "ArmConfig",
    "Config",
    "DesignConfig",
    "EndpointsConfig",
    "ModelConfig",
    "RunnerConfig",
    "register_configs",
]
