"""Recognising which task a prompt is.

The agent puts a task's ``prompt`` verbatim into the last user message. An
exact match of the stripped text is one dict look-up; otherwise the longest
task prompt contained in the text wins (an agent may wrap the prompt in
instructions). Results are cached per text, so a retried request costs one
look-up.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable

from harness.tasks.types import Task

__all__ = ["TaskIndex", "load_tasks"]

log = logging.getLogger(__name__)

# Texts remembered per index; a run sends each task prompt a few times (arms, replicates, retries).
_CACHE_SIZE = 4096


def load_tasks() -> list[Task]:
    """Every task the harness knows: the registry's suites, else HumanEval alone, else none."""
    try:
        from harness.tasks.registry import all_tasks
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("harness.tasks"):
            raise
    else:
        return list(all_tasks())
    try:
        from harness.tasks.humaneval import load_humaneval
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("harness.tasks"):
            raise
        log.warning("no task suites found: every prompt gets a generic answer")
        return []
    return list(load_humaneval())


class TaskIndex:
    """Finds the task whose prompt a request's user text carries."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self._exact: dict[str, Task] = {}
        for task in tasks:
            prompt = task.prompt.strip()
            if prompt:
                # First one wins, so a prompt that appears twice keeps its first suite's task.
                self._exact.setdefault(prompt, task)
        # Longest first: a prompt that contains another prompt is the better match.
        self._by_length = sorted(self._exact.items(), key=lambda kv: -len(kv[0]))
        self._cache: OrderedDict[str, Task | None] = OrderedDict()

    @classmethod
    def load(cls) -> TaskIndex:
        """An index over :func:`load_tasks`."""
        return cls(load_tasks())

    def __len__(self) -> int:
        return len(self._exact)

    @property
    def tasks(self) -> list[Task]:
        """The indexed tasks, one per distinct prompt."""
        return list(self._exact.values())

    def match(self, text: str) -> Task | None:
        """The task whose prompt is ``text`` (or is contained in it), else None."""
        key = text.strip()
        task = self._exact.get(key)
        if task is not None:
            return task
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        found = None
        if key:
            for prompt, candidate in self._by_length:
                if len(prompt) <= len(key) and prompt in key:
                    found = candidate
                    break
        self._cache[key] = found
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return found
