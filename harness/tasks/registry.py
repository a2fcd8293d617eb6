"""The task registry: suites by name, and tasks by id across suites.

Suite loaders are imported lazily so that naming one suite never pays for (or fails on)
another.
"""

from __future__ import annotations

from harness.errors import TaskError
from harness.tasks.types import Task

__all__ = ["SUITES", "all_tasks", "get_task", "load_suite"]

#: Every suite the registry knows, in a stable order.
SUITES: tuple[str, ...] = ("humaneval", "builtin")

# task_id prefix -> suite, so get_task loads only the suite that can hold the id.
_PREFIXES: dict[str, str] = {"HumanEval/": "humaneval", "builtin/": "builtin"}


def load_suite(name: str, limit: int | None = None) -> list[Task]:
    """Load one suite's tasks in their stable order.

    Args:
        name: One of :data:`SUITES`.
        limit: Return only the first ``limit`` tasks (``None``: all).

    Raises:
        TaskError: Unknown suite (the message lists the valid ones), a suite that cannot be
            loaded, or a negative ``limit``.
    """
    if limit is not None and limit < 0:
        raise TaskError(f"tasks: limit must be >= 0, got {limit}")
    if name == "humaneval":
        from harness.tasks.humaneval import load_humaneval

        tasks = load_humaneval()
    elif name == "builtin":
        tasks = _load_builtin()
    else:
        raise TaskError(f"unknown task suite {name!r}; valid suites: {', '.join(SUITES)}")
    return tasks if limit is None else tasks[:limit]


def all_tasks() -> list[Task]:
    """Every task of every suite that loads (a suite that fails to load is skipped)."""
    tasks: list[Task] = []
    for name in SUITES:
        try:
            tasks.extend(load_suite(name))
        except TaskError:
            continue
    return tasks


def get_task(task_id: str) -> Task:
    """The task with this id, from whichever suite holds it.

    Raises:
        TaskError: No loadable suite has a task with this id.
    """
    suites = [s for p, s in _PREFIXES.items() if task_id.startswith(p)] or list(SUITES)
    for name in suites:
        try:
            tasks = load_suite(name)
        except TaskError:
            if len(suites) == 1:
                raise
            continue
        for task in tasks:
            if task.task_id == task_id:
                return task
    raise TaskError(f"unknown task id {task_id!r}")


def _load_builtin() -> list[Task]:
    try:
        from harness.tasks.builtin import load_builtin
    except ImportError as exc:
        raise TaskError(f"the builtin suite is not available: {exc}") from exc
    try:
        return list(load_builtin())
    except TaskError:
        raise
    except Exception as exc:  # a broken suite module must surface as one line
        raise TaskError(f"the builtin suite failed to load: {exc}") from exc
