"""Overhead of the harness's full call path next to a bare HTTP client loop.

Both talk to the same local simulator (a separate process) in the same run:

* bare: an ``httpx2.AsyncClient`` loop posting prebuilt chat-completion bodies;
* full: ``run_experiment`` — runner → router → client → adapter → simulator →
  DuckDB writer — with the verifier and the report off (``experiment=bench_overhead``);
* litellm (optional): LiteLLM's Router on the same requests, run by
  ``scripts/bench_litellm.py`` under another interpreter that has litellm
  installed (never a dependency of this project).

The full path's rate counts the whole ``run_experiment`` (set-up: config to
YAML, git commit, DuckDB file and migrations; tear-down: final flush and
checkpoint); "calls span only" counts from the first call's start to the last
call's end, as read back from the ``calls`` table.

At concurrency 1 the simulator answers at once; at 256 it waits 200 ms per call,
like a real API. CPU is this process's CPU time (all threads: the DuckDB
writer's included) per call; the simulator's CPU is not counted.

Command (a few minutes on 2 cores):

    python scripts/bench_harness.py                      # 2 000 calls, 3 rounds per config
    python scripts/bench_harness.py --litellm-python /tmp/litellm-venv/bin/python
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.agents.single_shot import build_messages  # noqa: E402
from harness.tasks.humaneval import load_humaneval  # noqa: E402

MODEL_ID = "qwen/qwen-2.5-coder-32b-instruct"


def _settings(latency_ms: float):
    from harness.sim.settings import load_default_settings

    base = load_default_settings()
    profiles = {
        name: dataclasses.replace(p, ttft_ms=latency_ms, tokens_per_s=1e9)
        for name, p in base.profiles.items()
    }
    return dataclasses.replace(base, profiles=profiles, time_scale=1.0)


def _bodies(n: int) -> list[bytes]:
    tasks = load_humaneval()
    out = []
    for i in range(n):
        msgs = [
            {"role": m.role, "content": m.content} for m in build_messages(tasks[i % len(tasks)])
        ]
        body = {
            "model": MODEL_ID,
            "messages": msgs,
            "max_tokens": 1024,
            "temperature": 0.0,
            "seed": i // len(tasks),
        }
        out.append(json.dumps(body).encode())
    return out


async def _bare(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, float]:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=60) as client:
        it = iter(bodies)
        headers = {"content-type": "application/json", "authorization": "Bearer sim"}

        async def worker() -> None:
            for body in it:
                r = await client.post(f"{url}/v1/chat/completions", content=body, headers=headers)
                r.raise_for_status()
                r.json()

        w0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - w0, time.process_time() - c0


def _full(url: str, n_calls: int, concurrency: int, tmp: Path) -> tuple[float, float, int, float]:
    from harness.config.compose import compose_config
    from harness.runner import run_experiment

    n_tasks = 164
    reps = max(1, round(n_calls / n_tasks))
    cfg = compose_config(
        [
            "experiment=bench_overhead",
            "endpoints=sim",
            f"endpoints.url={url}",
            f"replicates={reps}",
            f"runner.concurrency={concurrency}",
            f"results_dir={tmp}",
        ]
    )
    run_dir = tmp / f"full-{concurrency}"
    w0, c0 = time.perf_counter(), time.process_time()
    summary = run_experiment(cfg, run_dir=run_dir)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    import duckdb

    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    # The span of the calls themselves: the run minus its fixed set-up and tear-down.
    calls, span_s = con.execute(
        "SELECT count(*), epoch(max(started_at + to_microseconds((latency_ms * 1000)::BIGINT))"
        " - min(started_at)) FROM calls"
    ).fetchone()
    con.close()
    assert summary.status == "completed"
    return wall, cpu, calls, span_s


def _litellm(python: str, url: str, n: int, concurrency: int) -> tuple[float, float] | None:
    proc = subprocess.run(
        [
            python,
            str(REPO / "scripts" / "bench_litellm.py"),
            "--url",
            url,
            "--calls",
            str(n),
            "--concurrency",
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        print(f"litellm run failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return res["wall_s"], res["cpu_s"]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--concurrency", default="1,256")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians reported")
    ap.add_argument("--litellm-python", default=None, help="interpreter with litellm installed")
    args = ap.parse_args()

    from harness.sim.process import SimProcess

    rows = []
    for conc in (int(c) for c in args.concurrency.split(",")):
        latency = 0.0 if conc == 1 else 200.0
        n = args.calls if conc > 1 else min(args.calls, 1000)
        results: dict[str, list[tuple[int, float, float]]] = {}
        with SimProcess(_settings(latency)) as sim, tempfile.TemporaryDirectory() as tmp:
            bodies = _bodies(n)
            asyncio.run(_bare(sim.url, bodies[:50], min(conc, 50)))  # warm up
            _full(sim.url, 50, min(conc, 50), Path(tmp) / "warm")  # warm up: imports, task cache
            # Interleaved rounds, so drift in machine load hits every path alike.
            for r in range(args.rounds):
                wall, cpu = asyncio.run(_bare(sim.url, bodies, conc))
                results.setdefault("bare httpx2 loop", []).append((n, wall, cpu))
                fwall, fcpu, fcalls, span = _full(sim.url, n, conc, Path(tmp) / f"r{r}")
                results.setdefault("harness full path", []).append((fcalls, fwall, fcpu))
                # CPU of set-up and tear-down is not separable; scaled by the same share.
                results.setdefault("  calls span only", []).append(
                    (fcalls, span, fcpu * span / fwall)
                )
                if args.litellm_python:
                    res = _litellm(args.litellm_python, sim.url, n, conc)
                    if res:
                        results.setdefault("litellm Router", []).append((n, *res))
        for name, runs in results.items():
            rates = sorted(k / w for k, w, _ in runs)
            cpus = sorted(c / k * 1000 for k, _, c in runs)
            rows.append((name, conc, latency, runs[0][0], rates, cpus))
    print(f"{args.rounds} interleaved rounds; median [min, max]")
    print(f"{'path':<20}{'conc':>6}{'lat ms':>8}{'calls':>7}{'calls/s':>26}{'CPU ms/call':>22}")
    for name, conc, lat, n, rates, cpus in rows:
        rate = f"{_median(rates):.1f} [{rates[0]:.0f}, {rates[-1]:.0f}]"
        cpu = f"{_median(cpus):.2f} [{cpus[0]:.2f}, {cpus[-1]:.2f}]"
        print(f"{name:<20}{conc:>6}{lat:>8.0f}{n:>7}{rate:>26}{cpu:>22}")
    for conc in sorted({r[1] for r in rows}):
        by = {r[0]: _median(r[4]) for r in rows if r[1] == conc}
        full = by.get("harness full path")
        span = by.get("  calls span only")
        if full and "bare httpx2 loop" in by:
            line = (
                f"concurrency {conc}: full path = {full / by['bare httpx2 loop']:.2f} x bare loop"
            )
            if span:
                line += f" ({span / by['bare httpx2 loop']:.2f} x over the calls' span)"
            if "litellm Router" in by:
                line += f", {full / by['litellm Router']:.2f} x LiteLLM Router"
            print(line)


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


if __name__ == "__main__":
    main()
