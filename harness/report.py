"""``python -m harness.report <run folder | results folder> [--out DIR]`` — rebuild reports.

One run: its ``report.md``, ``report.html`` and figures are written again
(into the run folder, or ``--out``). Several runs (a sweep's members under
``results/<experiment>/``, or a whole results folder): each run's report is
rebuilt, and a cross-run report next to them compares the runs' arms side by
side (one row per run × arm) with a section and links for each run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "rebuild"]


def _run_ids(db: Path) -> list[str]:
    import duckdb

    from harness.errors import HarnessError

    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        msg = " ".join(str(exc).split())[:200]
        if "lock" in msg.lower():
            msg += " (another process has it open: is that run still going?)"
        raise HarnessError(f"cannot open {db} read-only: {msg}") from exc
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "runs" not in tables:
            return []
        rows = con.execute("SELECT run_id FROM runs ORDER BY started_at NULLS LAST, run_id")
        return [r[0] for r in rows.fetchall()]
    finally:
        con.close()


def rebuild(
    path: str | Path, out: str | Path | None = None, alpha: float = 0.05, dpi: int = 110
) -> list[Path]:
    """Rebuild the report(s) of every run under ``path``.

    Args:
        path: A run folder, a folder of runs (searched recursively for
            ``harness.duckdb``) or one database file.
        out: Write here instead of next to each database: one run's files go
            straight into ``out``; with several, each run goes to ``out/<its
            folder relative to path>`` and the cross-run report to ``out``.
        alpha: Significance level of the tests.
        dpi: Resolution of the figures.

    Returns:
        The ``report.md`` paths written; the cross-run one last.

    Raises:
        HarnessError: ``path`` does not exist, holds no run, or a database
            cannot be opened.
    """
    import duckdb

    from harness.analysis.report import build_cross_report, build_report, write_report
    from harness.errors import HarnessError
    from harness.store.reader import DB_FILENAME, list_run_dbs

    root = Path(path)
    dbs = list_run_dbs(root)
    found = [(db, rid) for db in dbs for rid in _run_ids(db)]
    if not found:
        raise HarnessError(f"no runs under {root} (no {DB_FILENAME} with a runs row)")
    single = len(found) == 1
    per_db = Counter(db for db, _ in found)
    base = root if root.is_dir() else root.parent
    dest_root = Path(out) if out is not None else base
    written: list[Path] = []
    reports = []
    links: dict[str, str] = {}
    for db, rid in found:
        con = duckdb.connect(str(db), read_only=True)
        try:
            report = build_report(con, rid, alpha)
        finally:
            con.close()
        if out is None:
            dest = db.parent
        elif single:
            dest = Path(out)
        else:
            rel = db.parent.relative_to(base) if db.parent.is_relative_to(base) else Path(rid)
            dest = Path(out) / rel
        if per_db[db] > 1:
            dest = dest / rid  # several runs in one database: one folder each
        written.append(write_report(report, dest, dpi))
        _close(report)
        reports.append(report)
        links[rid] = Path(os.path.relpath(dest / "report.html", dest_root)).as_posix()
    if not single:
        cross = build_cross_report(
            reports, links=links, title=f"Report across {len(reports)} runs: {root}"
        )
        written.append(write_report(cross, dest_root, dpi))
        _close(cross)
    return written


def _close(report: object) -> None:
    # Figures hold memory until collected; a results folder can hold hundreds of runs.
    for fig in getattr(report, "figures", {}).values():
        fig.clear()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.report",
        description="Rebuild report.md/report.html of one run, or of every run under a folder "
        "plus a cross-run report that compares them.",
    )
    parser.add_argument("path", help="a run folder, a results folder or a harness.duckdb file")
    parser.add_argument("--out", help="write the reports here instead of next to each run")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument("--dpi", type=int, default=110, help="resolution of the figures")
    args = parser.parse_args(argv)

    from harness.cli import EXIT_ERROR
    from harness.errors import HarnessError

    if not 0 < args.alpha < 1:
        print(
            f"harness.report: error: --alpha must be in (0, 1), got {args.alpha}", file=sys.stderr
        )
        return EXIT_ERROR
    try:
        written = rebuild(args.path, args.out, args.alpha, args.dpi)
    except HarnessError as exc:
        msg = str(exc).removeprefix("results: ")
        print(f"harness.report: error: {msg}", file=sys.stderr)
        return EXIT_ERROR
    for path in written:
        print(path.with_suffix(".html"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
