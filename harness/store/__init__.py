"""DuckDB storage: append-only migrations, a batched writer, readers.

- :mod:`harness.store.migrations` — the tables ``runs``, ``trials``, ``calls``.
- :class:`StoreWriter` — one run's database, written in batches off the event loop.
- :func:`read_completed_trials` — the trials a resumed run must not redo.
- :func:`open_results` — a results folder, a run folder or one file as views.

Names are imported on first use so that ``import harness.store`` stays cheap
(pyarrow is only loaded when a writer is needed).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "DB_FILENAME",
    "MIGRATIONS",
    "StoreWriter",
    "list_run_dbs",
    "migrate",
    "open_results",
    "read_completed_trials",
]

_WHERE = {
    "DB_FILENAME": "reader",
    "MIGRATIONS": "migrations",
    "StoreWriter": "writer",
    "list_run_dbs": "reader",
    "migrate": "migrations",
    "open_results": "reader",
    "read_completed_trials": "writer",
}

if TYPE_CHECKING:
    from harness.store.migrations import MIGRATIONS, migrate
    from harness.store.reader import DB_FILENAME, list_run_dbs, open_results
    from harness.store.writer import StoreWriter, read_completed_trials


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
