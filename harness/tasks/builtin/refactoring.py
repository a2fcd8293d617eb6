"""Builtin tasks, category ``refactoring``: restructure working code, keep its behaviour.

Each prompt shows a working but messy module and asks for a named shape. The hidden tests
embed the original module under ``_legacy_`` names and compare behaviour against it, then
check the requested structure (classes, registries, helpers) through the objects themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from harness.tasks.builtin._common import make_task
from harness.tasks.types import Task

__all__ = ["TASKS"]

_CAT = "refactoring"


def _legacy(source: str, names: Iterable[str]) -> str:
    """``source`` with each definition and call of ``names`` renamed to ``_legacy_<name>``.

    Only ``name(``, ``name)``, ``name,`` and ``name:`` after a non-identifier character are
    renamed, so string literals that merely contain the word stay as they are.
    """
    out = source
    for name in names:
        out = re.sub(rf"(?<![\w.\"']){re.escape(name)}(?=[(),:])", f"_legacy_{name}", out)
    return out


# --- shipping rates: nested conditionals -> data table ---------------------------------------

_SHIP_LEGACY = r"""
def shipping_cost(region, weight_kg, express=False):
    if region == "domestic":
        if weight_kg <= 0:
            raise ValueError("weight must be positive")
        if weight_kg <= 1:
            cost = 5.0
        elif weight_kg <= 5:
            cost = 5.0 + (weight_kg - 1) * 1.5
        else:
            cost = 5.0 + 4 * 1.5 + (weight_kg - 5) * 1.0
        if express:
            cost = cost * 2.0
    elif region == "europe":
        if weight_kg <= 0:
            raise ValueError("weight must be positive")
        if weight_kg <= 1:
            cost = 9.0
        elif weight_kg <= 5:
            cost = 9.0 + (weight_kg - 1) * 2.5
        else:
            cost = 9.0 + 4 * 2.5 + (weight_kg - 5) * 2.0
        if express:
            cost = cost * 1.5
    elif region == "world":
        if weight_kg <= 0:
            raise ValueError("weight must be positive")
        if weight_kg <= 1:
            cost = 15.0
        else:
            if weight_kg <= 5:
                cost = 15.0 + (weight_kg - 1) * 4.0
            else:
                cost = 15.0 + 4 * 4.0 + (weight_kg - 5) * 3.5
        if express:
            cost = cost * 1.75
    else:
        raise ValueError("unknown region: " + region)
    return round(cost, 2)
"""

_SHIP_PROMPT = """
The function `shipping_cost(region, weight_kg, express=False)` below works, but every region
repeats the same nested conditionals with different numbers. Refactor it into a data-driven
design:

- a frozen dataclass `Rate` with the float fields `base`, `first_tier_per_kg`,
  `second_tier_per_kg`, `express_multiplier`, in that order;
- module constants `FIRST_TIER_KG = 1` and `SECOND_TIER_KG = 5` for the tier boundaries;
- a module-level dict `RATES: dict[str, Rate]` with one entry per region;
- `shipping_cost(region, weight_kg, express=False)` with exactly the same results and errors
  as today, computed from `RATES` (looked up at call time, so adding an entry to `RATES` adds
  a region) with no region-specific branches.
"""

_SHIP_REF = r'''
from dataclasses import dataclass

FIRST_TIER_KG = 1
SECOND_TIER_KG = 5


@dataclass(frozen=True)
class Rate:
    """Tariff of one region."""

    base: float
    first_tier_per_kg: float
    second_tier_per_kg: float
    express_multiplier: float


RATES: dict[str, Rate] = {
    "domestic": Rate(5.0, 1.5, 1.0, 2.0),
    "europe": Rate(9.0, 2.5, 2.0, 1.5),
    "world": Rate(15.0, 4.0, 3.5, 1.75),
}


def shipping_cost(region: str, weight_kg: float, express: bool = False) -> float:
    """Shipping cost of a parcel, rounded to cents."""
    rate = RATES.get(region)
    if rate is None:
        raise ValueError("unknown region: " + region)
    if weight_kg <= 0:
        raise ValueError("weight must be positive")
    if weight_kg <= FIRST_TIER_KG:
        cost = rate.base
    elif weight_kg <= SECOND_TIER_KG:
        cost = rate.base + (weight_kg - FIRST_TIER_KG) * rate.first_tier_per_kg
    else:
        cost = (
            rate.base
            + (SECOND_TIER_KG - FIRST_TIER_KG) * rate.first_tier_per_kg
            + (weight_kg - SECOND_TIER_KG) * rate.second_tier_per_kg
        )
    if express:
        cost = cost * rate.express_multiplier
    return round(cost, 2)
'''

_SHIP_TESTS = (
    _legacy(_SHIP_LEGACY, ["shipping_cost"])
    + r"""

_T_WEIGHTS = [0.25, 0.5, 1, 1.5, 2.3, 4.99, 5, 5.01, 7.25, 12, 30]


def test_same_results_as_before():
    for region in ("domestic", "europe", "world"):
        for weight in _T_WEIGHTS:
            for express in (False, True):
                expected = _legacy_shipping_cost(region, weight, express)
                got = shipping_cost(region, weight, express)
                assert got == expected, (region, weight, express, got, expected)


def test_default_is_not_express():
    assert shipping_cost("europe", 3) == 14.0
    assert shipping_cost("world", 6) == 34.5


def test_errors_preserved():
    for args in (("mars", 1), ("domestic", 0), ("europe", -2), ("world", 0)):
        try:
            shipping_cost(*args)
        except ValueError:
            continue
        raise AssertionError(f"{args} should raise ValueError")
    try:
        shipping_cost("atlantis", 2)
    except ValueError as exc:
        assert "atlantis" in str(exc)


def test_rate_dataclass():
    import dataclasses

    assert dataclasses.is_dataclass(Rate)
    names = [f.name for f in dataclasses.fields(Rate)]
    assert names == ["base", "first_tier_per_kg", "second_tier_per_kg", "express_multiplier"]
    rate = Rate(1.0, 2.0, 3.0, 4.0)
    try:
        rate.base = 9.0
    except dataclasses.FrozenInstanceError:
        pass
    else:
        raise AssertionError("Rate must be frozen")


def test_rates_table():
    assert set(RATES) == {"domestic", "europe", "world"}
    assert all(isinstance(r, Rate) for r in RATES.values())
    assert RATES["domestic"] == Rate(5.0, 1.5, 1.0, 2.0)
    assert RATES["europe"] == Rate(9.0, 2.5, 2.0, 1.5)
    assert RATES["world"] == Rate(15.0, 4.0, 3.5, 1.75)
    assert (FIRST_TIER_KG, SECOND_TIER_KG) == (1, 5)


def test_new_region_is_one_entry():
    RATES["moon"] = Rate(100.0, 10.0, 5.0, 3.0)
    try:
        assert shipping_cost("moon", 0.5) == 100.0
        assert shipping_cost("moon", 3) == 120.0
        assert shipping_cost("moon", 6, True) == 435.0
    finally:
        del RATES["moon"]
"""
)

# --- account: procedural dicts -> class ------------------------------------------------------

_ACCOUNT_LEGACY = r'''
class InsufficientFunds(Exception):
    """Raised when a withdrawal or transfer exceeds the balance."""


def open_account(owner, initial=0):
    if initial < 0:
        raise ValueError("initial balance must not be negative")
    return {"owner": owner, "balance": initial, "history": [("open", initial)]}


def deposit(account, amount):
    if amount <= 0:
        raise ValueError("amount must be positive")
    account["balance"] = account["balance"] + amount
    account["history"].append(("deposit", amount))


def withdraw(account, amount):
    if amount <= 0:
        raise ValueError("amount must be positive")
    if amount > account["balance"]:
        raise InsufficientFunds(f"{account['owner']}: balance {account['balance']} < {amount}")
    account["balance"] = account["balance"] - amount
    account["history"].append(("withdraw", amount))


def transfer(source, target, amount):
    if source is target:
        raise ValueError("cannot transfer to the same account")
    if amount <= 0:
        raise ValueError("amount must be positive")
    if amount > source["balance"]:
        raise InsufficientFunds(f"{source['owner']}: balance {source['balance']} < {amount}")
    source["balance"] = source["balance"] - amount
    source["history"].append(("transfer_out", amount))
    target["balance"] = target["balance"] + amount
    target["history"].append(("transfer_in", amount))


def statement(account):
    lines = [f"Account of {account['owner']}"]
    for kind, amount in account["history"]:
        lines.append(f"{kind:>12} {amount:>10}")
    lines.append(f"{'balance':>12} {account['balance']:>10}")
    return "\n".join(lines)
'''

_ACCOUNT_PROMPT = """
The module below manages bank accounts as plain dicts passed to free functions. Refactor it
into a class `Account` and keep the exception `InsufficientFunds` as it is:

- `Account(owner: str, initial: int = 0)` — same validation as `open_account`; the owner is
  available as the attribute `owner`;
- `balance` — a read-only property (assigning to it raises `AttributeError`);
- `history()` — returns a new list of the `(kind, amount)` tuples recorded so far (changing
  the returned list must not affect the account);
- `deposit(amount)`, `withdraw(amount)`, `transfer_to(target: "Account", amount)` and
  `statement() -> str` — same behaviour, errors and messages as `deposit`, `withdraw`,
  `transfer(self, target, amount)` and `statement`;
- the checks "amount must be positive" and "enough funds" must live in one place each (no
  copies);
- remove the module-level functions `open_account`, `deposit`, `withdraw`, `transfer` and
  `statement`.
"""

_ACCOUNT_REF = r'''
from __future__ import annotations


class InsufficientFunds(Exception):
    """Raised when a withdrawal or transfer exceeds the balance."""


class Account:
    """A bank account with a recorded history of movements."""

    def __init__(self, owner: str, initial: int = 0) -> None:
        if initial < 0:
            raise ValueError("initial balance must not be negative")
        self.owner = owner
        self._balance = initial
        self._history: list[tuple[str, int]] = [("open", initial)]

    @property
    def balance(self) -> int:
        return self._balance

    def history(self) -> list[tuple[str, int]]:
        return list(self._history)

    @staticmethod
    def _check_amount(amount: int) -> None:
        if amount <= 0:
            raise ValueError("amount must be positive")

    def _check_funds(self, amount: int) -> None:
        if amount > self._balance:
            raise InsufficientFunds(f"{self.owner}: balance {self._balance} < {amount}")

    def _apply(self, kind: str, delta: int, amount: int) -> None:
        self._balance += delta
        self._history.append((kind, amount))

    def deposit(self, amount: int) -> None:
        self._check_amount(amount)
        self._apply("deposit", amount, amount)

    def withdraw(self, amount: int) -> None:
        self._check_amount(amount)
        self._check_funds(amount)
        self._apply("withdraw", -amount, amount)

    def transfer_to(self, target: Account, amount: int) -> None:
        if target is self:
            raise ValueError("cannot transfer to the same account")
        self._check_amount(amount)
        self._check_funds(amount)
        self._apply("transfer_out", -amount, amount)
        target._apply("transfer_in", amount, amount)

    def statement(self) -> str:
        lines = [f"Account of {self.owner}"]
        for kind, amount in self._history:
            lines.append(f"{kind:>12} {amount:>10}")
        lines.append(f"{'balance':>12} {self._balance:>10}")
        return "\n".join(lines)
'''

_ACCOUNT_TESTS = (
    _legacy(
        _ACCOUNT_LEGACY,
        ["InsufficientFunds", "open_account", "deposit", "withdraw", "transfer", "statement"],
    )
    + r"""

_T_SCRIPT = [
    ("deposit", "a", 50),
    ("withdraw", "a", 30),
    ("withdraw", "a", 500),
    ("deposit", "b", 0),
    ("transfer", "a", "b", 70),
    ("transfer", "b", "a", 1000),
    ("withdraw", "b", -5),
    ("transfer", "a", "a", 1),
    ("transfer", "b", "a", 0),
    ("withdraw", "b", 170),
    ("deposit", "b", 7),
    ("withdraw", "a", 50),
    ("withdraw", "a", 1),
]


def _t_outcome(fn):
    try:
        fn()
    except (InsufficientFunds, _legacy_InsufficientFunds) as exc:
        return ("funds", str(exc))
    except ValueError as exc:
        return ("value", str(exc))
    return ("ok", None)


def _t_run_new():
    accounts = {"a": Account("ann", 100), "b": Account("bob")}
    outcomes = []
    for step in _T_SCRIPT:
        op, who = step[0], accounts[step[1]]
        if op == "transfer":
            target, amount = accounts[step[2]], step[3]
            outcomes.append(_t_outcome(lambda: who.transfer_to(target, amount)))
        else:
            outcomes.append(_t_outcome(lambda: getattr(who, op)(step[2])))
    return outcomes, {k: (v.balance, v.statement()) for k, v in accounts.items()}


def _t_run_old():
    accounts = {"a": _legacy_open_account("ann", 100), "b": _legacy_open_account("bob")}
    ops = {"deposit": _legacy_deposit, "withdraw": _legacy_withdraw}
    outcomes = []
    for step in _T_SCRIPT:
        op, who = step[0], accounts[step[1]]
        if op == "transfer":
            target, amount = accounts[step[2]], step[3]
            outcomes.append(_t_outcome(lambda: _legacy_transfer(who, target, amount)))
        else:
            outcomes.append(_t_outcome(lambda: ops[op](who, step[2])))
    return outcomes, {k: (v["balance"], _legacy_statement(v)) for k, v in accounts.items()}


def test_same_behaviour_as_before():
    new_outcomes, new_state = _t_run_new()
    old_outcomes, old_state = _t_run_old()
    assert new_outcomes == old_outcomes
    assert new_state == old_state


def test_initial_validation():
    assert Account("x").balance == 0
    try:
        Account("x", -1)
    except ValueError as exc:
        assert str(exc) == "initial balance must not be negative"
    else:
        raise AssertionError("negative initial balance accepted")


def test_insufficient_funds_is_the_module_exception():
    acct = Account("zed", 10)
    try:
        acct.withdraw(11)
    except InsufficientFunds as exc:
        assert str(exc) == "zed: balance 10 < 11"
    else:
        raise AssertionError("overdraft accepted")
    assert acct.balance == 10
    assert acct.history() == [("open", 10)]


def test_balance_is_read_only():
    acct = Account("ro", 5)
    try:
        acct.balance = 1000
    except AttributeError:
        pass
    else:
        raise AssertionError("balance must be read-only")
    assert acct.balance == 5


def test_history_is_a_copy():
    acct = Account("h", 1)
    acct.deposit(2)
    hist = acct.history()
    assert hist == [("open", 1), ("deposit", 2)]
    hist.append(("hack", 1))
    hist.clear()
    assert acct.history() == [("open", 1), ("deposit", 2)]


def test_transfer_records_both_sides():
    a, b = Account("a", 30), Account("b", 1)
    a.transfer_to(b, 30)
    assert (a.balance, b.balance) == (0, 31)
    assert a.history()[-1] == ("transfer_out", 30)
    assert b.history()[-1] == ("transfer_in", 30)


def test_free_functions_removed():
    for name in ("open_account", "deposit", "withdraw", "transfer", "statement"):
        assert name not in globals(), f"module-level {name} should be gone"
    for name in ("deposit", "withdraw", "transfer_to", "statement", "history"):
        assert callable(getattr(Account, name, None)), name
"""
)

# --- report tables: three copies -> one generic formatter ------------------------------------

_REPORT_LEGACY = r"""
def sales_report(rows):
    lines = ["== Sales =="]
    header = "Region".ljust(10) + " " + "Units".rjust(6) + " " + "Revenue".rjust(10)
    lines.append(header)
    lines.append("-" * len(header))
    total_units = 0
    total_revenue = 0.0
    for row in rows:
        lines.append(
            str(row["region"]).ljust(10)
            + " "
            + str(row["units"]).rjust(6)
            + " "
            + f"{row['revenue']:.2f}".rjust(10)
        )
        total_units += row["units"]
        total_revenue += row["revenue"]
    lines.append("-" * len(header))
    lines.append(
        "TOTAL".ljust(10) + " " + str(total_units).rjust(6) + " " + f"{total_revenue:.2f}".rjust(10)
    )
    return "\n".join(lines)


def refund_report(rows):
    lines = ["== Refunds =="]
    header = "Order".ljust(8) + " " + "Reason".ljust(20) + " " + "Amount".rjust(9)
    lines.append(header)
    lines.append("-" * len(header))
    total = 0.0
    for row in rows:
        line = str(row["order"]).ljust(8) + " " + str(row["reason"]).ljust(20)
        line += " " + f"{row['amount']:.2f}".rjust(9)
        lines.append(line)
        total = total + row["amount"]
    lines.append("-" * len(header))
    lines.append("TOTAL".ljust(8) + " " + "".ljust(20) + " " + f"{total:.2f}".rjust(9))
    return "\n".join(lines)


def inventory_report(rows):
    lines = ["== Inventory =="]
    header = (
        "SKU".ljust(8) + " " + "Name".ljust(16) + " " + "On hand".rjust(8) + " " + "Value".rjust(10)
    )
    lines.append(header)
    lines.append("-" * len(header))
    on_hand = 0
    value = 0.0
    for row in rows:
        lines.append(
            str(row["sku"]).ljust(8)
            + " "
            + str(row["name"]).ljust(16)
            + " "
            + str(row["on_hand"]).rjust(8)
            + " "
            + f"{row['value']:.2f}".rjust(10)
        )
        on_hand += row["on_hand"]
        value += row["value"]
    lines.append("-" * len(header))
    lines.append(
        "TOTAL".ljust(8)
        + " "
        + "".ljust(16)
        + " "
        + str(on_hand).rjust(8)
        + " "
        + f"{value:.2f}".rjust(10)
    )
    return "\n".join(lines)
"""

_REPORT_PROMPT = """
The three report functions below are copies of one another with different columns. Remove
the duplication:

- add a frozen dataclass `Column(header: str, key: str, width: int, kind: str)` where `kind`
  is `"text"`, `"int"` or `"money"`;
- add `format_table(title: str, columns: list[Column], rows: list[dict]) -> str` that
  produces the layout the three functions share: a `== <title> ==` line; a header line; a
  line of dashes as long as the header line; one line per row; another dash line; a totals
  line. Cells are joined by a single space. A `"text"` cell is `str(value)` left-justified to
  the column width, an `"int"` cell is `str(value)` right-justified, a `"money"` cell is the
  value formatted with two decimals (`f"{value:.2f}"`) right-justified; headers are
  justified like their column. In the totals line the first column holds the word `TOTAL`
  (justified like that column), other `"text"` columns are blank (spaces to the width), and
  `"int"` and `"money"` columns hold the column's sum. Lines are joined with `"\\n"`;
- define module constants `SALES_COLUMNS`, `REFUND_COLUMNS` and `INVENTORY_COLUMNS`, and
  make `sales_report`, `refund_report` and `inventory_report` one-line wrappers around
  `format_table` that return exactly what they return today.
"""

_REPORT_REF = r'''
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    """One table column: header text, row key, width and kind (text, int or money)."""

    header: str
    key: str
    width: int
    kind: str


def _cell(column: Column, value: Any) -> str:
    if column.kind == "money":
        return f"{value:.2f}".rjust(column.width)
    if column.kind == "int":
        return str(value).rjust(column.width)
    return str(value).ljust(column.width)


def _header(column: Column) -> str:
    if column.kind == "text":
        return column.header.ljust(column.width)
    return column.header.rjust(column.width)


def format_table(title: str, columns: list[Column], rows: list[dict[str, Any]]) -> str:
    """Render rows as a fixed-width table with a totals line."""
    header = " ".join(_header(column) for column in columns)
    rule = "-" * len(header)
    lines = [f"== {title} ==", header, rule]
    for row in rows:
        lines.append(" ".join(_cell(column, row[column.key]) for column in columns))
    lines.append(rule)
    totals = []
    for index, column in enumerate(columns):
        if index == 0:
            totals.append(_cell(column, "TOTAL"))
        elif column.kind == "text":
            totals.append(_cell(column, ""))
        else:
            start = 0.0 if column.kind == "money" else 0
            totals.append(_cell(column, sum((row[column.key] for row in rows), start)))
    lines.append(" ".join(totals))
    return "\n".join(lines)


SALES_COLUMNS = (
    Column("Region", "region", 10, "text"),
    Column("Units", "units", 6, "int"),
    Column("Revenue", "revenue", 10, "money"),
)
REFUND_COLUMNS = (
    Column("Order", "order", 8, "text"),
    Column("Reason", "reason", 20, "text"),
    Column("Amount", "amount", 9, "money"),
)
INVENTORY_COLUMNS = (
    Column("SKU", "sku", 8, "text"),
    Column("Name", "name", 16, "text"),
    Column("On hand", "on_hand", 8, "int"),
    Column("Value", "value", 10, "money"),
)


def sales_report(rows: list[dict[str, Any]]) -> str:
    return format_table("Sales", list(SALES_COLUMNS), rows)


def refund_report(rows: list[dict[str, Any]]) -> str:
    return format_table("Refunds", list(REFUND_COLUMNS), rows)


def inventory_report(rows: list[dict[str, Any]]) -> str:
    return format_table("Inventory", list(INVENTORY_COLUMNS), rows)
'''

_REPORT_TESTS = (
    _legacy(_REPORT_LEGACY, ["sales_report", "refund_report", "inventory_report"])
    + r"""

_T_SALES = [
    {"region": "north", "units": 10, "revenue": 125.5},
    {"region": "south-east-long", "units": 3, "revenue": 0.125},
    {"region": "west", "units": 1200, "revenue": 99999.999},
]
_T_REFUNDS = [
    {"order": "A-1", "reason": "damaged", "amount": 12.0},
    {"order": 77, "reason": "late delivery and more words", "amount": 3.456},
]
_T_STOCK = [
    {"sku": "X1", "name": "widget", "on_hand": 4, "value": 10.0},
    {"sku": "LONGSKU-99", "name": "gadget", "on_hand": 0, "value": 0.0},
    {"sku": "Z", "name": "gizmo", "on_hand": 17, "value": 1234.5},
]


def test_sales_unchanged():
    assert sales_report(_T_SALES) == _legacy_sales_report(_T_SALES)
    assert sales_report([]) == _legacy_sales_report([])


def test_refunds_unchanged():
    assert refund_report(_T_REFUNDS) == _legacy_refund_report(_T_REFUNDS)
    assert refund_report([]) == _legacy_refund_report([])


def test_inventory_unchanged():
    assert inventory_report(_T_STOCK) == _legacy_inventory_report(_T_STOCK)
    assert inventory_report(_T_STOCK[:1]) == _legacy_inventory_report(_T_STOCK[:1])


def test_column_dataclass():
    import dataclasses

    assert dataclasses.is_dataclass(Column)
    assert [f.name for f in dataclasses.fields(Column)] == ["header", "key", "width", "kind"]
    col = Column("H", "h", 3, "int")
    try:
        col.width = 9
    except dataclasses.FrozenInstanceError:
        pass
    else:
        raise AssertionError("Column must be frozen")


def test_column_constants_drive_the_wrappers():
    for cols, wrapper, title, rows in (
        (SALES_COLUMNS, sales_report, "Sales", _T_SALES),
        (REFUND_COLUMNS, refund_report, "Refunds", _T_REFUNDS),
        (INVENTORY_COLUMNS, inventory_report, "Inventory", _T_STOCK),
    ):
        assert all(isinstance(c, Column) for c in cols)
        assert wrapper(rows) == format_table(title, list(cols), rows)
    assert [c.key for c in INVENTORY_COLUMNS] == ["sku", "name", "on_hand", "value"]


def test_format_table_new_columns():
    cols = [
        Column("Team", "team", 6, "text"),
        Column("Wins", "wins", 4, "int"),
        Column("Note", "note", 5, "text"),
        Column("Prize", "prize", 7, "money"),
    ]
    rows = [
        {"team": "ants", "wins": 3, "note": "ok", "prize": 12.5},
        {"team": "bees", "wins": 10, "note": "", "prize": 0.333},
    ]
    expected = "\n".join(
        [
            "== League ==",
            "Team   Wins Note    Prize",
            "-------------------------",
            "ants      3 ok      12.50",
            "bees     10          0.33",
            "-------------------------",
            "TOTAL    13         12.83",
        ]
    )
    assert format_table("League", cols, rows) == expected


def test_format_table_int_first_column_and_empty_rows():
    cols = [Column("N", "n", 3, "int"), Column("Who", "who", 4, "text")]
    expected = "== T ==\n  N Who \n--------\n--------\nTOTAL     "
    assert format_table("T", cols, []) == expected
"""
)

# --- pricing: if/elif chain -> rule objects and a registry -----------------------------------

_PRICING_LEGACY = r"""
def final_price(customer_type, amount_cents, years=0):
    if customer_type == "regular":
        if amount_cents < 0:
            raise ValueError("amount must not be negative")
        return amount_cents
    elif customer_type == "member":
        if amount_cents < 0:
            raise ValueError("amount must not be negative")
        percent = 5 + min(years, 5)
        discount = amount_cents * percent // 100
        return amount_cents - discount
    elif customer_type == "employee":
        if amount_cents < 0:
            raise ValueError("amount must not be negative")
        discount = amount_cents * 30 // 100
        if discount > 20000:
            discount = 20000
        return amount_cents - discount
    elif customer_type == "wholesale":
        if amount_cents < 0:
            raise ValueError("amount must not be negative")
        if amount_cents >= 100000:
            discount = amount_cents * 10 // 100
        else:
            discount = amount_cents * 3 // 100
        return amount_cents - discount
    else:
        raise ValueError(f"unknown customer type: {customer_type}")
"""

_PRICING_PROMPT = """
`final_price(customer_type, amount_cents, years=0)` below grows a new `elif` branch for every
customer type and repeats its validation in each. Replace the conditional with rule objects:

- a base class `PricingRule` with a method `discount_cents(self, amount_cents: int,
  years: int) -> int` that subclasses implement (one subclass per customer type);
- a module-level registry `RULES: dict[str, PricingRule]` holding one rule instance for each
  of `"regular"`, `"member"`, `"employee"` and `"wholesale"`;
- `register_rule(name: str, rule: PricingRule) -> None` that adds or replaces a rule, and
  raises `TypeError` if `rule` is not a `PricingRule`;
- `final_price(customer_type, amount_cents, years=0)` that validates the amount once, looks
  the rule up in `RULES` at call time and returns `amount_cents` minus the rule's discount —
  with exactly the same results, errors and messages as now, and no per-type branches.
"""

_PRICING_REF = r'''
from __future__ import annotations


class PricingRule:
    """How much a customer type saves on an amount (in cents)."""

    def discount_cents(self, amount_cents: int, years: int) -> int:
        raise NotImplementedError


class RegularRule(PricingRule):
    def discount_cents(self, amount_cents: int, years: int) -> int:
        return 0


class MemberRule(PricingRule):
    def discount_cents(self, amount_cents: int, years: int) -> int:
        percent = 5 + min(years, 5)
        return amount_cents * percent // 100


class EmployeeRule(PricingRule):
    cap_cents = 20000

    def discount_cents(self, amount_cents: int, years: int) -> int:
        return min(amount_cents * 30 // 100, self.cap_cents)


class WholesaleRule(PricingRule):
    threshold_cents = 100000

    def discount_cents(self, amount_cents: int, years: int) -> int:
        percent = 10 if amount_cents >= self.threshold_cents else 3
        return amount_cents * percent // 100


RULES: dict[str, PricingRule] = {
    "regular": RegularRule(),
    "member": MemberRule(),
    "employee": EmployeeRule(),
    "wholesale": WholesaleRule(),
}


def register_rule(name: str, rule: PricingRule) -> None:
    """Add or replace the rule for a customer type."""
    if not isinstance(rule, PricingRule):
        raise TypeError(f"rule must be a PricingRule, got {type(rule).__name__}")
    RULES[name] = rule


def final_price(customer_type: str, amount_cents: int, years: int = 0) -> int:
    """Price after the customer type's discount, in cents."""
    rule = RULES.get(customer_type)
    if rule is None:
        raise ValueError(f"unknown customer type: {customer_type}")
    if amount_cents < 0:
        raise ValueError("amount must not be negative")
    return amount_cents - rule.discount_cents(amount_cents, years)
'''

_PRICING_TESTS = (
    _legacy(_PRICING_LEGACY, ["final_price"])
    + r"""

def _t_outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except ValueError as exc:
        return ("error", str(exc))


def test_same_results_as_before():
    amounts = [0, 1, 99, 1000, 12345, 66666, 66667, 99999, 100000, 100001, 250000, -1]
    for kind in ("regular", "member", "employee", "wholesale", "gold"):
        for amount in amounts:
            for years in (0, 1, 3, 5, 6, 20):
                new = _t_outcome(final_price, kind, amount, years)
                old = _t_outcome(_legacy_final_price, kind, amount, years)
                assert new == old, (kind, amount, years, new, old)


def test_default_years():
    assert final_price("member", 10000) == 9500
    assert final_price("employee", 1000000) == 980000


def test_registry_contents():
    assert set(RULES) >= {"regular", "member", "employee", "wholesale"}
    assert all(isinstance(rule, PricingRule) for rule in RULES.values())
    assert RULES["employee"].discount_cents(1000000, 0) == 20000
    assert RULES["wholesale"].discount_cents(100000, 0) == 10000
    assert RULES["wholesale"].discount_cents(99999, 0) == 2999
    assert RULES["member"].discount_cents(1000, 9) == 100
    kinds = {type(rule) for rule in RULES.values()}
    assert len(kinds) >= 4 and PricingRule not in kinds


def test_register_new_rule():
    class _THalf(PricingRule):
        def discount_cents(self, amount_cents, years):
            return amount_cents // 2

    register_rule("half", _THalf())
    try:
        assert final_price("half", 301) == 151
        assert _t_outcome(final_price, "half", -5) == ("error", "amount must not be negative")
    finally:
        RULES.pop("half", None)


def test_register_rejects_non_rules():
    for bad in (None, 5, lambda a, y: 0):
        try:
            register_rule("bad", bad)
        except TypeError:
            continue
        raise AssertionError(f"{bad!r} accepted as a rule")
    assert "bad" not in RULES


def test_replacing_a_rule_changes_prices():
    class _TNone(PricingRule):
        def discount_cents(self, amount_cents, years):
            return 0

    saved = RULES["member"]
    register_rule("member", _TNone())
    try:
        assert final_price("member", 10000, 5) == 10000
    finally:
        RULES["member"] = saved
    assert final_price("member", 10000, 5) == 9000
"""
)

# --- order pipeline: monolith -> parse / validate / total ------------------------------------

_ORDER_LEGACY = r"""
import re

COUPONS = {"SAVE10": 10, "HALF": 50}


def process_order(raw):
    fields = {}
    for segment in raw.split(";"):
        segment = segment.strip()
        if not segment:
            continue
        if "=" not in segment:
            return {"ok": False, "errors": [f"malformed segment: {segment!r}"], "total_cents": None}
        key, value = segment.split("=", 1)
        key = key.strip().lower()
        if key in fields:
            return {"ok": False, "errors": [f"duplicate field: {key}"], "total_cents": None}
        fields[key] = value.strip()
    errors = []
    for required in ("sku", "qty", "price"):
        if required not in fields:
            errors.append(f"missing field: {required}")
    if "sku" in fields and not re.fullmatch(r"[A-Z]{3}-[0-9]{1,4}", fields["sku"]):
        errors.append(f"bad sku: {fields['sku']}")
    if "qty" in fields:
        if not re.fullmatch(r"[0-9]+", fields["qty"]) or int(fields["qty"]) == 0:
            errors.append(f"bad qty: {fields['qty']}")
        elif int(fields["qty"]) > 999:
            errors.append("qty over limit")
    if "price" in fields and not re.fullmatch(r"[0-9]+\.[0-9]{2}", fields["price"]):
        errors.append(f"bad price: {fields['price']}")
    if "coupon" in fields and fields["coupon"] not in COUPONS:
        errors.append(f"unknown coupon: {fields['coupon']}")
    if errors:
        return {"ok": False, "errors": errors, "total_cents": None}
    units, cents = fields["price"].split(".")
    total = (int(units) * 100 + int(cents)) * int(fields["qty"])
    if "coupon" in fields:
        total = total - total * COUPONS[fields["coupon"]] // 100
    if total < 10000:
        total = total + 499
    return {"ok": True, "errors": [], "total_cents": total}
"""

_ORDER_PROMPT = """
`process_order(raw)` below parses an order string such as `"sku=ABC-12; qty=3;
price=4.50; coupon=SAVE10"`, validates it and prices it, all in one long function. Split it
into single-purpose functions, keeping `COUPONS` as it is:

- `class OrderError(ValueError)` — raised by the parser;
- `parse_order(raw: str) -> dict[str, str]` — the parsing step; instead of returning an
  error result it raises `OrderError` with the same message text (`malformed segment: ...`
  or `duplicate field: ...`);
- `validate_order(fields: dict[str, str]) -> list[str]` — returns the list of error
  messages, in the same order as now (empty when the order is valid);
- `order_total_cents(fields: dict[str, str]) -> int` — the total (coupon, then shipping) of
  fields that passed validation;
- `process_order(raw: str) -> dict` — composes the three and returns exactly what it returns
  today for every input.
"""

_ORDER_REF = r'''
from __future__ import annotations

import re
from typing import Any

COUPONS = {"SAVE10": 10, "HALF": 50}

_SKU = re.compile(r"[A-Z]{3}-[0-9]{1,4}")
_QTY = re.compile(r"[0-9]+")
_PRICE = re.compile(r"[0-9]+\.[0-9]{2}")
_MAX_QTY = 999
_FREE_SHIPPING_CENTS = 10000
_SHIPPING_CENTS = 499


class OrderError(ValueError):
    """The order string cannot be parsed."""


def parse_order(raw: str) -> dict[str, str]:
    """``key=value`` segments separated by ``;`` into a dict (keys lower-cased)."""
    fields: dict[str, str] = {}
    for segment in raw.split(";"):
        segment = segment.strip()
        if not segment:
            continue
        if "=" not in segment:
            raise OrderError(f"malformed segment: {segment!r}")
        key, value = segment.split("=", 1)
        key = key.strip().lower()
        if key in fields:
            raise OrderError(f"duplicate field: {key}")
        fields[key] = value.strip()
    return fields


def validate_order(fields: dict[str, str]) -> list[str]:
    """Every problem with ``fields``, in a stable order."""
    errors = [f"missing field: {name}" for name in ("sku", "qty", "price") if name not in fields]
    if "sku" in fields and not _SKU.fullmatch(fields["sku"]):
        errors.append(f"bad sku: {fields['sku']}")
    if "qty" in fields:
        qty = fields["qty"]
        if not _QTY.fullmatch(qty) or int(qty) == 0:
            errors.append(f"bad qty: {qty}")
        elif int(qty) > _MAX_QTY:
            errors.append("qty over limit")
    if "price" in fields and not _PRICE.fullmatch(fields["price"]):
        errors.append(f"bad price: {fields['price']}")
    if "coupon" in fields and fields["coupon"] not in COUPONS:
        errors.append(f"unknown coupon: {fields['coupon']}")
    return errors


def order_total_cents(fields: dict[str, str]) -> int:
    """Total of a valid order: price x qty, minus the coupon, plus shipping under 100.00."""
    units, cents = fields["price"].split(".")
    total = (int(units) * 100 + int(cents)) * int(fields["qty"])
    if "coupon" in fields:
        total -= total * COUPONS[fields["coupon"]] // 100
    if total < _FREE_SHIPPING_CENTS:
        total += _SHIPPING_CENTS
    return total


def process_order(raw: str) -> dict[str, Any]:
    """Parse, validate and price an order string."""
    try:
        fields = parse_order(raw)
    except OrderError as exc:
        return {"ok": False, "errors": [str(exc)], "total_cents": None}
    errors = validate_order(fields)
    if errors:
        return {"ok": False, "errors": errors, "total_cents": None}
    return {"ok": True, "errors": [], "total_cents": order_total_cents(fields)}
'''

_ORDER_TESTS = (
    _legacy(_ORDER_LEGACY, ["process_order"]).replace("COUPONS", "_T_LEGACY_COUPONS")
    + r"""

_T_INPUTS = [
    "sku=ABC-12; qty=3; price=4.50; coupon=SAVE10",
    "sku=ABC-12;qty=3;price=4.50",
    "SKU = XYZ-9999 ; QTY = 1 ; PRICE = 100.00",
    "sku=XYZ-1;qty=20;price=5.00",
    "sku=XYZ-1;qty=20;price=4.99",
    "sku=XYZ-1;qty=999;price=0.01;coupon=HALF",
    "sku=XYZ-1;qty=1000;price=1.00",
    "sku=XYZ-1;qty=0;price=1.00",
    "sku=XYZ-1;qty=-2;price=1.00",
    "sku=xyz-1;qty=2;price=1",
    "sku=ABCD-1;qty=2;price=1.000",
    "qty=1",
    "",
    ";;;",
    "sku=ABC-1;qty=1;price=1.00;coupon=FREE",
    "sku=ABC-1;qty=1;sku=ABC-2;price=1.00",
    "sku=ABC-1;qty 1;price=1.00",
    "sku=ABC-1;qty=2;price=75.00;coupon=HALF;",
    "sku=ABC-1;qty=two;price=1.00;coupon=HALF",
    "sku=ABC-1; note=a=b; qty=1; price=2.00",
]


def test_process_order_unchanged():
    for raw in _T_INPUTS:
        assert process_order(raw) == _legacy_process_order(raw), raw


def test_parse_order():
    assert parse_order(" SKU=ABC-1 ; Qty = 2 ;; note=a=b ") == {
        "sku": "ABC-1",
        "qty": "2",
        "note": "a=b",
    }
    assert parse_order("") == {}


def test_parse_order_errors():
    assert issubclass(OrderError, ValueError)
    for raw, message in (
        ("sku=A;bogus", "malformed segment: 'bogus'"),
        ("qty=1;QTY=2", "duplicate field: qty"),
    ):
        try:
            parse_order(raw)
        except OrderError as exc:
            assert str(exc) == message
        else:
            raise AssertionError(f"{raw!r} should raise OrderError")


def test_validate_order():
    assert validate_order({"sku": "ABC-1", "qty": "2", "price": "3.00"}) == []
    assert validate_order({}) == [
        "missing field: sku",
        "missing field: qty",
        "missing field: price",
    ]
    assert validate_order({"sku": "AB-1", "qty": "1000", "price": "3", "coupon": "X"}) == [
        "bad sku: AB-1",
        "qty over limit",
        "bad price: 3",
        "unknown coupon: X",
    ]


def test_order_total_cents():
    assert order_total_cents({"sku": "ABC-1", "qty": "3", "price": "4.50"}) == 1849
    assert order_total_cents({"sku": "ABC-1", "qty": "20", "price": "5.00"}) == 10000
    half = {"sku": "ABC-1", "price": "50.00", "coupon": "HALF"}
    assert order_total_cents({**half, "qty": "4"}) == 10000
    assert order_total_cents({**half, "qty": "3"}) == 7999
    assert order_total_cents({"sku": "ABC-1", "qty": "1", "price": "99.99"}) == 10498


def test_coupons_unchanged():
    assert COUPONS == {"SAVE10": 10, "HALF": 50}
"""
)

TASKS: list[Task] = [
    make_task(
        category=_CAT,
        name="shipping_rate_table",
        difficulty=-0.8,
        entry_point="shipping_cost",
        instructions=_SHIP_PROMPT,
        code=_SHIP_LEGACY,
        reference=_SHIP_REF,
        tests=_SHIP_TESTS,
        tags=["replace-conditional", "dataclass", "data-driven"],
    ),
    make_task(
        category=_CAT,
        name="account_class",
        difficulty=-0.5,
        entry_point="Account",
        instructions=_ACCOUNT_PROMPT,
        code=_ACCOUNT_LEGACY,
        reference=_ACCOUNT_REF,
        tests=_ACCOUNT_TESTS,
        tags=["extract-class", "encapsulation"],
    ),
    make_task(
        category=_CAT,
        name="report_tables",
        difficulty=0.3,
        entry_point="format_table",
        instructions=_REPORT_PROMPT,
        code=_REPORT_LEGACY,
        reference=_REPORT_REF,
        tests=_REPORT_TESTS,
        tags=["remove-duplication", "formatting"],
    ),
    make_task(
        category=_CAT,
        name="pricing_rules",
        difficulty=-0.3,
        entry_point="final_price",
        instructions=_PRICING_PROMPT,
        code=_PRICING_LEGACY,
        reference=_PRICING_REF,
        tests=_PRICING_TESTS,
        tags=["replace-conditional", "polymorphism", "registry"],
    ),
    make_task(
        category=_CAT,
        name="order_pipeline",
        difficulty=0.3,
        entry_point="parse_order",
        instructions=_ORDER_PROMPT,
        code=_ORDER_LEGACY,
        reference=_ORDER_REF,
        tests=_ORDER_TESTS,
        tags=["split-function", "validation"],
    ),
]
