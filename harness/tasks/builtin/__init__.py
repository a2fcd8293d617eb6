"""The project's own task suite, across the seed document's six categories.

Every task is written for this project: a prompt, a reference solution that uses only the
standard library, and hidden tests in the ``functions`` style (zero-argument ``test_*``
functions with plain asserts, run in the namespace of the answer). One module per category
holds that category's ``TASKS``:

- :mod:`~harness.tasks.builtin.complex_debugging` — several interacting bugs behind symptoms;
- :mod:`~harness.tasks.builtin.code_generation` — implement a specified algorithm or class;
- :mod:`~harness.tasks.builtin.refactoring` — restructure working code, keep its behaviour;
- :mod:`~harness.tasks.builtin.simple` — small utility functions;
- :mod:`~harness.tasks.builtin.long_files` — a 300+ line module with bugs or a feature to add;
- :mod:`~harness.tasks.builtin.security` — code that must withstand hostile input.
"""

from __future__ import annotations

from types import ModuleType

from harness.tasks.types import CATEGORIES, Task

__all__ = ["load_builtin", "tasks_by_category"]


def _modules() -> dict[str, ModuleType]:
    # Imported here so that importing the package stays cheap until tasks are needed.
    from harness.tasks.builtin import (
        code_generation,
        complex_debugging,
        long_files,
        refactoring,
        security,
        simple,
    )

    return {
        "complex_debugging": complex_debugging,
        "code_generation": code_generation,
        "refactoring": refactoring,
        "simple": simple,
        "long_files": long_files,
        "security": security,
    }


def tasks_by_category() -> dict[str, list[Task]]:
    """The suite's tasks per category, in :data:`~harness.tasks.types.CATEGORIES` order."""
    modules = _modules()
    return {category: list(modules[category].TASKS) for category in CATEGORIES}


def load_builtin(limit: int | None = None) -> list[Task]:
    """All builtin tasks in a stable order, or the first ``limit`` of them.

    The order interleaves the categories (one task of each category in
    :data:`~harness.tasks.types.CATEGORIES` order, then the next of each, ...), so any
    prefix — what ``tasks.limit=N`` selects — covers the categories as evenly as it can.

    Raises:
        ValueError: A negative ``limit``, or two tasks sharing an id.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    groups = list(tasks_by_category().values())
    ordered: list[Task] = []
    for rank in range(max(len(group) for group in groups)):
        ordered.extend(group[rank] for group in groups if rank < len(group))
    ids = [task.task_id for task in ordered]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"builtin suite: duplicate task ids {dupes}")
    return ordered if limit is None else ordered[:limit]
