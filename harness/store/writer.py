"""The batched run-database writer.

One :class:`StoreWriter` owns one DuckDB file (a run's ``harness.duckdb``).
Producers (the asyncio event loop, or any thread) hand it rows as dicts;
``add_call`` / ``add_trial`` only append to an in-memory buffer under a lock,
so the event loop never waits on DuckDB. A background thread drains the buffer
every ``flush_interval_s`` (sooner once ``max_batch`` rows wait) and writes
each drain as Arrow tables inside ONE transaction, calls before trials. Why:
one INSERT per row costs about a millisecond, a batch tens of microseconds a
row; and because a trial is added after its calls, a durable trial row always
has its calls durable too, which is what resume relies on.

Rows are converted strictly to the table's column types: a float into an
integer column, a bool into a number, a naive datetime or an unknown key is an
error, never a silent truncation, and ``None`` stays NULL. An error in the
writer thread is sticky: the batch is rolled back, nothing later is written
(so the calls-before-trials guarantee still holds), and every following
``add_*`` / ``flush`` / ``update_run`` / ``close`` raises a one-line
:class:`~harness.errors.HarnessError` naming the file. Rows that could not be
written are saved next to the database as JSON lines on ``close``.

Secrets: every row (``runs``, ``calls``, ``trials``, and the unwritten-rows
dump) passes through the writer's :class:`~harness.redact.Redactor` when it is
accepted, so a key echoed into any text column (answer, verifier or tool
output, bodies, errors, future columns) is stored as ``[REDACTED:<label>]``.

Duplicate ``trial_id`` (a resumed run re-running a trial that had already been
recorded): ``INSERT OR IGNORE`` — the first durable outcome wins and a warning
is logged. Replacing would let a re-run silently re-roll a trial's result
after it may already have been read; keeping the first is the conservative
choice for an experiment. A duplicate ``call_id`` is a bug and fails loudly.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from harness.errors import HarnessError
from harness.redact import Redactor
from harness.store.migrations import migrate

__all__ = ["StoreWriter", "read_completed_trials"]

log = logging.getLogger(__name__)

_TABLES = ("runs", "trials", "calls")

# DuckDB column type -> Arrow type used to build batches. A migration that
# adds a type not listed here fails at open with a message pointing here.
_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "SMALLINT": pa.int16(),
    "DOUBLE": pa.float64(),
    "FLOAT": pa.float32(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
}


def _inferred_ok(target: pa.DataType, got: pa.DataType) -> bool:
    """Whether values Arrow inferred as ``got`` may be cast losslessly-or-checked to ``target``."""
    if pa.types.is_null(got):
        return True
    if pa.types.is_string(target):
        return pa.types.is_string(got) or pa.types.is_large_string(got)
    if pa.types.is_integer(target):
        # floats are allowed only because the safe cast below rejects 1.5 but keeps 100.0
        return pa.types.is_integer(got) or pa.types.is_floating(got)
    if pa.types.is_floating(target):
        # Decimal too: prices (genai-prices) come as Decimal
        return pa.types.is_integer(got) or pa.types.is_floating(got) or pa.types.is_decimal(got)
    if pa.types.is_boolean(target):
        return pa.types.is_boolean(got)
    if pa.types.is_timestamp(target):
        return pa.types.is_timestamp(got) and got.tz is not None
    if pa.types.is_date(target):
        return pa.types.is_date(got)
    return False


class _KindError(TypeError):
    """Values of the wrong kind for a column (the message quotes no value)."""


_CONVERSION_ERRORS = (TypeError, ValueError, OverflowError, pa.ArrowException)


def _column(values: list[Any], target: pa.DataType) -> pa.Array:
    """Build one column strictly: infer, check the inferred kind, then a safe cast."""
    arr = pa.array(values)
    if not _inferred_ok(target, arr.type):
        naive = pa.types.is_timestamp(arr.type)
        what = "naive datetime (use a tz-aware one)" if naive else arr.type
        raise _KindError(f"values of type {what} do not fit")
    return arr.cast(target, safe=True)


class _Table:
    """A table's columns and the Arrow schema that batches are built with."""

    def __init__(self, name: str, columns: list[tuple[str, str]], key: str) -> None:
        self.name = name
        self.key = key
        fields = []
        for col, dtype in columns:
            arrow = _ARROW_TYPES.get(dtype)
            if arrow is None:
                raise HarnessError(
                    f"store: column {name}.{col} has type {dtype}, which the writer cannot "
                    "map; add it to harness.store.writer._ARROW_TYPES"
                )
            fields.append(pa.field(col, arrow))
        self.schema = pa.schema(fields)
        self.names = frozenset(self.schema.names)
        self.types = {f.name: str(t) for f, (_, t) in zip(fields, columns, strict=True)}
        # Arrow's typed conversion is already strict for text and booleans (an
        # int into VARCHAR or BOOLEAN fails) and pivots rows to columns in C, which
        # matters for multi-KB bodies. Numbers and timestamps go through
        # _column: typed conversion would truncate 1.5 into an integer column,
        # take True as 1.0 and read a naive datetime as UTC.
        self._fast = pa.schema(
            [f for f in fields if pa.types.is_string(f.type) or pa.types.is_boolean(f.type)]
        )
        self._checked = [f for f in fields if f.name not in self._fast.names]

    def to_arrow(self, rows: list[dict[str, Any]]) -> pa.Table:
        """Convert rows to one Arrow table, or raise ValueError naming the first bad row."""
        unknown = set().union(*rows) - self.names
        if unknown:
            bad = next(r for r in rows if not r.keys() <= self.names)
            raise ValueError(
                f"{self.name} row {self._ident(bad)}: unknown column(s) "
                f"{', '.join(sorted(unknown))}"
            )
        try:
            fast = pa.Table.from_pylist(rows, schema=self._fast)
            columns: dict[str, Any] = {f.name: fast.column(f.name) for f in self._fast}
            for field in self._checked:
                columns[field.name] = _column([r.get(field.name) for r in rows], field.type)
        except _CONVERSION_ERRORS:
            raise ValueError(self._diagnose(rows)) from None
        return pa.table([columns[f.name] for f in self.schema], schema=self.schema)

    def _diagnose(self, rows: list[dict[str, Any]]) -> str:
        # The slow path, for the error message only. Values are not quoted: a
        # misplaced value could be a secret.
        for field in self.schema:
            for row in rows:
                value = row.get(field.name)
                try:
                    if field.name in self._fast.names:
                        pa.array([value], type=field.type)
                    else:
                        _column([value], field.type)
                except _CONVERSION_ERRORS as exc:
                    detail = str(exc) if isinstance(exc, _KindError) else "value does not convert"
                    return (
                        f"{self.name} row {self._ident(row)}: column {field.name} "
                        f"({self.types[field.name]}) got {type(value).__name__}: "
                        f"{detail.splitlines()[0]}"
                    )
        return f"{self.name}: a column has values of mixed types"

    def _ident(self, row: Mapping[str, Any]) -> str:
        return f"{self.key}={row.get(self.key)!r}"


def _one_line(exc: BaseException) -> str:
    text = " ".join((str(exc).strip() or type(exc).__name__).split())[:500]
    if "lock" in text.lower():
        text += " (another process has the file open: is that run still going?)"
    return text


# Writers not closed by their owner are closed at interpreter exit so that
# queued rows are still written (the writer thread is a daemon).
_OPEN_WRITERS: weakref.WeakSet[StoreWriter] = weakref.WeakSet()


@atexit.register
def _close_open_writers() -> None:
    for writer in list(_OPEN_WRITERS):
        try:
            writer.close()
        except Exception as exc:  # at exit there is nobody left to raise to
            log.error("%s", exc)


class StoreWriter:
    """Writes a run's ``runs``/``trials``/``calls`` rows to one DuckDB file in batches.

    ``add_call`` and ``add_trial`` are thread-safe, O(1) and never touch DuckDB;
    a daemon thread writes. There is no back-pressure: the buffer grows if rows
    come faster than the writer's ~10-40 k rows/s (a run makes hundreds a
    second). ``flush`` blocks and is meant for the end of a run and for tests,
    not for the event loop's hot path. A row dict is copied when added.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        flush_interval_s: float = 0.2,
        max_batch: int = 2000,
        redactor: Redactor | None = None,
    ) -> None:
        """Open (creating if needed) and migrate ``path``, then start the writer thread.

        Args:
            path: the DuckDB file, usually ``<run folder>/harness.duckdb``.
            flush_interval_s: how often queued rows are written; rows older than
                about this are durable.
            max_batch: rows per Arrow batch; this many waiting rows also wake
                the writer before the interval ends.
            redactor: redacts held secrets from every text value written
                (see :func:`harness.redact.held_secrets`); None: nothing to redact.

        Raises:
            HarnessError: the file cannot be opened (e.g. another process has it).
        """
        if flush_interval_s <= 0 or max_batch < 1:
            raise ValueError("flush_interval_s must be > 0 and max_batch >= 1")
        self.path = Path(path)
        self._interval = float(flush_interval_s)
        self._max_batch = int(max_batch)
        self._redactor = redactor or Redactor()
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise HarnessError(f"store {self.path}: cannot open: {_one_line(exc)}") from exc
        try:
            migrate(self._con)
            self._tables = {t: self._describe(t) for t in _TABLES}
        except duckdb.Error as exc:
            self._con.close()
            raise HarnessError(f"store {self.path}: cannot migrate: {_one_line(exc)}") from exc
        except BaseException:
            self._con.close()
            raise
        self._db_lock = threading.Lock()  # one DuckDB connection, used by one thread at a time
        self._cond = threading.Condition(threading.Lock())
        self._calls: list[dict[str, Any]] = []
        self._trials: list[dict[str, Any]] = []
        self._seq_added = 0  # rows accepted so far
        self._seq_done = 0  # rows accepted so far whose drain has finished
        self._flush_wanted = False
        self._stopping = False
        self._closed = False
        self._failure: str | None = None
        self._cause: BaseException | None = None
        self._unwritten: dict[str, list[dict[str, Any]]] = {"calls": [], "trials": []}
        self._duplicate_trials = 0
        self._thread = threading.Thread(
            target=self._run, name=f"StoreWriter({self.path.name})", daemon=True
        )
        self._thread.start()
        _OPEN_WRITERS.add(self)

    # -- producer side -------------------------------------------------------

    def add_call(self, row: Mapping[str, Any]) -> None:
        """Queue one ``calls`` row (keys are column names; missing ones become NULL).

        Raises:
            HarnessError: the writer is closed or an earlier write failed.
        """
        self._add(self._calls, row)

    def add_trial(self, row: Mapping[str, Any]) -> None:
        """Queue one ``trials`` row; add it after its calls so they land first.

        Raises:
            HarnessError: the writer is closed or an earlier write failed.
        """
        self._add(self._trials, row)

    def _add(self, buf: list[dict[str, Any]], row: Mapping[str, Any]) -> None:
        # A copy (the caller may reuse its dict), redacted before it is kept anywhere.
        item = self._redactor.row(row)
        with self._cond:
            if self._failure is not None or self._stopping:
                self._raise_unusable()
            buf.append(item)
            self._seq_added += 1
            if len(self._calls) + len(self._trials) >= self._max_batch:
                self._cond.notify()

    # -- synchronous operations ----------------------------------------------

    def start_run(self, row: Mapping[str, Any]) -> None:
        """Insert (or replace) the ``runs`` row, synchronously.

        Raises:
            HarnessError: the row does not fit the table or the write failed.
        """
        self._check_open()
        table = self._tables["runs"]
        try:
            batch = table.to_arrow([self._redactor.row(row)])
        except ValueError as exc:
            raise HarnessError(f"store {self.path}: {exc}") from None
        with self._db_lock:
            try:
                self._insert("INSERT OR REPLACE INTO", "runs", batch)
            except duckdb.Error as exc:
                raise HarnessError(
                    f"store {self.path}: cannot write runs row: {_one_line(exc)}"
                ) from exc

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set ``fields`` (e.g. ``status``, ``finished_at``) on the ``runs`` row ``run_id``.

        Everything queued before is flushed first, so ``status='completed'`` is
        never durable ahead of the rows it vouches for.

        Raises:
            HarnessError: unknown column, bad value, no such run, or an earlier
                write failed (then nothing is updated).
        """
        self._check_open()
        table = self._tables["runs"]
        unknown = set(fields) - table.names
        if unknown or "run_id" in fields or not fields:
            raise HarnessError(
                f"store {self.path}: update_run needs known runs columns other than run_id, "
                f"got {', '.join(sorted(fields)) or 'none'}"
            )
        fields = self._redactor.row(fields)
        try:
            one = table.to_arrow([{"run_id": run_id, **fields}])
        except ValueError as exc:
            raise HarnessError(f"store {self.path}: {exc}") from None
        self.flush()
        values = [one.column(name)[0].as_py() for name in fields]
        sets = ", ".join(f'"{name}" = ?' for name in fields)
        with self._db_lock:
            try:
                (count,) = self._con.execute(
                    f"UPDATE runs SET {sets} WHERE run_id = ?", [*values, run_id]
                ).fetchone()  # type: ignore[misc]
            except duckdb.Error as exc:
                raise HarnessError(
                    f"store {self.path}: cannot update run {run_id!r}: {_one_line(exc)}"
                ) from exc
        if count == 0:
            raise HarnessError(f"store {self.path}: no run {run_id!r} to update")

    def flush(self) -> None:
        """Block until every row queued so far is committed.

        Raises:
            HarnessError: a write failed (now or earlier).
        """
        with self._cond:
            if self._failure is not None:
                self._raise_unusable()
            target = self._seq_added
            self._flush_wanted = True
            self._cond.notify_all()
            while self._seq_done < target and self._failure is None:
                if not self._thread.is_alive():
                    raise HarnessError(f"store {self.path}: the writer thread is not running")
                self._cond.wait(timeout=0.5)
            if self._failure is not None:
                self._raise_unusable()

    def close(self) -> None:
        """Write what is queued, stop the thread and close the file; idempotent.

        Raises:
            HarnessError: a write failed; the rows not written are saved to a
                ``.unwritten-*.jsonl`` file next to the database.
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()
        with self._db_lock:
            try:
                self._con.close()
            except duckdb.Error as exc:  # the failure below, if any, says more
                log.debug("closing %s: %s", self.path, exc)
        _OPEN_WRITERS.discard(self)
        if self._failure is not None:
            saved = self._save_unwritten()
            raise HarnessError(f"store {self.path}: {self._failure}{saved}") from self._cause

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def duplicate_trials(self) -> int:
        """Trial rows ignored because their ``trial_id`` was already stored."""
        return self._duplicate_trials

    # -- writer thread ---------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                if not (
                    self._stopping
                    or self._flush_wanted
                    or len(self._calls) + len(self._trials) >= self._max_batch
                ):
                    self._cond.wait(timeout=self._interval)
                calls, self._calls = self._calls, []
                trials, self._trials = self._trials, []
                seq = self._seq_added
                stopping = self._stopping
                self._flush_wanted = False
                failed = self._failure is not None
            if failed:
                self._keep_unwritten(calls, trials)
            elif calls or trials:
                try:
                    self._write(calls, trials)
                except BaseException as exc:  # surfaced to the producer, never swallowed
                    self._keep_unwritten(calls, trials)
                    with self._cond:
                        self._failure = self._describe_failure(exc, calls, trials)
                        self._cause = exc
            with self._cond:
                self._seq_done = seq
                self._cond.notify_all()
            if stopping:
                return

    def _write(self, calls: list[dict[str, Any]], trials: list[dict[str, Any]]) -> None:
        # Convert everything before touching the database: a bad row then costs no rollback.
        call_batches = self._batches("calls", calls)
        trial_batches = self._batches("trials", trials)
        with self._db_lock:
            self._con.begin()
            try:
                for batch in call_batches:
                    self._insert("INSERT INTO", "calls", batch)
                ignored = 0
                for batch in trial_batches:
                    stored = self._insert("INSERT OR IGNORE INTO", "trials", batch)
                    ignored += batch.num_rows - stored
                self._con.commit()
            except BaseException:
                try:
                    self._con.rollback()
                except duckdb.Error as exc:
                    log.debug("rollback on %s failed: %s", self.path, exc)
                raise
        if ignored:
            self._duplicate_trials += ignored
            log.warning(
                "store %s: %d trial row(s) ignored: trial_id already stored (first outcome kept)",
                self.path,
                ignored,
            )

    def _batches(self, table: str, rows: list[dict[str, Any]]) -> list[pa.Table]:
        spec = self._tables[table]
        step = self._max_batch
        return [spec.to_arrow(rows[i : i + step]) for i in range(0, len(rows), step)]

    def _insert(self, verb: str, table: str, batch: pa.Table) -> int:
        name = f"_harness_batch_{table}"
        self._con.register(name, batch)
        # No unregister on failure: in an aborted transaction it fails too and
        # would hide the real error; the next register() replaces the view.
        (count,) = self._con.execute(f"{verb} {table} BY NAME SELECT * FROM {name}").fetchone()  # type: ignore[misc]
        self._con.unregister(name)
        return int(count)

    # -- helpers ---------------------------------------------------------------

    def _describe(self, table: str) -> _Table:
        cols = self._con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        key = {"runs": "run_id", "trials": "trial_id", "calls": "call_id"}[table]
        return _Table(table, [(str(c), str(t)) for c, t in cols], key)

    def _check_open(self) -> None:
        with self._cond:
            if self._failure is not None or self._stopping:
                self._raise_unusable()

    def _raise_unusable(self) -> None:
        if self._failure is not None:
            raise HarnessError(f"store {self.path}: {self._failure}") from self._cause
        raise HarnessError(f"store {self.path}: the writer is closed")

    def _keep_unwritten(self, calls: list[dict[str, Any]], trials: list[dict[str, Any]]) -> None:
        self._unwritten["calls"].extend(calls)
        self._unwritten["trials"].extend(trials)

    @staticmethod
    def _describe_failure(
        exc: BaseException, calls: list[dict[str, Any]], trials: list[dict[str, Any]]
    ) -> str:
        return (
            f"writing {len(calls)} calls + {len(trials)} trials rows failed, "
            f"nothing after them is written: {_one_line(exc)}"
        )

    def _save_unwritten(self) -> str:
        rows = [(t, r) for t in ("calls", "trials") for r in self._unwritten[t]]
        if not rows:
            return ""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        dump = self.path.with_name(f"{self.path.name}.unwritten-{stamp}.jsonl")
        try:
            with dump.open("w", encoding="utf-8") as fh:
                for table, row in rows:
                    fh.write(json.dumps({"table": table, "row": row}, default=str) + "\n")
        except OSError as exc:
            return f"; {len(rows)} rows not written and could not be saved: {_one_line(exc)}"
        return f"; {len(rows)} rows not written, saved to {dump}"


def read_completed_trials(path: str | Path, run_id: str | None = None) -> set[str]:
    """The ``trial_id`` of every stored trial row (what resume must not redo).

    Args:
        path: a run's DuckDB file; a missing file means no trial is done.
        run_id: only trials of this run, if given.

    Raises:
        HarnessError: the file exists but cannot be read (e.g. a running
            process holds it).
    """
    p = Path(path)
    if not p.exists():
        return set()
    con = _connect_read(p)
    try:
        has = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_name = 'trials'"
        ).fetchone()
        if not has or not has[0]:
            return set()
        sql = "SELECT trial_id FROM trials"
        params: list[Any] = []
        if run_id is not None:
            sql += " WHERE run_id = ?"
            params.append(run_id)
        return {str(r[0]) for r in con.execute(sql, params).fetchall()}
    except duckdb.Error as exc:
        raise HarnessError(f"store {p}: cannot read trials: {_one_line(exc)}") from exc
    finally:
        con.close()


def _connect_read(p: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(p), read_only=True)
    except duckdb.ConnectionException:
        # A StoreWriter in this process already holds the file read-write;
        # DuckDB then only hands out connections with the same configuration.
        try:
            return duckdb.connect(str(p))
        except duckdb.Error as exc:
            raise HarnessError(f"store {p}: cannot open: {_one_line(exc)}") from exc
    except duckdb.Error as exc:
        raise HarnessError(f"store {p}: cannot open read-only: {_one_line(exc)}") from exc
