"""Builtin tasks, category ``complex_debugging``: several interacting bugs behind symptoms.

Each prompt shows a realistic module with a few bugs and describes what users observe; the
answer is the whole fixed module. The buggy code is derived from the reference by textual
replacements, so the two cannot drift apart.
"""

from __future__ import annotations

from harness.tasks.builtin._common import derive, make_task
from harness.tasks.types import Task

__all__ = ["TASKS"]

_CAT = "complex_debugging"

# --- event scheduler -------------------------------------------------------------------------

_SCHED_REF = r'''
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field


@dataclass(order=True)
class Event:
    """A scheduled event, ordered by time and then by scheduling order."""

    time: float
    seq: int
    name: str = field(compare=False)
    tags: list[str] = field(default_factory=list, compare=False)


class Scheduler:
    """Pending events in time order; events at the same time keep scheduling order."""

    def __init__(self) -> None:
        self._queue: list[Event] = []
        self._counter = itertools.count()

    def schedule(self, time: float, name: str, tags: list[str] | None = None) -> Event:
        """Add an event; ``tags`` is copied."""
        event = Event(time, next(self._counter), name, list(tags) if tags else [])
        heapq.heappush(self._queue, event)
        return event

    def add_tag(self, name: str, tag: str) -> int:
        """Tag every pending event called ``name``; returns how many got the tag."""
        count = 0
        for event in self._queue:
            if event.name == name and tag not in event.tags:
                event.tags.append(tag)
                count += 1
        return count

    def pop_due(self, now: float) -> list[str]:
        """Remove and return the names of events due at or before ``now``, in order."""
        due: list[str] = []
        while self._queue and self._queue[0].time <= now:
            due.append(heapq.heappop(self._queue).name)
        return due

    def between(self, start: float, end: float) -> list[str]:
        """Names of pending events with ``start <= time < end``, in order (not removed)."""
        return [e.name for e in sorted(self._queue) if start <= e.time < end]

    def tagged(self, tag: str) -> list[str]:
        """Names of pending events carrying ``tag``, in order."""
        return [e.name for e in sorted(self._queue) if tag in e.tags]

    def __len__(self) -> int:
        return len(self._queue)
'''

_SCHED_BUGGY = derive(
    _SCHED_REF,
    [
        ("import itertools\n", ""),
        (
            "    time: float\n    seq: int\n    name: str = field(compare=False)\n",
            "    time: float\n    name: str\n",
        ),
        ("        self._counter = itertools.count()\n", ""),
        ("tags: list[str] | None = None) -> Event:", "tags: list[str] = []) -> Event:"),
        (
            "Event(time, next(self._counter), name, list(tags) if tags else [])",
            "Event(time, name, tags)",
        ),
        ("self._queue[0].time <= now", "self._queue[0].time < now"),
        ("if start <= e.time < end]", "if start < e.time <= end]"),
    ],
)

_SCHED_PROMPT = """
Our job runner uses the `Scheduler` class below. Users have filed these bug reports:

1. An event scheduled exactly at time `now` is not returned by `pop_due(now)`; it only shows
   up on a later call.
2. Events scheduled for the same time come out in alphabetical order of their names instead
   of the order in which they were scheduled.
3. After `add_tag("backup", "nightly")`, `tagged("nightly")` also lists events that were
   never tagged, and `add_tag` sometimes reports the wrong count.
4. `between(start, end)` should include events at `start` and exclude events at `end`; it
   does the opposite.

Find and fix all the bugs. Keep the public API the same: `Event`, and `Scheduler` with
`schedule(time, name, tags=None)` (which must copy `tags`, not keep the caller's list),
`add_tag`, `pop_due`, `between`, `tagged` and `len()`, behaving as their docstrings say.
"""

_SCHED_TESTS = r"""
def test_pop_due_includes_now():
    s = Scheduler()
    s.schedule(5, "a")
    s.schedule(10, "b")
    assert s.pop_due(4.9) == []
    assert s.pop_due(5) == ["a"]
    assert s.pop_due(5) == []
    assert len(s) == 1
    assert s.pop_due(100) == ["b"]
    assert len(s) == 0


def test_same_time_keeps_scheduling_order():
    s = Scheduler()
    for name in ["zeta", "alpha", "mid", "beta"]:
        s.schedule(7, name)
    s.schedule(3, "early")
    assert s.pop_due(7) == ["early", "zeta", "alpha", "mid", "beta"]


def test_many_events_sorted_stably():
    s = Scheduler()
    times = [5, 1, 3, 1, 5, 2, 3, 1]
    for i, t in enumerate(times):
        s.schedule(t, f"e{i}")
    expected = [f"e{i}" for i, _ in sorted(enumerate(times), key=lambda p: (p[1], p[0]))]
    assert s.between(0, 100) == expected
    assert s.pop_due(1000) == expected


def test_tags_are_per_event():
    s = Scheduler()
    s.schedule(1, "backup")
    s.schedule(2, "report")
    s.schedule(3, "backup")
    assert s.add_tag("backup", "nightly") == 2
    assert s.tagged("nightly") == ["backup", "backup"]
    assert s.add_tag("report", "daily") == 1
    assert s.tagged("daily") == ["report"]
    assert s.add_tag("backup", "nightly") == 0
    assert s.tagged("nothing") == []


def test_tags_isolated_between_schedulers_and_from_caller():
    first = Scheduler()
    first.schedule(1, "x")
    first.add_tag("x", "shared?")
    second = Scheduler()
    ev = second.schedule(1, "y")
    assert ev.tags == []
    assert second.tagged("shared?") == []
    mine = ["keep"]
    s = Scheduler()
    s.schedule(1, "z", mine)
    mine.append("leak")
    assert s.tagged("keep") == ["z"]
    assert s.tagged("leak") == []


def test_between_edges():
    s = Scheduler()
    for t, name in [(1, "a"), (2, "b"), (3, "c"), (4, "d")]:
        s.schedule(t, name)
    assert s.between(2, 4) == ["b", "c"]
    assert s.between(1, 1) == []
    assert s.between(0, 1.5) == ["a"]
    assert len(s) == 4


def test_schedule_returns_event():
    s = Scheduler()
    ev = s.schedule(2.5, "job", ["t1"])
    assert (ev.time, ev.name, ev.tags) == (2.5, "job", ["t1"])
"""

# --- async batch fetch -----------------------------------------------------------------------

_FETCH_REF = r'''
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FetchReport:
    """Outcome of a batch: values and error messages, each keyed in input order."""

    results: dict[Hashable, Any] = field(default_factory=dict)
    errors: dict[Hashable, str] = field(default_factory=dict)


async def fetch_all(
    keys: Iterable[Hashable],
    fetch: Callable[[Hashable], Awaitable[Any]],
    *,
    limit: int = 4,
    retries: int = 1,
) -> FetchReport:
    """Fetch every key with at most ``limit`` calls in flight, retrying failures.

    Each key is tried up to ``retries + 1`` times. A key that never succeeds is reported in
    ``errors`` as ``"<ExceptionType>: <message>"`` of its last failure.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    keys = list(keys)
    semaphore = asyncio.Semaphore(limit)
    values: dict[Hashable, Any] = {}
    errors: dict[Hashable, str] = {}

    async def one(key: Hashable) -> None:
        for attempt in range(retries + 1):
            async with semaphore:
                try:
                    values[key] = await fetch(key)
                    return
                except Exception as exc:
                    if attempt == retries:
                        errors[key] = f"{type(exc).__name__}: {exc}"

    await asyncio.gather(*(one(key) for key in keys))
    return FetchReport(
        results={key: values[key] for key in keys if key in values},
        errors={key: errors[key] for key in keys if key in errors},
    )
'''

_FETCH_BUGGY = derive(
    _FETCH_REF,
    [
        ("    semaphore = asyncio.Semaphore(limit)\n", ""),
        (
            "    async def one(key: Hashable) -> None:\n",
            "    async def one(key: Hashable) -> None:\n"
            "        semaphore = asyncio.Semaphore(limit)\n",
        ),
        ("for attempt in range(retries + 1):", "for attempt in range(retries):"),
        (
            "    return FetchReport(\n"
            "        results={key: values[key] for key in keys if key in values},\n"
            "        errors={key: errors[key] for key in keys if key in errors},\n"
            "    )\n",
            "    return FetchReport(results=values, errors=errors)\n",
        ),
    ],
)

_FETCH_PROMPT = """
`fetch_all` below fetches many keys concurrently with an async `fetch(key)` coroutine
function. Its docstring states the contract. In production we see:

- the backend logs far more than `limit` requests from us in flight at the same time;
- a key whose first attempt fails is never retried, even with the default `retries=1`;
- keys that keep failing are missing from both `results` and `errors`; with `retries=0`
  every key goes missing;
- `results` and `errors` are not in the order of `keys`.

Fix `fetch_all` so that it honours its contract: at most `limit` calls of `fetch` in flight
at any moment; each key tried up to `retries + 1` times; successes in `results` and final
failures in `errors` (as `"<ExceptionType>: <message>"`), both dicts ordered like `keys`;
`ValueError` when `limit < 1`. Keep the names `fetch_all` and `FetchReport` and the
signature.
"""

_FETCH_TESTS = r"""
import asyncio


def _t_make_fetch(delays=None, failures=None):
    delays = delays or {}
    failures = failures or {}
    state = {"active": 0, "peak": 0, "calls": {}}

    async def fetch(key):
        state["calls"][key] = state["calls"].get(key, 0) + 1
        state["active"] += 1
        state["peak"] = max(state["peak"], state["active"])
        try:
            await asyncio.sleep(delays.get(key, 0.002))
            if state["calls"][key] <= failures.get(key, 0):
                raise RuntimeError(f"boom {key}")
            return key * 10
        finally:
            state["active"] -= 1

    return fetch, state


def test_all_succeed_in_input_order():
    keys = [5, 1, 4, 2, 3]
    delays = {5: 0.02, 1: 0.001, 4: 0.012, 2: 0.006, 3: 0.003}
    fetch, state = _t_make_fetch(delays)
    report = asyncio.run(fetch_all(keys, fetch, limit=5))
    assert list(report.results.items()) == [(k, k * 10) for k in keys]
    assert report.errors == {}
    assert state["active"] == 0


def test_concurrency_limit_respected_and_used():
    fetch, state = _t_make_fetch()
    report = asyncio.run(fetch_all(range(10), fetch, limit=3))
    assert len(report.results) == 10
    assert state["peak"] == 3
    fetch, state = _t_make_fetch()
    asyncio.run(fetch_all(range(4), fetch, limit=1))
    assert state["peak"] == 1
    fetch, state = _t_make_fetch()
    asyncio.run(fetch_all(range(10), fetch))
    assert state["peak"] == 4


def test_one_failure_is_retried_by_default():
    fetch, state = _t_make_fetch(failures={2: 1})
    report = asyncio.run(fetch_all([1, 2, 3], fetch))
    assert report.results == {1: 10, 2: 20, 3: 30}
    assert report.errors == {}
    assert state["calls"] == {1: 1, 2: 2, 3: 1}


def test_permanent_failure_reported():
    fetch, state = _t_make_fetch(failures={7: 99, 3: 99})
    report = asyncio.run(fetch_all([7, 1, 3], fetch, retries=2))
    assert report.results == {1: 10}
    assert list(report.errors.items()) == [(7, "RuntimeError: boom 7"), (3, "RuntimeError: boom 3")]
    assert state["calls"][7] == 3 and state["calls"][3] == 3


def test_zero_retries():
    fetch, state = _t_make_fetch(failures={1: 1})
    report = asyncio.run(fetch_all([1, 2], fetch, retries=0))
    assert report.results == {2: 20}
    assert report.errors == {1: "RuntimeError: boom 1"}
    assert state["calls"] == {1: 1, 2: 1}


def test_recovers_on_last_retry():
    fetch, state = _t_make_fetch(failures={4: 2})
    report = asyncio.run(fetch_all([4], fetch, retries=2))
    assert report.results == {4: 40}
    assert state["calls"][4] == 3


def test_mixed_order_with_errors():
    keys = [9, 8, 7, 6]
    fetch, _ = _t_make_fetch(delays={9: 0.015, 8: 0.001, 7: 0.008, 6: 0.002}, failures={8: 5})
    report = asyncio.run(fetch_all(keys, fetch, limit=2, retries=1))
    assert list(report.results) == [9, 7, 6]
    assert list(report.errors) == [8]


def test_invalid_limit_and_empty():
    fetch, _ = _t_make_fetch()
    try:
        asyncio.run(fetch_all([1], fetch, limit=0))
    except ValueError:
        pass
    else:
        raise AssertionError("limit=0 should raise ValueError")
    report = asyncio.run(fetch_all([], fetch))
    assert report.results == {} and report.errors == {}
"""

# --- inventory reservations ------------------------------------------------------------------

_STOCK_REF = r'''
from __future__ import annotations


class InsufficientStock(Exception):
    """Raised when a reservation asks for more than is available."""


class Inventory:
    """Stock per SKU with reservations (holds) that are later released or committed."""

    def __init__(self, stock: dict[str, int] | None = None) -> None:
        self._stock: dict[str, int] = dict(stock or {})
        self._reserved: dict[str, int] = {}
        self._holds: dict[str, tuple[str, int]] = {}
        self._next_id = 1

    def on_hand(self, sku: str) -> int:
        """Units physically in stock."""
        return self._stock.get(sku, 0)

    def reserved(self, sku: str) -> int:
        """Units held by open reservations."""
        return self._reserved.get(sku, 0)

    def available(self, sku: str) -> int:
        """Units that can still be reserved."""
        return self.on_hand(sku) - self.reserved(sku)

    def restock(self, sku: str, qty: int) -> None:
        if qty <= 0:
            raise ValueError("qty must be positive")
        self._stock[sku] = self._stock.get(sku, 0) + qty

    def reserve(self, sku: str, qty: int) -> str:
        """Hold ``qty`` units; returns the hold id. Raises InsufficientStock."""
        if qty <= 0:
            raise ValueError("qty must be positive")
        if qty > self.available(sku):
            raise InsufficientStock(f"{sku}: want {qty}, available {self.available(sku)}")
        hold_id = f"H{self._next_id}"
        self._next_id += 1
        self._reserved[sku] = self._reserved.get(sku, 0) + qty
        self._holds[hold_id] = (sku, qty)
        return hold_id

    def release(self, hold_id: str) -> None:
        """Cancel a hold. Raises KeyError for an unknown or already closed hold."""
        sku, qty = self._holds.pop(hold_id)
        self._reserved[sku] -= qty

    def commit(self, hold_id: str) -> None:
        """Ship a hold: the units leave the stock. Raises KeyError like ``release``."""
        sku, qty = self._holds.pop(hold_id)
        self._reserved[sku] -= qty
        self._stock[sku] -= qty
'''

_STOCK_BUGGY = derive(
    _STOCK_REF,
    [
        (
            'later released or committed."""\n',
            'later released or committed."""\n\n    _reserved: dict[str, int] = {}\n',
        ),
        (
            "def __init__(self, stock: dict[str, int] | None = None) -> None:\n"
            "        self._stock: dict[str, int] = dict(stock or {})\n"
            "        self._reserved: dict[str, int] = {}\n",
            "def __init__(self, stock: dict[str, int] = {}) -> None:\n"
            "        self._stock: dict[str, int] = stock\n",
        ),
        ("if qty > self.available(sku):", "if qty >= self.available(sku):"),
        (
            "        sku, qty = self._holds.pop(hold_id)\n        self._reserved[sku] -= qty\n\n",
            "        sku, qty = self._holds[hold_id]\n        self._reserved[sku] -= qty\n\n",
        ),
        (
            "        self._reserved[sku] -= qty\n        self._stock[sku] -= qty\n",
            "        self._stock[sku] -= qty\n",
        ),
    ],
)

_STOCK_PROMPT = """
The warehouse service keeps stock with the `Inventory` class below: `reserve` puts units on
hold, a hold is later either `release`d (cancelled) or `commit`ted (shipped). The docstrings
describe the intended behaviour. Support tickets:

- Two `Inventory` objects in the same process interfere: a reservation in one lowers
  `available()` in the other. Inventories created without arguments even share their stock.
- Restocking an `Inventory` built from a dict changes the caller's dict.
- The last unit of a SKU can never be reserved.
- Releasing the same hold twice raises no error and makes phantom stock appear.
- After a hold is committed, `available()` drops a second time.

Fix every bug while keeping the class names and method signatures.
"""

_STOCK_TESTS = r"""
def _t_raises(exc_type, fn, *args):
    try:
        fn(*args)
    except exc_type:
        return True
    return False


def test_reserve_up_to_last_unit():
    inv = Inventory({"apple": 3})
    hold = inv.reserve("apple", 3)
    assert isinstance(hold, str)
    assert inv.available("apple") == 0
    assert inv.reserved("apple") == 3
    assert _t_raises(InsufficientStock, inv.reserve, "apple", 1)
    assert _t_raises(InsufficientStock, inv.reserve, "pear", 1)


def test_instances_are_independent():
    a = Inventory({"x": 5})
    b = Inventory({"x": 5})
    a.reserve("x", 4)
    assert b.available("x") == 5
    assert b.reserved("x") == 0
    c = Inventory()
    c.restock("y", 2)
    d = Inventory()
    assert d.on_hand("y") == 0


def test_caller_dict_not_modified():
    source = {"x": 1}
    inv = Inventory(source)
    inv.restock("x", 4)
    inv.restock("z", 1)
    assert source == {"x": 1}
    assert inv.on_hand("x") == 5


def test_release_once():
    inv = Inventory({"x": 4})
    hold = inv.reserve("x", 3)
    inv.release(hold)
    assert inv.available("x") == 4
    assert _t_raises(KeyError, inv.release, hold)
    assert _t_raises(KeyError, inv.commit, hold)
    assert inv.available("x") == 4
    assert inv.reserved("x") == 0


def test_commit_moves_stock_once():
    inv = Inventory({"x": 10})
    hold = inv.reserve("x", 4)
    assert inv.available("x") == 6
    inv.commit(hold)
    assert inv.on_hand("x") == 6
    assert inv.reserved("x") == 0
    assert inv.available("x") == 6
    assert _t_raises(KeyError, inv.commit, hold)
    assert _t_raises(KeyError, inv.release, "H999")


def test_hold_ids_unique_and_mixed_flow():
    inv = Inventory({"a": 5, "b": 2})
    h1 = inv.reserve("a", 2)
    h2 = inv.reserve("a", 3)
    h3 = inv.reserve("b", 2)
    assert len({h1, h2, h3}) == 3
    inv.release(h1)
    inv.commit(h2)
    assert (inv.on_hand("a"), inv.reserved("a"), inv.available("a")) == (2, 0, 2)
    inv.commit(h3)
    assert (inv.on_hand("b"), inv.available("b")) == (0, 0)
    inv.restock("b", 1)
    assert inv.available("b") == 1


def test_validation():
    inv = Inventory({"a": 5})
    assert _t_raises(ValueError, inv.reserve, "a", 0)
    assert _t_raises(ValueError, inv.reserve, "a", -1)
    assert _t_raises(ValueError, inv.restock, "a", 0)
    assert inv.available("a") == 5
"""

# --- retry decorator -------------------------------------------------------------------------

_RETRY_REF = r'''
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any


def retry(
    times: int = 3,
    exceptions: tuple[type[BaseException], ...] = (Exception,),
    delay: float = 0.1,
    backoff: float = 2.0,
    sleep: Callable[[float], Any] = time.sleep,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Retry the decorated function on ``exceptions``.

    ``times`` is the total number of attempts. Between attempts it sleeps ``delay``, then
    ``delay * backoff``, and so on; every call of the decorated function starts again from
    ``delay``. Other exceptions propagate at once; when the last attempt fails, its
    exception propagates. The decorated function keeps its name and docstring.
    """
    if times < 1:
        raise ValueError("times must be at least 1")

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            wait = delay
            for attempt in range(1, times + 1):
                try:
                    return func(*args, **kwargs)
                except exceptions:
                    if attempt == times:
                        raise
                    sleep(wait)
                    wait *= backoff

        return wrapper

    return decorator
'''

_RETRY_BUGGY = derive(
    _RETRY_REF,
    [
        (
            '        raise ValueError("times must be at least 1")\n',
            '        raise ValueError("times must be at least 1")\n    wait = delay\n',
        ),
        ("        @functools.wraps(func)\n", ""),
        ("            wait = delay\n", "            nonlocal wait\n"),
        ("range(1, times + 1)", "range(1, times)"),
        (
            "                except exceptions:\n"
            "                    if attempt == times:\n"
            "                        raise\n",
            "                except Exception:\n",
        ),
    ],
)

_RETRY_PROMPT = """
The `retry` decorator below is used all over our code base, and its docstring is the
contract. Bug reports:

- A function decorated with `@retry(times=3)` that fails twice and then succeeds returns
  `None` instead of its result.
- When every attempt fails, callers get `None` instead of the exception.
- Exceptions that are not listed in `exceptions` (say a `KeyError` with
  `exceptions=(OSError,)`) are retried instead of propagating immediately.
- The delays keep growing across calls: the second call of a decorated function starts
  sleeping where the first call stopped.
- Decorated functions lose their `__name__` and `__doc__`.

Fix the decorator. Keep the name `retry` and its signature, including the injectable
`sleep` function.
"""

_RETRY_TESTS = r'''
def _t_flaky(failures, exc=OSError, result="ok"):
    state = {"calls": 0}

    def func(*args, **kwargs):
        """Flaky helper."""
        state["calls"] += 1
        if state["calls"] <= failures:
            raise exc(f"failure {state['calls']}")
        return (result, args, kwargs)

    return func, state


def test_succeeds_on_last_attempt():
    slept = []
    func, state = _t_flaky(2)
    wrapped = retry(times=3, exceptions=(OSError,), delay=0.5, sleep=slept.append)(func)
    assert wrapped(1, k=2) == ("ok", (1,), {"k": 2})
    assert state["calls"] == 3
    assert slept == [0.5, 1.0]


def test_last_exception_propagates():
    slept = []
    func, state = _t_flaky(10)
    wrapped = retry(times=4, exceptions=(OSError,), delay=1, backoff=3, sleep=slept.append)(func)
    try:
        wrapped()
    except OSError as exc:
        assert str(exc) == "failure 4"
    else:
        raise AssertionError("exception swallowed")
    assert state["calls"] == 4
    assert slept == [1, 3, 9]


def test_other_exceptions_not_retried():
    slept = []
    func, state = _t_flaky(1, exc=KeyError)
    wrapped = retry(times=5, exceptions=(OSError,), sleep=slept.append)(func)
    try:
        wrapped()
    except KeyError:
        pass
    else:
        raise AssertionError("KeyError should propagate")
    assert state["calls"] == 1
    assert slept == []


def test_delay_restarts_every_call():
    slept = []

    @retry(times=3, exceptions=(ValueError,), delay=0.25, backoff=2.0, sleep=slept.append)
    def always_fails():
        raise ValueError("no")

    for _ in range(2):
        try:
            always_fails()
        except ValueError:
            pass
    assert slept == [0.25, 0.5, 0.25, 0.5]


def test_metadata_preserved():
    @retry(sleep=lambda s: None)
    def documented(x):
        """Add one."""
        return x + 1

    assert documented(1) == 2
    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Add one."


def test_single_attempt_and_validation():
    slept = []
    func, state = _t_flaky(1)
    wrapped = retry(times=1, exceptions=(OSError,), sleep=slept.append)(func)
    try:
        wrapped()
    except OSError:
        pass
    else:
        raise AssertionError("times=1 must not retry")
    assert (state["calls"], slept) == (1, [])
    try:
        retry(times=0)
    except ValueError:
        pass
    else:
        raise AssertionError("times=0 should raise ValueError")


def test_defaults():
    slept = []
    func, state = _t_flaky(10)
    try:
        retry(sleep=slept.append)(func)()
    except OSError:
        pass
    else:
        raise AssertionError("exception swallowed")
    assert state["calls"] == 3
    assert slept == [0.1, 0.2]


def test_immediate_success_does_not_sleep():
    slept = []
    func, state = _t_flaky(0)
    assert retry(sleep=slept.append)(func)()[0] == "ok"
    assert (state["calls"], slept) == (1, [])
'''

# --- TTL cache -------------------------------------------------------------------------------

_TTL_REF = r'''
from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

_MISSING = object()


class TTLCache:
    """A cache whose entries expire ``ttl`` seconds after they were set.

    An entry set at time ``t`` is visible while ``clock() < t + ttl`` and gone from
    ``t + ttl`` on. Time is read only through ``clock``.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.ttl = ttl
        self._clock = clock
        self._data: dict[Hashable, tuple[float, Any]] = {}

    def set(self, key: Hashable, value: Any) -> None:
        self._data[key] = (self._clock() + self.ttl, value)

    def get(self, key: Hashable, default: Any = None) -> Any:
        item = self._data.get(key)
        if item is None:
            return default
        expires, value = item
        if self._clock() >= expires:
            del self._data[key]
            return default
        return value

    def get_or_set(self, key: Hashable, factory: Callable[[], Any]) -> Any:
        """The cached value, or ``factory()`` stored and returned if there is none."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = factory()
            self.set(key, value)
        return value

    def purge(self) -> int:
        """Drop expired entries; returns how many were dropped."""
        now = self._clock()
        expired = [key for key, (expires, _) in self._data.items() if now >= expires]
        for key in expired:
            del self._data[key]
        return len(expired)

    def __len__(self) -> int:
        """Number of live (unexpired) entries."""
        self.purge()
        return len(self._data)
'''

_TTL_BUGGY = derive(
    _TTL_REF,
    [
        ("        if self._clock() >= expires:\n", "        if self._clock() > expires:\n"),
        (
            "        value = self.get(key, _MISSING)\n        if value is _MISSING:\n",
            "        value = self.get(key)\n        if not value:\n",
        ),
        (
            "        expired = [key for key, (expires, _) in self._data.items()"
            " if now >= expires]\n"
            "        for key in expired:\n"
            "            del self._data[key]\n"
            "        return len(expired)\n",
            "        removed = 0\n"
            "        for key, (expires, _) in self._data.items():\n"
            "            if now >= expires:\n"
            "                del self._data[key]\n"
            "                removed += 1\n"
            "        return removed\n",
        ),
        (
            "        self.purge()\n        return len(self._data)\n",
            "        return len(self._data)\n",
        ),
    ],
)

_TTL_PROMPT = """
`TTLCache` below caches values for `ttl` seconds; its docstrings are the contract. Reports
from the team using it:

- a value can still be read at the exact instant it should have expired;
- `purge()` crashes with `RuntimeError` as soon as anything has expired;
- `len(cache)` counts entries that have already expired;
- `get_or_set` calls the (expensive) factory again when the cached value is `0`, `""`,
  `None` or another falsy value.

Fix the class. Keep its name, constructor (`TTLCache(ttl, clock=time.monotonic)`) and
methods.
"""

_TTL_TESTS = r"""
class _TClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_expires_exactly_at_ttl():
    clock = _TClock()
    cache = TTLCache(10, clock=clock)
    cache.set("k", "v")
    clock.now += 9.5
    assert cache.get("k") == "v"
    clock.now += 0.5
    assert cache.get("k") is None
    assert cache.get("k", "dflt") == "dflt"


def test_set_refreshes_expiry():
    clock = _TClock()
    cache = TTLCache(5, clock=clock)
    cache.set("k", 1)
    clock.now += 4
    cache.set("k", 2)
    clock.now += 4
    assert cache.get("k") == 2
    clock.now += 1
    assert cache.get("k") is None


def test_purge_counts_and_keeps_live():
    clock = _TClock()
    cache = TTLCache(10, clock=clock)
    for i in range(5):
        cache.set(i, i)
        clock.now += 2
    clock.now = 1009.5
    assert cache.purge() == 0
    clock.now = 1010.0
    assert cache.purge() == 1
    clock.now = 1014.0
    assert cache.purge() == 2
    assert cache.get(3) == 3 and cache.get(4) == 4
    clock.now = 2000.0
    assert cache.purge() == 2
    assert cache.purge() == 0


def test_len_counts_live_only():
    clock = _TClock()
    cache = TTLCache(3, clock=clock)
    cache.set("a", 1)
    clock.now += 2
    cache.set("b", 2)
    assert len(cache) == 2
    clock.now += 1
    assert len(cache) == 1
    clock.now += 2
    assert len(cache) == 0


def test_get_or_set_keeps_falsy_values():
    clock = _TClock()
    cache = TTLCache(10, clock=clock)
    calls = []

    def factory(value):
        def make():
            calls.append(value)
            return value

        return make

    for key, value in (("zero", 0), ("empty", ""), ("none", None), ("false", False)):
        assert cache.get_or_set(key, factory(value)) == value
        assert cache.get_or_set(key, factory("other")) == value
    assert calls == [0, "", None, False]
    clock.now += 10
    assert cache.get_or_set("zero", factory(7)) == 7


def test_validation_and_default_clock():
    for bad in (0, -1):
        try:
            TTLCache(bad)
        except ValueError:
            continue
        raise AssertionError("non-positive ttl accepted")
    clock = _TClock()
    short = TTLCache(0.5, clock=clock)
    short.set("s", 1)
    clock.now += 0.25
    assert short.get("s") == 1
    cache = TTLCache(60)
    cache.set("x", 1)
    assert cache.get("x") == 1
    assert len(cache) == 1
"""

TASKS: list[Task] = [
    make_task(
        category=_CAT,
        name="event_scheduler",
        difficulty=0.6,
        entry_point="Scheduler",
        instructions=_SCHED_PROMPT,
        code=_SCHED_BUGGY,
        reference=_SCHED_REF,
        tests=_SCHED_TESTS,
        tags=["mutable-default", "ordering", "off-by-one", "heapq"],
    ),
    make_task(
        category=_CAT,
        name="async_fetch_all",
        difficulty=1.3,
        entry_point="fetch_all",
        instructions=_FETCH_PROMPT,
        code=_FETCH_BUGGY,
        reference=_FETCH_REF,
        tests=_FETCH_TESTS,
        tags=["asyncio", "semaphore", "retries", "ordering"],
    ),
    make_task(
        category=_CAT,
        name="inventory_reservations",
        difficulty=0.9,
        entry_point="Inventory",
        instructions=_STOCK_PROMPT,
        code=_STOCK_BUGGY,
        reference=_STOCK_REF,
        tests=_STOCK_TESTS,
        tags=["shared-state", "mutable-default", "aliasing", "off-by-one"],
    ),
    make_task(
        category=_CAT,
        name="retry_decorator",
        difficulty=0.9,
        entry_point="retry",
        instructions=_RETRY_PROMPT,
        code=_RETRY_BUGGY,
        reference=_RETRY_REF,
        tests=_RETRY_TESTS,
        tags=["decorator", "closure-state", "exceptions", "off-by-one"],
    ),
    make_task(
        category=_CAT,
        name="ttl_cache",
        difficulty=0.6,
        entry_point="TTLCache",
        instructions=_TTL_PROMPT,
        code=_TTL_BUGGY,
        reference=_TTL_REF,
        tests=_TTL_TESTS,
        tags=["time", "dict-mutation", "truthiness", "boundary"],
    ),
]
