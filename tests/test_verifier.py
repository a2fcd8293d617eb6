"""The verifier: outcomes of ordinary answers through the real sandbox (default backend).

Hostile answers are in tests/test_verifier_attacks.py (both isolating backends; CI runs it again
as an unprivileged user); ``unsafe_local`` and its guards are checked here once.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from harness.sandbox import resolve_backend
from harness.tasks.humaneval import load_humaneval
from harness.tasks.types import Task
from harness.tasks.verifier import REASONS, Verifier, VerifyResult

# A HumanEval-style toy: passes when the module defines f() returning 1.
TOY = Task(
    task_id="test/toy",
    suite="builtin",
    category="simple",
    prompt="def f():\n    '''Return 1.'''\n",
    entry_point="f",
    reference="def f():\n    return 1\n",
    tests="def check(candidate):\n    assert candidate() == 1\n",
)
OK = "\ndef f():\n    return 1\n"

FUNCS = Task(
    task_id="test/funcs",
    suite="builtin",
    category="simple",
    prompt="Write double(x).",
    entry_point="double",
    reference="def double(x):\n    return 2 * x\n",
    tests=(
        "import solution\n\n"
        "def test_small():\n    assert double(2) == 4\n\n"
        "def test_zero():\n    assert double(0) == 0\n\n"
        "def test_module_import():\n    assert solution.double(-3) == -6\n"
    ),
    test_style="functions",
)


@pytest.fixture
async def default_verifier() -> Verifier:
    verifier = Verifier(timeout_s=5.0)
    yield verifier
    await verifier.aclose()


# -- the reference solutions ------------------------------------------------------------------


async def test_all_164_humaneval_reference_solutions_pass(default_verifier: Verifier) -> None:
    tasks = load_humaneval()
    results = await asyncio.gather(*(default_verifier.verify_code(t, t.reference) for t in tasks))
    failed = [
        (t.task_id, r.reason, r.output[-300:])
        for t, r in zip(tasks, results, strict=True)
        if not r.success
    ]
    assert not failed
    assert all(r.score == 1.0 and r.reason == "passed" for r in results)


async def test_reference_through_verify_with_markdown_answer(default_verifier: Verifier) -> None:
    task = load_humaneval(limit=3)[2]
    body = task.reference[len(task.prompt) :]
    result = await default_verifier.verify(task, f"Here you go:\r\n```python\r\n{body}```\r\n")
    assert (result.success, result.reason, result.score) == (True, "passed", 1.0)


# -- outcomes of ordinary code ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (OK, "passed"),
        ("def f():\n    return 2\n", "failed"),
        ("def f(:\n    return 1\n", "syntax_error"),
        ("def f():\n    return undefined_name\n", "error"),
        ("import sys\nsys.exit(0)\n" + OK, "exited"),
        ("import os\nos._exit(0)\n" + OK, "exited"),  # exit 0 is not a pass
        ("import os\ndef f():\n    os._exit(0)\n", "exited"),  # ... nor in the middle of a test
        ("x = input()\n" + OK, "error"),  # stdin is not the test's
        ("def f():\n    return object()\n", "not_plain"),
        ("import ctypes\nctypes.string_at(0)\n" + OK, "crashed"),
        ("import subprocess\nsubprocess.run(['true'], check=True)\n" + OK, "passed"),
    ],
    ids=[
        "ok",
        "wrong",
        "syntax",
        "name-error",
        "sys-exit",
        "os-exit",
        "exit-in-call",
        "stdin",
        "not-plain",
        "segfault",
        "subprocess-inside-is-fine",
    ],
)
async def test_outcomes(default_verifier: Verifier, code: str, reason: str) -> None:
    result = await default_verifier.verify_code(TOY, code)
    assert result.reason == reason, result.output
    assert result.success is (reason == "passed")
    assert result.score == (1.0 if reason == "passed" else 0.0)
    assert result.duration_ms > 0


async def test_functions_style_scores_the_fraction_passing(default_verifier: Verifier) -> None:
    good = await default_verifier.verify_code(FUNCS, FUNCS.reference)
    assert (good.success, good.score, good.reason) == (True, 1.0, "passed")
    # Wrong at x == 0 only: one of three tests fails.
    wrong = "def double(x):\n    return 2 * x + (x == 0)\n"
    partial = await default_verifier.verify_code(FUNCS, wrong)
    assert partial.success is False and partial.reason == "failed"
    assert partial.score == pytest.approx(2 / 3)
    assert "test_zero" in partial.output


async def test_functions_style_runs_only_the_hidden_tests(default_verifier: Verifier) -> None:
    # The answer brings its own (failing) test; async hidden tests are awaited.
    task = Task(
        task_id="test/async",
        suite="builtin",
        category="simple",
        prompt="p",
        entry_point="double",
        reference=FUNCS.reference,
        tests="async def test_async():\n    assert double(4) == 8\n",
        test_style="functions",
    )
    code = FUNCS.reference + "\ndef test_mine():\n    assert False\n"
    result = await default_verifier.verify_code(task, code)
    assert (result.success, result.score) == (True, 1.0), result.output
    wrong = await default_verifier.verify_code(task, "def double(x):\n    return x\n")
    assert (wrong.success, wrong.reason) == (False, "failed")


async def test_no_code(default_verifier: Verifier) -> None:
    result = await default_verifier.verify(TOY, "I would rather not write code today.")
    assert (result.success, result.reason, result.score) == (False, "no_code", 0.0)


def test_verify_code_sync_without_and_inside_a_loop() -> None:
    verifier = Verifier(timeout_s=5.0)
    assert verifier.verify_code_sync(TOY, OK).success

    async def inside() -> VerifyResult:
        return verifier.verify_code_sync(TOY, OK)

    assert asyncio.run(inside()).success


# -- unsafe_local: explicit, guarded, flagged -------------------------------------------------


async def test_unsafe_local_runs_with_the_in_process_guards() -> None:
    verifier = Verifier(timeout_s=5.0, backend="unsafe_local")
    try:
        assert verifier.backend.name == "unsafe_local" and not verifier.backend.isolated
        assert (await verifier.verify_code(TOY, OK)).success
        swallowed = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9))\n"
        swallowed += "except Exception:\n    pass\n" + OK
        result = await verifier.verify_code(TOY, swallowed)
        assert (result.success, result.reason) == (False, "forbidden"), result.output
    finally:
        await verifier.aclose()


def test_auto_never_picks_unsafe_local() -> None:
    assert resolve_backend("auto").isolated


def test_reasons_are_documented() -> None:
    import harness.tasks.verifier as mod

    assert mod.__doc__ is not None
    for reason in REASONS:
        assert f"``{reason}``" in mod.__doc__


# -- the simulator's mutants keep the outcomes of the in-process verifier -----------------------


@pytest.mark.slow
async def test_mutants_keep_their_outcomes(default_verifier: Verifier) -> None:
    from harness.sim.mutate import mutate
    from harness.tasks.builtin import load_builtin

    expected = json.loads(
        (Path(__file__).parent / "fixtures" / "verifier" / "mutant_outcomes.json").read_text()
    )
    tasks = {t.task_id: t for t in [*load_humaneval(), *load_builtin()]}
    keys = sorted(expected)
    assert {k.rsplit("#", 1)[0] for k in keys} == set(tasks)

    async def one(key: str) -> list:
        task_id, choice = key.rsplit("#", 1)
        task = tasks[task_id]
        r = await default_verifier.verify_code(
            task, mutate(task.reference, int(choice), task.entry_point)
        )
        return [r.success, round(r.score, 6), r.reason]

    got = await asyncio.gather(*(one(k) for k in keys))
    differ = [(k, expected[k], g) for k, g in zip(keys, got, strict=True) if expected[k] != g]
    assert not differ
    assert sum(e[0] for e in expected.values()) < len(keys) / 2  # mutants mostly fail: a real check
