"""Builtin tasks, category ``long_files``: a long module with bugs to fix or a feature to add.

Each prompt holds a whole realistic module of 300+ lines; the answer must be the complete
module again. The code shown is derived from the reference (a bug re-introduced, or the new
feature cut out), so the two cannot drift apart. The hidden tests exercise the whole module,
not only the lines that change, so an answer that breaks something else fails too.
"""

from __future__ import annotations

from harness.tasks.builtin._common import derive, make_task
from harness.tasks.types import Task

__all__ = ["TASKS"]

_CAT = "long_files"


def _cut(source: str, start: str, end: str) -> str:
    """``source`` without the text from ``start`` up to (not including) ``end``.

    Raises:
        ValueError: A marker is missing or not unique, or ``end`` comes before ``start``.
    """
    for marker in (start, end):
        if source.count(marker) != 1:
            raise ValueError(f"_cut: marker {marker[:40]!r} must occur exactly once")
    i, j = source.index(start), source.index(end)
    if j < i:
        raise ValueError("_cut: end marker before start marker")
    return source[:i] + source[j:]


# --- inventory: FIFO costing and reorder level -----------------------------------------------

_INVENTORY_REF = r'''
"""Warehouse inventory: a product catalogue, FIFO-costed stock, movements and reports.

Quantities are whole units; money is ``Decimal`` rounded to cents (half up) wherever a value
leaves the module. Stock of a product is a list of cost layers, one per receipt, consumed
oldest first (FIFO) by issues, negative adjustments and transfers.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "InsufficientStock",
    "InventoryError",
    "Layer",
    "Movement",
    "Product",
    "UnknownProduct",
    "Warehouse",
    "load_catalogue",
    "money",
]

CENT = Decimal("0.01")
CATALOGUE_COLUMNS = ("sku", "name", "category", "unit", "reorder_level", "reorder_qty")
EXPORT_COLUMNS = ("sku", "name", "category", "on_hand", "value")


class InventoryError(Exception):
    """Base class of the errors this module raises on purpose."""


class UnknownProduct(InventoryError):
    """The SKU is not in the warehouse's catalogue."""


class InsufficientStock(InventoryError):
    """An issue or transfer asks for more units than are on hand."""


def money(value: Decimal | int | str) -> Decimal:
    """``value`` rounded to cents, half up."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Product:
    """A catalogue entry.

    Attributes:
        sku: Unique stock-keeping unit code.
        name: Human-readable name.
        category: Reporting category.
        unit: Unit of measure shown in reports.
        reorder_level: Reorder when on-hand stock is at or below this.
        reorder_qty: Order size; 0 disables automatic reordering.
    """

    sku: str
    name: str
    category: str
    unit: str = "pcs"
    reorder_level: int = 0
    reorder_qty: int = 0

    def __post_init__(self) -> None:
        if not self.sku.strip():
            raise ValueError("sku must not be empty")
        if self.reorder_level < 0 or self.reorder_qty < 0:
            raise ValueError("reorder settings must not be negative")


@dataclass
class Layer:
    """Units received together at one unit cost (a FIFO cost layer)."""

    qty: int
    unit_cost: Decimal
    day: int


@dataclass(frozen=True)
class Movement:
    """One stock movement; ``qty`` and ``value`` are negative for stock going out."""

    day: int
    sku: str
    kind: str
    qty: int
    value: Decimal
    note: str = ""


class Warehouse:
    """Stock of one site."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._products: dict[str, Product] = {}
        self._layers: dict[str, list[Layer]] = defaultdict(list)
        self._movements: list[Movement] = []

    # -- catalogue ------------------------------------------------------------------------

    def add_product(self, product: Product) -> None:
        """Add a product to the catalogue. Raises ValueError for a duplicate SKU."""
        if product.sku in self._products:
            raise ValueError(f"duplicate sku {product.sku}")
        self._products[product.sku] = product

    def product(self, sku: str) -> Product:
        """The catalogue entry of ``sku``. Raises UnknownProduct."""
        try:
            return self._products[sku]
        except KeyError:
            raise UnknownProduct(sku) from None

    def products(self) -> list[Product]:
        """All products, sorted by SKU."""
        return sorted(self._products.values(), key=lambda p: p.sku)

    # -- stock movements ------------------------------------------------------------------

    def receive(self, sku: str, qty: int, unit_cost: Decimal | str | int, day: int) -> None:
        """Book a receipt of ``qty`` units at ``unit_cost`` each as a new cost layer."""
        self.product(sku)
        if qty <= 0:
            raise ValueError("qty must be positive")
        cost = Decimal(unit_cost)
        if cost < 0:
            raise ValueError("unit cost must not be negative")
        self._layers[sku].append(Layer(qty, cost, day))
        self._movements.append(Movement(day, sku, "receive", qty, money(cost * qty)))

    def on_hand(self, sku: str) -> int:
        """Units in stock."""
        self.product(sku)
        return sum(layer.qty for layer in self._layers[sku])

    def _consume(self, sku: str, qty: int) -> Decimal:
        """Remove ``qty`` units, oldest layers first; returns their unrounded cost."""
        available = self.on_hand(sku)
        if qty > available:
            raise InsufficientStock(f"{sku}: want {qty}, have {available}")
        layers = self._layers[sku]
        remaining = qty
        cost = Decimal(0)
        while remaining:
            layer = layers[0]
            take = min(layer.qty, remaining)
            cost += take * layer.unit_cost
            layer.qty -= take
            remaining -= take
            if layer.qty == 0:
                layers.pop(0)
        return cost

    def issue(self, sku: str, qty: int, day: int, note: str = "") -> Decimal:
        """Take ``qty`` units out of stock (FIFO); returns the cost of goods issued."""
        self.product(sku)
        if qty <= 0:
            raise ValueError("qty must be positive")
        cost = money(self._consume(sku, qty))
        self._movements.append(Movement(day, sku, "issue", -qty, -cost, note))
        return cost

    def adjust(self, sku: str, delta: int, day: int, reason: str) -> None:
        """Stock-take correction.

        A positive ``delta`` adds a layer at the unit cost of the newest layer (zero if there
        is no stock); a negative one removes units FIFO like an issue. ``reason`` is required.
        """
        self.product(sku)
        if not reason.strip():
            raise ValueError("an adjustment needs a reason")
        if delta == 0:
            return
        if delta > 0:
            layers = self._layers[sku]
            cost = layers[-1].unit_cost if layers else Decimal(0)
            layers.append(Layer(delta, cost, day))
            value = money(cost * delta)
        else:
            value = -money(self._consume(sku, -delta))
        self._movements.append(Movement(day, sku, "adjust", delta, value, reason))

    def transfer(self, other: Warehouse, sku: str, qty: int, day: int) -> Decimal:
        """Move ``qty`` units to ``other`` at their FIFO cost; returns the value moved.

        The receiving warehouse must know the product; it gets one layer at the average
        unit cost of the units moved.
        """
        self.product(sku)
        other.product(sku)
        if other is self:
            raise ValueError("cannot transfer to the same warehouse")
        if qty <= 0:
            raise ValueError("qty must be positive")
        raw = self._consume(sku, qty)
        value = money(raw)
        self._movements.append(Movement(day, sku, "transfer_out", -qty, -value, other.name))
        other._layers[sku].append(Layer(qty, raw / qty, day))
        other._movements.append(Movement(day, sku, "transfer_in", qty, value, self.name))
        return value

    def movements(
        self, sku: str | None = None, start_day: int | None = None, end_day: int | None = None
    ) -> list[Movement]:
        """Movements in booking order, optionally for one SKU and an inclusive day range."""
        out = []
        for movement in self._movements:
            if sku is not None and movement.sku != sku:
                continue
            if start_day is not None and movement.day < start_day:
                continue
            if end_day is not None and movement.day > end_day:
                continue
            out.append(movement)
        return out

    # -- valuation ------------------------------------------------------------------------

    def valuation(self, sku: str) -> Decimal:
        """Value of the stock of ``sku`` at cost."""
        self.product(sku)
        return money(sum((layer.qty * layer.unit_cost for layer in self._layers[sku]), Decimal(0)))

    def total_valuation(self) -> Decimal:
        """Value of all stock at cost."""
        return money(sum((self.valuation(p.sku) for p in self.products()), Decimal(0)))

    def average_cost(self, sku: str) -> Decimal | None:
        """Average unit cost of the stock on hand, or None without stock."""
        qty = self.on_hand(sku)
        if qty == 0:
            return None
        raw = sum((layer.qty * layer.unit_cost for layer in self._layers[sku]), Decimal(0))
        return money(raw / qty)

    # -- replenishment --------------------------------------------------------------------

    def needs_reorder(self) -> list[str]:
        """SKUs (sorted) with reordering enabled whose stock is at or below the reorder level."""
        return [
            p.sku
            for p in self.products()
            if p.reorder_qty > 0 and self.on_hand(p.sku) <= p.reorder_level
        ]

    def reorder_suggestions(self) -> dict[str, int]:
        """Order quantity per SKU that needs reordering.

        The quantity is the smallest multiple of ``reorder_qty`` that lifts the stock above
        the reorder level.
        """
        suggestions: dict[str, int] = {}
        for sku in self.needs_reorder():
            product = self.product(sku)
            on_hand = self.on_hand(sku)
            qty = product.reorder_qty
            while on_hand + qty <= product.reorder_level:
                qty += product.reorder_qty
            suggestions[sku] = qty
        return suggestions

    def issued_between(self, sku: str, start_day: int, end_day: int) -> int:
        """Units issued (issues only, not adjustments or transfers) in the inclusive range."""
        return -sum(m.qty for m in self.movements(sku, start_day, end_day) if m.kind == "issue")

    def days_of_cover(self, sku: str, today: int, window: int = 30) -> float | None:
        """How many days the stock lasts at the average daily issue rate.

        The rate is measured over the ``window`` days ending with ``today`` (inclusive);
        None when nothing was issued in the window. Rounded to one decimal.
        """
        if window < 1:
            raise ValueError("window must be at least 1 day")
        issued = self.issued_between(sku, today - window + 1, today)
        if issued == 0:
            return None
        return round(self.on_hand(sku) / (issued / window), 1)

    # -- reports --------------------------------------------------------------------------

    def category_report(self) -> dict[str, dict[str, object]]:
        """Per category (sorted): product count, units on hand and value at cost."""
        counts: dict[str, int] = defaultdict(int)
        units: dict[str, int] = defaultdict(int)
        values: dict[str, Decimal] = defaultdict(Decimal)
        for product in self.products():
            counts[product.category] += 1
            units[product.category] += self.on_hand(product.sku)
            values[product.category] += self.valuation(product.sku)
        return {
            category: {
                "products": counts[category],
                "units": units[category],
                "value": money(values[category]),
            }
            for category in sorted(counts)
        }

    def export_csv(self) -> str:
        """Stock snapshot as CSV with a header line, one row per product sorted by SKU."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for product in self.products():
            writer.writerow(
                [
                    product.sku,
                    product.name,
                    product.category,
                    self.on_hand(product.sku),
                    str(self.valuation(product.sku)),
                ]
            )
        return buffer.getvalue()


def load_catalogue(text: str) -> list[Product]:
    """Products from CSV text whose header holds :data:`CATALOGUE_COLUMNS`.

    Empty ``unit`` means ``"pcs"``; empty reorder fields mean 0. Errors name the CSV line.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = set(CATALOGUE_COLUMNS) - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"missing columns: {', '.join(sorted(missing))}")
    products: list[Product] = []
    seen: set[str] = set()
    for line_no, row in enumerate(reader, start=2):
        try:
            product = Product(
                sku=row["sku"].strip(),
                name=row["name"].strip(),
                category=row["category"].strip(),
                unit=row["unit"].strip() or "pcs",
                reorder_level=int(row["reorder_level"].strip() or 0),
                reorder_qty=int(row["reorder_qty"].strip() or 0),
            )
        except ValueError as exc:
            raise ValueError(f"line {line_no}: {exc}") from exc
        if product.sku in seen:
            raise ValueError(f"line {line_no}: duplicate sku {product.sku}")
        seen.add(product.sku)
        products.append(product)
    return products


def build_warehouse(name: str, catalogue_csv: str) -> Warehouse:
    """A warehouse whose catalogue is loaded from CSV text."""
    warehouse = Warehouse(name)
    for product in load_catalogue(catalogue_csv):
        warehouse.add_product(product)
    return warehouse
'''

_INVENTORY_SHOWN = derive(
    _INVENTORY_REF,
    [
        ("            layer = layers[0]\n", "            layer = layers[-1]\n"),
        ("                layers.pop(0)\n", "                layers.pop()\n"),
        (
            "if p.reorder_qty > 0 and self.on_hand(p.sku) <= p.reorder_level",
            "if p.reorder_qty > 0 and self.on_hand(p.sku) < p.reorder_level",
        ),
    ],
)

_INVENTORY_PROMPT = """
Below is `inventory.py`, the warehouse module of our stock system. Two bugs have been
reported:

1. Finance: the cost of goods returned by `Warehouse.issue`, and the value of the stock left
   afterwards, are wrong whenever a product was received at different unit costs. The module
   promises FIFO costing (the oldest receipts are consumed first), but the figures look as if
   the newest receipts were used up first. Negative adjustments and transfers are affected
   too.
2. Purchasing: a product whose stock has fallen to exactly its reorder level is missing from
   `needs_reorder()` and `reorder_suggestions()`; it only shows up once the stock is below
   the level.

Fix both bugs and change nothing else: all other classes, functions, names, behaviour and
messages must stay exactly as they are. The answer must be the complete corrected module.
"""

_INVENTORY_TESTS = r"""
from decimal import Decimal as _TD


def _t_wh():
    wh = Warehouse("main")
    wh.add_product(Product("A1", "Bolt", "hardware", "pcs", reorder_level=10, reorder_qty=50))
    wh.add_product(Product("B2", "Glue", "chemicals", "ml", reorder_level=0, reorder_qty=0))
    wh.add_product(Product("C3", "Nut", "hardware", reorder_level=5, reorder_qty=20))
    return wh


def _t_raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type:
        return True
    return False


def test_money_rounding():
    assert money("2.675") == _TD("2.68")
    assert money(_TD("-1.005")) == _TD("-1.01")
    assert money(3) == _TD("3.00")


def test_fifo_issue_cost():
    wh = _t_wh()
    wh.receive("A1", 10, "1.00", day=1)
    wh.receive("A1", 10, "2.00", day=2)
    assert wh.issue("A1", 15, day=3) == _TD("20.00")
    assert wh.on_hand("A1") == 5
    assert wh.valuation("A1") == _TD("10.00")
    assert wh.issue("A1", 5, day=4) == _TD("10.00")
    assert wh.on_hand("A1") == 0
    assert wh.average_cost("A1") is None


def test_fifo_across_many_layers():
    wh = _t_wh()
    for day, (qty, cost) in enumerate([(3, "1.10"), (4, "1.20"), (5, "1.30")], start=1):
        wh.receive("C3", qty, cost, day)
    assert wh.issue("C3", 2, day=5) == _TD("2.20")
    assert wh.issue("C3", 3, day=6) == _TD("3.50")
    assert wh.valuation("C3") == _TD("8.90")
    assert wh.average_cost("C3") == _TD("1.27")
    moves = wh.movements("C3")
    assert [(m.kind, m.qty, m.value) for m in moves[-2:]] == [
        ("issue", -2, _TD("-2.20")),
        ("issue", -3, _TD("-3.50")),
    ]


def test_reorder_at_level():
    wh = _t_wh()
    wh.receive("A1", 10, "1.00", 1)
    wh.receive("C3", 6, "1.00", 1)
    assert wh.needs_reorder() == ["A1"]
    wh.issue("C3", 1, 2)
    assert wh.needs_reorder() == ["A1", "C3"]
    assert wh.reorder_suggestions() == {"A1": 50, "C3": 20}
    wh.receive("A1", 1, "1.00", 3)
    assert wh.needs_reorder() == ["C3"]


def test_reorder_suggestion_multiples_and_disabled():
    wh = Warehouse("w")
    wh.add_product(Product("X", "x", "c", reorder_level=45, reorder_qty=20))
    wh.add_product(Product("Y", "y", "c", reorder_level=3, reorder_qty=0))
    wh.receive("X", 5, "1", 1)
    assert wh.needs_reorder() == ["X"]
    assert wh.reorder_suggestions() == {"X": 60}


def test_adjustments():
    wh = _t_wh()
    wh.adjust("B2", 4, 1, "found in stock-take")
    assert wh.valuation("B2") == _TD("0.00")
    wh.receive("B2", 10, "0.50", 2)
    wh.adjust("B2", 2, 3, "recount")
    assert wh.on_hand("B2") == 16
    wh.adjust("B2", -5, 4, "damaged")
    assert wh.on_hand("B2") == 11
    wh.adjust("B2", 0, 5, "nothing")
    moves = wh.movements("B2")
    assert [m.kind for m in moves] == ["adjust", "receive", "adjust", "adjust"]
    assert (moves[-1].qty, moves[-1].value, moves[-1].note) == (-5, _TD("-0.50"), "damaged")
    assert moves[2].value == _TD("1.00")
    assert wh.valuation("B2") == _TD("5.50")
    assert _t_raises(ValueError, wh.adjust, "B2", 1, 6, "  ")
    assert _t_raises(InsufficientStock, wh.adjust, "B2", -12, 6, "too many")


def test_errors():
    wh = _t_wh()
    assert issubclass(InsufficientStock, InventoryError)
    assert issubclass(UnknownProduct, InventoryError)
    assert _t_raises(UnknownProduct, wh.receive, "ZZ", 1, "1", 1)
    assert _t_raises(UnknownProduct, wh.on_hand, "ZZ")
    wh.receive("A1", 2, "1", 1)
    assert _t_raises(InsufficientStock, wh.issue, "A1", 3, 2)
    assert wh.on_hand("A1") == 2 and wh.valuation("A1") == _TD("2.00")
    assert _t_raises(ValueError, wh.receive, "A1", 0, "1", 1)
    assert _t_raises(ValueError, wh.receive, "A1", 1, "-0.01", 1)
    assert _t_raises(ValueError, wh.issue, "A1", 0, 1)
    assert _t_raises(ValueError, wh.add_product, Product("A1", "dup", "x"))
    assert Product("S", "n", "c") == Product("S", "n", "c", "pcs", 0, 0)
    assert _t_raises(AttributeError, setattr, Product("S", "n", "c"), "name", "m")
    assert _t_raises(ValueError, Product, " ", "n", "c")
    assert _t_raises(ValueError, Product, "S", "n", "c", reorder_level=-1)
    assert wh.issue("A1", 2, 3) == _TD("2.00")


def test_transfer():
    a = _t_wh()
    b = Warehouse("branch")
    b.add_product(a.product("A1"))
    a.receive("A1", 3, "1.00", 1)
    a.receive("A1", 3, "2.00", 2)
    assert a.transfer(b, "A1", 4, 5) == _TD("5.00")
    assert (a.on_hand("A1"), a.valuation("A1")) == (2, _TD("4.00"))
    assert (b.on_hand("A1"), b.valuation("A1"), b.average_cost("A1")) == (
        4,
        _TD("5.00"),
        _TD("1.25"),
    )
    out, = a.movements("A1", start_day=5)
    into, = b.movements("A1")
    assert (out.kind, out.qty, out.value, out.note) == ("transfer_out", -4, _TD("-5.00"), "branch")
    assert (into.kind, into.qty, into.value, into.note) == ("transfer_in", 4, _TD("5.00"), "main")
    assert _t_raises(UnknownProduct, a.transfer, b, "C3", 1, 6)
    assert _t_raises(ValueError, a.transfer, a, "A1", 1, 6)
    assert _t_raises(InsufficientStock, a.transfer, b, "A1", 3, 6)


def test_movements_and_days_of_cover():
    wh = _t_wh()
    wh.receive("A1", 100, "1", 1)
    for day in range(1, 11):
        wh.issue("A1", day, day)
    wh.adjust("A1", -3, 5, "lost")
    assert wh.issued_between("A1", 3, 5) == 12
    assert wh.issued_between("A1", 1, 10) == 55
    assert len(wh.movements("A1", 3, 5)) == 4
    assert [m.day for m in wh.movements(start_day=10)] == [10]
    assert [m.day for m in wh.movements(end_day=1)] == [1, 1]
    assert wh.movements("C3") == []
    assert wh.on_hand("A1") == 42
    assert wh.days_of_cover("A1", today=10, window=10) == 7.6
    assert wh.days_of_cover("A1", today=10, window=4) == 4.9
    assert wh.days_of_cover("A1", today=40, window=10) is None
    assert _t_raises(ValueError, wh.days_of_cover, "A1", 10, 0)


def test_reports():
    wh = _t_wh()
    wh.receive("A1", 10, "0.25", 1)
    wh.receive("C3", 4, "0.10", 1)
    wh.receive("B2", 3, "1.005", 1)
    report = wh.category_report()
    assert list(report) == ["chemicals", "hardware"]
    assert report["chemicals"] == {"products": 1, "units": 3, "value": _TD("3.02")}
    assert report["hardware"] == {"products": 2, "units": 14, "value": _TD("2.90")}
    assert wh.total_valuation() == _TD("5.92")
    assert wh.export_csv() == (
        "sku,name,category,on_hand,value\n"
        "A1,Bolt,hardware,10,2.50\n"
        "B2,Glue,chemicals,3,3.02\n"
        "C3,Nut,hardware,4,0.40\n"
    )
    wh.add_product(Product("D4", "Nail, small", "hardware"))
    assert wh.export_csv().endswith('D4,"Nail, small",hardware,0,0.00\n')


def test_load_catalogue_and_build():
    header = "sku,name,category,unit,reorder_level,reorder_qty\n"
    text = header + 'P1, Pipe ,plumbing,,3,\nP2,"Tap, chrome",plumbing,pcs,,10\n'
    products = load_catalogue(text)
    assert products == [
        Product("P1", "Pipe", "plumbing", "pcs", 3, 0),
        Product("P2", "Tap, chrome", "plumbing", "pcs", 0, 10),
    ]
    wh = build_warehouse("w", text)
    assert [p.sku for p in wh.products()] == ["P1", "P2"]
    assert wh.on_hand("P2") == 0
    try:
        load_catalogue("sku,name,category,reorder_level\nA,b,c,1\n")
    except ValueError as exc:
        assert str(exc) == "missing columns: reorder_qty, unit"
    else:
        raise AssertionError("missing columns accepted")
    for bad in (header + "A,a,c,,1,1\nB,b,c,,x,1\n", header + "A,a,c,,1,1\nA,b,c,,1,1\n"):
        try:
            load_catalogue(bad)
        except ValueError as exc:
            assert str(exc).startswith("line 3:"), str(exc)
        else:
            raise AssertionError("bad catalogue accepted")
"""

# --- billing: tax after discount and overdue day ---------------------------------------------

_BILLING_REF = r'''
"""Invoicing: customers, invoice lines with discounts and VAT, payments, dunning and aging.

Days are integers (days since an epoch the caller chooses). Money is ``Decimal``; every
amount a function returns is rounded to cents, half up. Line amounts are rounded per line
and invoice totals are sums of rounded line amounts, as the tax office requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "TAX_RATES",
    "BillingError",
    "Customer",
    "Invoice",
    "Ledger",
    "LineItem",
    "Payment",
    "money",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

#: VAT rate per tax code.
TAX_RATES: dict[str, Decimal] = {
    "standard": Decimal("0.20"),
    "reduced": Decimal("0.05"),
    "zero": Decimal("0"),
}

#: Late fee per started period of LATE_FEE_PERIOD_DAYS overdue, as a share of the balance.
LATE_FEE_RATE = Decimal("0.015")
LATE_FEE_PERIOD_DAYS = 30

#: Aging buckets: (label, first day overdue, last day overdue or None for open-ended).
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("current", 0, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


class BillingError(Exception):
    """An operation that the invoice's state or the amounts do not allow."""


def money(value: Decimal | int | str) -> Decimal:
    """``value`` rounded to cents, half up."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Customer:
    """Who an invoice is addressed to."""

    id: str
    name: str
    country: str
    tax_exempt: bool = False
    payment_terms_days: int = 30

    def __post_init__(self) -> None:
        if self.payment_terms_days < 0:
            raise ValueError("payment terms must not be negative")


@dataclass(frozen=True)
class LineItem:
    """One invoice line. ``discount_pct`` is a percentage of the line's gross amount."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_code: str = "standard"
    discount_pct: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if Decimal(self.quantity) <= 0:
            raise ValueError("quantity must be positive")
        if Decimal(self.unit_price) < 0:
            raise ValueError("unit price must not be negative")
        if not 0 <= Decimal(self.discount_pct) <= 100:
            raise ValueError("discount must be between 0 and 100 percent")
        if self.tax_code not in TAX_RATES:
            raise ValueError(f"unknown tax code {self.tax_code!r}")

    def gross(self) -> Decimal:
        """Quantity times unit price."""
        return money(Decimal(self.quantity) * Decimal(self.unit_price))

    def discount(self) -> Decimal:
        """The discount granted on this line."""
        return money(self.gross() * Decimal(self.discount_pct) / 100)

    def net(self) -> Decimal:
        """Gross minus discount: the taxable amount."""
        return self.gross() - self.discount()

    def tax(self, exempt: bool = False) -> Decimal:
        """VAT on the line's net amount (nothing for tax-exempt customers)."""
        if exempt:
            return ZERO
        return money(self.net() * TAX_RATES[self.tax_code])


@dataclass(frozen=True)
class Payment:
    """Money received against an invoice."""

    amount: Decimal
    day: int
    reference: str = ""


@dataclass
class Invoice:
    """An invoice: ``draft`` until issued, then ``issued``; ``void`` cancels it."""

    number: str
    customer: Customer
    created_day: int
    lines: list[LineItem] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    status: str = "draft"
    issue_day: int | None = None

    # -- editing --------------------------------------------------------------------------

    def _require(self, *states: str) -> None:
        if self.status not in states:
            raise BillingError(f"invoice {self.number} is {self.status}")

    def add_line(self, line: LineItem) -> None:
        """Append a line (drafts only)."""
        self._require("draft")
        self.lines.append(line)

    def remove_line(self, index: int) -> LineItem:
        """Remove and return the line at ``index`` (drafts only)."""
        self._require("draft")
        if not 0 <= index < len(self.lines):
            raise IndexError(f"no line {index}")
        return self.lines.pop(index)

    # -- amounts --------------------------------------------------------------------------

    def subtotal(self) -> Decimal:
        """Sum of the lines' net amounts."""
        return sum((line.net() for line in self.lines), ZERO)

    def discount_total(self) -> Decimal:
        """Sum of the lines' discounts."""
        return sum((line.discount() for line in self.lines), ZERO)

    def tax_breakdown(self) -> dict[str, Decimal]:
        """VAT per tax code used on the invoice, in TAX_RATES order."""
        exempt = self.customer.tax_exempt
        breakdown: dict[str, Decimal] = {}
        for code in TAX_RATES:
            lines = [line for line in self.lines if line.tax_code == code]
            if lines:
                breakdown[code] = sum((line.tax(exempt) for line in lines), ZERO)
        return breakdown

    def tax_total(self) -> Decimal:
        """All VAT on the invoice."""
        return sum(self.tax_breakdown().values(), ZERO)

    def total(self) -> Decimal:
        """Subtotal plus VAT."""
        return self.subtotal() + self.tax_total()

    # -- life cycle -----------------------------------------------------------------------

    def issue(self, day: int) -> None:
        """Issue the invoice on ``day``; it needs at least one line."""
        self._require("draft")
        if not self.lines:
            raise BillingError("cannot issue an empty invoice")
        if day < self.created_day:
            raise BillingError("cannot issue before the invoice was created")
        self.status = "issued"
        self.issue_day = day

    def void(self) -> None:
        """Cancel a draft, or an issued invoice that has no payments."""
        self._require("draft", "issued")
        if self.payments:
            raise BillingError("cannot void an invoice with payments")
        self.status = "void"

    @property
    def due_day(self) -> int | None:
        """Issue day plus the customer's payment terms (None until issued)."""
        if self.issue_day is None:
            return None
        return self.issue_day + self.customer.payment_terms_days

    # -- payments -------------------------------------------------------------------------

    def amount_paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO)

    def balance_due(self) -> Decimal:
        """What the customer still owes (zero for drafts and void invoices)."""
        if self.status != "issued":
            return ZERO
        return self.total() - self.amount_paid()

    def record_payment(self, amount: Decimal | str, day: int, reference: str = "") -> None:
        """Book a payment; it must be positive and not exceed the balance due."""
        self._require("issued")
        value = money(amount)
        if value <= 0:
            raise BillingError("payment must be positive")
        if value > self.balance_due():
            raise BillingError(f"payment {value} exceeds balance {self.balance_due()}")
        self.payments.append(Payment(value, day, reference))

    def is_paid(self) -> bool:
        return self.status == "issued" and self.balance_due() == 0

    # -- dunning --------------------------------------------------------------------------

    def is_overdue(self, today: int) -> bool:
        """Issued, not fully paid, and ``today`` is after the due day."""
        if self.status != "issued" or self.is_paid():
            return False
        assert self.due_day is not None
        return today > self.due_day

    def days_overdue(self, today: int) -> int:
        """Days past the due day (0 when not overdue)."""
        if not self.is_overdue(today):
            return 0
        assert self.due_day is not None
        return today - self.due_day

    def late_fee(self, today: int) -> Decimal:
        """LATE_FEE_RATE of the balance for every started overdue period."""
        days = self.days_overdue(today)
        if days == 0:
            return ZERO
        periods = -(-days // LATE_FEE_PERIOD_DAYS)
        return money(self.balance_due() * LATE_FEE_RATE * periods)

    # -- output ---------------------------------------------------------------------------

    def render(self) -> str:
        """Plain-text rendering for e-mails."""
        head = f"Invoice {self.number} for {self.customer.name} ({self.status})"
        out = [head, "=" * len(head)]
        for line in self.lines:
            out.append(
                f"{line.description:<30} {Decimal(line.quantity):>6} x {money(line.unit_price):>9}"
                f" {line.net():>10} [{line.tax_code}]"
            )
        out.append(f"{'Subtotal':<30} {self.subtotal():>29}")
        for code, amount in self.tax_breakdown().items():
            out.append(f"{'VAT ' + code:<30} {amount:>29}")
        out.append(f"{'Total':<30} {self.total():>29}")
        if self.payments:
            out.append(f"{'Paid':<30} {self.amount_paid():>29}")
            out.append(f"{'Balance due':<30} {self.balance_due():>29}")
        return "\n".join(out)


class Ledger:
    """All invoices of a business, numbered INV-0001, INV-0002, ..."""

    def __init__(self, prefix: str = "INV") -> None:
        self.prefix = prefix
        self._invoices: dict[str, Invoice] = {}
        self._next = 1

    def create_invoice(self, customer: Customer, day: int) -> Invoice:
        number = f"{self.prefix}-{self._next:04d}"
        self._next += 1
        invoice = Invoice(number, customer, day)
        self._invoices[number] = invoice
        return invoice

    def get(self, number: str) -> Invoice:
        try:
            return self._invoices[number]
        except KeyError:
            raise BillingError(f"no invoice {number}") from None

    def invoices(self, customer_id: str | None = None) -> list[Invoice]:
        """Invoices in number order, optionally for one customer."""
        return [
            inv
            for inv in self._invoices.values()
            if customer_id is None or inv.customer.id == customer_id
        ]

    def outstanding(self) -> list[Invoice]:
        """Issued invoices with a balance, by due day then number."""
        open_items = [inv for inv in self._invoices.values() if inv.balance_due() > 0]
        return sorted(open_items, key=lambda inv: (inv.due_day, inv.number))

    def customer_balance(self, customer_id: str) -> Decimal:
        return sum((inv.balance_due() for inv in self.invoices(customer_id)), ZERO)

    def aging_report(self, today: int) -> dict[str, Decimal]:
        """Outstanding balances per aging bucket (every bucket present)."""
        report = {label: ZERO for label, _, _ in AGING_BUCKETS}
        for invoice in self.outstanding():
            days = invoice.days_overdue(today)
            for label, low, high in AGING_BUCKETS:
                if days >= low and (high is None or days <= high):
                    report[label] += invoice.balance_due()
                    break
        return report

    def dunning_list(self, today: int) -> list[tuple[str, int, Decimal]]:
        """(number, days overdue, late fee) of overdue invoices, most overdue first."""
        rows = [
            (inv.number, inv.days_overdue(today), inv.late_fee(today))
            for inv in self.outstanding()
            if inv.is_overdue(today)
        ]
        return sorted(rows, key=lambda row: (-row[1], row[0]))

    def revenue(self, start_day: int, end_day: int) -> Decimal:
        """Net revenue (subtotals) of invoices issued in the inclusive day range."""
        return sum(
            (
                inv.subtotal()
                for inv in self._invoices.values()
                if inv.status == "issued"
                and inv.issue_day is not None
                and start_day <= inv.issue_day <= end_day
            ),
            ZERO,
        )
'''

_BILLING_SHOWN = derive(
    _BILLING_REF,
    [
        (
            "return money(self.net() * TAX_RATES[self.tax_code])",
            "return money(self.gross() * TAX_RATES[self.tax_code])",
        ),
        ("        return today > self.due_day\n", "        return today >= self.due_day\n"),
    ],
)

_BILLING_PROMPT = """
Below is `billing.py`, the invoicing module of our accounting service. Two bugs have been
reported:

1. Customers complain that the VAT on discounted lines is too high: a line of 3 x 19.99 with
   a 10 % discount is charged 11.99 VAT instead of 10.79. A discount is meant to reduce the
   taxable amount of its line.
2. An invoice counts as overdue, and is charged a late fee, on its due day itself. It should
   become overdue only from the day after the due day; the aging report and the dunning list
   are off by the same day.

Fix both bugs and change nothing else: all other classes, functions, names, behaviour and
messages must stay exactly as they are. The answer must be the complete corrected module.
"""

_BILLING_TESTS = r"""
from decimal import Decimal as _TD


def _t_customer(**overrides):
    fields = {"id": "c1", "name": "Acme", "country": "DE"}
    fields.update(overrides)
    return Customer(**fields)


def _t_raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type:
        return True
    return False


def _t_issued(ledger, customer, day, *lines):
    inv = ledger.create_invoice(customer, day)
    for line in lines:
        inv.add_line(line)
    inv.issue(day)
    return inv


def test_line_amounts_discount_before_tax():
    line = LineItem("Widget", _TD(3), _TD("19.99"), "standard", _TD(10))
    assert line.gross() == _TD("59.97")
    assert line.discount() == _TD("6.00")
    assert line.net() == _TD("53.97")
    assert line.tax() == _TD("10.79")
    assert line.tax(exempt=True) == _TD("0.00")
    half = LineItem("Service", _TD("1.5"), _TD("80"), "reduced", _TD(50))
    assert (half.gross(), half.net(), half.tax()) == (_TD("120.00"), _TD("60.00"), _TD("3.00"))


def test_line_validation():
    assert _t_raises(ValueError, LineItem, "x", _TD(0), _TD(1))
    assert _t_raises(ValueError, LineItem, "x", _TD(1), _TD("-0.01"))
    assert _t_raises(ValueError, LineItem, "x", _TD(1), _TD(1), "luxury")
    assert _t_raises(ValueError, LineItem, "x", _TD(1), _TD(1), "standard", _TD(101))
    assert _t_raises(ValueError, LineItem, "x", _TD(1), _TD(1), "standard", _TD(-1))
    assert LineItem("x", _TD(1), _TD(0), "zero", _TD(100)).net() == _TD("0.00")
    assert _t_raises(ValueError, Customer, "c", "n", "FR", False, -1)
    assert _t_customer().payment_terms_days == 30
    assert _t_raises(AttributeError, setattr, _t_customer(), "name", "x")


def test_invoice_totals():
    ledger = Ledger()
    inv = ledger.create_invoice(_t_customer(), 10)
    inv.add_line(LineItem("Widget", _TD(3), _TD("19.99"), "standard", _TD(10)))
    inv.add_line(LineItem("Book", _TD(2), _TD("12.50"), "reduced"))
    inv.add_line(LineItem("Export", _TD(1), _TD("5.00"), "zero"))
    inv.add_line(LineItem("Gadget", _TD(1), _TD("0.99"), "standard", _TD(5)))
    assert inv.subtotal() == _TD("84.91")
    assert inv.discount_total() == _TD("6.05")
    assert inv.tax_breakdown() == {
        "standard": _TD("10.98"),
        "reduced": _TD("1.25"),
        "zero": _TD("0.00"),
    }
    assert list(inv.tax_breakdown()) == ["standard", "reduced", "zero"]
    assert inv.tax_total() == _TD("12.23")
    assert inv.total() == _TD("97.14")


def test_tax_exempt_customer():
    inv = Ledger().create_invoice(_t_customer(tax_exempt=True), 1)
    inv.add_line(LineItem("Widget", _TD(2), _TD("10.00"), "standard", _TD(25)))
    assert inv.tax_breakdown() == {"standard": _TD("0.00")}
    assert inv.total() == _TD("15.00")


def test_life_cycle_rules():
    ledger = Ledger()
    inv = ledger.create_invoice(_t_customer(), 5)
    assert inv.status == "draft" and inv.due_day is None
    assert _t_raises(BillingError, inv.issue, 5)
    inv.add_line(LineItem("a", _TD(1), _TD("1.00")))
    inv.add_line(LineItem("b", _TD(1), _TD("2.00")))
    assert _t_raises(IndexError, inv.remove_line, 2)
    assert _t_raises(IndexError, inv.remove_line, -1)
    assert inv.remove_line(0).description == "a"
    assert _t_raises(BillingError, inv.record_payment, "1.00", 5)
    assert _t_raises(BillingError, inv.issue, 4)
    inv.issue(7)
    assert (inv.status, inv.issue_day, inv.due_day) == ("issued", 7, 37)
    assert _t_raises(BillingError, inv.add_line, LineItem("c", _TD(1), _TD(1)))
    assert _t_raises(BillingError, inv.issue, 8)
    inv.record_payment("1.00", 9)
    assert _t_raises(BillingError, inv.void)
    other = ledger.create_invoice(_t_customer(), 5)
    other.void()
    assert other.status == "void" and other.balance_due() == _TD("0.00")
    assert _t_raises(BillingError, other.void)


def test_payments():
    inv = _t_issued(Ledger(), _t_customer(), 0, LineItem("a", _TD(1), _TD("100.00")))
    assert inv.balance_due() == _TD("120.00")
    assert _t_raises(BillingError, inv.record_payment, "0", 1)
    assert _t_raises(BillingError, inv.record_payment, "-5", 1)
    assert _t_raises(BillingError, inv.record_payment, "120.01", 1)
    inv.record_payment("20.004", 1, "wire 1")
    assert inv.payments[0] == Payment(_TD("20.00"), 1, "wire 1")
    assert inv.balance_due() == _TD("100.00")
    assert not inv.is_paid()
    inv.record_payment("100.00", 2)
    assert inv.is_paid() and inv.balance_due() == _TD("0.00")
    assert inv.amount_paid() == _TD("120.00")


def test_overdue_starts_after_due_day():
    inv = _t_issued(
        Ledger(), _t_customer(payment_terms_days=14), 100, LineItem("a", _TD(1), _TD("50.00"))
    )
    assert inv.due_day == 114
    assert not inv.is_overdue(114)
    assert inv.days_overdue(114) == 0
    assert inv.late_fee(114) == _TD("0.00")
    assert inv.is_overdue(115)
    assert inv.days_overdue(115) == 1
    assert inv.late_fee(115) == _TD("0.90")
    assert inv.late_fee(144) == _TD("0.90")
    assert inv.late_fee(145) == _TD("1.80")
    inv.record_payment("60.00", 150)
    assert not inv.is_overdue(200) and inv.late_fee(200) == _TD("0.00")


def test_ledger_numbering_and_lookup():
    ledger = Ledger()
    first = ledger.create_invoice(_t_customer(), 1)
    second = ledger.create_invoice(_t_customer(id="c2"), 1)
    assert (first.number, second.number) == ("INV-0001", "INV-0002")
    assert ledger.get("INV-0002") is second
    assert _t_raises(BillingError, ledger.get, "INV-0003")
    assert [i.number for i in ledger.invoices("c2")] == ["INV-0002"]
    assert Ledger(prefix="CR").create_invoice(_t_customer(), 1).number == "CR-0001"


def test_aging_dunning_and_balances():
    ledger = Ledger()
    line = LineItem("a", _TD(1), _TD("10.00"))
    cust = _t_customer(payment_terms_days=0)
    a = _t_issued(ledger, cust, 100, line)
    b = _t_issued(ledger, cust, 99, line)
    c = _t_issued(ledger, cust, 70, line)
    d = _t_issued(ledger, cust, 69, line)
    e = _t_issued(ledger, _t_customer(id="c9", payment_terms_days=0), 9, line)
    paid = _t_issued(ledger, cust, 1, line)
    paid.record_payment("12.00", 2)
    ledger.create_invoice(cust, 1).add_line(line)
    expected_order = [e.number, d.number, c.number, b.number, a.number]
    assert [i.number for i in ledger.outstanding()] == expected_order
    assert ledger.aging_report(100) == {
        "current": _TD("12.00"),
        "1-30": _TD("24.00"),
        "31-60": _TD("12.00"),
        "61-90": _TD("0.00"),
        "90+": _TD("12.00"),
    }
    assert ledger.dunning_list(100) == [
        (e.number, 91, _TD("0.72")),
        (d.number, 31, _TD("0.36")),
        (c.number, 30, _TD("0.18")),
        (b.number, 1, _TD("0.18")),
    ]
    assert ledger.customer_balance("c1") == _TD("48.00")
    assert ledger.customer_balance("c9") == _TD("12.00")
    assert ledger.revenue(69, 99) == _TD("30.00")
    assert ledger.revenue(0, 1000) == _TD("60.00")


def test_render():
    inv = Ledger().create_invoice(_t_customer(), 1)
    inv.add_line(LineItem("Widget", _TD(3), _TD("19.99"), "standard", _TD(10)))
    inv.issue(2)
    inv.record_payment("10", 3)
    text = inv.render()
    assert text.splitlines()[:2] == ["Invoice INV-0001 for Acme (issued)", "=" * 34]
    assert "Subtotal" in text and text.splitlines()[-1].endswith("54.76")
    assert text.splitlines()[-4].endswith("10.79")
    assert text.splitlines()[-3].endswith("64.76")
"""

# --- settings: add get_duration --------------------------------------------------------------

_SETTINGS_REF = r'''
"""Application settings from INI-style text, with typed getters, interpolation and overrides.

The format::

    # comment (also ; comment)
    [server]
    host = 0.0.0.0
    port = 8080
    url = http://${server.host}:${server.port}/

Section and key names are case-insensitive (stored lower-case). Keys of the ``[defaults]``
section are visible in every section that does not define them. ``${section.key}`` inside a
value is replaced by that setting (recursively). An environment mapping can override any
setting: ``<PREFIX><SECTION>_<KEY>`` in upper case with ``.`` and ``-`` turned into ``_``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

__all__ = ["DEFAULTS_SECTION", "Config", "ConfigError", "parse"]

T = TypeVar("T")

DEFAULTS_SECTION = "defaults"

_SECTION = re.compile(r"\[\s*([A-Za-z0-9_.-]+)\s*\]")
_KEY = re.compile(r"[A-Za-z0-9_.-]+")
_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.-]+?)\.([A-Za-z0-9_-]+)\}")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNIT_SECONDS = (86400, 3600, 60, 1)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_MISSING: Any = object()


class ConfigError(Exception):
    """A settings file or value that cannot be used; the message names the setting."""


def parse(text: str) -> dict[str, dict[str, str]]:
    """Sections of INI-style ``text`` as ``{section: {key: raw value}}``.

    Raises:
        ConfigError: A line that is neither blank, a comment, a section header nor a
            ``key = value`` pair; a key before the first section; a repeated key or section.
    """
    data: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        header = _SECTION.fullmatch(line)
        if header:
            name = header.group(1).lower()
            if name in data:
                raise ConfigError(f"line {lineno}: section [{name}] appears twice")
            current = data[name] = {}
            continue
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if not sep or not _KEY.fullmatch(key):
            raise ConfigError(f"line {lineno}: expected 'key = value', got {line!r}")
        if current is None:
            raise ConfigError(f"line {lineno}: key {key!r} outside of any section")
        if key in current:
            raise ConfigError(f"line {lineno}: key {key!r} appears twice")
        current[key] = value.strip()
    return data


def _env_name(prefix: str, section: str, key: str) -> str:
    return re.sub(r"[.-]", "_", f"{prefix}{section}_{key}").upper()


class Config:
    """Read-only view of parsed settings with typed access.

    Args:
        data: ``{section: {key: value}}`` as returned by :func:`parse`.
        env: Environment overrides (``os.environ`` or any mapping); None for none.
        env_prefix: Prefix of override variables.
    """

    def __init__(
        self,
        data: Mapping[str, Mapping[str, str]],
        env: Mapping[str, str] | None = None,
        env_prefix: str = "APP_",
    ) -> None:
        self._data = {s.lower(): {k.lower(): v for k, v in kv.items()} for s, kv in data.items()}
        self._env = dict(env or {})
        self._env_prefix = env_prefix

    @classmethod
    def from_text(cls, text: str, env: Mapping[str, str] | None = None) -> Config:
        return cls(parse(text), env)

    # -- structure ------------------------------------------------------------------------

    def sections(self) -> list[str]:
        """Section names in file order, without the defaults section."""
        return [s for s in self._data if s != DEFAULTS_SECTION]

    def keys(self, section: str) -> list[str]:
        """Keys visible in ``section`` (its own, then inherited defaults), sorted."""
        section = section.lower()
        if section not in self._data:
            raise ConfigError(f"no section [{section}]")
        visible = set(self._data[section]) | set(self._data.get(DEFAULTS_SECTION, {}))
        return sorted(visible)

    def has(self, section: str, key: str) -> bool:
        return self._raw(section.lower(), key.lower()) is not None

    # -- raw access -----------------------------------------------------------------------

    def _raw(self, section: str, key: str) -> str | None:
        override = self._env.get(_env_name(self._env_prefix, section, key))
        if override is not None:
            return override
        if key in self._data.get(section, {}):
            return self._data[section][key]
        if section in self._data and key in self._data.get(DEFAULTS_SECTION, {}):
            return self._data[DEFAULTS_SECTION][key]
        return None

    def _resolve(self, section: str, key: str, seen: tuple[str, ...]) -> str:
        name = f"{section}.{key}"
        if name in seen:
            chain = " -> ".join((*seen, name))
            raise ConfigError(f"interpolation cycle: {chain}")
        raw = self._raw(section, key)
        if raw is None:
            raise ConfigError(f"missing setting {name}")

        def substitute(match: re.Match[str]) -> str:
            return self._resolve(match.group(1).lower(), match.group(2).lower(), (*seen, name))

        return _REFERENCE.sub(substitute, raw)

    def get(self, section: str, key: str, default: Any = _MISSING) -> Any:
        """The setting as a string, interpolated; ``default`` (if given) when it is missing.

        Raises:
            ConfigError: Missing without a default, or a broken interpolation.
        """
        section, key = section.lower(), key.lower()
        if self._raw(section, key) is None:
            if default is _MISSING:
                raise ConfigError(f"missing setting {section}.{key}")
            return default
        return self._resolve(section, key, ())

    def _typed(
        self, section: str, key: str, default: Any, kind: str, convert: Callable[[str], T]
    ) -> T | Any:
        value = self.get(section, key, _MISSING if default is _MISSING else None)
        if value is None and default is not _MISSING:
            return default
        try:
            return convert(value.strip())
        except (ValueError, ConfigError) as exc:
            raise ConfigError(f"{section}.{key}: expected {kind}, got {value!r}") from exc

    # -- typed getters --------------------------------------------------------------------

    def get_int(self, section: str, key: str, default: Any = _MISSING) -> int:
        return self._typed(section, key, default, "an integer", int)

    def get_float(self, section: str, key: str, default: Any = _MISSING) -> float:
        return self._typed(section, key, default, "a number", float)

    def get_bool(self, section: str, key: str, default: Any = _MISSING) -> bool:
        def convert(text: str) -> bool:
            lowered = text.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(text)

        return self._typed(section, key, default, "a boolean", convert)

    def get_list(
        self, section: str, key: str, default: Any = _MISSING, sep: str = ","
    ) -> list[str]:
        """Items split on ``sep``, stripped, empty items dropped."""

        def convert(text: str) -> list[str]:
            return [item.strip() for item in text.split(sep) if item.strip()]

        return self._typed(section, key, default, "a list", convert)

    def get_choice(
        self, section: str, key: str, choices: Iterable[str], default: Any = _MISSING
    ) -> str:
        """The setting, which must be one of ``choices`` (compared case-sensitively)."""
        allowed = list(choices)

        def convert(text: str) -> str:
            if text not in allowed:
                raise ValueError(text)
            return text

        return self._typed(section, key, default, f"one of {allowed}", convert)

    def get_duration(self, section: str, key: str, default: Any = _MISSING) -> int:
        """A duration in whole seconds.

        Accepts a plain non-negative integer (seconds) or unit groups ``<n>d``, ``<n>h``,
        ``<n>m``, ``<n>s`` in that order, each at most once, without spaces: ``"90"``,
        ``"45s"``, ``"1h30m"``, ``"2d"``, ``"1d2h3m4s"``.
        """

        def convert(text: str) -> int:
            if text.isdigit() and text.isascii():
                return int(text)
            match = _DURATION.fullmatch(text)
            if not text or match is None:
                raise ValueError(text)
            return sum(int(n) * unit for n, unit in zip(match.groups(), _UNIT_SECONDS) if n)

        return self._typed(section, key, default, "a duration", convert)

    def get_mapping(
        self, section: str, key: str, default: Any = _MISSING
    ) -> dict[str, str]:
        """``"a=1, b=2"`` as ``{"a": "1", "b": "2"}`` (items split on commas, stripped)."""

        def convert(text: str) -> dict[str, str]:
            mapping: dict[str, str] = {}
            for item in text.split(","):
                if not item.strip():
                    continue
                name, sep, value = item.partition("=")
                if not sep or not name.strip() or name.strip() in mapping:
                    raise ValueError(item)
                mapping[name.strip()] = value.strip()
            return mapping

        return self._typed(section, key, default, "a mapping", convert)

    # -- whole sections -------------------------------------------------------------------

    def section(self, section: str) -> dict[str, str]:
        """Every visible key of ``section`` with its interpolated value."""
        return {key: self.get(section, key) for key in self.keys(section)}

    def merged(self, other: Config) -> Config:
        """A new Config with ``other``'s settings layered over this one's (env of self)."""
        data = {s: dict(kv) for s, kv in self._data.items()}
        for section, values in other._data.items():
            data.setdefault(section, {}).update(values)
        return Config(data, self._env, self._env_prefix)

    def validate(self, schema: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Problems with the settings named in ``schema`` (``{section: {key: type}}``).

        Types: ``int``, ``float``, ``bool``, ``list``, ``str``, ``duration``. Returns one
        message per missing or ill-typed setting, in schema order; empty when all is well.
        """
        getters: dict[str, Callable[[str, str], Any]] = {
            "int": self.get_int,
            "float": self.get_float,
            "bool": self.get_bool,
            "list": self.get_list,
            "str": self.get,
            "duration": self.get_duration,
        }
        problems = []
        for section, keys in schema.items():
            for key, kind in keys.items():
                getter = getters.get(kind)
                if getter is None:
                    problems.append(f"{section}.{key}: unknown type {kind!r} in schema")
                    continue
                try:
                    getter(section, key)
                except ConfigError as exc:
                    problems.append(str(exc))
        return problems

    def env_overrides(self) -> dict[str, str]:
        """``section.key`` -> variable name, for every setting the environment overrides."""
        found = {}
        for section, values in self._data.items():
            for key in values:
                name = _env_name(self._env_prefix, section, key)
                if name in self._env:
                    found[f"{section}.{key}"] = name
        return found

    def diff(self, other: Config) -> list[str]:
        """Raw differences to ``other``: ``+ s.k = v`` added, ``- s.k`` removed,
        ``~ s.k: old -> new`` changed; sorted by setting name."""
        mine = {f"{s}.{k}": v for s, kv in self._data.items() for k, v in kv.items()}
        theirs = {f"{s}.{k}": v for s, kv in other._data.items() for k, v in kv.items()}
        out = []
        for name in sorted(set(mine) | set(theirs)):
            if name not in mine:
                out.append(f"+ {name} = {theirs[name]}")
            elif name not in theirs:
                out.append(f"- {name}")
            elif mine[name] != theirs[name]:
                out.append(f"~ {name}: {mine[name]} -> {theirs[name]}")
        return out

    def redacted(self, words: Iterable[str] = ("password", "secret", "token")) -> str:
        """:meth:`dump` with the value of every key containing one of ``words`` hidden."""
        hidden = tuple(word.lower() for word in words)
        data = {
            section: {k: ("***" if any(w in k for w in hidden) else v) for k, v in values.items()}
            for section, values in self._data.items()
        }
        return Config(data).dump()

    def dump(self) -> str:
        """The raw settings (no overrides, no interpolation) as INI text."""
        blocks = []
        for section, values in self._data.items():
            lines = [f"[{section}]"]
            lines.extend(f"{key} = {value}" for key, value in values.items())
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + ("\n" if blocks else "")
'''

_SETTINGS_SHOWN = derive(
    _cut(_SETTINGS_REF, "    def get_duration(", "    def get_mapping("),
    [
        ('_DURATION = re.compile(r"(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?")\n', ""),
        ("_UNIT_SECONDS = (86400, 3600, 60, 1)\n", ""),
        ('            "duration": self.get_duration,\n', ""),
        ("``str``, ``duration``. Returns", "``str``. Returns"),
    ],
)

_SETTINGS_PROMPT = """
Below is `settings.py`, the configuration module of our services. Add a feature to it:

- a method `Config.get_duration(self, section, key, default=_MISSING) -> int` returning a
  duration in whole seconds. The value (after environment override and interpolation,
  stripped, exactly as the other typed getters see it) is either a plain non-negative
  integer of ASCII digits, meaning seconds (`"90"`), or one or more groups `<digits><unit>`
  with the units `d` (86400 s), `h` (3600 s), `m` (60 s) and `s` (1 s), lower-case, in that
  order, each unit at most once and without spaces (`"45s"`, `"1h30m"`, `"2d"`,
  `"1d2h3m4s"`). A missing setting behaves as in the other typed getters (the default if
  one is given, else `ConfigError("missing setting <section>.<key>")`). Any other value
  raises `ConfigError` with the message `<section>.<key>: expected a duration, got
  <repr of the value>`, the shape the other typed getters use;
- `Config.validate` must accept the schema type `"duration"` and check it with
  `get_duration`.

Change nothing else: all other classes, functions, names, behaviour and messages must stay
exactly as they are. The answer must be the complete module with the feature added.
"""

_SETTINGS_TESTS = r'''
_T_TEXT = """
# global settings
[defaults]
timeout = 30s
retries = 3

[server]
host = 0.0.0.0
port = 8080
url = http://${server.host}:${server.port}/
debug = yes
workers = 2, 4 ,, 8
mode = fast
ratio = 0.75

; database
[DB]
Password = hunter2
name = app
dsn = ${db.name}@${server.host}
pool = 1m30s
labels = env=prod, team = core
ttl = ${defaults.timeout}
"""


def _t_cfg(env=None):
    return Config.from_text(_T_TEXT, env)


def _t_error(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ConfigError as exc:
        return str(exc)
    return None


def test_parse_structure():
    data = parse(_T_TEXT)
    assert list(data) == ["defaults", "server", "db"]
    assert data["db"]["password"] == "hunter2"
    assert data["server"]["url"] == "http://${server.host}:${server.port}/"
    assert parse("") == {}


def test_parse_errors_name_the_line():
    assert _t_error(parse, "x = 1").startswith("line 1:")
    assert _t_error(parse, "[a]\nx = 1\nX = 2").startswith("line 3:")
    assert _t_error(parse, "[a]\n[b]\n\n[A]").startswith("line 4:")
    assert _t_error(parse, "[a]\njust words").startswith("line 2:")
    assert _t_error(parse, "[a]\nbad key = 1").startswith("line 2:")


def test_get_interpolation_and_defaults():
    cfg = _t_cfg()
    assert cfg.get("server", "url") == "http://0.0.0.0:8080/"
    assert cfg.get("DB", "DSN") == "app@0.0.0.0"
    assert cfg.get("server", "retries") == "3"
    assert cfg.get("db", "ttl") == "30s"
    assert cfg.get("server", "missing", "dflt") == "dflt"
    assert cfg.get("nosuch", "retries", None) is None
    assert "server.missing" in _t_error(cfg.get, "server", "missing")


def test_env_overrides():
    cfg = _t_cfg({"APP_SERVER_PORT": "9090", "APP_DB_NAME": "prod", "OTHER": "x"})
    assert cfg.get("server", "url") == "http://0.0.0.0:9090/"
    assert cfg.get("db", "dsn") == "prod@0.0.0.0"
    assert cfg.get_int("server", "port") == 9090
    assert cfg.env_overrides() == {"server.port": "APP_SERVER_PORT", "db.name": "APP_DB_NAME"}


def test_interpolation_cycle():
    cfg = Config.from_text("[a]\nx = ${a.y}\ny = ${b.z}\n[b]\nz = ${a.x}\nok = 1")
    message = _t_error(cfg.get, "a", "x")
    assert message.startswith("interpolation cycle: a.x -> a.y -> b.z -> a.x")
    assert cfg.get("b", "ok") == "1"
    assert "missing setting a.q" in _t_error(Config.from_text("[a]\nx = ${a.q}").get, "a", "x")


def test_typed_getters():
    cfg = _t_cfg()
    assert cfg.get_int("server", "port") == 8080
    assert cfg.get_float("server", "ratio") == 0.75
    assert cfg.get_bool("server", "debug") is True
    assert cfg.get_list("server", "workers") == ["2", "4", "8"]
    assert cfg.get_choice("server", "mode", ["fast", "safe"]) == "fast"
    assert cfg.get_mapping("db", "labels") == {"env": "prod", "team": "core"}
    assert cfg.get_int("server", "absent", 7) == 7
    assert cfg.get_bool("server", "absent", False) is False
    assert cfg.get_int("server", "retries") == 3
    message = _t_error(cfg.get_int, "server", "host")
    assert message == "server.host: expected an integer, got '0.0.0.0'"
    assert _t_error(cfg.get_bool, "server", "mode").startswith("server.mode: expected a boolean")
    assert _t_error(cfg.get_choice, "server", "mode", ["safe"]) is not None
    assert _t_error(cfg.get_int, "server", "absent") == "missing setting server.absent"
    bools = Config.from_text("[b]\na = ON\nb = off\nc = 0\nd = True\ne = maybe")
    assert [bools.get_bool("b", k) for k in "abcd"] == [True, False, False, True]
    assert _t_error(bools.get_bool, "b", "e") is not None


def test_mapping_errors():
    cfg = Config.from_text("[m]\na = x=1, y\nb = x=1, x=2\nc = =1\nd = ,,")
    for key in "abc":
        assert _t_error(cfg.get_mapping, "m", key) is not None, key
    assert cfg.get_mapping("m", "d") == {}


def test_structure_helpers():
    cfg = _t_cfg()
    assert cfg.sections() == ["server", "db"]
    assert cfg.keys("db") == [
        "dsn", "labels", "name", "password", "pool", "retries", "timeout", "ttl"
    ]
    assert _t_error(cfg.keys, "nosuch") is not None
    assert cfg.has("server", "retries") and not cfg.has("server", "nope")
    assert not cfg.has("nosuch", "retries")
    assert cfg.section("server")["url"] == "http://0.0.0.0:8080/"


def test_merge_diff_dump_redact():
    base = Config.from_text("[a]\nx = 1\ny = 2\n[b]\nk = v")
    other = Config.from_text("[a]\ny = 3\nz = 4\n[c]\nn = m")
    merged = base.merged(other)
    assert merged.get("a", "y") == "3" and merged.get("a", "x") == "1"
    assert merged.get("c", "n") == "m"
    assert base.get("a", "y") == "2"
    assert base.diff(other) == ["- a.x", "~ a.y: 2 -> 3", "+ a.z = 4", "- b.k", "+ c.n = m"]
    assert base.dump() == "[a]\nx = 1\ny = 2\n\n[b]\nk = v\n"
    assert Config({}).dump() == ""
    red = _t_cfg().redacted()
    assert "password = ***" in red and "hunter2" not in red
    assert "name = app" in red
    assert "name = ***" in _t_cfg().redacted(["NAME"])


def test_get_duration():
    cfg = Config.from_text(
        "[t]\na = 90\nb = 45s\nc = 1h30m\nd = 2d\ne = 1d2h3m4s\nf = 0\ng = 10m\nh =  3h \n"
        "i = ${t.g}"
    )
    expected = {"a": 90, "b": 45, "c": 5400, "d": 172800, "e": 93784, "f": 0, "g": 600,
                "h": 10800, "i": 600}
    for key, seconds in expected.items():
        value = cfg.get_duration("t", key)
        assert value == seconds and type(value) is int, (key, value)
    assert _t_cfg().get_duration("db", "pool") == 90
    assert _t_cfg().get_duration("db", "timeout") == 30
    assert _t_cfg().get_duration("db", "ttl") == 30


def test_get_duration_default_and_env():
    cfg = _t_cfg({"APP_DB_POOL": "2h"})
    assert cfg.get_duration("db", "pool") == 7200
    assert cfg.get_duration("db", "absent", 5) == 5
    assert cfg.get_duration("db", "absent", None) is None
    assert _t_error(cfg.get_duration, "db", "absent") == "missing setting db.absent"


def test_get_duration_rejects_malformed():
    bad = ["", "1x", "m", "30m1h", "1h1h", "-5", "1.5h", "1 h", "1H", "h1", "5s5", "s"]
    text = "[t]\n" + "\n".join(f"k{i} = {value}" for i, value in enumerate(bad))
    cfg = Config.from_text(text)
    for i, value in enumerate(bad):
        message = _t_error(cfg.get_duration, "t", f"k{i}")
        assert message == f"t.k{i}: expected a duration, got {value!r}", (value, message)


def test_validate_with_duration():
    cfg = _t_cfg()
    schema = {
        "server": {"port": "int", "debug": "bool", "host": "float", "workers": "list"},
        "db": {"pool": "duration", "name": "duration", "missing": "str", "ttl": "color"},
    }
    assert cfg.validate(schema) == [
        "server.host: expected a number, got '0.0.0.0'",
        "db.name: expected a duration, got 'app'",
        "missing setting db.missing",
        "db.ttl: unknown type 'color' in schema",
    ]
    assert cfg.validate({"db": {"pool": "duration", "ttl": "duration"}}) == []
'''

# --- job queue: requeue expired leases, fix backoff ------------------------------------------

_JOBS_REF = r'''
"""An in-memory job queue with priorities, leases, retries with backoff and a dead-letter list.

Life of a job::

    enqueue --> pending --lease--> leased --complete--> done
                   ^                  |
                   |   fail (attempts left, after backoff)
                   +------------------+
                                      | fail (no attempts left)
                                      v
                                    dead --retry_dead--> pending

A worker leases a job for ``lease_seconds``; the lease is valid while ``now < lease_until``.
Lower ``priority`` numbers are more urgent; jobs of equal priority run in enqueue order.
Time comes only from the injected ``clock`` so that tests and simulations control it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["DEAD", "DONE", "LEASED", "PENDING", "Job", "JobQueue", "QueueError"]

PENDING = "pending"
LEASED = "leased"
DONE = "done"
DEAD = "dead"
STATES = (PENDING, LEASED, DONE, DEAD)


class QueueError(Exception):
    """An operation the job's state or ownership does not allow."""


@dataclass
class Job:
    """A unit of work and its bookkeeping.

    Attributes:
        id: ``J1``, ``J2``, ... in enqueue order.
        kind: What to do (workers may lease only kinds they handle).
        payload: Arguments for the worker.
        priority: Lower is more urgent.
        max_attempts: Leases allowed before the job is dead.
        attempts: Leases so far.
        state: One of PENDING, LEASED, DONE, DEAD.
        not_before: The job cannot be leased before this time.
        lease_owner: Worker holding the lease.
        lease_until: End of the current lease.
        last_error: Message of the most recent failure.
        seq: Enqueue sequence number (tie-breaker).
    """

    id: str
    kind: str
    payload: dict[str, Any]
    priority: int
    max_attempts: int
    seq: int
    attempts: int = 0
    state: str = PENDING
    not_before: float = 0.0
    lease_owner: str | None = None
    lease_until: float | None = None
    last_error: str | None = None
    history: list[tuple[float, str]] = field(default_factory=list)


class JobQueue:
    """Jobs by id, with leasing, retries and dead letters.

    Args:
        clock: Zero-argument callable returning the current time in seconds.
        base_backoff: Delay after the first failure; it doubles with every further attempt.
        max_backoff: Upper bound of the delay.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        base_backoff: float = 1.0,
        max_backoff: float = 300.0,
    ) -> None:
        if base_backoff <= 0 or max_backoff < base_backoff:
            raise ValueError("need 0 < base_backoff <= max_backoff")
        self._clock = clock
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self._jobs: dict[str, Job] = {}
        self._seq = 0

    # -- producing ------------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        payload: dict[str, Any] | None = None,
        *,
        priority: int = 0,
        delay: float = 0.0,
        max_attempts: int = 3,
    ) -> str:
        """Add a job; returns its id. It becomes leasable ``delay`` seconds from now."""
        if not kind:
            raise ValueError("kind must not be empty")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if delay < 0:
            raise ValueError("delay must not be negative")
        self._seq += 1
        now = self._clock()
        job = Job(
            id=f"J{self._seq}",
            kind=kind,
            payload=dict(payload or {}),
            priority=priority,
            max_attempts=max_attempts,
            seq=self._seq,
            not_before=now + delay,
        )
        job.history.append((now, "enqueued"))
        self._jobs[job.id] = job
        return job.id

    def get(self, job_id: str) -> Job:
        """A snapshot copy of the job (changing it does not affect the queue)."""
        job = self._job(job_id)
        return replace(job, payload=dict(job.payload), history=list(job.history))

    def _job(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise QueueError(f"unknown job {job_id}") from None

    # -- consuming ------------------------------------------------------------------------

    def lease(
        self, worker: str, lease_seconds: float = 30.0, kinds: Iterable[str] | None = None
    ) -> Job | None:
        """Lease the most urgent ready job (optionally of the given kinds), or None."""
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        now = self._clock()
        wanted = set(kinds) if kinds is not None else None
        ready = [
            job
            for job in self._jobs.values()
            if job.state == PENDING
            and job.not_before <= now
            and (wanted is None or job.kind in wanted)
        ]
        if not ready:
            return None
        job = min(ready, key=lambda j: (j.priority, j.seq))
        job.state = LEASED
        job.attempts += 1
        job.lease_owner = worker
        job.lease_until = now + lease_seconds
        job.history.append((now, f"leased by {worker}"))
        return self.get(job.id)

    def _owned(self, job_id: str, worker: str) -> Job:
        job = self._job(job_id)
        if job.state != LEASED or job.lease_owner != worker:
            raise QueueError(f"{job_id} is not leased by {worker}")
        assert job.lease_until is not None
        if self._clock() >= job.lease_until:
            raise QueueError(f"lease on {job_id} has expired")
        return job

    def heartbeat(self, job_id: str, worker: str, lease_seconds: float = 30.0) -> None:
        """Extend a valid lease to ``lease_seconds`` from now."""
        job = self._owned(job_id, worker)
        job.lease_until = self._clock() + lease_seconds

    def complete(self, job_id: str, worker: str) -> None:
        """Mark a leased job done."""
        job = self._owned(job_id, worker)
        job.state = DONE
        job.lease_owner = job.lease_until = None
        job.history.append((self._clock(), "done"))

    def release(self, job_id: str, worker: str, delay: float = 0.0) -> None:
        """Give a leased job back unprocessed; the attempt does not count."""
        if delay < 0:
            raise ValueError("delay must not be negative")
        job = self._owned(job_id, worker)
        now = self._clock()
        job.state = PENDING
        job.attempts -= 1
        job.lease_owner = job.lease_until = None
        job.not_before = now + delay
        job.history.append((now, f"released by {worker}"))

    def backoff(self, attempts: int) -> float:
        """Delay before the next try after ``attempts`` failed attempts:
        ``base_backoff * 2 ** (attempts - 1)``, capped at ``max_backoff``."""
        return min(self.max_backoff, self.base_backoff * 2 ** (attempts - 1))

    def fail(self, job_id: str, worker: str, error: str) -> str:
        """Record a failed attempt; returns the job's new state (PENDING or DEAD)."""
        job = self._owned(job_id, worker)
        now = self._clock()
        job.last_error = error
        job.lease_owner = job.lease_until = None
        if job.attempts >= job.max_attempts:
            job.state = DEAD
            job.history.append((now, f"dead: {error}"))
        else:
            job.state = PENDING
            job.not_before = now + self.backoff(job.attempts)
            job.history.append((now, f"failed: {error}"))
        return job.state

    def requeue_expired(self) -> list[str]:
        """Take back jobs whose lease has run out (``now >= lease_until``).

        A job with attempts left becomes pending and immediately leasable; one without
        becomes dead with ``last_error`` ``"lease expired"``. Returns the ids of all jobs
        taken back, in enqueue order.
        """
        now = self._clock()
        taken = []
        for job in sorted(self._jobs.values(), key=lambda j: j.seq):
            if job.state != LEASED or job.lease_until is None or now < job.lease_until:
                continue
            job.lease_owner = job.lease_until = None
            if job.attempts >= job.max_attempts:
                job.state = DEAD
                job.last_error = "lease expired"
                job.history.append((now, "dead: lease expired"))
            else:
                job.state = PENDING
                job.not_before = now
                job.history.append((now, "lease expired"))
            taken.append(job.id)
        return taken

    def drain(
        self,
        worker: str,
        handler: Callable[[Job], Any],
        limit: int = 100,
        kinds: Iterable[str] | None = None,
    ) -> dict[str, int]:
        """Lease and run ready jobs until none is ready or ``limit`` jobs were run.

        A job whose handler returns is completed; one whose handler raises fails with
        ``"<ExceptionType>: <message>"``. Returns counts of ``done``, ``retried``, ``dead``.
        """
        kinds = list(kinds) if kinds is not None else None
        counts = {"done": 0, "retried": 0, "dead": 0}
        for _ in range(limit):
            job = self.lease(worker, kinds=kinds)
            if job is None:
                break
            try:
                handler(job)
            except Exception as exc:
                state = self.fail(job.id, worker, f"{type(exc).__name__}: {exc}")
                counts["dead" if state == DEAD else "retried"] += 1
            else:
                self.complete(job.id, worker)
                counts["done"] += 1
        return counts

    # -- dead letters and housekeeping ----------------------------------------------------

    def dead_letters(self) -> list[Job]:
        """Copies of the dead jobs, in enqueue order."""
        dead = [job for job in self._jobs.values() if job.state == DEAD]
        return [self.get(job.id) for job in sorted(dead, key=lambda j: j.seq)]

    def retry_dead(self, job_id: str) -> None:
        """Give a dead job a fresh set of attempts, leasable now."""
        job = self._job(job_id)
        if job.state != DEAD:
            raise QueueError(f"{job_id} is not dead")
        now = self._clock()
        job.state = PENDING
        job.attempts = 0
        job.not_before = now
        job.history.append((now, "retried"))

    def cancel(self, job_id: str) -> None:
        """Remove a pending job from the queue."""
        job = self._job(job_id)
        if job.state != PENDING:
            raise QueueError(f"{job_id} is {job.state}; only pending jobs can be cancelled")
        del self._jobs[job_id]

    def jobs(self, state: str | None = None, kind: str | None = None) -> list[Job]:
        """Copies of the jobs in enqueue order, optionally filtered by state and kind."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        return [
            self.get(job.id)
            for job in sorted(self._jobs.values(), key=lambda j: j.seq)
            if (state is None or job.state == state) and (kind is None or job.kind == kind)
        ]

    def purge_done(self) -> int:
        """Forget finished jobs; returns how many."""
        done = [job_id for job_id, job in self._jobs.items() if job.state == DONE]
        for job_id in done:
            del self._jobs[job_id]
        return len(done)

    def stats(self) -> dict[str, int]:
        """Number of jobs per state (every state present)."""
        counts = Counter(job.state for job in self._jobs.values())
        return {state: counts.get(state, 0) for state in STATES}

    def pending_count(self, kind: str | None = None, ready_only: bool = False) -> int:
        """Pending jobs, optionally of one kind and only those leasable now."""
        now = self._clock()
        return sum(
            1
            for job in self._jobs.values()
            if job.state == PENDING
            and (kind is None or job.kind == kind)
            and (not ready_only or job.not_before <= now)
        )

    def next_ready_time(self) -> float | None:
        """When the earliest pending job becomes leasable (None without pending jobs)."""
        times = [job.not_before for job in self._jobs.values() if job.state == PENDING]
        return min(times) if times else None
'''

_JOBS_SHOWN = derive(
    _cut(_JOBS_REF, "    def requeue_expired(", "    def drain("),
    [
        (
            "return min(self.max_backoff, self.base_backoff * 2 ** (attempts - 1))",
            "return min(self.max_backoff, self.base_backoff * 2**attempts)",
        ),
    ],
)

_JOBS_PROMPT = """
Below is `jobqueue.py`, the in-memory job queue of our worker fleet. Two changes are needed:

1. New feature. A worker that crashes never completes or fails its job, so the job stays
   leased forever. Add `JobQueue.requeue_expired(self) -> list[str]`, which takes back every
   leased job whose lease has run out (`now >= lease_until`, the rule the rest of the module
   uses). A job with attempts left (`attempts < max_attempts`) becomes pending and leasable
   at once (`not_before = now`); a job without attempts left becomes dead with `last_error`
   set to `"lease expired"`. Either way its lease owner and lease end are cleared and its
   attempt count is kept. Return the ids of all jobs taken back, in enqueue order.
2. Bug. Operations report that retried jobs wait twice as long as documented: after its
   first failed attempt a job should wait `base_backoff` seconds, then twice that after the
   second, and so on, capped at `max_backoff`.

Change nothing else: all other classes, functions, names, behaviour and messages must stay
exactly as they are. The answer must be the complete updated module.
"""

_JOBS_TESTS = r"""
class _TClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _t_queue(**kwargs):
    clock = _TClock()
    return JobQueue(clock, **kwargs), clock


def _t_raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type:
        return True
    return False


def test_enqueue_and_snapshots():
    q, clock = _t_queue()
    first = q.enqueue("email", {"to": "a"})
    second = q.enqueue("email")
    assert (first, second) == ("J1", "J2")
    snap = q.get(first)
    assert (snap.kind, snap.payload, snap.state, snap.attempts, snap.not_before) == (
        "email", {"to": "a"}, PENDING, 0, 100.0)
    snap.payload["to"] = "evil"
    snap.state = DONE
    assert q.get(first).payload == {"to": "a"} and q.get(first).state == PENDING
    assert _t_raises(QueueError, q.get, "J9")
    assert _t_raises(ValueError, q.enqueue, "")
    assert _t_raises(ValueError, q.enqueue, "x", max_attempts=0)
    assert _t_raises(ValueError, q.enqueue, "x", delay=-1)
    assert _t_raises(ValueError, JobQueue, clock, base_backoff=0)
    assert _t_raises(ValueError, JobQueue, clock, base_backoff=5, max_backoff=4)
    assert JobQueue(clock, base_backoff=5, max_backoff=5).backoff(3) == 5


def test_lease_order_delay_and_kinds():
    q, clock = _t_queue()
    low = q.enqueue("a", priority=5)
    first = q.enqueue("a", priority=1)
    second = q.enqueue("b", priority=1)
    later = q.enqueue("a", priority=0, delay=10)
    assert q.lease("w1").id == first
    assert q.lease("w1", kinds=["a"]).id == low
    assert q.lease("w1", kinds=["a"]) is None
    assert q.lease("w1").id == second
    assert q.lease("w1") is None
    clock.now += 10
    job = q.lease("w2", lease_seconds=5)
    assert (job.id, job.state, job.attempts, job.lease_owner, job.lease_until) == (
        later, LEASED, 1, "w2", 115.0)
    assert _t_raises(ValueError, q.lease, "w", 0)


def test_complete_and_ownership():
    q, clock = _t_queue()
    job_id = q.enqueue("a")
    q.lease("w1", lease_seconds=10)
    assert _t_raises(QueueError, q.complete, job_id, "w2")
    clock.now += 9.5
    q.heartbeat(job_id, "w1", 10)
    clock.now += 9.5
    q.complete(job_id, "w1")
    assert q.get(job_id).state == DONE
    assert q.get(job_id).lease_owner is None
    assert _t_raises(QueueError, q.complete, job_id, "w1")
    other = q.enqueue("a")
    q.lease("w1", lease_seconds=10)
    clock.now += 10
    assert _t_raises(QueueError, q.complete, other, "w1")
    assert _t_raises(QueueError, q.heartbeat, other, "w1")


def test_backoff_schedule():
    q, clock = _t_queue(base_backoff=2.0, max_backoff=20.0)
    assert [q.backoff(n) for n in (1, 2, 3, 4, 5, 9)] == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    job_id = q.enqueue("a", max_attempts=3)
    q.lease("w")
    assert q.fail(job_id, "w", "boom 1") == PENDING
    snap = q.get(job_id)
    assert (snap.not_before, snap.last_error, snap.lease_owner) == (102.0, "boom 1", None)
    assert snap.history[-1] == (100.0, "failed: boom 1")
    clock.now = 101.9
    assert q.lease("w") is None
    clock.now = 102.0
    q.lease("w")
    assert q.fail(job_id, "w", "boom 2") == PENDING
    assert q.get(job_id).not_before == 106.0
    clock.now = 106.0
    q.lease("w")
    assert q.fail(job_id, "w", "boom 3") == DEAD
    dead = q.dead_letters()
    assert [(j.id, j.attempts, j.last_error) for j in dead] == [(job_id, 3, "boom 3")]


def test_retry_dead_and_release():
    q, clock = _t_queue()
    job_id = q.enqueue("a", max_attempts=1)
    q.lease("w")
    q.fail(job_id, "w", "x")
    assert _t_raises(QueueError, q.retry_dead, q.enqueue("b"))
    q.retry_dead(job_id)
    snap = q.get(job_id)
    assert (snap.state, snap.attempts, snap.not_before) == (PENDING, 0, 100.0)
    q.lease("w", kinds=["a"])
    q.release(job_id, "w", delay=3)
    snap = q.get(job_id)
    assert (snap.state, snap.attempts, snap.not_before) == (PENDING, 0, 103.0)
    assert _t_raises(QueueError, q.release, job_id, "w")


def test_requeue_expired_boundary_and_retry():
    q, clock = _t_queue()
    job_id = q.enqueue("a", max_attempts=3)
    q.lease("w1", lease_seconds=10)
    clock.now = 109.99
    assert q.requeue_expired() == []
    assert q.get(job_id).state == LEASED
    clock.now = 110.0
    assert q.requeue_expired() == [job_id]
    snap = q.get(job_id)
    assert (snap.state, snap.lease_owner, snap.lease_until, snap.not_before) == (
        PENDING, None, None, 110.0)
    assert snap.attempts == 1
    assert q.requeue_expired() == []
    assert _t_raises(QueueError, q.complete, job_id, "w1")
    again = q.lease("w2")
    assert (again.id, again.attempts) == (job_id, 2)


def test_requeue_expired_dead_and_order():
    q, clock = _t_queue()
    a = q.enqueue("a", max_attempts=1)
    b = q.enqueue("b", max_attempts=2)
    c = q.enqueue("c")
    d = q.enqueue("d")
    q.lease("w", lease_seconds=5, kinds=["b"])
    q.lease("w", lease_seconds=5, kinds=["a"])
    q.lease("w", lease_seconds=50, kinds=["c"])
    clock.now += 5
    assert q.requeue_expired() == [a, b]
    assert q.get(a).state == DEAD and q.get(a).last_error == "lease expired"
    assert q.get(b).state == PENDING and q.get(b).last_error is None
    assert q.get(c).state == LEASED and q.get(d).state == PENDING
    assert [j.id for j in q.dead_letters()] == [a]
    assert q.stats() == {PENDING: 2, LEASED: 1, DONE: 0, DEAD: 1}


def test_drain():
    q, clock = _t_queue()
    ids = [q.enqueue("job", {"n": n}, max_attempts=2 if n == 3 else 1) for n in range(5)]

    def handler(job):
        if job.payload["n"] % 2 == 1:
            raise RuntimeError(f"odd {job.payload['n']}")

    assert q.drain("w", handler) == {"done": 3, "retried": 1, "dead": 1}
    assert q.get(ids[1]).last_error == "RuntimeError: odd 1"
    assert q.get(ids[3]).state == PENDING
    clock.now += 1
    assert q.drain("w", handler, limit=1) == {"done": 0, "retried": 0, "dead": 1}
    assert q.drain("w", handler) == {"done": 0, "retried": 0, "dead": 0}
    assert q.stats() == {PENDING: 0, LEASED: 0, DONE: 3, DEAD: 2}


def test_housekeeping():
    q, clock = _t_queue()
    a = q.enqueue("x")
    b = q.enqueue("y", delay=30)
    c = q.enqueue("x", delay=5)
    assert q.pending_count() == 3
    assert q.pending_count("x") == 2
    assert q.pending_count(ready_only=True) == 1
    assert q.next_ready_time() == 100.0
    q.cancel(a)
    assert q.next_ready_time() == 105.0
    assert _t_raises(QueueError, q.get, a)
    clock.now = 105.0
    q.lease("w")
    assert _t_raises(QueueError, q.cancel, c)
    q.complete(c, "w")
    assert [j.id for j in q.jobs()] == [b, c]
    assert [j.id for j in q.jobs(state=DONE)] == [c]
    assert [j.id for j in q.jobs(kind="y")] == [b]
    assert _t_raises(ValueError, q.jobs, "weird")
    assert q.purge_done() == 1
    assert q.purge_done() == 0
    assert q.stats() == {PENDING: 1, LEASED: 0, DONE: 0, DEAD: 0}
    q.cancel(b)
    assert q.next_ready_time() is None
"""

# --- markdown: code spans and seven hashes ---------------------------------------------------

_MARKDOWN_REF = r'''
"""A small Markdown-to-HTML renderer for release notes and help pages.

Supported blocks, one per line unless noted:

- ATX headings ``#`` to ``######`` followed by a space (optional closing ``#``s); a line of
  seven or more ``#`` is ordinary text. Headings get an ``id`` from :func:`slugify`, made
  unique within the document (``intro``, ``intro-2``, ...).
- Fenced code blocks between lines starting with ``~~~`` (an info word after the opening
  fence becomes ``class="language-<word>"``); the content is escaped and not formatted.
- Horizontal rules: a line of three or more ``-``, ``*`` or ``_`` only.
- Unordered list items (``-``, ``*`` or ``+`` then a space) and ordered items (digits, ``.``
  or ``)``, a space); a list whose first number is not 1 gets a ``start`` attribute. An
  indented line right after an item continues that item.
- Block quotes: lines starting with ``>``; a bare ``>`` line separates paragraphs inside.
- Paragraphs: runs of other non-blank lines, joined with newlines.

Inline: `code`, **strong**, *emphasis* and [links](url). Text is HTML-escaped; code spans are
escaped but never formatted. Links with a scheme other than http, https or mailto are
rendered as their text only.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = [
    "Heading",
    "excerpt",
    "render",
    "render_inline",
    "render_page",
    "render_toc",
    "slugify",
    "strip_inline",
    "toc",
]

_FENCE = "~~~"
_HEADING = re.compile(r"(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*")
_RULE = re.compile(r"-{3,}|\*{3,}|_{3,}")
_BULLET = re.compile(r"[-*+][ \t]+(.*)")
_ORDERED = re.compile(r"(\d{1,9})[.)][ \t]+(.*)")
_QUOTE = re.compile(r">[ \t]?(.*)")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EM = re.compile(r"\*(?=\S)(.+?)(?<=\S)\*")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


@dataclass(frozen=True)
class Heading:
    """A heading of the document: level 1-6, plain-text title, and its id."""

    level: int
    title: str
    slug: str


def slugify(text: str) -> str:
    """Lower-case ``text``, runs of characters other than a-z and 0-9 become ``-``.

    Leading and trailing dashes are dropped; an empty result becomes ``section``.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


def strip_inline(text: str) -> str:
    """``text`` without inline markup: links become their text, markers disappear."""
    text = _LINK.sub(r"\1", text)
    text = _CODE_SPAN.sub(r"\1", text)
    text = _STRONG.sub(r"\1", text)
    return _EM.sub(r"\1", text)


def _link(match: re.Match[str]) -> str:
    label, url = match.group(1), match.group(2)
    scheme = _SCHEME.match(url)
    if scheme and scheme.group(1).lower() not in _SAFE_SCHEMES:
        return label
    return f'<a href="{url.replace(chr(34), "&quot;")}">{label}</a>'


def render_inline(text: str) -> str:
    """Inline Markdown of one block's text as HTML."""
    codes: list[str] = []

    def stash(match: re.Match[str]) -> str:
        codes.append(match.group(1))
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE_SPAN.sub(stash, text)
    text = html.escape(text, quote=False)
    text = _LINK.sub(_link, text)
    text = _STRONG.sub(r"<strong>\1</strong>", text)
    text = _EM.sub(r"<em>\1</em>", text)

    def restore(match: re.Match[str]) -> str:
        return f"<code>{html.escape(codes[int(match.group(1))], quote=False)}</code>"

    return _PLACEHOLDER.sub(restore, text)


class _Slugger:
    """Hands out unique slugs within one document."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def unique(self, text: str) -> str:
        base = slugify(text)
        count = self._seen.get(base, 0) + 1
        self._seen[base] = count
        return base if count == 1 else f"{base}-{count}"


class _Renderer:
    """Line-by-line block parser; ``out`` collects finished HTML blocks."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.headings: list[Heading] = []
        self.paragraphs: list[str] = []
        self._slugger = _Slugger()
        self._paragraph: list[str] = []
        self._list_kind: str | None = None
        self._list_start = 1
        self._items: list[str] = []
        self._quote: list[str] = []
        self._code: list[str] | None = None
        self._code_lang = ""

    # -- flushing -------------------------------------------------------------------------

    def _flush_paragraph(self) -> None:
        if self._paragraph:
            self.paragraphs.append(chr(10).join(self._paragraph))
            self.out.append(f"<p>{render_inline(chr(10).join(self._paragraph))}</p>")
            self._paragraph = []

    def _flush_list(self) -> None:
        if self._list_kind is None:
            return
        items = "".join(f"<li>{render_inline(item)}</li>" for item in self._items)
        if self._list_kind == "ol" and self._list_start != 1:
            self.out.append(f'<ol start="{self._list_start}">{items}</ol>')
        else:
            self.out.append(f"<{self._list_kind}>{items}</{self._list_kind}>")
        self._list_kind = None
        self._items = []

    def _flush_quote(self) -> None:
        if not self._quote:
            return
        paragraphs: list[list[str]] = [[]]
        for line in self._quote:
            if line.strip():
                paragraphs[-1].append(line)
            elif paragraphs[-1]:
                paragraphs.append([])
        inner = "".join(
            f"<p>{render_inline(chr(10).join(lines))}</p>" for lines in paragraphs if lines
        )
        self.out.append(f"<blockquote>{inner}</blockquote>")
        self._quote = []

    def close_blocks(self) -> None:
        self._flush_paragraph()
        self._flush_list()
        self._flush_quote()

    # -- feeding --------------------------------------------------------------------------

    def _start_item(self, kind: str, text: str, start: int = 1) -> None:
        self._flush_paragraph()
        self._flush_quote()
        if self._list_kind != kind:
            self._flush_list()
            self._list_kind = kind
            self._list_start = start
        self._items.append(text)

    def feed(self, line: str) -> None:
        if self._code is not None:
            if line.strip() == _FENCE:
                self._emit_code()
            else:
                self._code.append(line)
            return
        stripped = line.strip()
        if not stripped:
            self.close_blocks()
            return
        if stripped.startswith(_FENCE):
            self.close_blocks()
            self._code = []
            self._code_lang = stripped[len(_FENCE) :].strip().split(" ")[0]
            return
        if self._list_kind is not None and line[:2] in ("  ", "\t") and self._items:
            self._items[-1] += " " + stripped
            return
        quote = _QUOTE.fullmatch(stripped)
        if quote:
            self._flush_paragraph()
            self._flush_list()
            self._quote.append(quote.group(1))
            return
        self._flush_quote()
        if _RULE.fullmatch(stripped):
            self.close_blocks()
            self.out.append("<hr>")
            return
        heading = _HEADING.fullmatch(stripped)
        if heading:
            self.close_blocks()
            self._emit_heading(len(heading.group(1)), heading.group(2))
            return
        bullet = _BULLET.fullmatch(stripped)
        if bullet:
            self._start_item("ul", bullet.group(1))
            return
        ordered = _ORDERED.fullmatch(stripped)
        if ordered:
            self._start_item("ol", ordered.group(2), int(ordered.group(1)))
            return
        self._flush_list()
        self._paragraph.append(stripped)

    def _emit_heading(self, level: int, text: str) -> None:
        title = strip_inline(text)
        slug = self._slugger.unique(title)
        self.headings.append(Heading(level, title, slug))
        self.out.append(f'<h{level} id="{slug}">{render_inline(text)}</h{level}>')

    def _emit_code(self) -> None:
        assert self._code is not None
        body = html.escape("\n".join(self._code), quote=False)
        if self._code_lang:
            lang = html.escape(self._code_lang, quote=True)
            self.out.append(f'<pre><code class="language-{lang}">{body}</code></pre>')
        else:
            self.out.append(f"<pre><code>{body}</code></pre>")
        self._code = None
        self._code_lang = ""

    def finish(self) -> None:
        if self._code is not None:
            self._emit_code()
        self.close_blocks()


def _run(markdown: str) -> _Renderer:
    renderer = _Renderer()
    for line in markdown.replace("\r\n", "\n").split("\n"):
        renderer.feed(line)
    renderer.finish()
    return renderer


def render(markdown: str) -> str:
    """The document as HTML, one block per line."""
    return "\n".join(_run(markdown).out)


def toc(markdown: str) -> list[Heading]:
    """The document's headings in order (not those inside code blocks)."""
    return _run(markdown).headings


def excerpt(markdown: str, max_words: int = 30) -> str:
    """Plain text of the first paragraph, cut to ``max_words`` words (``...`` if cut)."""
    if max_words < 1:
        raise ValueError("max_words must be at least 1")
    for block in _run(markdown).paragraphs:
        words = strip_inline(block).split()
        if len(words) > max_words:
            return " ".join(words[:max_words]) + "..."
        return " ".join(words)
    return ""


def render_toc(markdown: str, max_level: int = 3) -> str:
    """A nested ``<ul>`` of links to the headings up to ``max_level``."""
    headings = [h for h in toc(markdown) if h.level <= max_level]
    if not headings:
        return ""
    parts: list[str] = []
    depth = 0
    base = min(h.level for h in headings)
    for heading in headings:
        level = heading.level - base + 1
        while depth < level:
            parts.append("<ul>")
            depth += 1
        while depth > level:
            parts.append("</ul>")
            depth -= 1
        title = html.escape(heading.title, quote=False)
        parts.append(f'<li><a href="#{heading.slug}">{title}</a></li>')
    parts.extend("</ul>" for _ in range(depth))
    return "".join(parts)


def render_page(markdown: str, title: str) -> str:
    """A complete HTML page: the title, a table of contents when there are two or more
    headings, and the rendered document."""
    body = render(markdown)
    nav = render_toc(markdown) if len(toc(markdown)) >= 2 else ""
    head = f"<title>{html.escape(title, quote=False)}</title>"
    parts = ["<!DOCTYPE html>", f"<html><head>{head}</head><body>"]
    if nav:
        parts.append(f"<nav>{nav}</nav>")
    parts.extend([body, "</body></html>"])
    return "\n".join(parts)
'''

_MARKDOWN_SHOWN = derive(
    _MARKDOWN_REF,
    [
        (
            "    text = _CODE_SPAN.sub(stash, text)\n"
            "    text = html.escape(text, quote=False)\n"
            "    text = _LINK.sub(_link, text)\n"
            '    text = _STRONG.sub(r"<strong>\\1</strong>", text)\n'
            '    text = _EM.sub(r"<em>\\1</em>", text)\n',
            "    text = html.escape(text, quote=False)\n"
            "    text = _LINK.sub(_link, text)\n"
            '    text = _STRONG.sub(r"<strong>\\1</strong>", text)\n'
            '    text = _EM.sub(r"<em>\\1</em>", text)\n'
            "    text = _CODE_SPAN.sub(stash, text)\n",
        ),
        ('_HEADING = re.compile(r"(#{1,6})[ \\t]+', '_HEADING = re.compile(r"(#+)[ \\t]+'),
    ],
)

_MARKDOWN_PROMPT = """
Below is `minimark.py`, the Markdown renderer behind our release notes. Two bugs have been
reported:

1. Inline code gets formatted: `` `a*b*c` `` comes out with escaped `<em>` tags inside the
   `<code>` element, and `` `<b>` `` shows up as `&amp;lt;b&amp;gt;`. As the module docstring
   says, a code span must be HTML-escaped once and never formatted (no emphasis, strong or
   links inside it), wherever it appears (paragraphs, headings, list items, quotes).
2. A line of seven or more `#` followed by text is rendered as an `<h7>` element, which does
   not exist. Such a line is ordinary paragraph text, and it is not a heading for `toc`.

Fix both bugs in `render` / `render_inline` and change nothing else: all other classes,
functions, names and behaviour must stay exactly as they are. The answer must be the
complete corrected module.
"""

_MARKDOWN_TESTS = r"""
def test_headings_levels_and_ids():
    doc = "# Title\n## Sub *part*\n###### Six\n### Closed ###\n#NoSpace\n####### Seven"
    assert render(doc) == "\n".join(
        [
            '<h1 id="title">Title</h1>',
            '<h2 id="sub-part">Sub <em>part</em></h2>',
            '<h6 id="six">Six</h6>',
            '<h3 id="closed">Closed</h3>',
            "<p>#NoSpace\n####### Seven</p>",
        ]
    )


def test_seven_hashes_is_a_paragraph():
    assert render("####### Not a heading") == "<p>####### Not a heading</p>"
    assert toc("####### x\n# y") == [Heading(1, "y", "y")]


def test_unique_slugs_and_toc():
    doc = (
        "# Intro\n## Intro\n## Intro!\n~~~\n# not a heading\n~~~\n"
        "### [Link](https://a.example) `x`"
    )
    assert toc(doc) == [
        Heading(1, "Intro", "intro"),
        Heading(2, "Intro", "intro-2"),
        Heading(2, "Intro!", "intro-3"),
        Heading(3, "Link x", "link-x"),
    ]
    assert slugify("Hello, World!") == "hello-world"
    try:
        toc("# t")[0].level = 3
    except AttributeError:
        pass
    else:
        raise AssertionError("Heading must stay frozen")
    assert slugify("  ***  ") == "section"
    assert slugify("--Already-Slugged--") == "already-slugged"


def test_paragraphs_and_escaping():
    doc = "first line & <b>\nsecond line\n\n\nnext paragraph"
    assert render(doc) == "<p>first line &amp; &lt;b&gt;\nsecond line</p>\n<p>next paragraph</p>"


def test_inline_formatting():
    assert render_inline("**bold** and *em*") == "<strong>bold</strong> and <em>em</em>"
    assert render_inline("x ** y") == "x ** y"
    assert render_inline("say \"hi\", it's") == "say \"hi\", it's"
    assert render_inline("a * b * c") == "a * b * c"


def test_code_spans_are_not_formatted():
    assert render_inline("`a*b*c`") == "<code>a*b*c</code>"
    assert render_inline("use `**kwargs` or *x*") == "use <code>**kwargs</code> or <em>x</em>"
    assert render_inline("`<b>&`") == "<code>&lt;b&gt;&amp;</code>"
    assert render_inline("`[x](https://a.example)`") == "<code>[x](https://a.example)</code>"
    assert render("# The `*args` form") == '<h1 id="the-args-form">The <code>*args</code> form</h1>'


def test_links():
    assert render_inline("[docs](https://d.example/?a=1&b=2)") == (
        '<a href="https://d.example/?a=1&amp;b=2">docs</a>'
    )
    assert render_inline("[mail](mailto:x@y.example) [rel](/path#frag)") == (
        '<a href="mailto:x@y.example">mail</a> <a href="/path#frag">rel</a>'
    )
    assert render_inline("[bad](javascript:alert) [data](DATA:text/html,x)") == "bad data"
    assert render_inline('[q](https://a.example/"onmouseover=x)') == (
        '<a href="https://a.example/&quot;onmouseover=x">q</a>'
    )


def test_lists():
    doc = "- one\n* two\n  continued\n+ three\n1. a\n2) b\npara\n\n3. c\n4. d"
    assert render(doc).split("\n") == [
        "<ul><li>one</li><li>two continued</li><li>three</li></ul>",
        "<ol><li>a</li><li>b</li></ol>",
        "<p>para</p>",
        '<ol start="3"><li>c</li><li>d</li></ol>',
    ]
    assert render("-not a list\n1.nor this") == "<p>-not a list\n1.nor this</p>"


def test_blockquotes_and_rules():
    doc = "> quoted *x*\n>more\n>\n> second\n---\n***\n___\n--\ntext"
    assert render(doc) == "\n".join(
        [
            "<blockquote><p>quoted <em>x</em>\nmore</p><p>second</p></blockquote>",
            "<hr>",
            "<hr>",
            "<hr>",
            "<p>--\ntext</p>",
        ]
    )


def test_code_blocks():
    doc = "~~~python\nx = 1 < 2  # *not em*\n\n    indented\n~~~\nafter\n~~~\nunclosed `code`"
    assert render(doc).split("\n") == [
        '<pre><code class="language-python">x = 1 &lt; 2  # *not em*',
        "",
        "    indented</code></pre>",
        "<p>after</p>",
        "<pre><code>unclosed `code`</code></pre>",
    ]


def test_render_toc_and_page():
    doc = "# A\n## B & C\n### D\n#### E\n## F"
    assert render_toc(doc) == (
        '<ul><li><a href="#a">A</a></li><ul><li><a href="#b-c">B &amp; C</a></li>'
        '<ul><li><a href="#d">D</a></li></ul><li><a href="#f">F</a></li></ul></ul>'
    )
    assert render_toc("## x\n## y", max_level=1) == ""
    page = render_page("# Only", "T<1>")
    assert page.split("\n") == [
        "<!DOCTYPE html>",
        "<html><head><title>T&lt;1&gt;</title></head><body>",
        '<h1 id="only">Only</h1>',
        "</body></html>",
    ]
    assert "<nav><ul>" in render_page("# a\n## b", "t")


def test_excerpt():
    doc = "# Title\n\nThe **quick** brown fox\njumps over the `lazy` dog.\n\nSecond."
    assert excerpt(doc) == "The quick brown fox jumps over the lazy dog."
    assert excerpt(doc, 4) == "The quick brown fox..."
    assert excerpt(doc, 1) == "The..."
    assert excerpt(doc, 9) == "The quick brown fox jumps over the lazy dog."
    assert excerpt("# only a heading") == ""
    try:
        excerpt(doc, 0)
    except ValueError:
        pass
    else:
        raise AssertionError("max_words=0 accepted")
"""

TASKS: list[Task] = [
    make_task(
        category=_CAT,
        name="inventory_fifo",
        difficulty=0.3,
        entry_point="Warehouse",
        instructions=_INVENTORY_PROMPT,
        code=_INVENTORY_SHOWN,
        reference=_INVENTORY_REF,
        tests=_INVENTORY_TESTS,
        tags=["bugfix", "fifo", "decimal", "boundary"],
        long_context=True,
    ),
    make_task(
        category=_CAT,
        name="billing_invoices",
        difficulty=0.4,
        entry_point="Invoice",
        instructions=_BILLING_PROMPT,
        code=_BILLING_SHOWN,
        reference=_BILLING_REF,
        tests=_BILLING_TESTS,
        tags=["bugfix", "decimal", "tax", "boundary"],
        long_context=True,
    ),
    make_task(
        category=_CAT,
        name="settings_duration",
        difficulty=0.1,
        entry_point="get_duration",
        instructions=_SETTINGS_PROMPT,
        code=_SETTINGS_SHOWN,
        reference=_SETTINGS_REF,
        tests=_SETTINGS_TESTS,
        tags=["feature", "parsing", "config"],
        long_context=True,
    ),
    make_task(
        category=_CAT,
        name="job_queue_leases",
        difficulty=0.7,
        entry_point="requeue_expired",
        instructions=_JOBS_PROMPT,
        code=_JOBS_SHOWN,
        reference=_JOBS_REF,
        tests=_JOBS_TESTS,
        tags=["feature", "bugfix", "state-machine", "time"],
        long_context=True,
    ),
    make_task(
        category=_CAT,
        name="markdown_renderer",
        difficulty=0.5,
        entry_point="render_inline",
        instructions=_MARKDOWN_PROMPT,
        code=_MARKDOWN_SHOWN,
        reference=_MARKDOWN_REF,
        tests=_MARKDOWN_TESTS,
        tags=["bugfix", "regex", "html-escaping"],
        long_context=True,
    ),
]
