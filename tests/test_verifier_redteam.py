"""Red-team probes of the verifier (issue 10): wrong answers that must not pass.

Every test runs a hostile answer through the real :class:`Verifier` on a small task and asserts
that the attack does NOT pass (or does not crash the judge). Tests marked "HOLE" failed when
they were written: they document an attack that worked against the judge at that time. The
others pin attacks that were correctly stopped.
"""

from __future__ import annotations

import pytest

from harness.tasks.builtin import load_builtin
from harness.tasks.types import Task
from harness.tasks.verifier import Verifier, VerifyResult


def _task(tests: str, *, style: str = "functions", entry: str = "f") -> Task:
    return Task(
        task_id="test/redteam",
        suite="builtin",
        category="simple",
        prompt="def f(*args):\n    '''Whatever the tests want.'''\n",
        entry_point=entry,
        reference="",
        tests=tests,
        test_style=style,
    )


def _verify(task: Task, code: str) -> VerifyResult:
    return Verifier(timeout_s=5.0).verify_code_sync(task, code)


def _assert_not_passed(result: VerifyResult) -> None:
    assert not result.success, (result.reason, result.output)
    assert result.score < 1.0, (result.score, result.output)


# -- HOLE: the answer's module names shadow the builtins the hidden tests use -----------------
#
# ``functions`` style runs the tests in a namespace made of the answer's names, so a name the
# answer defines at module level (abs, isinstance, all, range, ValueError, ...) replaces the
# builtin for the tests: the tests then call the answer's code where they meant Python's.

SHADOWS = {
    "abs": ("def abs(x):\n    return 0\n", "def test_a():\n    assert abs(f() - 0.3) < 1e-9\n"),
    "isinstance": (
        "def isinstance(*args):\n    return True\n",
        "def test_a():\n    assert isinstance(f(), int)\n",
    ),
    "all": (
        "def all(*args):\n    return True\n",
        "def test_a():\n    assert all(f() == i for i in (1, 2))\n",
    ),
    "range": (
        "def range(*args):\n    return []\n",
        "def test_a():\n    for i in range(3):\n        assert f() == i\n",
    ),
    "exception name": (
        "ValueError = Exception\n",
        "def test_a():\n    try:\n        f() + 'x'\n    except ValueError:\n        return\n"
        "    raise AssertionError('no ValueError')\n",
    ),
}


@pytest.mark.parametrize("name", list(SHADOWS))
def test_hole_answer_names_do_not_shadow_the_tests_builtins(name: str) -> None:
    shadow, tests = SHADOWS[name]
    wrong = "def f():\n    return 0.5\n"
    assert not _verify(_task(tests), wrong).success  # the answer is wrong ...
    _assert_not_passed(_verify(_task(tests), wrong + shadow))  # ... and stays wrong


def test_hole_median_cannot_pass_by_renaming_an_exception() -> None:
    # builtin/simple/median: an answer that raises IndexError on [] instead of ValueError
    # scores 4/5; adding one line ``ValueError = IndexError`` made it pass 5/5.
    task = next(t for t in load_builtin() if t.task_id == "builtin/simple/median")
    wrong = (
        "def median(xs):\n    s = sorted(xs)\n    n = len(s)\n"
        "    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2\n"
    )
    assert _verify(task, wrong).score == pytest.approx(0.8)
    _assert_not_passed(_verify(task, wrong + "ValueError = IndexError\n"))


# -- HOLE: a reference's forwarded operators forge approximate comparisons --------------------
#
# ``functions`` style: a non-plain result is a proxy whose ``==`` is identity, but arithmetic,
# ``abs`` and friends are forwarded to the answer, which may return whatever it likes: an object
# whose ``__sub__`` returns 0 passes every ``abs(result - expected) < eps`` test, as an
# ``__eq__`` that always says True would. The expected value crosses into the answer too.

ZERO = (
    "class Zero:\n"
    "    seen = []\n"
    "    def __sub__(self, other):\n        Zero.seen.append(other)\n        return 0\n"
    "    __rsub__ = __sub__\n"
    "def f():\n    return Zero()\n"
    "def leaked():\n    return Zero.seen[-1] if Zero.seen else None\n"
)


def test_hole_forwarded_arithmetic_does_not_forge_an_approximate_comparison() -> None:
    tests = "def test_a():\n    assert abs(f() - 0.3) < 1e-9\n    assert abs(0.3 - f()) < 1e-9\n"
    _assert_not_passed(_verify(_task(tests), ZERO))


def test_hole_expected_values_do_not_reach_the_answer_through_operators() -> None:
    # The answer learns the expected value from the first check and echoes it in the second.
    tests = (
        "def test_a():\n    try:\n        abs(f() - 0.123456789)\n    except Exception:\n"
        "        pass\n    assert leaked() == 0.123456789\n"
    )
    _assert_not_passed(_verify(_task(tests), ZERO))


# -- HOLE: humaneval style takes a class as a result ------------------------------------------
#
# After loading, humaneval refuses references to objects (``not_plain``) but still accepts
# classes; the mirror of a class forwards len(), [], ``in``, attribute access and calls to the
# answer's metaclass, so a class passes tests that look at the result through those.

CLASS_RESULT = (
    "class Meta(type):\n"
    "    def __len__(cls):\n        return 3\n"
    "    def __getitem__(cls, i):\n        return 2\n"
    "    def __contains__(cls, x):\n        return True\n"
    "class C(metaclass=Meta):\n    size = 3\n"
    "def f(x):\n    return C\n"
)


def test_hole_humaneval_class_result_is_not_plain() -> None:
    tests = (
        "def check(candidate):\n    assert len(candidate(1)) == 3\n"
        "    assert candidate(1)[0] == 2\n    assert 99 in candidate(1)\n"
        "    assert candidate(1).size == 3\n"
    )
    result = _verify(_task(tests, style="humaneval"), CLASS_RESULT)
    _assert_not_passed(result)
    assert result.reason == "not_plain", result.output


# -- HOLE: an answer crashes the judge (SandboxError instead of a verdict) ----------------------
#
# The answer rewrites its end of the wire to answer ``load`` with ("syntax", <object>); the
# judge calls str() on that object, which the answer makes raise an exception class deriving
# from BaseException. It escapes run_job's ``except Exception``: the judge dies without a
# verdict and verify_code raises SandboxError (after a retry), as if the sandbox had broken.

CRASH_ON_LOAD = (
    "import _wire\n"
    "class Boom(BaseException):\n    pass\n"
    "class Liar:\n    def __str__(self):\n        raise Boom('x')\n"
    "real = _wire.Peer._reply\n"
    "def reply(self, mid, value):\n"
    "    if type(value) is tuple and value[:1] in (('entry',), ('names',)):\n"
    "        value = ('syntax', Liar())\n"
    "    return real(self, mid, value)\n"
    "_wire.Peer._reply = reply\n"
    "def f(a, b):\n    return a + b\n"
)


@pytest.mark.parametrize("style", ["humaneval", "functions"])
def test_hole_a_lying_load_reply_is_a_verdict_not_a_judge_crash(style: str) -> None:
    if style == "humaneval":
        tests = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
    else:
        tests = "def test_a():\n    assert f(1, 2) == 3\n"
    result = _verify(_task(tests, style=style), CRASH_ON_LOAD)  # must not raise SandboxError
    assert not result.success and result.reason == "error", (result.reason, result.output)


# -- stopped: attacks the judge refuses today -------------------------------------------------


def test_judge_sqlite_connection_cannot_write_files() -> None:
    # VACUUM INTO and ATTACH would make the judge's process write where the answer says.
    code = (
        "def f(conn):\n    out = []\n"
        "    for sql in (\"VACUUM INTO '/tmp/redteam.db'\", \"ATTACH '/tmp/redteam2.db' AS x\"):\n"
        "        try:\n            conn.execute(sql)\n            out.append('ran')\n"
        "        except Exception:\n            out.append('denied')\n"
        "    return out\n"
    )
    tests = (
        "import sqlite3\n"
        "def test_a():\n    conn = sqlite3.connect(':memory:')\n"
        "    conn.execute('CREATE TABLE t (x)')\n    conn.commit()\n"
        "    assert f(conn) == ['denied', 'denied']\n"
    )
    result = _verify(_task(tests), code)
    assert result.success, result.output


def test_judge_objects_do_not_lead_to_the_judges_globals() -> None:
    # A test helper object holds a module and a callback; the answer walks towards the judge.
    # Standard-library modules cross by name: the answer gets its own ``sys``, not the judge's.
    code = (
        "def f(helper):\n    out = ['_judge' in helper.mod.modules]\n"
        "    for path in (('check', '__globals__'), ('run', 'mro'), ('check', '__code__')):\n"
        "        try:\n            obj = helper\n"
        "            for name in path:\n                obj = getattr(obj, name)\n"
        "            out.append('reached')\n"
        "        except Exception:\n            out.append('denied')\n"
        "    return out\n"
    )
    tests = (
        "import sys\nSECRET = 'hidden'\n"
        "class Helper:\n    mod = sys\n    def run(self):\n        return 1\n"
        "    @staticmethod\n    def check(x):\n        return x == SECRET\n"
        "def test_a():\n    assert f(Helper()) == [False] + ['denied'] * 3\n"
    )
    result = _verify(_task(tests), code)
    assert result.success, result.output


def test_hole_test_names_and_class_docs_do_not_reach_the_answer() -> None:
    # A callback or object the tests pass crosses as a proxy with metadata. Where it was
    # defined (``test_secret_name.<locals>.cb``) and a class's docstring stay in the judge.
    # A function's own docstring does cross: functools.wraps in an answer copies it, and the
    # builtin retry task tests that it does (complex_debugging, test_metadata_preserved).
    code = (
        "def f(cb, obj):\n"
        "    return [cb.__qualname__, type(obj).__qualname__, type(obj).__doc__, cb.__doc__]\n"
    )
    tests = (
        "def test_secret_name():\n"
        "    class Hidden:\n        'expected 42'\n"
        "    def cb():\n        'handed over'\n"
        "    seen = f(cb, Hidden())\n"
        "    assert seen == ['cb', 'Hidden', None, 'handed over'], seen\n"
    )
    result = _verify(_task(tests), code)
    assert result.success, result.output


@pytest.mark.parametrize(
    "code",
    [
        # an int subclass, a NaN and a bool standing in for the expected int
        "class I(int):\n    __eq__ = lambda s, o: True\n    __hash__ = int.__hash__\n"
        "def f(x):\n    return I(5)\n",
        "def f(x):\n    return float('nan')\n",
        # an object hidden in a value class (a defaultdict's factory) or a tuple
        "import collections\nclass A:\n    pass\n"
        "def f(x):\n    return collections.defaultdict(A, {1: 2})\n",
        "class A:\n    __eq__ = lambda s, o: True\n    __hash__ = object.__hash__\n"
        "def f(x):\n    return (A(),)\n",
    ],
    ids=["int-subclass", "nan", "defaultdict-factory", "tuple-holding-an-object"],
)
def test_humaneval_lookalike_results_fail(code: str) -> None:
    tests = "def check(candidate):\n    assert candidate(1) == 7\n    assert candidate(2) == (3,)\n"
    _assert_not_passed(_verify(_task(tests, style="humaneval"), code))


def test_forged_replies_from_a_rewritten_wire_fail() -> None:
    # The answer answers every request of the judge with True, and a huge Decimal exponent.
    code = (
        "import _wire\nreal = _wire.Peer._reply\n"
        "def reply(self, mid, value):\n"
        "    if type(value) is tuple:\n        return real(self, mid, value)\n"
        "    _wire.Peer._send(self, _wire.OK, mid, {'D': '1e999999999'}, raw=True)\n"
        "_wire.Peer._reply = reply\n"
        "def f(a, b):\n    return 0\n"
    )
    tests = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
    _assert_not_passed(_verify(_task(tests, style="humaneval"), code))
