"""Benchmark the batched StoreWriter against one INSERT per row.

Command (from the repo root, venv active)::

    python scripts/bench_store.py                      # defaults below, ~10 s on 2 cores
    python scripts/bench_store.py --rows 50000 --naive-rows 2000

Rows are realistic ``calls`` rows: every column set the way the LLM client
sets it, with JSON-like request and response bodies of ``--body-bytes``
(default 2048) each. Three measurements, each on a fresh DuckDB file:

1. burst: after ``--warm`` rows written untimed, ``--rows`` rows added as fast
   as possible from a coroutine, then ``flush()``; rows/s = rows / (first
   add .. flush returned), plus the time ``add_call`` takes on the caller's
   thread (mean, p99, max in µs).
2. paced: rows at ``--rate`` rows/s for ``--seconds`` from the event loop while
   the writer thread writes behind it; ``add_call`` time and the event loop's
   lag (how late a 1 ms heartbeat wakes up: p99, max) while it does, next to
   the same heartbeat with no writer running.
3. naive: ``--naive-rows`` rows, one parameterised INSERT (autocommit) each.

``--secrets N`` gives the writers a redactor holding N planted keys (none of
which occurs in the rows, the common case), to price the redaction every row
goes through (``add_call`` time; compare with ``--secrets 0``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb

from harness.redact import Redactor
from harness.store.migrations import migrate
from harness.store.writer import StoreWriter

__all__ = ["main"]

_WORDS = (
    "def return for while if else import class self value list dict result "
    "assert index string number lambda yield async await print range len"
).split()


def _body(rng: random.Random, size: int, role: str) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(size // 5))
    payload = {"model": "claude-3-5-sonnet", "messages": [{"role": role, "content": text}]}
    return json.dumps(payload)[:size]


def _rows(n: int, body_bytes: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    requests = [_body(rng, body_bytes, "user") for _ in range(64)]
    responses = [_body(rng, body_bytes, "assistant") for _ in range(64)]
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        ok = i % 10 != 0
        rows.append(
            {
                "call_id": uuid.uuid4().hex,
                "run_id": "bench",
                "trial_id": f"sonnet/HumanEval/{i // 3}/r0",
                "turn": 1,
                "attempt": 1 + (0 if ok else 1),
                "provider": "anthropic",
                "api_protocol": "anthropic",
                "request_model": "claude-3-5-sonnet-20241022",
                "response_model": "claude-3-5-sonnet-20241022" if ok else None,
                "portfolio_model": "claude-3-5-sonnet",
                "router": "fixed",
                "route_reason": "arm sonnet",
                "fallback_from": None,
                "stream": i % 2 == 0,
                "status": "ok" if ok else "error",
                "error_kind": None if ok else "rate_limit",
                "error_message": None if ok else "rate limited: slow down",
                "http_status": 200 if ok else 429,
                "retry_after_s": None if ok else 1.0,
                "input_tokens": rng.randint(100, 2000) if ok else None,
                "output_tokens": rng.randint(50, 800) if ok else None,
                "cached_input_tokens": 0 if ok else None,
                "cost_usd": rng.random() / 100 if ok else None,
                "price_source": "genai-prices",
                "latency_ms": rng.uniform(200, 3000),
                "ttft_ms": rng.uniform(50, 400) if i % 2 == 0 else None,
                "finish_reason": "stop" if ok else None,
                "started_at": now,
                "request_body": requests[i % 64],
                "response_body": responses[i % 64] if ok else '{"error": "rate"}',
            }
        )
    return rows


def _us(values_ns: list[int]) -> dict[str, float]:
    values = sorted(values_ns)
    p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
    return {
        "mean": statistics.fmean(values) / 1e3,
        "p99": p99 / 1e3,
        "max": values[-1] / 1e3,
    }


async def _burst(
    path: Path, rows: list[dict[str, Any]], warm: int, max_batch: int, redactor: Redactor
) -> dict[str, Any]:
    times: list[int] = []
    clock = time.perf_counter_ns
    with StoreWriter(path, max_batch=max_batch, redactor=redactor) as w:
        # First use of Arrow's allocator and DuckDB's appender costs ~0.3 s once;
        # a run pays it once too, so it is kept out of the steady-state figure.
        for row in rows[:warm]:
            w.add_call(row)
        w.flush()
        rows = rows[warm:]
        start = time.perf_counter()
        for row in rows:
            t0 = clock()
            w.add_call(row)
            times.append(clock() - t0)
        queued = time.perf_counter() - start
        w.flush()
        total = time.perf_counter() - start
    return {"rows_per_s": len(rows) / total, "queue_s": queued, "total_s": total, **_us(times)}


async def _paced(
    path: Path,
    rows: list[dict[str, Any]],
    rate: float,
    seconds: float,
    max_batch: int,
    redactor: Redactor,
) -> dict[str, Any]:
    times: list[int] = []
    lags: list[float] = []
    clock = time.perf_counter_ns
    stop = asyncio.Event()

    async def heartbeat() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            t0 = loop.time()
            await asyncio.sleep(0.001)
            lags.append(loop.time() - t0 - 0.001)

    n = min(len(rows), int(rate * seconds))
    tick = 0.01  # add rate*tick rows every 10 ms
    per_tick = max(1, int(rate * tick))
    with StoreWriter(path, max_batch=max_batch, redactor=redactor) as w:
        hb = asyncio.create_task(heartbeat())
        start = time.perf_counter()
        i = 0
        while i < n and time.perf_counter() - start < seconds * 3:
            for row in rows[i : i + per_tick]:
                t0 = clock()
                w.add_call(row)
                times.append(clock() - t0)
            i += per_tick
            await asyncio.sleep(max(0.0, start + (i / rate) - time.perf_counter()))
        stop.set()
        await hb
        w.flush()
    lags.sort()
    return {
        "rows": len(times),
        **_us(times),
        "lag_p99_ms": lags[int(0.99 * (len(lags) - 1))] * 1e3,
        "lag_max_ms": lags[-1] * 1e3,
    }


async def _idle_lag(seconds: float) -> dict[str, float]:
    """The heartbeat's lag with no writer at all: the floor for the paced figure."""
    lags: list[float] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        t0 = loop.time()
        await asyncio.sleep(0.001)
        lags.append(loop.time() - t0 - 0.001)
    lags.sort()
    return {"lag_p99_ms": lags[int(0.99 * (len(lags) - 1))] * 1e3, "lag_max_ms": lags[-1] * 1e3}


def _naive(path: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    con = duckdb.connect(str(path))
    migrate(con)
    cols = list(rows[0])
    sql = f"INSERT INTO calls ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    start = time.perf_counter()
    for row in rows:
        con.execute(sql, [row[c] for c in cols])
    total = time.perf_counter() - start
    con.close()
    return {"rows_per_s": len(rows) / total, "ms_per_row": total / len(rows) * 1e3}


def main(argv: list[str] | None = None) -> None:
    """Run the three measurements and print them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50000, help="burst rows")
    ap.add_argument("--max-batch", type=int, default=2000, help="StoreWriter max_batch")
    ap.add_argument("--warm", type=int, default=2000, help="rows written before timing")
    ap.add_argument("--body-bytes", type=int, default=2048, help="size of each body")
    ap.add_argument("--rate", type=float, default=5000.0, help="paced rows per second")
    ap.add_argument("--seconds", type=float, default=2.0, help="paced duration")
    ap.add_argument("--naive-rows", type=int, default=1000, help="one-INSERT-per-row rows")
    ap.add_argument("--secrets", type=int, default=0, help="planted keys to redact")
    args = ap.parse_args(argv)
    redactor = Redactor(
        {f"KEY_{i}": f"PLANTED-bench-key-{i:02d}-x7y8z9" for i in range(args.secrets)}
    )

    n_rows = max(args.rows + args.warm, int(args.rate * args.seconds), args.naive_rows)
    rows = _rows(n_rows, args.body_bytes)
    size = sum(len(r["request_body"]) + len(r["response_body"]) for r in rows[:1000]) / 1000
    print(
        f"calls rows: {len(rows[0])} columns, bodies {size:.0f} bytes/row; "
        f"duckdb {duckdb.__version__}; {args.secrets} secrets to redact"
    )
    with tempfile.TemporaryDirectory(prefix="bench_store_") as tmp:
        d = Path(tmp)
        b = asyncio.run(
            _burst(
                d / "burst.duckdb",
                rows[: args.rows + args.warm],
                args.warm,
                args.max_batch,
                redactor,
            )
        )
        print(
            f"StoreWriter burst : {args.rows} rows in {b['total_s']:.2f} s = "
            f"{b['rows_per_s']:,.0f} rows/s (queued in {b['queue_s'] * 1e3:.0f} ms); "
            f"add_call mean {b['mean']:.2f} µs, p99 {b['p99']:.2f} µs, max {b['max']:.0f} µs"
        )
        p = asyncio.run(
            _paced(d / "paced.duckdb", rows, args.rate, args.seconds, args.max_batch, redactor)
        )
        print(
            f"StoreWriter paced : {p['rows']} rows at {args.rate:,.0f} rows/s; add_call mean "
            f"{p['mean']:.2f} µs, p99 {p['p99']:.2f} µs, max {p['max']:.0f} µs; event-loop "
            f"lag p99 {p['lag_p99_ms']:.2f} ms, max {p['lag_max_ms']:.2f} ms"
        )
        idle = asyncio.run(_idle_lag(args.seconds))
        print(
            f"no writer (floor) : event-loop lag p99 {idle['lag_p99_ms']:.2f} ms, "
            f"max {idle['lag_max_ms']:.2f} ms"
        )
        nv = _naive(d / "naive.duckdb", rows[: args.naive_rows])
        print(
            f"one INSERT per row: {args.naive_rows} rows = {nv['rows_per_s']:,.0f} rows/s "
            f"({nv['ms_per_row']:.2f} ms/row, on the caller's thread)"
        )
        print(f"batched / naive throughput: {b['rows_per_s'] / nv['rows_per_s']:.0f}x")


if __name__ == "__main__":
    main()
