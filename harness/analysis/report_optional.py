"""Look up a function another analysis module may not provide yet.

Some report sections render functions that land in other modules at their own
pace (the design-aware comparison, the achieved MDE, the router evaluation).
Each is looked up when a report is built, never at import time, so a report
module imports cleanly before they exist and picks them up once they do.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# Internal to the report modules: nothing here is public API.
__all__: list[str] = []


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """``module.name`` if both exist, else None.

    Only a missing module or name means "not there yet"; any other error
    raised while importing the module is a real bug and propagates.
    """
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise
    return getattr(mod, name, None)
