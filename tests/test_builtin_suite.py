"""The builtin task suite: its shape, and every task verified for real in the sandbox.

Each reference must pass its hidden tests; the code a prompt shows (buggy, vulnerable,
messy or missing a feature) or a do-nothing stub must fail them; and simple mutants of each
reference (a flipped comparison, an off-by-one constant, ...) must mostly fail too, which is
what makes the tests worth running on a model's answer.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import re
import statistics
import tokenize
from collections import Counter
from collections.abc import Iterator

import pytest

from harness.tasks.builtin import load_builtin, tasks_by_category
from harness.tasks.registry import load_suite
from harness.tasks.types import CATEGORIES, Task
from harness.tasks.verifier import Verifier, VerifyResult

TASKS = load_builtin()
IDS = [t.task_id for t in TASKS]

# (old token, new token) swaps applied to the first matching code token (never to strings
# or comments), then "+ 1"/"- 1" -> 2 and the first integer literal n -> n + 1.
_SWAPS = (
    ("<", "<="),
    ("<=", "<"),
    (">", ">="),
    (">=", ">"),
    ("==", "!="),
    ("!=", "=="),
    ("and", "or"),
    ("or", "and"),
    ("min", "max"),
    ("max", "min"),
    ("True", "False"),
    ("False", "True"),
)
_FENCED = re.compile(r"```python\n(.*?)\n```", re.DOTALL)


def mutants(source: str) -> Iterator[tuple[str, str]]:
    """``(label, mutated source)`` for each simple mutation that applies to ``source``."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def replaced(tok: tokenize.TokenInfo, new: str) -> str:
        a = starts[tok.start[0] - 1] + tok.start[1]
        b = starts[tok.end[0] - 1] + tok.end[1]
        return source[:a] + new + source[b:]

    for old, new in _SWAPS:
        for tok in tokens:
            if tok.string == old and tok.type in (tokenize.OP, tokenize.NAME):
                yield f"{old}->{new} line {tok.start[0]}", replaced(tok, new)
                break
    for prev, tok in itertools.pairwise(tokens):
        if prev.string in ("+", "-") and tok.type == tokenize.NUMBER and tok.string == "1":
            yield f"{prev.string}1->{prev.string}2 line {tok.start[0]}", replaced(tok, "2")
            break
    for tok in tokens:
        if tok.type == tokenize.NUMBER and tok.string.isdigit():
            yield (
                f"{tok.string}->{int(tok.string) + 1} line {tok.start[0]}",
                replaced(tok, str(int(tok.string) + 1)),
            )
            break


def wrong_answer(task: Task) -> str:
    """The code the prompt shows, or (for prompts without code) a stub that does nothing."""
    shown = _FENCED.search(task.prompt)
    if shown:
        return shown.group(1) + "\n"
    return f"def {task.entry_point}(*args, **kwargs):\n    return None\n"


@pytest.fixture(scope="module")
def verdicts() -> dict[str, dict[str, VerifyResult | list[tuple[str, VerifyResult]]]]:
    """Every reference, wrong answer and mutant verified once, in parallel, in the sandbox."""
    workers = os.cpu_count() or 2
    # A generous limit for the real answers; a short one stops mutants that loop forever.
    plain = Verifier(max_workers=workers, timeout_s=20)
    quick = Verifier(max_workers=workers, timeout_s=2)
    jobs: list[tuple[str, str, str, Task, str]] = []
    for task in TASKS:
        jobs.append((task.task_id, "reference", "", task, task.reference))
        jobs.append((task.task_id, "wrong", "", task, wrong_answer(task)))
        for label, code in mutants(task.reference):
            if code != task.reference:
                jobs.append((task.task_id, "mutant", label, task, code))

    async def run_all() -> list[VerifyResult]:
        first = [j for j in jobs if j[1] != "mutant"]
        rest = [j for j in jobs if j[1] == "mutant"]
        try:
            done = await asyncio.gather(*(plain.verify_code(t, code) for *_, t, code in first))
            done += await asyncio.gather(*(quick.verify_code(t, code) for *_, t, code in rest))
        finally:
            await plain.aclose()
            await quick.aclose()
        jobs[:] = first + rest
        return done

    results = asyncio.run(run_all())
    out: dict[str, dict[str, VerifyResult | list[tuple[str, VerifyResult]]]] = {
        t.task_id: {"mutants": []} for t in TASKS
    }
    for (task_id, kind, label, _, _), result in zip(jobs, results, strict=True):
        if kind == "mutant":
            out[task_id]["mutants"].append((label, result))  # type: ignore[union-attr]
        else:
            out[task_id][kind] = result
    return out


# -- shape of the suite -----------------------------------------------------------------------


def test_size_and_categories() -> None:
    assert len(TASKS) >= 24
    counts = Counter(t.category for t in TASKS)
    assert set(counts) == set(CATEGORIES)
    assert min(counts.values()) >= 4, counts


def test_ids_unique_and_well_formed() -> None:
    assert len(set(IDS)) == len(IDS)
    for task in TASKS:
        assert re.fullmatch(rf"builtin/{task.category}/[a-z0-9_]+", task.task_id), task.task_id


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_fields(task: Task) -> None:
    assert task.suite == "builtin"
    assert task.category in CATEGORIES
    assert task.test_style == "functions"
    for name in ("prompt", "entry_point", "reference", "tests"):
        assert getattr(task, name).strip(), name
    assert task.entry_point in task.prompt
    assert "```python" in task.prompt or "single ```python code block" in task.prompt
    assert re.search(rf"^\s*(async\s+)?(def|class)\s+{task.entry_point}\b", task.reference, re.M)
    assert re.search(r"^def test_\w+\(\)", task.tests, re.M)
    assert -2.0 <= task.difficulty <= 2.5
    assert task.metadata["source"] == "harness builtin"
    assert task.metadata["tags"]
    compile(task.reference, task.task_id, "exec")
    compile(task.tests, task.task_id + ":tests", "exec")


def test_long_files_are_long() -> None:
    long_tasks = tasks_by_category()["long_files"]
    assert len(long_tasks) >= 4
    for task in long_tasks:
        assert task.metadata.get("long_context") is True
        assert len(task.prompt.splitlines()) >= 300, task.task_id
        assert len(task.reference.splitlines()) >= 300, task.task_id


def test_difficulty_scale() -> None:
    assert abs(statistics.mean(t.difficulty for t in TASKS)) <= 0.25
    by_cat = {c: statistics.mean(t.difficulty for t in ts) for c, ts in tasks_by_category().items()}
    assert by_cat["simple"] == min(by_cat.values())
    assert by_cat["simple"] < -0.5
    assert by_cat["complex_debugging"] > 0.5
    assert by_cat["security"] > 0


def test_order_interleaves_categories_and_limit() -> None:
    first = [t.category for t in TASKS[: len(CATEGORIES)]]
    assert first == list(CATEGORIES)
    assert [t.task_id for t in load_builtin(limit=7)] == IDS[:7]
    assert load_builtin(limit=0) == []
    assert [t.task_id for t in load_suite("builtin")] == IDS
    with pytest.raises(ValueError):
        load_builtin(limit=-1)


def test_mutation_helper_changes_code_tokens_only() -> None:
    src = 'def f(x):\n    s = "a < b"  # c <= d\n    return x < 1 + 1\n'
    labels = dict(mutants(src))
    assert labels["<-><= line 3"] == src.replace("x < 1", "x <= 1")
    assert labels["+1->+2 line 3"] == src.replace("1 + 1", "1 + 2")
    assert all('"a < b"  # c <= d' in code for code in labels.values())


# -- verified in the sandbox ------------------------------------------------------------------


@pytest.mark.parametrize("task_id", IDS)
def test_reference_passes(verdicts: dict, task_id: str) -> None:
    result = verdicts[task_id]["reference"]
    assert (result.success, result.score, result.reason) == (True, 1.0, "passed"), result.output


@pytest.mark.parametrize("task_id", IDS)
def test_wrong_answer_fails(verdicts: dict, task_id: str) -> None:
    result = verdicts[task_id]["wrong"]
    assert not result.success, f"the prompt's code or a stub passes {task_id}"
    assert result.score < 1.0


def test_mutants_mostly_fail(verdicts: dict) -> None:
    survivors = [
        f"{task_id}: {label}"
        for task_id, v in verdicts.items()
        for label, result in v["mutants"]
        if result.success
    ]
    total = sum(len(v["mutants"]) for v in verdicts.values())
    assert total >= 3 * len(TASKS)
    killed = 1 - len(survivors) / total
    assert killed >= 0.8, f"only {killed:.0%} of {total} mutants fail: {survivors}"


def test_every_task_kills_some_mutant(verdicts: dict) -> None:
    for task_id, v in verdicts.items():
        results = [r for _, r in v["mutants"]]
        if results:
            assert any(not r.success for r in results), task_id
