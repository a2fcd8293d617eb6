"""Shared fixtures: composing the real config offline."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

KEY_VARS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENROUTER_API_KEY",
    "GEMINI_API_KEY",
    "DEEPSEEK_API_KEY",
)


def run_cli(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m harness`` in a subprocess (keys removed unless given)."""
    base = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=base,
        cwd=cwd or REPO,
    )


@pytest.fixture
def compose():
    from harness.config.compose import compose_config

    return compose_config


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``paid`` call live APIs: run only with HARNESS_RUN_PAID=1 (and keys)."""
    if os.environ.get("HARNESS_RUN_PAID") == "1":
        return
    skip = pytest.mark.skip(reason="calls a paid live API; set HARNESS_RUN_PAID=1 to run")
    for item in items:
        if "paid" in item.keywords:
            item.add_marker(skip)
