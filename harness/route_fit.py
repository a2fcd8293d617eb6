"""Fit a router from past trials: ``python -m harness.route_fit <results> [--out FILE]``.

Reads every trial in a results folder (or run folder), keeps those with a
verified outcome, splits the task ids into a fit set and a held-out set
(per category, seeded), and on the fit set estimates per (category, model)
the success rate and the mean cost of a trial. It writes:

* ``--out`` (default ``conf/router/fitted.yaml``): a router policy that
  ``task_map`` and ``capability`` load — per category the model with the best
  ``posterior mean success − cost_weight · mean cost`` as primary and the next
  ones as fallbacks; the measured rates as ``capability.scores``; and the
  characters per token fitted from the calls (input estimates). Use it for an
  arm with ``- /router@arms.<arm>: fitted`` in an experiment's defaults.
* ``<out stem>_holdout.yaml`` next to it: the held-out task ids as a
  ``tasks`` fragment; ``+router@tasks=fitted_holdout`` runs only those.

The posterior mean uses a uniform Beta(1, 1) prior, so a model seen on a
handful of tasks is not ranked on 2/2 = 100 %.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError

__all__ = ["CellFit", "RouteFit", "fit_router", "main", "split_tasks", "write_router_yaml"]


@dataclass(frozen=True, slots=True)
class CellFit:
    """What the fit set says about one model on one category."""

    category: str
    model: str
    trials: int
    successes: int
    mean_cost_usd: float | None

    @property
    def rate(self) -> float:
        """Observed success rate."""
        return self.successes / self.trials

    @property
    def posterior_mean(self) -> float:
        """Mean of the Beta(1 + s, 1 + f) posterior."""
        return (self.successes + 1) / (self.trials + 2)

    def value(self, cost_weight: float) -> float:
        """Ranking value: posterior mean success minus cost_weight · mean cost (USD)."""
        return self.posterior_mean - cost_weight * (self.mean_cost_usd or 0.0)


@dataclass
class RouteFit:
    """The fitted router and the task split it came from."""

    source: str
    cost_weight: float
    fit_ids: list[str]
    holdout_ids: list[str]
    cells: list[CellFit]
    table: dict[str, list[str]] = field(default_factory=dict)
    """Category -> models, best first (primary, then fallbacks)."""
    chars_per_token: dict[str, float] = field(default_factory=dict)

    def models(self) -> list[str]:
        """Every model in the table, in order of first appearance."""
        return list(dict.fromkeys(m for chain in self.table.values() for m in chain))


def split_tasks(
    by_category: dict[str, list[str]], holdout: float, seed: int
) -> tuple[list[str], list[str]]:
    """(fit ids, held-out ids): per category a seeded shuffle, ``round(holdout · n)`` held out.

    A category with at least two tasks keeps at least one on each side when
    ``0 < holdout < 1``.
    """
    if not 0.0 <= holdout < 1.0:
        raise HarnessError(f"--holdout must be in [0, 1), got {holdout}")
    fit: list[str] = []
    held: list[str] = []
    for cat in sorted(by_category):
        ids = sorted(set(by_category[cat]))
        random.Random(f"{seed}:{cat}").shuffle(ids)
        k = round(holdout * len(ids))
        if holdout > 0 and len(ids) >= 2:
            k = min(max(k, 1), len(ids) - 1)
        held += ids[:k]
        fit += ids[k:]
    return sorted(fit), sorted(held)


def fit_router(
    results: str | Path,
    *,
    holdout: float = 0.3,
    seed: int = 0,
    cost_weight: float = 0.0,
    fallbacks: int = 2,
) -> RouteFit:
    """Fit per (category, model) success and cost on the fit tasks of ``results``.

    Args:
        results: A results folder or run folder (every ``harness.duckdb`` under it).
        holdout: Share of each category's tasks held out for evaluation.
        seed: Seeds the split.
        cost_weight: USD -> success trade-off of the ranking (0: quality only).
        fallbacks: Fallback models per category after the primary.

    Raises:
        HarnessError: no database, or no trial with a verified outcome.
    """
    from harness.store.reader import open_results
    from harness.tasks.requirements import fit_chars_per_token

    con = open_results(results)
    try:
        rows = con.execute(
            "SELECT task_id, task_category, model, success, cost_usd FROM trials "
            "WHERE success IS NOT NULL AND model IS NOT NULL"
        ).fetchall()
    finally:
        con.close()
    if not rows:
        raise HarnessError(f"route_fit: no verified trials under {results}")
    by_cat: dict[str, list[str]] = {}
    for task_id, cat, *_ in rows:
        by_cat.setdefault(cat, []).append(task_id)
    fit_ids, held_ids = split_tasks(by_cat, holdout, seed)
    fit_set = set(fit_ids)
    acc: dict[tuple[str, str], list[float]] = {}
    costs: dict[tuple[str, str], list[float]] = {}
    for task_id, cat, model, success, cost in rows:
        if task_id not in fit_set:
            continue
        a = acc.setdefault((cat, model), [0, 0])
        a[0] += 1
        a[1] += bool(success)
        if cost is not None:
            costs.setdefault((cat, model), []).append(float(cost))
    cells = []
    for (cat, model), (n, s) in sorted(acc.items()):
        c = costs.get((cat, model))
        cells.append(CellFit(cat, model, int(n), int(s), sum(c) / len(c) if c else None))
    table: dict[str, list[str]] = {}
    for cat in sorted({c.category for c in cells}):
        ranked = sorted(
            (c for c in cells if c.category == cat),
            key=lambda c: (-c.value(cost_weight), c.model),
        )
        table[cat] = [c.model for c in ranked[: 1 + max(0, fallbacks)]]
    cpt = {f: ff.chars_per_token for f, ff in fit_chars_per_token(results).items()}
    return RouteFit(str(results), cost_weight, fit_ids, held_ids, cells, table, cpt)


def _q(s: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_router_yaml(fit: RouteFit, out: str | Path) -> tuple[Path, Path]:
    """Write the router policy and the held-out ``tasks`` fragment; returns both paths."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cells = {(c.category, c.model): c for c in fit.cells}
    lines = [
        f"# Written by harness.route_fit from {fit.source}",
        f"# fit on {len(fit.fit_ids)} tasks; {len(fit.holdout_ids)} held out"
        f" ({out.stem}_holdout.yaml). Ranking: posterior mean success"
        f" - {fit.cost_weight:g} * mean cost (USD).",
        f"# Use for one arm:  defaults: [- /router@arms.<arm>: {out.stem}]",
        "router: task_map            # strategy (capability also reads the scores below)",
        "candidates:                 # every model the fitted table names",
        *[f"  - {m}" for m in fit.models()],
    ]
    if fit.chars_per_token:
        lines.append(
            "chars_per_token:            # fitted from the calls: characters per input token"
        )
        lines += [f"  {fam}: {v}" for fam, v in sorted(fit.chars_per_token.items())]
    else:
        lines.append("chars_per_token: {}         # no calls with bodies and usage to fit from")
    lines += ["task_map:", "  table:                    # category -> best model, then fallbacks"]
    for cat, chain in fit.table.items():
        c = cells[(cat, chain[0])]
        lines.append(f"    {cat}:")
        lines.append(
            f"      primary: {chain[0]}   # {c.successes}/{c.trials} passed, "
            f"mean ${c.mean_cost_usd or 0:.6f}"
        )
        lines.append(f"      fallbacks: [{', '.join(chain[1:])}]")
    lines += [
        "capability:",
        "  scores:                   # model -> category -> posterior mean success (fit set)",
    ]
    by_model: dict[str, list[CellFit]] = {}
    for c in fit.cells:
        by_model.setdefault(c.model, []).append(c)
    for model in sorted(by_model):
        lines.append(f"    {model}:")
        for c in by_model[model]:
            lines.append(f"      {c.category}: {c.posterior_mean:.4f}   # {c.successes}/{c.trials}")
    if not fit.cells:
        lines[-1] = "  scores: {}"
    out.write_text("\n".join(lines) + "\n")

    held = out.with_name(f"{out.stem}_holdout.yaml")
    held_lines = [
        f"# Held-out task ids of {out.name} (route_fit --holdout, seeded): evaluate on these.",
        f"# Use: python -m harness ... +router@tasks={held.stem}",
        "ids:                        # tasks.ids: run only these tasks",
        *[f"  - {_q(i)}" for i in fit.holdout_ids],
    ]
    if not fit.holdout_ids:
        held_lines[-1:] = ["ids: []                     # nothing held out (--holdout 0)"]
    held.write_text("\n".join(held_lines) + "\n")
    return out, held


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    ap = argparse.ArgumentParser(
        prog="python -m harness.route_fit",
        description="Fit a task_map/capability router from the trials in a results folder.",
    )
    ap.add_argument("results", help="results folder or run folder")
    ap.add_argument("--out", default="conf/router/fitted.yaml", help="router YAML to write")
    ap.add_argument("--holdout", type=float, default=0.3, help="share of tasks held out")
    ap.add_argument("--seed", type=int, default=0, help="seed of the task split")
    ap.add_argument(
        "--cost-weight", type=float, default=0.0, help="success given up per USD of mean cost"
    )
    ap.add_argument("--fallbacks", type=int, default=2, help="fallback models per category")
    args = ap.parse_args(argv)
    try:
        fit = fit_router(
            args.results,
            holdout=args.holdout,
            seed=args.seed,
            cost_weight=args.cost_weight,
            fallbacks=args.fallbacks,
        )
        out, held = write_router_yaml(fit, args.out)
    except HarnessError as exc:
        print(f"route_fit: {exc}", file=sys.stderr)
        return 2
    for cat, chain in fit.table.items():
        print(f"{cat:18s} {' > '.join(chain)}")
    print(
        f"wrote {out} ({len(fit.fit_ids)} fit tasks) and {held} ({len(fit.holdout_ids)} held out)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
