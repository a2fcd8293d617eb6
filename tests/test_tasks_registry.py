"""The task registry: suites by name, tasks by id."""

from __future__ import annotations

import pytest

from harness.errors import TaskError
from harness.tasks.registry import SUITES, all_tasks, get_task, load_suite


def test_suites() -> None:
    assert SUITES == ("humaneval", "builtin")


def test_load_humaneval_suite_with_limit() -> None:
    assert len(load_suite("humaneval")) == 164
    assert [t.task_id for t in load_suite("humaneval", limit=2)] == ["HumanEval/0", "HumanEval/1"]


def test_unknown_suite_names_the_valid_ones() -> None:
    with pytest.raises(TaskError, match=r"'nope'.*humaneval, builtin"):
        load_suite("nope")


def test_negative_limit() -> None:
    with pytest.raises(TaskError, match="limit"):
        load_suite("humaneval", limit=-3)


def test_builtin_loads_or_fails_as_task_error() -> None:
    # The builtin suite is another module; whatever its state, the registry speaks TaskError.
    try:
        tasks = load_suite("builtin")
    except TaskError as exc:
        assert "builtin" in str(exc)
    else:
        assert tasks and all(t.suite == "builtin" for t in tasks)


def test_get_task_and_all_tasks() -> None:
    task = get_task("HumanEval/7")
    assert task.task_id == "HumanEval/7" and task.entry_point == "filter_by_substring"
    ids = [t.task_id for t in all_tasks()]
    assert "HumanEval/163" in ids
    assert len(ids) == len(set(ids)), "task ids are unique across suites"
    with pytest.raises(TaskError, match="HumanEval/999"):
        get_task("HumanEval/999")
    with pytest.raises(TaskError, match="unknown task id"):
        get_task("no-such-suite/1")
