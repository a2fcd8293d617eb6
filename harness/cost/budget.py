"""Hard budgets per run, per day and per month that concurrency cannot overshoot.

A :class:`Budget` is the LLM client's call gate (:mod:`harness.llm.gate`).
Before each hop it *reserves* the call's worst-case cost — every input token
estimated from the request's UTF-8 bytes (``chars_per_token`` = 1: a
byte-level tokenizer never makes more tokens than bytes) at the dearer of the
input and cache-write list rates, plus ``max_tokens`` at the output rate — and
refuses when, for any capped scope,

    spent + held + this > cap

After the hop it *settles*: the hold is replaced by the actual cost. So the
recorded spend can never pass a cap, whatever the concurrency: every call in
flight already holds an upper bound of its cost.

Scopes: ``run`` (this run, resumes included), ``day`` and ``month`` (UTC
calendar day / month, across every run in the results folder: their
``calls.cost_usd`` is read from DuckDB when the run starts, so a restart does
not reset the count; a run still being written by another process is locked
and cannot be counted — it is skipped with a warning).

A refusal is *final* when even with nothing in flight the call would not fit
(``spent + this > cap``): the budget is then exhausted and refuses every later
call. Otherwise the caller may :meth:`Budget.wait_for_room` until holds settle
and try again. Alerts fire once per scope and threshold (default 50/80/100 %
of the cap, on settled spend; 100 % also when the budget is exhausted) as
``logging.warning`` and in :attr:`Budget.alert_text` (the progress bar).

Thread-safe: state changes hold one lock; waiters are woken on their own
event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.cost.pricing import Pricer
from harness.errors import BudgetExceededError, ConfigError
from harness.llm.gate import Reservation
from harness.llm.types import ChatRequest

__all__ = [
    "Budget",
    "BudgetCapError",
    "PriorSpend",
    "TrialBudgetNote",
    "check_priced",
    "estimate_input_bytes",
    "period_starts",
    "read_prior_spend",
    "track_trial",
]

log = logging.getLogger(__name__)

#: Tokens a chat template adds per message (role markers, separators); generous.
MESSAGE_OVERHEAD_TOKENS = 8


class BudgetCapError(BudgetExceededError):
    """A reservation was refused: which cap, how much was asked, and whether it is final."""

    def __init__(self, message: str, *, scope: str, amount_usd: float, final: bool) -> None:
        super().__init__(message)
        self.scope = scope
        self.amount_usd = amount_usd
        self.final = final


@dataclass
class TrialBudgetNote:
    """What the budget did during one trial (see :func:`track_trial`)."""

    reserved: int = 0
    refused: BudgetCapError | None = None


_TRIAL: contextvars.ContextVar[TrialBudgetNote | None] = contextvars.ContextVar(
    "harness_budget_trial", default=None
)


@contextlib.contextmanager
def track_trial() -> Iterator[TrialBudgetNote]:
    """Record the reservations and refusal of the calls made inside this block.

    The note lives in a context variable, so concurrent trials on one event
    loop (each its own asyncio task) keep separate notes.
    """
    note = TrialBudgetNote()
    token = _TRIAL.set(note)
    try:
        yield note
    finally:
        _TRIAL.reset(token)


def estimate_input_bytes(req: ChatRequest) -> int:
    """UTF-8 bytes of everything the prompt carries: messages, tool calls and tool specs."""
    n = 0
    for m in req.messages:
        n += len(m.content.encode("utf-8"))
        for tc in m.tool_calls:
            n += len(tc.name) + len((tc.raw_arguments or json.dumps(tc.arguments)).encode("utf-8"))
    for t in req.tools:
        n += len(json.dumps({"n": t.name, "d": t.description, "p": t.parameters}).encode("utf-8"))
    return n


def period_starts(now: datetime) -> tuple[datetime, datetime]:
    """Start of the UTC day and of the UTC month containing ``now``."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


@dataclass(frozen=True)
class PriorSpend:
    """Spend recorded before this run started (USD)."""

    run: float = 0.0
    day: float = 0.0
    month: float = 0.0
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    unreadable: tuple[str, ...] = ()
    """Databases that could not be read (held by a running process)."""


def read_prior_spend(
    results_dir: str | Path, *, run_db: str | Path | None = None, now: datetime | None = None
) -> PriorSpend:
    """Sum ``calls.cost_usd`` of every run under ``results_dir`` since the UTC day / month start.

    Args:
        results_dir: The results root (searched recursively for run databases);
            a missing folder has spent nothing.
        run_db: This run's database (resume: its earlier spend is the ``run`` total).
        now: The time the periods are taken at (default: now).
    """
    import duckdb

    from harness.store.reader import list_run_dbs

    now = now or datetime.now(UTC)
    day0, month0 = period_starts(now)
    dbs: list[Path] = []
    root = Path(results_dir)
    if root.exists():
        dbs = list_run_dbs(root)
    own = Path(run_db).resolve() if run_db is not None else None
    if own is not None and own.exists() and own not in {d.resolve() for d in dbs}:
        dbs.append(own)
    run = day = month = 0.0
    unreadable: list[str] = []
    con = duckdb.connect(":memory:")
    try:
        for i, db in enumerate(dbs):
            alias = f"spend_{i}"
            try:
                con.execute(
                    f"ATTACH '{str(db).replace(chr(39), chr(39) * 2)}' AS {alias} (READ_ONLY)"
                )
            except duckdb.Error as exc:
                unreadable.append(str(db))
                log.warning("budget: cannot read spend of %s (%s); not counted", db, exc)
                continue
            try:
                total, d, m = con.execute(
                    f"SELECT sum(cost_usd), sum(cost_usd) FILTER (WHERE started_at >= ?), "
                    f"sum(cost_usd) FILTER (WHERE started_at >= ?) FROM {alias}.main.calls",
                    [day0, month0],
                ).fetchone()  # type: ignore[misc]
            except duckdb.Error:  # no calls table yet
                total = d = m = None
            finally:
                con.execute(f"DETACH {alias}")
            day += d or 0.0
            month += m or 0.0
            if own is not None and db.resolve() == own:
                run += total or 0.0
    finally:
        con.close()
    return PriorSpend(run=run, day=day, month=month, at=now, unreadable=tuple(unreadable))


@dataclass
class _Scope:
    name: str
    cap: float
    base: float
    """Spend before this process (prior runs; the day/month it applies to)."""
    period: datetime | None
    """day/month: the period ``base`` belongs to; None for the run."""
    fired: set[tuple[float, int]] = field(default_factory=set)


class Budget:
    """Reserve-then-settle spend control with caps per run, UTC day and UTC month."""

    def __init__(
        self,
        pricer: Pricer,
        *,
        run_usd: float | None = None,
        daily_usd: float | None = None,
        monthly_usd: float | None = None,
        prior: PriorSpend | None = None,
        alerts: Sequence[float] = (0.5, 0.8, 1.0),
        chars_per_token: float = 1.0,
        clock: Any = None,
        on_alert: Callable[[str], None] | None = None,
    ) -> None:
        """
        Args:
            pricer: Prices the worst case at list price.
            run_usd, daily_usd, monthly_usd: Caps in USD; None = no cap.
            prior: Spend recorded before this process (see :func:`read_prior_spend`).
            alerts: Shares of each cap that log a warning once.
            chars_per_token: Bytes per token assumed for the input bound
                (1.0 = a strict bound; larger holds less and may under-reserve).
            clock: ``() -> datetime`` (tests); default ``datetime.now(UTC)``.
            on_alert: Called with :attr:`alert_text` when an alert fires.
        """
        for name, cap in (("run_usd", run_usd), ("daily_usd", daily_usd),
                          ("monthly_usd", monthly_usd)):  # fmt: skip
            if cap is not None and cap < 0:
                raise ConfigError(f"budget.{name} must be >= 0 or null, got {cap}")
        if chars_per_token <= 0:
            raise ConfigError(f"budget.chars_per_token must be > 0, got {chars_per_token}")
        bad = [a for a in alerts if not 0 < a <= 1]
        if bad:
            raise ConfigError(f"budget.alerts must be shares in (0, 1], got {bad}")
        self._pricer = pricer
        self._on_alert = on_alert
        self._clock = clock or (lambda: datetime.now(UTC))
        self._chars_per_token = chars_per_token
        self._alerts = sorted(set(alerts))
        prior = prior or PriorSpend(at=self._clock())
        day0, month0 = period_starts(prior.at)
        self._scopes: list[_Scope] = []
        if run_usd is not None:
            self._scopes.append(_Scope("run", run_usd, prior.run, None))
        if daily_usd is not None:
            self._scopes.append(_Scope("day", daily_usd, prior.day, day0))
        if monthly_usd is not None:
            self._scopes.append(_Scope("month", monthly_usd, prior.month, month0))
        self._lock = threading.Lock()
        self._held = 0.0
        # Holds are counted as well as summed: float sums of holds do not return
        # to exactly 0, and "nothing in flight" must be exact or waiters sleep forever.
        self._holds = 0
        self._spent: dict[tuple[str, datetime | None], float] = {}
        self._spent_total = 0.0
        self._unknown = 0
        self._exhausted: BudgetCapError | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None], float]] = []
        self.alert_text: str = ""
        """The latest alert, short, for a progress bar (empty until one fires)."""
        self.alerts_fired: list[tuple[str, float]] = []
        """(scope, share) of every alert fired, in order."""
        with self._lock:
            self._check_alerts()

    # -- state ---------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Whether any cap is set."""
        return bool(self._scopes)

    @property
    def held_usd(self) -> float:
        return self._held

    @property
    def spent_usd(self) -> float:
        """Actual cost settled in this process (all scopes)."""
        return self._spent_total

    @property
    def exhausted(self) -> BudgetCapError | None:
        """The final refusal once a cap is reached, else None."""
        return self._exhausted

    def _scope_spent(self, s: _Scope, now: datetime) -> float:
        if s.period is None:
            return s.base + self._spent_total
        day0, month0 = period_starts(now)
        period = day0 if s.name == "day" else month0
        own = self._spent.get((s.name, period), 0.0)
        return own + (s.base if period == s.period else 0.0)

    def remaining(self) -> dict[str, float]:
        """Per capped scope: cap − spent − held (USD)."""
        now = self._clock()
        with self._lock:
            return {s.name: s.cap - self._scope_spent(s, now) - self._held for s in self._scopes}

    # -- CallGate --------------------------------------------------------------

    def worst_case(self, model_key: str, req: ChatRequest) -> float:
        """The most this request can cost at list price (USD).

        Raises:
            BudgetCapError: the model has no price, so no bound exists (final).
        """
        tokens = int(estimate_input_bytes(req) / self._chars_per_token) + 1
        tokens += MESSAGE_OVERHEAD_TOKENS * (len(req.messages) + 1)
        cost = self._pricer.max_cost(model_key, tokens, int(req.max_tokens), self._clock())
        if cost is None:
            raise BudgetCapError(
                f"budget: model {model_key!r} has no price, so its cost cannot be bounded; "
                f"set portfolio.models.{model_key}.price",
                scope="price",
                amount_usd=float("inf"),
                final=True,
            )
        return cost

    def reserve(self, model_key: str, req: ChatRequest) -> Reservation:
        """Hold the worst-case cost of this hop, or raise :class:`BudgetCapError`."""
        note = _TRIAL.get()
        try:
            res = self._reserve(model_key, req)
        except BudgetCapError as err:
            if note is not None:
                note.refused = err
            raise
        if note is not None:
            note.reserved += 1
        return res

    def _reserve(self, model_key: str, req: ChatRequest) -> Reservation:
        if not self._scopes:
            return Reservation(model_key, 0.0)
        amount = self.worst_case(model_key, req)
        now = self._clock()
        with self._lock:
            if self._exhausted is not None:
                e = self._exhausted
                raise BudgetCapError(str(e), scope=e.scope, amount_usd=amount, final=True)
            for s in self._scopes:
                spent = self._scope_spent(s, now)
                if spent + self._held + amount <= s.cap:
                    continue
                final = spent + amount > s.cap
                err = BudgetCapError(
                    f"budget: {s.name} cap ${s.cap:.2f} reached "
                    f"(spent ${spent:.4f}, in flight ${self._held:.4f}, "
                    f"this call up to ${amount:.4f} on {model_key})",
                    scope=s.name,
                    amount_usd=amount,
                    final=final,
                )
                if final:
                    self._exhausted = err
                    self._fire(s, 1.0, spent, next_call=amount)
                    self._wake_all()
                raise err
            self._held += amount
            self._holds += 1
        return Reservation(model_key, amount)

    def settle(self, reservation: Reservation, cost_usd: float | None) -> None:
        """Replace the hold with the actual cost (None: unknown — the hold counts as spent)."""
        if not self._scopes:
            return
        now = self._clock()
        day0, month0 = period_starts(now)
        actual = reservation.amount_usd if cost_usd is None else float(cost_usd)
        with self._lock:
            self._holds = max(0, self._holds - 1)
            self._held = max(0.0, self._held - reservation.amount_usd) if self._holds else 0.0
            if cost_usd is None:
                self._unknown += 1
            self._spent_total += actual
            self._spent[("day", day0)] = self._spent.get(("day", day0), 0.0) + actual
            self._spent[("month", month0)] = self._spent.get(("month", month0), 0.0) + actual
            self._check_alerts(now)
            self._wake_ready(now)

    # -- waiting ---------------------------------------------------------------

    async def wait_for_room(self, amount_usd: float, timeout_s: float | None = None) -> None:
        """Return once ``amount_usd`` fits beside what is in flight, nothing is in
        flight any more, or the budget is exhausted (then a retry is refused at once)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._ready(amount_usd, self._clock()):
                return
            self._waiters.append((loop, fut, amount_usd))
        try:
            await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters = [w for w in self._waiters if w[1] is not fut]

    def _ready(self, amount: float, now: datetime) -> bool:
        if self._exhausted is not None or self._holds == 0:
            return True
        return all(self._scope_spent(s, now) + self._held + amount <= s.cap for s in self._scopes)

    def _wake_ready(self, now: datetime) -> None:
        for loop, fut, amount in self._waiters:
            if self._ready(amount, now):
                loop.call_soon_threadsafe(_resolve, fut)

    def _wake_all(self) -> None:
        for loop, fut, _ in self._waiters:
            loop.call_soon_threadsafe(_resolve, fut)

    # -- alerts ----------------------------------------------------------------

    def _check_alerts(self, now: datetime | None = None) -> None:
        now = now or self._clock()
        for s in self._scopes:
            spent = self._scope_spent(s, now)
            for share in self._alerts:
                if s.cap > 0 and spent >= share * s.cap:
                    self._fire(s, share, spent)

    def _fire(self, s: _Scope, share: float, spent: float, next_call: float | None = None) -> None:
        # Day/month alerts are per period: the next day may alert again.
        key = (share, _period_ordinal(s, self._clock()))
        if key in s.fired:
            return
        s.fired.add(key)
        self.alerts_fired.append((s.name, share))
        self.alert_text = f"budget {s.name} {share:.0%}"
        if self._on_alert is not None:
            self._on_alert(self.alert_text)
        if next_call is None:
            log.warning(
                "budget: %s spend $%.4f has reached %.0f%% of its $%.2f cap",
                s.name,
                spent,
                share * 100,
                s.cap,
            )
        else:
            log.warning(
                "budget: %s cap $%.2f reached (100%%): spend $%.4f and the next call may cost "
                "up to $%.4f; no new calls",
                s.name,
                s.cap,
                spent,
                next_call,
            )

    def describe(self) -> str:
        """One line: each cap with its spend so far."""
        now = self._clock()
        with self._lock:
            parts = [
                f"{s.name} ${self._scope_spent(s, now):.4f}/${s.cap:.2f}" for s in self._scopes
            ]
        return ", ".join(parts) if parts else "no caps"


def _period_ordinal(s: _Scope, now: datetime) -> int:
    if s.period is None:
        return 0
    day0, month0 = period_starts(now)
    return (day0 if s.name == "day" else month0).toordinal()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def check_priced(budget: Budget, pricer: Pricer, keys: Iterable[str]) -> None:
    """Raise ConfigError naming the models a capped budget cannot bound (no price)."""
    if not budget.enabled:
        return
    missing = [k for k in sorted(set(keys)) if pricer.max_cost(k, 1, 1) is None]
    if missing:
        raise ConfigError(
            f"budget: no price for {', '.join(missing)}, so a cap cannot bound their cost; "
            "set portfolio.models.<key>.price or remove the cap"
        )
