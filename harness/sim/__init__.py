"""The local LLM simulator: real OpenAI and Anthropic wire protocols on 127.0.0.1.

``python -m harness.sim --host 127.0.0.1 --port P`` runs it alone;
:class:`SimProcess` runs it as a subprocess for a run or a test;
:func:`build_app` gives the ASGI app for in-process use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.sim.settings import (
    FaultRates,
    ModelProfile,
    SimSettings,
    load_default_settings,
    settings_from_config,
    settings_from_json,
    settings_to_json,
)

if TYPE_CHECKING:
    from harness.sim.app import build_app
    from harness.sim.process import SimProcess

__all__ = [
    "FaultRates",
    "ModelProfile",
    "SimProcess",
    "SimSettings",
    "build_app",
    "load_default_settings",
    "settings_from_config",
    "settings_from_json",
    "settings_to_json",
]


def __getattr__(name: str) -> Any:
    # Lazy: the server stack (starlette, uvicorn) loads only when someone needs it.
    if name == "build_app":
        from harness.sim.app import build_app

        return build_app
    if name == "SimProcess":
        from harness.sim.process import SimProcess

        return SimProcess
    raise AttributeError(f"module 'harness.sim' has no attribute {name!r}")
