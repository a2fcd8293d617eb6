"""OmegaConf resolvers used by ``conf/hydra/default.yaml``."""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import cache

from omegaconf import OmegaConf

__all__ = ["new_run_id", "register_resolvers"]


@cache
def new_run_id() -> str:
    """One id per process: a sortable timestamp plus a short random suffix.

    The suffix keeps two runs started in the same second apart.
    """
    return f"{datetime.now():%Y-%m-%d_%H-%M-%S}-{secrets.token_hex(2)}"


def _run_dir(results_dir: str, experiment: str, resume: str | None) -> str:
    return str(resume) if resume else f"{results_dir}/{experiment}/{new_run_id()}"


def _output_subdir(resume: str | None) -> str | None:
    return None if resume else ".hydra"


def register_resolvers() -> None:
    """Register the resolvers (idempotent)."""
    for name, fn in (
        ("harness_run_id", new_run_id),
        ("harness_run_dir", _run_dir),
        ("harness_output_subdir", _output_subdir),
    ):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
