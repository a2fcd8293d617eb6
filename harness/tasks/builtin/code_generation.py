"""Builtin tasks, category ``code_generation``: implement a data structure or algorithm."""

from __future__ import annotations

from harness.tasks.builtin._common import make_task
from harness.tasks.types import Task

__all__ = ["TASKS"]

_CAT = "code_generation"

# --- LRU cache -------------------------------------------------------------------------------

_LRU_PROMPT = """
Implement a class `LRUCache` — a fixed-capacity key/value cache that evicts the least
recently used entry.

- `LRUCache(capacity: int)`: raise `ValueError` if `capacity` is less than 1. Expose the
  capacity as the attribute `capacity`.
- `get(key, default=None)`: return the value stored for `key`, or `default` if absent. A hit
  makes `key` the most recently used entry.
- `put(key, value) -> None`: insert or overwrite `key`; either way `key` becomes the most
  recently used entry. If the cache then holds more than `capacity` entries, remove the least
  recently used one.
- `__len__()`: number of entries held.
- `__contains__(key)`: membership test that does NOT change recency.
"""

_LRU_REF = r'''
from collections import OrderedDict
from typing import Any, Hashable


class LRUCache:
    """Fixed-capacity mapping that evicts the least recently used entry."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, default: Any = None) -> Any:
        if key not in self._data:
            return default
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key: Hashable, value: Any) -> None:
        if key in self._data:
            self._data.move_to_end(key)
        self._data[key] = value
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data
'''

_LRU_TESTS = r"""
def test_basic_put_get():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    assert cache.get("b") == 2
    assert cache.get("zzz") is None
    assert cache.get("zzz", -1) == -1
    assert len(cache) == 2
    assert cache.capacity == 2


def test_evicts_least_recently_used():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert "b" not in cache
    assert cache.get("a") == 1
    assert cache.get("c") == 3
    assert len(cache) == 2


def test_overwrite_refreshes_recency_without_growing():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 10)
    assert len(cache) == 2
    cache.put("c", 3)
    assert "b" not in cache
    assert cache.get("a") == 10


def test_contains_does_not_refresh():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert "a" in cache
    cache.put("c", 3)
    assert "a" not in cache
    assert "b" in cache and "c" in cache


def test_capacity_one():
    cache = LRUCache(1)
    cache.put(1, "x")
    cache.put(2, "y")
    assert 1 not in cache
    assert cache.get(2) == "y"
    assert len(cache) == 1


def test_falsy_values_are_hits():
    cache = LRUCache(3)
    cache.put("zero", 0)
    cache.put("none", None)
    assert cache.get("zero", "miss") == 0
    assert cache.get("none", "miss") is None


def test_invalid_capacity():
    for bad in (0, -2):
        try:
            LRUCache(bad)
        except ValueError:
            continue
        raise AssertionError(f"capacity {bad} should raise ValueError")


def test_long_sequence():
    cache = LRUCache(3)
    for i in range(10):
        cache.put(i, i * i)
    assert [k for k in range(10) if k in cache] == [7, 8, 9]
    cache.get(7)
    cache.put(10, 100)
    assert [k for k in range(11) if k in cache] == [7, 9, 10]
"""

# --- merge_intervals -------------------------------------------------------------------------

_MERGE_PROMPT = """
Write a function `merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]`.
Each interval `(start, end)` is closed (it includes both ends). Merge every group of
intervals that overlap or touch (`(1, 3)` and `(3, 5)` touch and merge into `(1, 5)`; `(1, 2)`
and `(3, 4)` do not touch). Return the merged intervals as tuples sorted by start. The input
may be in any order and must not be modified. An interval with `start > end` is invalid:
raise `ValueError` (a single point such as `(4, 4)` is valid).
"""

_MERGE_REF = r'''
def merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping or touching closed intervals, sorted by start."""
    for start, end in intervals:
        if start > end:
            raise ValueError(f"invalid interval ({start}, {end})")
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]
'''

_MERGE_TESTS = r"""
def test_overlapping():
    assert merge_intervals([(1, 4), (2, 6), (8, 10)]) == [(1, 6), (8, 10)]


def test_touching_merge_but_gaps_do_not():
    assert merge_intervals([(1, 3), (3, 5)]) == [(1, 5)]
    assert merge_intervals([(1, 2), (3, 4)]) == [(1, 2), (3, 4)]


def test_unsorted_input_and_containment():
    assert merge_intervals([(10, 12), (0, 20), (5, 6)]) == [(0, 20)]
    assert merge_intervals([(7, 9), (1, 2), (4, 5)]) == [(1, 2), (4, 5), (7, 9)]


def test_chain():
    assert merge_intervals([(5, 7), (1, 3), (3, 5), (8, 8)]) == [(1, 7), (8, 8)]


def test_points_and_negative():
    assert merge_intervals([(4, 4)]) == [(4, 4)]
    assert merge_intervals([(-5, -1), (-1, 0), (2, 2)]) == [(-5, 0), (2, 2)]


def test_empty():
    assert merge_intervals([]) == []


def test_input_not_modified_and_tuples_returned():
    data = [(3, 4), (1, 2)]
    out = merge_intervals(data)
    assert data == [(3, 4), (1, 2)]
    assert out == [(1, 2), (3, 4)]
    assert all(type(item) is tuple for item in out)


def test_invalid_interval():
    try:
        merge_intervals([(1, 2), (5, 4)])
    except ValueError:
        return
    raise AssertionError("(5, 4) should raise ValueError")
"""

# --- expression evaluator --------------------------------------------------------------------

_EVAL_PROMPT = """
Write a function `evaluate(expr: str) -> int | float` that evaluates an arithmetic expression
WITHOUT using `eval`, `exec` or `compile`. The grammar:

- numbers: decimal integers (`42`) or decimals with digits on both sides of the point
  (`2.5`); integers evaluate to `int`, decimals to `float`;
- binary operators `+`, `-`, `*`, `/` with the usual precedence (`*` and `/` bind tighter)
  and left associativity; `/` is true division (Python's `/`);
- unary `+` and `-` (they may repeat: `--2` is `2`, and `2*-3` is `-6`);
- parentheses; whitespace anywhere between tokens.

The result must equal what Python gives for the same expression. Division by zero raises
`ZeroDivisionError`. Anything else that is not a valid expression (empty input, unknown
characters, unbalanced parentheses, a missing operand, two numbers in a row) raises
`ValueError`.
"""

_EVAL_REF = r'''
import re

_TOKEN = re.compile(r"\s*(?:(\d+\.\d+|\d+)|([-+*/()]))")


def _tokenize(expr: str) -> list[object]:
    tokens: list[object] = []
    text = expr.rstrip()
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"unexpected character at position {pos}")
        number, op = match.groups()
        if number is not None:
            tokens.append(float(number) if "." in number else int(number))
        else:
            tokens.append(op)
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[object]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> object:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> object:
        token = self.peek()
        if token is None:
            raise ValueError("unexpected end of expression")
        self.pos += 1
        return token

    def expression(self) -> int | float:
        value = self.term()
        while self.peek() in ("+", "-"):
            if self.take() == "+":
                value = value + self.term()
            else:
                value = value - self.term()
        return value

    def term(self) -> int | float:
        value = self.factor()
        while self.peek() in ("*", "/"):
            if self.take() == "*":
                value = value * self.factor()
            else:
                value = value / self.factor()
        return value

    def factor(self) -> int | float:
        token = self.take()
        if token == "-":
            return -self.factor()
        if token == "+":
            return +self.factor()
        if token == "(":
            value = self.expression()
            if self.take() != ")":
                raise ValueError("expected ')'")
            return value
        if isinstance(token, str):
            raise ValueError(f"unexpected {token!r}")
        return token


def evaluate(expr: str) -> int | float:
    """Evaluate an arithmetic expression of + - * / parentheses and numbers."""
    tokens = _tokenize(expr)
    if not tokens:
        raise ValueError("empty expression")
    parser = _Parser(tokens)
    value = parser.expression()
    if parser.pos != len(tokens):
        raise ValueError(f"unexpected {tokens[parser.pos]!r}")
    return value
'''

_EVAL_TESTS = r"""
def _t_raises(exc_type, expr):
    try:
        evaluate(expr)
    except exc_type:
        return True
    except Exception:
        return False
    return False


def test_numbers():
    assert evaluate("42") == 42 and isinstance(evaluate("42"), int)
    assert evaluate("2.5") == 2.5
    assert evaluate("  7 ") == 7


def test_precedence():
    assert evaluate("1 + 2 * 3") == 7
    assert evaluate("2 * 3 + 1") == 7
    assert evaluate("10 - 4 / 2") == 8.0


def test_left_associativity():
    assert evaluate("10 - 3 - 2") == 5
    assert evaluate("100 / 10 / 5") == 2.0
    assert evaluate("8 - 2 + 1") == 7
    assert evaluate("12 / 3 * 2") == 8.0


def test_parentheses():
    assert evaluate("(1 + 2) * 3") == 9
    assert evaluate("((2))") == 2
    assert evaluate("2 * (3 + (4 - 1)) / 4") == 3.0


def test_unary():
    assert evaluate("-3") == -3
    assert evaluate("--2") == 2
    assert evaluate("2*-3") == -6
    assert evaluate("-(2 + 3) * 2") == -10
    assert evaluate("+4 - -1") == 5


def test_true_division_and_types():
    assert evaluate("7 / 2") == 3.5
    assert isinstance(evaluate("4 / 2"), float)
    assert isinstance(evaluate("2 * 3 - 1"), int)
    assert abs(evaluate("0.1 + 0.2") - (0.1 + 0.2)) < 1e-12


def test_division_by_zero():
    assert _t_raises(ZeroDivisionError, "1 / 0")
    assert _t_raises(ZeroDivisionError, "5 / (2 - 2)")


def test_malformed():
    for bad in ["", "   ", "1 +", "* 2", "(1 + 2", "1 + 2)", "1 2", "2 ** 3", "abc", "1..2",
                "()", "3 + * 4", "4 % 2", ".5"]:
        assert _t_raises(ValueError, bad), bad


def test_no_eval_needed_for_large_expression():
    expr = " + ".join(str(i) for i in range(1, 101))
    assert evaluate(expr) == 5050
    assert evaluate("(" * 30 + "1" + ")" * 30) == 1
"""

# --- topological sort ------------------------------------------------------------------------

_TOPO_PROMPT = """
Write a function `topo_sort(deps: dict[str, list[str]]) -> list[str]`. `deps` maps each node
to the nodes it depends on; a node must appear after all of its dependencies. Nodes that only
appear inside dependency lists are nodes too. Repeated entries in a dependency list count
once. Return every node exactly once. When several nodes are ready at the same time, always
take the alphabetically smallest one next, so the order is unique. If the dependencies contain
a cycle (including a node depending on itself), raise `ValueError`.

Example: `topo_sort({"b": ["a"], "c": ["a"], "a": []})` returns `["a", "b", "c"]`.
"""

_TOPO_REF = r'''
import heapq


def topo_sort(deps: dict[str, list[str]]) -> list[str]:
    """Dependencies first; ties broken alphabetically; ValueError on a cycle."""
    nodes: set[str] = set(deps)
    for requirements in deps.values():
        nodes.update(requirements)
    indegree = {node: 0 for node in nodes}
    dependents: dict[str, list[str]] = {node: [] for node in nodes}
    for node, requirements in deps.items():
        for requirement in set(requirements):
            indegree[node] += 1
            dependents[requirement].append(node)
    ready = [node for node in nodes if indegree[node] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for dependent in dependents[node]:
            indegree[dependent] -= 1
            if indegree[dependent] == 0:
                heapq.heappush(ready, dependent)
    if len(order) != len(nodes):
        raise ValueError("dependency cycle")
    return order
'''

_TOPO_TESTS = r"""
def _t_raises_value_error(deps):
    try:
        topo_sort(deps)
    except ValueError:
        return True
    return False


def test_example():
    assert topo_sort({"b": ["a"], "c": ["a"], "a": []}) == ["a", "b", "c"]


def test_implicit_nodes_and_ties():
    assert topo_sort({"app": ["lib", "log"], "lib": ["core"]}) == ["core", "lib", "log", "app"]


def test_smallest_ready_first_not_bfs_layers():
    deps = {"z": [], "b": ["z"], "a": ["y"], "y": []}
    assert topo_sort(deps) == ["y", "a", "z", "b"]


def test_duplicates_count_once():
    assert topo_sort({"b": ["a", "a"], "c": ["b", "a", "b"]}) == ["a", "b", "c"]


def test_chain_and_diamond():
    deps = {"d": ["b", "c"], "b": ["a"], "c": ["a"]}
    assert topo_sort(deps) == ["a", "b", "c", "d"]
    chain = {str(i): [str(i + 1)] for i in range(9)}
    assert topo_sort(chain) == [str(i) for i in range(9, -1, -1)]


def test_empty():
    assert topo_sort({}) == []
    assert topo_sort({"solo": []}) == ["solo"]


def test_cycles():
    assert _t_raises_value_error({"a": ["b"], "b": ["a"]})
    assert _t_raises_value_error({"a": ["a"]})
    assert _t_raises_value_error({"x": [], "a": ["c"], "b": ["a"], "c": ["b"]})


def test_result_respects_every_edge():
    deps = {"m": ["k", "a"], "k": ["c"], "q": ["m", "c"], "a": ["c"], "z": []}
    order = topo_sort(deps)
    assert sorted(order) == ["a", "c", "k", "m", "q", "z"]
    for node, reqs in deps.items():
        for req in reqs:
            assert order.index(req) < order.index(node)
    assert order == ["c", "a", "k", "m", "q", "z"]
"""

# --- token bucket ----------------------------------------------------------------------------

_BUCKET_PROMPT = """
Implement a rate limiter class `TokenBucket(rate: float, capacity: float, clock)`.

- `rate` is the number of tokens added per second, `capacity` the most tokens the bucket can
  hold; both must be positive, otherwise raise `ValueError`.
- `clock` is a zero-argument callable returning the current time in seconds (a float); the
  bucket must read time only through it. The bucket starts full at the time of construction.
- Tokens accrue continuously at `rate` per second of elapsed clock time, never above
  `capacity`. If the clock goes backwards, no tokens are added (and none removed).
- `allow(cost: float = 1.0) -> bool`: if at least `cost` tokens are available, remove them
  and return `True`; otherwise remove nothing and return `False`. A `cost` that is not positive
  raises `ValueError`.
- `tokens` (a read-only property): the tokens available now.
"""

_BUCKET_REF = r'''
from collections.abc import Callable


class TokenBucket:
    """Token-bucket rate limiter driven by an injected clock."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def allow(self, cost: float = 1.0) -> bool:
        if cost <= 0:
            raise ValueError("cost must be positive")
        self._refill()
        if cost <= self._tokens:
            self._tokens -= cost
            return True
        return False
'''

_BUCKET_TESTS = r"""
class _TClock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def test_starts_full_and_drains():
    clock = _TClock()
    bucket = TokenBucket(rate=1.0, capacity=3.0, clock=clock)
    assert bucket.tokens == 3.0
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]


def test_refills_at_rate():
    clock = _TClock()
    bucket = TokenBucket(rate=2.0, capacity=4.0, clock=clock)
    assert bucket.allow(4.0)
    clock.t += 0.5
    assert bucket.tokens == 1.0
    assert bucket.allow()
    assert not bucket.allow()
    clock.t += 1.25
    assert bucket.tokens == 2.5


def test_never_exceeds_capacity():
    clock = _TClock()
    bucket = TokenBucket(rate=10.0, capacity=5.0, clock=clock)
    clock.t += 1000.0
    assert bucket.tokens == 5.0
    assert not bucket.allow(5.5)
    assert bucket.allow(5.0)


def test_exact_cost_allowed_and_failure_removes_nothing():
    clock = _TClock()
    bucket = TokenBucket(rate=1.0, capacity=2.0, clock=clock)
    assert not bucket.allow(2.5)
    assert bucket.tokens == 2.0
    assert bucket.allow(2.0)
    assert bucket.tokens == 0.0


def test_clock_going_backwards():
    clock = _TClock(50.0)
    bucket = TokenBucket(rate=1.0, capacity=10.0, clock=clock)
    assert bucket.allow(6.0)
    clock.t = 40.0
    assert bucket.tokens == 4.0
    clock.t = 42.0
    assert bucket.tokens == 6.0


def test_elapsed_counted_once():
    clock = _TClock()
    bucket = TokenBucket(rate=1.0, capacity=10.0, clock=clock)
    assert bucket.allow(10.0)
    clock.t += 3.0
    assert bucket.tokens == 3.0
    assert bucket.tokens == 3.0
    assert bucket.allow(1.0)
    assert bucket.tokens == 2.0


def test_validation():
    clock = _TClock()
    for rate, cap in ((0, 1), (1, 0), (-1, 5)):
        try:
            TokenBucket(rate, cap, clock)
        except ValueError:
            continue
        raise AssertionError("invalid rate/capacity accepted")
    bucket = TokenBucket(1.0, 1.0, clock)
    for cost in (0, -1.0):
        try:
            bucket.allow(cost)
        except ValueError:
            continue
        raise AssertionError("non-positive cost accepted")
"""

TASKS: list[Task] = [
    make_task(
        category=_CAT,
        name="lru_cache",
        difficulty=-0.6,
        entry_point="LRUCache",
        instructions=_LRU_PROMPT,
        reference=_LRU_REF,
        tests=_LRU_TESTS,
        tags=["data-structure", "class"],
    ),
    make_task(
        category=_CAT,
        name="merge_intervals",
        difficulty=-0.8,
        entry_point="merge_intervals",
        instructions=_MERGE_PROMPT,
        reference=_MERGE_REF,
        tests=_MERGE_TESTS,
        tags=["algorithm", "sorting"],
    ),
    make_task(
        category=_CAT,
        name="expression_evaluator",
        difficulty=0.8,
        entry_point="evaluate",
        instructions=_EVAL_PROMPT,
        reference=_EVAL_REF,
        tests=_EVAL_TESTS,
        tags=["parser", "recursion"],
    ),
    make_task(
        category=_CAT,
        name="topo_sort",
        difficulty=-0.1,
        entry_point="topo_sort",
        instructions=_TOPO_PROMPT,
        reference=_TOPO_REF,
        tests=_TOPO_TESTS,
        tags=["algorithm", "graph"],
    ),
    make_task(
        category=_CAT,
        name="token_bucket",
        difficulty=-0.3,
        entry_point="TokenBucket",
        instructions=_BUCKET_PROMPT,
        reference=_BUCKET_REF,
        tests=_BUCKET_TESTS,
        tags=["class", "rate-limiting", "time"],
    ),
]
