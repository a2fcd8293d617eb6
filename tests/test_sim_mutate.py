"""Mutants: valid, near misses, deterministic, and they fail the hidden tests."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.sim.behaviour import Behaviour
from harness.sim.mutate import MutantCache, apply_edit, mutate, mutation_sites
from harness.sim.recognise import TaskIndex
from harness.sim.settings import load_default_settings
from harness.tasks.types import Task

SOURCE = '''\
def clip(xs, lo, hi):
    """Clip each value; keep "quotes" and comments."""
    out = []
    for x in xs:  # a comment that must survive
        if x < lo and not x == hi:
            out.append(lo)
        elif x > hi:
            out.append(max(hi, 0))
        else:
            out.append(x + 1 - 1)
    return [y for y in out if y is not None] if True else sorted(out)
'''


def _humaneval() -> list[Task]:
    from harness.tasks.humaneval import load_humaneval

    return load_humaneval()


def test_every_site_parses_and_changes_one_span() -> None:
    sites = mutation_sites(SOURCE, "clip")
    kinds = {e.kind for e in sites}
    assert {"flip_compare", "swap_boolop", "drop_not", "swap_call", "negate_filter"} <= kinds
    for edit in sites:
        mutant = apply_edit(SOURCE, edit)
        ast.parse(mutant)
        assert mutant != SOURCE
        assert "# a comment that must survive" in mutant
        assert '"""Clip each value; keep "quotes" and comments."""' in mutant


def test_mutate_is_deterministic_and_cached_alike() -> None:
    cache = MutantCache()
    for choice in range(40):
        expected = mutate(SOURCE, choice, "clip")
        assert mutate(SOURCE, choice, "clip") == expected
        assert cache.mutant("clip", SOURCE, choice, "clip") == expected
    assert len({mutate(SOURCE, c, "clip") for c in range(40)}) > 5


def test_while_loop_guards_are_left_alone() -> None:
    source = "def f(n):\n    i = 0\n    while i < n:\n        i += 1\n    return i * 2\n"
    for edit in mutation_sites(source, "f"):
        assert edit.start >= source.index("return"), edit


def test_nothing_to_mutate_gives_a_wrong_stub() -> None:
    source = "def f(s):\n    return s\n"
    mutant = mutate(source, 3, "f")
    namespace: dict = {}
    exec(mutant, namespace)
    assert namespace["f"]("x") is None


def _fails(program: str) -> bool:
    try:
        done = subprocess.run(
            [sys.executable, "-c", program],
            capture_output=True,
            timeout=10,
            cwd=tempfile.gettempdir(),
        )
    except subprocess.TimeoutExpired:
        return True
    return done.returncode != 0


def test_humaneval_mutants_fail_their_tests() -> None:
    """The mutant the simulator would serve for each of the 164 problems fails its tests."""
    tasks = _humaneval()
    assert len(tasks) == 164
    behaviour = Behaviour(load_default_settings(seed=0), TaskIndex(tasks))
    profile = behaviour.settings.profiles["qwen-2-5-coder"]
    programs = []
    for task in tasks:
        draw = behaviour.draw("qwen-2-5-coder", profile, task, "0")
        mutant = behaviour.code_for(task, dataclasses.replace(draw, correct=False))
        assert mutant != task.reference
        programs.append(f"{mutant}\n{task.tests}\ncheck({task.entry_point})\n")
    with ThreadPoolExecutor(max_workers=4) as pool:
        failed = list(pool.map(_fails, programs))
    rate = sum(failed) / len(failed)
    print(f"HumanEval mutants failing their tests: {sum(failed)}/{len(failed)} = {rate:.1%}")
    assert rate >= 0.90


@pytest.mark.parametrize("index", [0, 1])
def test_references_pass_their_tests(index: int) -> None:
    """The control for the test above: the unmutated references pass."""
    task = _humaneval()[index]
    assert not _fails(f"{task.reference}\n{task.tests}\ncheck({task.entry_point})\n")
