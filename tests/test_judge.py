"""The judge (harness/sandbox/_judge.py): tests run here, the candidate in another process.

The candidate runs as a plain subprocess (``launch`` = identity), so these tests need no
sandbox backend; they check the protocol's guarantees, not the OS isolation.
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness" / "sandbox"))

import _judge

ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
}


def judge(
    code: str,
    tests: str,
    *,
    style: str = "functions",
    entry: str = "f",
    prompt: str = "",
    timeout: float = 10.0,
    limit: int = 4096,
    workdir: Path | None = None,
) -> dict:
    job = {
        "style": style,
        "entry_point": entry,
        "prompt": textwrap.dedent(prompt),
        "code": textwrap.dedent(code),
        "tests": textwrap.dedent(tests),
        "timeout_s": timeout,
        "output_limit": limit,
    }
    return _judge.run_job(job, lambda argv: argv, ENV, str(workdir or tempfile.gettempdir()))


def humaneval(code: str, check: str, **kw) -> dict:
    return judge(code, check, style="humaneval", **kw)


def assert_not_success(verdict: dict) -> None:
    assert verdict["reason"] != "passed", verdict
    assert verdict["reason"] in _judge.REASONS, verdict


# -- good and bad answers ------------------------------------------------------------------


CHECK_ADD = """
def check(candidate):
    assert candidate(1, 2) == 3
    assert candidate(-1, 1) == 0
"""


def test_humaneval_good_and_bad_answers():
    assert humaneval("def f(a, b):\n    return a + b\n", CHECK_ADD)["reason"] == "passed"
    bad = humaneval("def f(a, b):\n    return a - b\n", CHECK_ADD)
    assert (bad["reason"], bad["passed"], bad["total"]) == ("failed", 0, 1)
    assert "assert candidate(1, 2) == 3" in bad["output"]
    assert humaneval("def f(a, b) return\n", CHECK_ADD)["reason"] == "syntax_error"
    assert humaneval("raise ValueError('at import')\n", CHECK_ADD)["reason"] == "error"
    assert humaneval("def g(a, b):\n    return a + b\n", CHECK_ADD)["reason"] == "error"


def test_humaneval_types_are_preserved_and_prints_kept():
    code = """
    from decimal import Decimal
    def f(x):
        print("working on", x)
        return (x, [x, (x,)], {(x, "k"): {x}}, frozenset({x}), b"\\x00", 1.5, None, True,
                float("nan"), Decimal("1.10"), 3 + 4j, 10**5000)
    """
    check = """
    import math
    from decimal import Decimal
    def check(c):
        r = c(2)
        assert r[:8] == (2, [2, (2,)], {(2, "k"): {2}}, frozenset({2}), b"\\x00", 1.5, None, True)
        assert type(r) is tuple and type(r[1][1]) is tuple and type(r[7]) is bool
        assert math.isnan(r[8]) and r[9] == Decimal("1.10") and str(r[9]) == "1.10"
        assert r[10] == 3 + 4j and r[11] == 10**5000
    """
    verdict = humaneval(code, check)
    assert verdict["reason"] == "passed", verdict
    assert "working on 2" in verdict["output"]


def test_humaneval_helpers_come_from_the_trusted_prompt():
    prompt = '''
    def helper(x):
        return x * 10

    def f(x):
        """Return helper(x) + 1."""
    '''
    check = "def check(c):\n    assert c(1) == helper(1) + 1 == 11\n"
    # The answer's own helper is wrong; the test's helper is the prompt's.
    code = "def helper(x):\n    return 0\n\ndef f(x):\n    return x * 10 + 1\n"
    assert humaneval(code, check, prompt=prompt)["reason"] == "passed"


def test_functions_score_counts_only_the_tests_own_test_functions():
    code = """
    def double(x):
        return x * 2

    def test_answer_wrote_this():
        raise AssertionError("not counted")
    """
    tests = """
    def test_one():
        assert double(2) == 4

    def test_two():
        assert double(3) == 7

    def test_three():
        import solution
        assert solution.double(0) == 0
    """
    verdict = judge(code, tests)
    assert (verdict["reason"], verdict["passed"], verdict["total"]) == ("failed", 2, 3)
    assert "FAILED test_two" in verdict["output"]


def test_functions_load_errors_and_missing_tests():
    assert judge("x = 1\n", "def test_a(:\n    pass\n")["reason"] == "error"
    verdict = judge("x = 1\n", "y = 2\n")
    assert (verdict["reason"], verdict["total"]) == ("error", 0)


def test_objects_exceptions_and_subclasses_cross_by_reference():
    code = """
    from dataclasses import dataclass

    class ShopError(Exception):
        pass

    class OutOfStock(ShopError):
        def __init__(self, item):
            super().__init__(f"no {item}")
            self.item = item

    @dataclass(frozen=True)
    class Item:
        name: str
        price: int

    class Rule:
        def discount(self, price):
            return 0

        def final(self, price):
            return price - self.discount(price)

    class Shop:
        def __init__(self):
            self.items = {}

        def add(self, item):
            self.items[item.name] = item
            return self

        def take(self, name):
            if name not in self.items:
                raise OutOfStock(name)
            return self.items.pop(name)

        def price(self, name, rule):
            if not isinstance(rule, Rule):
                raise TypeError("not a rule")
            return rule.final(self.items[name].price)
    """
    tests = """
    import dataclasses

    def test_objects():
        shop = Shop().add(Item("pen", 3))
        assert shop.take("pen") == Item("pen", 3)
        assert isinstance(shop, Shop) and type(shop).__name__ == "Shop"
        assert dataclasses.is_dataclass(Item)
        assert [f.name for f in dataclasses.fields(Item)] == ["name", "price"]
        try:
            Item("a", 1).price = 2
        except dataclasses.FrozenInstanceError:
            pass
        else:
            raise AssertionError("frozen")

    def test_exceptions():
        assert issubclass(OutOfStock, ShopError) and issubclass(ShopError, Exception)
        try:
            Shop().take("cup")
        except ShopError as exc:
            assert type(exc) is OutOfStock and exc.item == "cup" and str(exc) == "no cup"
        else:
            raise AssertionError("no exception")

    def test_subclass_in_the_tests():
        class Half(Rule):
            def discount(self, price):
                return price // 2

        shop = Shop().add(Item("pen", 10))
        assert shop.price("pen", Half()) == 5
        assert shop.price("pen", Rule()) == 10
        try:
            shop.price("pen", object())
        except TypeError:
            pass
        else:
            raise AssertionError("not a rule accepted")
    """
    verdict = judge(code, tests)
    assert verdict["reason"] == "passed", verdict


def test_operators_between_candidate_objects_only():
    # Two of the answer's objects may meet in an operator; an answer's object and a value of
    # the tests may not (the answer would see the expected value and could answer anything).
    code = """
    class V:
        def __init__(self, x):
            self.x = x
        def __add__(self, other):
            return V(self.x + other.x)
        def __mul__(self, k):
            return V(self.x * k)
        def __neg__(self):
            return V(-self.x)
        def __abs__(self):
            return abs(self.x)
        def __sub__(self, other):
            return 0
        __rmul__, __rsub__ = __mul__, __sub__
    """
    tests = """
    def test_between_objects():
        assert (V(1) + V(2)).x == 3 and (-V(4)).x == -4 and abs(V(-5)) == 5

    def test_with_a_value_of_the_tests():
        for op in (lambda: V(1) * 2, lambda: 2 * V(1), lambda: V(1) - 0.5, lambda: 0.5 - V(1)):
            try:
                op()
            except TypeError:
                continue
            raise AssertionError("a value of the tests reached the answer's operator")
    """
    verdict = judge(code, tests)
    assert (verdict["reason"], verdict["passed"]) == ("passed", 2), verdict


def test_answer_names_never_replace_builtins_in_the_tests():
    code = """
    def abs(x):
        return 0
    ValueError = KeyError
    def f(x):
        return {}[x]
    """
    tests = """
    import solution

    def test_builtins_win():
        assert abs(-2) == 2 and solution.abs(-2) == 0
        try:
            f(1)
        except ValueError:
            raise AssertionError("the answer's ValueError")
        except KeyError:
            pass
    """
    verdict = judge(code, tests)
    assert verdict["reason"] == "passed", verdict
    # ... unless the prompt asks for that name (the entry point)
    verdict = judge(code, "def test_a():\n    assert abs(-2) == 0\n", entry="abs")
    assert verdict["reason"] == "passed", verdict


def test_mutations_cross_both_ways():
    code = """
    def sort_in_place(xs):
        xs.sort()
        return len(xs)

    class Keeper:
        def __init__(self, tags):
            self.tags = tags  # keeps the caller's list, no copy

        def has(self, tag):
            return tag in self.tags

    def first_chunk(xs):
        return [xs]  # the caller's own list inside the result
    """
    tests = """
    def test_copy_back():
        data = [3, 1, 2]
        assert sort_in_place(data) == 3
        assert data == [1, 2, 3]

    def test_caller_changes_reach_a_kept_list():
        mine = ["a"]
        k = Keeper(mine)
        mine.append("leak")
        assert k.has("leak")

    def test_aliasing_back():
        data = [1]
        out = first_chunk(data)
        assert out[0] is data
    """
    verdict = judge(code, tests)
    assert verdict["reason"] == "passed", verdict


def test_judge_objects_callbacks_and_sqlite():
    code = """
    def store(conn, rows, log):
        conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", rows)
        log("stored", len(rows))
        return [tuple(r) for r in conn.execute("SELECT a, b FROM t ORDER BY a")]

    def sneaky(conn):
        out = []
        for probe in (lambda: conn.enable_load_extension(True),
                      lambda: conn.execute("ATTACH DATABASE 'x.db' AS x")):
            try:
                probe()
                out.append("allowed")
            except Exception as exc:
                out.append(type(exc).__name__)
        return out
    """
    tests = """
    import sqlite3

    def test_store():
        conn = sqlite3.connect(":memory:")
        seen = []
        rows = store(conn, [(2, "b"), (1, "a")], lambda *a: seen.append(a))
        assert rows == [(1, "a"), (2, "b")]
        assert seen == [("stored", 2)]
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (2,)

    def test_dangerous_methods_refused():
        assert sneaky(sqlite3.connect(":memory:")) == ["AttributeError", "DatabaseError"]
    """
    verdict = judge(code, tests)
    assert verdict["reason"] == "passed", verdict


def test_async_across_the_boundary_runs_concurrently():
    code = """
    import asyncio

    async def fetch_all(keys, fetch, limit):
        sem = asyncio.Semaphore(limit)

        async def one(k):
            async with sem:
                return await fetch(k)

        return await asyncio.gather(*(one(k) for k in keys))
    """
    tests = """
    import asyncio

    def test_concurrency():
        state = {"active": 0, "peak": 0}

        async def fetch(k):
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            try:
                await asyncio.sleep(0.01)
                if k == 99:
                    raise KeyError(k)
                return k * 10
            finally:
                state["active"] -= 1

        assert asyncio.run(fetch_all(range(6), fetch, 3)) == [0, 10, 20, 30, 40, 50]
        assert state["peak"] == 3
        try:
            asyncio.run(fetch_all([1, 99], fetch, 2))
        except KeyError:
            pass
        else:
            raise AssertionError("KeyError lost")

    async def test_async_test_function():
        assert await fetch_all([1], lambda k: asyncio.sleep(0, k), 1) == [1]
    """
    verdict = judge(code, tests)
    assert verdict["reason"] == "passed", verdict


# -- attacks: none of them may pass --------------------------------------------------------


FORGED_EQ = """
class Anything:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__

def f(*args):
    return Anything()
"""


@pytest.mark.parametrize(
    "code",
    [
        FORGED_EQ,
        "class I(int):\n    __eq__ = lambda s, o: True\n\ndef f(*a):\n    return I(0)\n",
        "class S(str):\n    __eq__ = lambda s, o: True\n\ndef f(*a):\n    return S('')\n",
        "class L(list):\n    __eq__ = lambda s, o: True\n\ndef f(*a):\n    return L()\n",
        "def f(*a):\n    return [x for x in ()].__iter__()\n",
    ],
)
def test_forged_equality_and_non_plain_results_fail_humaneval(code):
    verdict = humaneval(code, CHECK_ADD)
    assert verdict["reason"] == "not_plain", verdict


def test_forged_equality_fails_functions_style():
    verdict = judge(FORGED_EQ, "def test_a():\n    assert f(1) == 3\n    assert not f(1) != 3\n")
    assert verdict["reason"] == "failed", verdict


def test_the_candidate_cannot_see_the_tests():
    # The hidden tests live in the judge's process: no frame walk or memory scan finds them.
    code = """
    import gc, sys
    def f(a, b):
        found = any("SECRET_MARKER" in o for o in gc.get_objects() if isinstance(o, str))
        frame, depth = sys._getframe(), 0
        while frame is not None:
            found = found or "SECRET_MARKER" in repr(frame.f_locals)
            frame, depth = frame.f_back, depth + 1
        return 3 if found else -1
    """
    check = "def check(candidate):\n    assert candidate(1, 2) == 3  # SECRET_MARKER\n"
    verdict = humaneval(code, check)
    assert verdict["reason"] == "failed", verdict


def test_judge_objects_refuse_introspection():
    # The probe asks the judge directly through its end of the wire, as a hostile answer
    # would, instead of through the proxy (which refuses such names without asking).
    code = """
    def probe(cb, coro):
        peer = type(cb)._w_peer
        out = []
        for obj, name in [(cb, "__globals__"), (cb, "__closure__"), (cb, "__code__"),
                          (cb, "__self__"), (coro, "cr_frame"), (coro, "cr_code")]:
            try:
                peer.get(obj, name)
                out.append("got " + name)
            except AttributeError:
                out.append("denied")
        for args in [(cb, "__eq__", [1]), (cb, "__reduce__", [])]:
            try:
                peer.op(*args)
                out.append("op allowed")
            except TypeError:
                out.append("denied")
        coro.close()
        return out
    """
    tests = """
    SECRET = "hidden"

    def test_probe():
        def cb():
            return SECRET

        async def coro():
            return SECRET

        assert probe(cb, coro()) == ["denied"] * 8
    """
    verdict = judge(code, tests)
    assert verdict["reason"] == "passed", verdict


WIRE_ATTACKS = {
    "garbage on the channel": "os.write(WFD, b'\\x00\\x00\\x00\\x05hello')",
    "forged reply to load": "send([1, 1, True, 0])",
    "reply to an unknown request": "send([1, 12345, True, 0])",
    "request on an unknown object": "send([0, 1, ['call', {'o': 999}, [], []], 0])",
    "request the judge does not serve": "send([0, 1, ['load', 'x', 'y', 'z'], 0])",
    "oversized frame header": "os.write(WFD, (1 << 31).to_bytes(4, 'big'))",
    "forged shared update": "send([1, 1, ('names', ()), [[[0, [1]]], []]])",
}


@pytest.mark.parametrize("attack", list(WIRE_ATTACKS.values()), ids=list(WIRE_ATTACKS))
def test_forged_wire_messages_fail(attack):
    code = f"""
    import json, os, sys
    WFD = int(sys.argv[2])
    def send(msg):
        data = json.dumps(msg).encode()
        os.write(WFD, len(data).to_bytes(4, "big") + data)
    {attack}
    def f(a, b):
        return a + b
    """
    assert humaneval(code, CHECK_ADD)["reason"] == "error"
    assert judge(code, "def test_a():\n    assert f(1, 2) == 3\n")["reason"] == "error"


def test_monkeypatched_wire_cannot_forge_a_pass():
    # The answer rewrites its end of the wire to reply True to everything the judge asks.
    code = """
    import _wire
    real = _wire.Peer._reply
    def always_true(self, mid, value):
        if isinstance(value, tuple):  # the reply to load, so that the tests start
            return real(self, mid, value)
        _wire.Peer._send(self, _wire.OK, mid, True)
    _wire.Peer._reply = always_true
    def f(a, b):
        return 0
    """
    verdict = humaneval(code, CHECK_ADD)
    assert_not_success(verdict)
    verdict = judge(code, "def test_a():\n    assert f(1, 2) == 3\n")
    assert_not_success(verdict)


ODD_CLASSES = {
    # The answer's wire describes its exception class as the judge's own Rejected...
    "judge's class": 'meta[1], meta[2] = "Rejected", "_wire"',
    # ... as the real SystemExit (which would unwind the judge if taken for real) ...
    "control flow": 'meta[0], meta[1], meta[2] = "SystemExit", "SystemExit", "builtins"',
    # ... or as not an exception at all.
    "no exception": "meta[6] = False",
}


@pytest.mark.parametrize("lie", list(ODD_CLASSES.values()), ids=list(ODD_CLASSES))
def test_exception_class_claiming_odd_identity(lie):
    code = f"""
    import _wire
    real = _wire.Peer.describe_class
    def lying(self, cls):
        meta = real(self, cls)
        if cls.__name__ == "Odd":
            {lie}
        return meta
    _wire.Peer.describe_class = lying
    class Odd(KeyError):
        pass
    def f(a, b):
        raise Odd(0)
    """
    verdict = humaneval(code, CHECK_ADD)
    # a class that says it is no exception is an object-like result humaneval refuses
    assert verdict["reason"] == ("not_plain" if "False" in lie else "error"), verdict
    swallow = "def test_a():\n    try:\n        f(1, 2)\n    except BaseException:\n        pass\n"
    verdict = judge(code, swallow + "\ndef test_b():\n    assert f(1, 2) == 3\n")
    assert (verdict["reason"], verdict["passed"]) in (("error", 1), ("error", 0)), verdict


def test_exception_class_claiming_a_judge_base():
    # Bases the judge does not trust are refused outright: the run is an error.
    code = """
    import _wire
    real = _wire.Peer._class_meta_of
    def lying(self, cls, ctx):
        meta = real(self, cls, ctx)
        if cls.__name__ == "Odd":
            meta[5] = [{"c": ["_wire", "Rejected"]}]
        return meta
    _wire.Peer._class_meta_of = lying
    class Odd(Exception):
        pass
    def f(a, b):
        raise Odd("x")
    """
    verdict = humaneval(code, CHECK_ADD)
    assert verdict["reason"] == "error", verdict


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("import sys\nsys.exit(0)\n", "exited"),
        ("import os\nos._exit(0)\n", "exited"),
        ("def f(a, b):\n    import sys\n    sys.exit(0)\n", "exited"),
        ("def f(a, b):\n    import os\n    os._exit(3)\n", "exited"),
        ("def f(a, b):\n    import ctypes\n    ctypes.string_at(0)\n", "crashed"),
        ("import os, signal\ndef f(a, b):\n    os.kill(os.getpid(), signal.SIGTERM)\n", "killed"),
    ],
)
def test_exits_and_crashes(code, reason):
    verdict = humaneval(code, CHECK_ADD)
    assert verdict["reason"] == reason, verdict


def test_memory_and_file_size_limits(tmp_path):
    assert humaneval("def f(a, b):\n    raise MemoryError\n", CHECK_ADD)["reason"] == "memory"
    code = """
    import resource
    def f(a, b):
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        with open("judge-test-big", "wb") as fh:
            fh.write(b"x" * 5000)
    """
    assert humaneval(code, CHECK_ADD, workdir=tmp_path)["reason"] == "forbidden"


def test_objects_smuggled_into_a_shared_list_are_not_plain():
    code = "def f(xs):\n    xs.append(object())\n"
    check = "def check(c):\n    xs = []\n    c(xs)\n    assert len(xs) == 1\n"
    assert humaneval(code, check)["reason"] == "not_plain"


def test_infinite_loop_times_out():
    verdict = humaneval("def f(a, b):\n    while True:\n        pass\n", CHECK_ADD, timeout=1)
    assert verdict["reason"] == "timeout", verdict


def test_print_flood_is_stopped():
    code = "def f(a, b):\n    while True:\n        print('x' * 10000)\n"
    verdict = humaneval(code, CHECK_ADD, limit=1000)
    assert verdict["reason"] == "output_flood", verdict
    assert len(verdict["output"]) <= 1000


@pytest.mark.parametrize(
    "result",
    [
        "'x' * (20 << 20)",  # larger than a message may be
        "deep(10_000)",  # nested far deeper than allowed
        "cyclic()",
        "[0] * 3_000_000",  # more items than a message may hold
    ],
)
def test_huge_deep_and_cyclic_results_fail(result):
    code = f"""
    def deep(n):
        x = []
        for _ in range(n):
            x = [x]
        return x

    def cyclic():
        x = []
        x.append(x)
        return x

    def f(a, b):
        return {result}
    """
    verdict = humaneval(code, CHECK_ADD)
    assert verdict["reason"] == "not_plain", verdict
    verdict = judge(code, "def test_a():\n    assert f(1, 2) == 3\n")
    assert verdict["reason"] == "not_plain", verdict


# -- all references ------------------------------------------------------------------------


@pytest.mark.slow
def test_every_reference_passes(tmp_path):
    from harness.tasks.builtin import load_builtin
    from harness.tasks.humaneval import load_humaneval

    failures = []
    for task in [*load_humaneval(), *load_builtin()]:
        verdict = judge(
            task.reference,
            task.tests,
            style=task.test_style,
            entry=task.entry_point,
            prompt=task.prompt,
            workdir=tmp_path,
        )
        if verdict["reason"] != "passed" or verdict["passed"] != verdict["total"]:
            failures.append((task.task_id, verdict["reason"], verdict["output"][-500:]))
    assert failures == []
