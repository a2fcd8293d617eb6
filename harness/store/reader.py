"""Read one run or a whole results folder as one set of ``runs``/``trials``/``calls``.

Every run database is attached READ_ONLY to an in-memory DuckDB connection;
the views ``runs``, ``trials`` and ``calls`` are ``UNION ALL BY NAME`` over
the attached files, so databases written by different schema versions still
combine (a column a file lacks reads as NULL).

DuckDB lets one process write a file or several read it, not both: a run
that is still going cannot be opened from another process.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from harness.errors import HarnessError

__all__ = ["DB_FILENAME", "list_run_dbs", "open_results"]

#: The name of a run's database inside its run folder.
DB_FILENAME = "harness.duckdb"

_VIEWS = ("runs", "trials", "calls")


def list_run_dbs(path: str | Path) -> list[Path]:
    """The run databases under ``path``, sorted.

    Args:
        path: a results folder (searched recursively for ``harness.duckdb``),
            a run folder, or one DuckDB file (any name).

    Raises:
        HarnessError: ``path`` does not exist.
    """
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        return sorted(f for f in p.rglob(DB_FILENAME) if f.is_file())
    raise HarnessError(f"results: {p} does not exist")


def open_results(path: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with views ``runs``, ``trials``, ``calls`` over ``path``'s runs.

    Args:
        path: as for :func:`list_run_dbs`.

    Returns:
        A connection the caller closes; the files are attached read-only.

    Raises:
        HarnessError: no database found, a file cannot be attached (not
            DuckDB, or held by a running process), or none has the tables.
    """
    dbs = list_run_dbs(path)
    if not dbs:
        raise HarnessError(f"results: no {DB_FILENAME} under {Path(path)}")
    con = duckdb.connect(":memory:")
    try:
        for i, db in enumerate(dbs):
            try:
                con.execute(f"ATTACH {_quote(str(db))} AS {_alias(i)} (READ_ONLY)")
            except duckdb.Error as exc:
                msg = " ".join(str(exc).split())[:300]
                if "lock" in msg.lower():
                    msg += " (another process has it open: is that run still going?)"
                raise HarnessError(f"results: cannot open {db} read-only: {msg}") from exc
        present = con.execute(
            "SELECT database_name, table_name FROM duckdb_tables() WHERE schema_name = 'main'"
        ).fetchall()
        for view in _VIEWS:
            sources = [_alias(i) for i in range(len(dbs)) if (_alias(i), view) in set(present)]
            if not sources:
                raise HarnessError(f"results: no {view} table in any database under {path}")
            union = " UNION ALL BY NAME ".join(f"SELECT * FROM {s}.main.{view}" for s in sources)
            con.execute(f"CREATE VIEW {view} AS {union}")
    except BaseException:
        con.close()
        raise
    return con


def _alias(i: int) -> str:
    return f"run_db_{i}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
