"""Plausible wrong variants of a reference solution (mutation testing style).

A simulated model that gets a task wrong answers with its reference solution
changed in one place, the way real models err: a flipped or shifted
comparison, an off-by-one constant or loop bound, ``+`` for ``-``, ``and`` for
``or``, a negated condition, a dropped branch, ``min`` for ``max``. The edit is
made on the source text at the AST node's position, so formatting, comments
and docstrings stay as they were and the mutant reads like a near miss.

Sites inside ``while`` loops are left alone: a mutated loop guard tends to
loop forever, which tells the verifier nothing more than a wrong answer does
and costs it a whole timeout.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

__all__ = [
    "KIND_WEIGHTS",
    "Edit",
    "MutantCache",
    "apply_edit",
    "mutate",
    "mutation_sites",
    "pick",
]


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``source[start:end]`` with ``text``; ``kind`` names the mutation."""

    start: int
    end: int
    text: str
    kind: str


_NEGATE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE,
    ast.LtE: ast.Gt,
    ast.Gt: ast.LtE,
    ast.GtE: ast.Lt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BOUNDARY: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
}
# Swaps within one precedence level, so the edited text never needs new parentheses.
_BINOP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_CALL_SWAP = {"min": "max", "max": "min", "any": "all", "all": "any"}
_METHOD_SWAP = {
    "lower": "upper",
    "upper": "lower",
    "swapcase": "lower",
    "startswith": "endswith",
    "endswith": "startswith",
    "isupper": "islower",
    "islower": "isupper",
    "lstrip": "rstrip",
    "rstrip": "lstrip",
    "find": "rfind",
    "rfind": "find",
    "index": "rindex",
    "isalpha": "isalnum",
    "isdigit": "isalpha",
}
# How often each kind is picked (per kind, not per site, so a function full of
# constants is not all off-by-ones). Measured on the 164 HumanEval references,
# every site run against its tests: flips and negations fail the tests ~98 % of
# the time, constant and string changes ~85 %, shifted comparisons and loop
# bounds only ~55 % (often equivalent), so the weights favour the first.
KIND_WEIGHTS: dict[str, int] = {
    "flip_compare": 4,
    "negate_condition": 4,
    "negate_filter": 3,
    "swap_binop": 3,
    "drop_not": 2,
    "swap_call": 2,
    "swap_augop": 2,
    "swap_boolop": 2,
    "flip_bool": 2,
    "drop_branch": 2,
    "constant_plus_one": 2,
    "constant_minus_one": 2,
    "change_string": 1,
    "swap_method": 1,
    "reverse_sort": 1,
    "shift_compare": 1,
    "range_bound": 1,
}
# Operands that may take "- 1" or a leading "not " without parentheses.
_ATOMS = (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Constant)


class _Offsets:
    """Maps the AST's (line, UTF-8 byte column) positions to ``str`` indices."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def index(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        if not line.isascii():
            col = len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
        return self.starts[lineno - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.index(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.index(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end


def _targets(tree: ast.Module, entry_point: str | None) -> list[ast.AST]:
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    if entry_point:
        found = [n for n in tree.body if isinstance(n, defs) and n.name == entry_point]
        if found:
            return found
    return [n for n in tree.body if isinstance(n, defs)] or [tree]


def _skipped(root: ast.AST) -> set[int]:
    """ids of nodes not to mutate: docstrings, f-string parts, what a ``while`` loop rests on.

    That is the loop itself and every assignment, anywhere in ``root``, to a
    name its guard reads (an initialisation moved by one can make it spin).
    """
    skip: set[int] = set()
    guard: set[str] = set()
    for node in ast.walk(root):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.update(id(n) for n in ast.walk(first))
        if isinstance(node, ast.JoinedStr | ast.While):
            skip.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.While):
            names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
            if not names:
                # `while True:` ends by a return that anything may move: leave the code alone.
                return {id(n) for n in ast.walk(root)}
            guard.update(names)
    if guard:
        for node in ast.walk(root):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AugAssign | ast.AnnAssign | ast.For)
                else []
            )
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if names & guard:
                skip.update(id(n) for n in ast.walk(node))
    return skip


def _with_op(node: ast.AST, attr: str, value: object, index: int | None = None) -> str:
    new = copy.copy(node)
    if index is None:
        setattr(new, attr, value)
    else:
        items = list(getattr(new, attr))
        items[index] = value
        setattr(new, attr, items)
    return ast.unparse(new)


def _node_edits(node: ast.AST, off: _Offsets, source: str) -> list[Edit]:
    edits: list[Edit] = []
    start, end = off.span(node) if hasattr(node, "lineno") else (0, 0)
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for table, kind in ((_NEGATE, "flip_compare"), (_BOUNDARY, "shift_compare")):
                if type(op) in table:
                    text = _with_op(node, "ops", table[type(op)](), i)
                    edits.append(Edit(start, end, text, kind))
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP:
        edits.append(Edit(start, end, _with_op(node, "op", _BINOP[type(node.op)]()), "swap_binop"))
    elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP:
        edits.append(Edit(start, end, _with_op(node, "op", _BINOP[type(node.op)]()), "swap_augop"))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        edits.append(Edit(start, end, _with_op(node, "op", other), "swap_boolop"))
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            edits.append(Edit(start, end, str(not node.value), "flip_bool"))
        elif isinstance(node.value, int | float):
            edits.append(Edit(start, end, repr(node.value + 1), "constant_plus_one"))
            if node.value > 0:
                edits.append(Edit(start, end, repr(node.value - 1), "constant_minus_one"))
        elif isinstance(node.value, str) and len(node.value) <= 1:
            edits.append(Edit(start, end, repr(" " if not node.value else ""), "change_string"))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = source[slice(*off.span(node.operand))]
        if not isinstance(node.operand, (*_ATOMS, ast.Compare)):
            inner = f"({inner})"
        edits.append(Edit(start, end, inner, "drop_not"))
    elif isinstance(node, ast.If):
        t_start, t_end = off.span(node.test)
        test = source[t_start:t_end]
        if not isinstance(node.test, (*_ATOMS, ast.Compare)):
            test = f"({test})"
        edits.append(Edit(t_start, t_end, f"not {test}", "negate_condition"))
        b_start, _ = off.span(node.body[0])
        _, b_end = off.span(node.body[-1])
        if source[b_start:b_end].strip() != "pass":
            edits.append(Edit(b_start, b_end, "pass", "drop_branch"))
    elif isinstance(node, ast.comprehension):
        for cond in node.ifs:
            c_start, c_end = off.span(cond)
            text = source[c_start:c_end]
            if not isinstance(cond, (*_ATOMS, ast.Compare)):
                text = f"({text})"
            edits.append(Edit(c_start, c_end, f"not {text}", "negate_filter"))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in _METHOD_SWAP:
            f_start, f_end = off.span(node.func)
            owner = source[slice(*off.span(node.func.value))]
            text = f"{owner}.{_METHOD_SWAP[node.func.attr]}"
            edits.append(Edit(f_start, f_end, text, "swap_method"))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id
        if name == "sorted" and not node.keywords:
            new = copy.copy(node)
            new.keywords = [ast.keyword("reverse", ast.Constant(True))]
            edits.append(Edit(start, end, ast.unparse(new), "reverse_sort"))
        elif name in _CALL_SWAP:
            f_start, f_end = off.span(node.func)
            edits.append(Edit(f_start, f_end, _CALL_SWAP[name], "swap_call"))
        elif name == "range" and 1 <= len(node.args) <= 2 and not node.keywords:
            bound = node.args[-1]
            if isinstance(bound, _ATOMS) and not isinstance(bound, ast.Constant):
                a_start, a_end = off.span(bound)
                edits.append(Edit(a_start, a_end, f"{source[a_start:a_end]} - 1", "range_bound"))
    return edits


def mutation_sites(source: str, entry_point: str | None = None) -> list[Edit]:
    """Every single-site mutation of ``source``, in a stable order.

    Sites are taken from the ``entry_point`` definition when it exists at the
    top level, else from every top-level definition. Returns ``[]`` when the
    source does not parse.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    off = _Offsets(source)
    edits: list[Edit] = []
    for root in _targets(tree, entry_point):
        skip = _skipped(root)
        for node in ast.walk(root):
            if id(node) not in skip:
                edits.extend(_node_edits(node, off, source))
    return [e for e in edits if source[e.start : e.end] != e.text]


def apply_edit(source: str, edit: Edit) -> str:
    """``source`` with one edit made."""
    return source[: edit.start] + edit.text + source[edit.end :]


def _stub(source: str, entry_point: str | None) -> str:
    """Last resort for code with nothing to mutate: the entry point returns None."""
    name = entry_point or "solution"
    return f"{source.rstrip()}\n\n\ndef {name}(*args, **kwargs):\n    return None\n"


def pick(sites: list[Edit], choice: int) -> int:
    """Index of the site that ``choice`` selects: a kind by :data:`KIND_WEIGHTS`, then a site."""
    by_kind: dict[str, list[int]] = {}
    for i, e in enumerate(sites):
        by_kind.setdefault(e.kind, []).append(i)
    kinds = sorted(by_kind)
    weights = [KIND_WEIGHTS.get(k, 1) for k in kinds]
    r = choice % sum(weights)
    for kind, w in zip(kinds, weights, strict=True):
        if r < w:
            members = by_kind[kind]
            return members[(choice // sum(weights)) % len(members)]
        r -= w
    raise AssertionError("unreachable")


def mutate(source: str, choice: int, entry_point: str | None = None) -> str:
    """A wrong variant of ``source``: the site ``choice`` selects (see :func:`pick`).

    Deterministic in its arguments. An edit that would not parse gives way to
    the next site; code with no site gets a stub entry point returning None.
    """
    return _mutant(source, mutation_sites(source, entry_point), choice, entry_point)


def _mutant(source: str, sites: list[Edit], choice: int, entry_point: str | None) -> str:
    if sites:
        first = pick(sites, choice)
        for k in range(len(sites)):
            mutant = apply_edit(source, sites[(first + k) % len(sites)])
            try:
                ast.parse(mutant)
            except SyntaxError:
                continue
            return mutant
    return _stub(source, entry_point)


class MutantCache:
    """:func:`mutate` with the parse done once per source and each mutant made once.

    Keys are caller-chosen (a task id); the cache holds at most one entry per
    mutation site of each key, so it stays small.
    """

    def __init__(self) -> None:
        self._sites: dict[str, list[Edit]] = {}
        self._mutants: dict[tuple[str, int], str] = {}

    def mutant(self, key: str, source: str, choice: int, entry_point: str | None = None) -> str:
        """The same text as ``mutate(source, choice, entry_point)``."""
        sites = self._sites.get(key)
        if sites is None:
            sites = self._sites[key] = mutation_sites(source, entry_point)
        slot = pick(sites, choice) if sites else -1
        found = self._mutants.get((key, slot))
        if found is None:
            found = self._mutants[(key, slot)] = _mutant(source, sites, choice, entry_point)
        return found
