"""Load benchmark of the simulator itself: is it ever the bottleneck?

    python -m harness.sim.bench                      # 2000 requests, 256 concurrent, 200 ms TTFT
    python -m harness.sim.bench --requests 4000 --concurrency 64 --stream

A simulator subprocess serves one profile with the given TTFT and effectively
unlimited tokens/s at time scale 1; an httpx2 client (pool sized to the
concurrency) sends HumanEval prompts in a bounded loop. Printed: requests/s,
the ideal rate (concurrency / TTFT), the simulator's CPU seconds per request
(from /proc) and the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Sequence

from harness.sim.process import SimProcess
from harness.sim.settings import ModelProfile, SimSettings

__all__ = ["main", "run_bench"]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    url: str, prompts: list[str], n: int, concurrency: int, protocol: str, stream: bool
) -> list[int]:
    import httpx2

    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    statuses: list[int] = []
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        counter = iter(range(n))

        async def worker() -> None:
            for i in counter:
                prompt = prompts[i % len(prompts)]
                if protocol == "openai":
                    path = "/v1/chat/completions"
                    body = {
                        "model": "bench",
                        "seed": i,
                        "stream": stream,
                        "messages": [{"role": "user", "content": prompt}],
                    }
                else:
                    path = "/v1/messages"
                    body = {
                        "model": "bench",
                        "max_tokens": 1024,
                        "stream": stream,
                        "messages": [{"role": "user", "content": prompt}],
                    }
                r = await http.post(path, json=body)
                await r.aread()
                statuses.append(r.status_code)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def run_bench(
    requests: int = 2000,
    concurrency: int = 256,
    ttft_ms: float = 200.0,
    protocol: str = "openai",
    stream: bool = False,
) -> dict[str, float]:
    """One bounded load run; returns the figures :func:`main` prints."""
    from harness.sim.recognise import load_tasks

    prompts = [t.prompt for t in load_tasks()] or ["Write a function that adds two numbers."]
    profile = ModelProfile(skill=2.0, ttft_ms=ttft_ms, tokens_per_s=1e9)
    settings = SimSettings(seed=0, time_scale=1.0, profiles={"bench": profile})
    with SimProcess(settings) as sim:
        assert sim.pid is not None
        asyncio.run(_load(sim.url, prompts, min(concurrency, 50), concurrency, protocol, stream))
        cpu0, client0, t0 = _cpu_seconds(sim.pid), time.process_time(), time.perf_counter()
        statuses = asyncio.run(_load(sim.url, prompts, requests, concurrency, protocol, stream))
        wall = time.perf_counter() - t0
        server_cpu = _cpu_seconds(sim.pid) - cpu0
        client_cpu = time.process_time() - client0
    return {
        "requests": len(statuses),
        "ok": sum(s == 200 for s in statuses),
        "wall_s": wall,
        "rps": len(statuses) / wall,
        "ideal_rps": concurrency / (ttft_ms / 1000.0),
        "server_cpu_ms_per_req": 1000 * server_cpu / len(statuses),
        "server_cpu_share": server_cpu / wall,
        "client_cpu_ms_per_req": 1000 * client_cpu / len(statuses),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m harness.sim.bench", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--requests", type=int, default=2000, help="requests in the timed loop (max 20000)"
    )
    p.add_argument("--concurrency", type=int, default=256, help="requests in flight")
    p.add_argument("--ttft-ms", type=float, default=200.0, help="simulated latency of each request")
    p.add_argument("--protocol", choices=("openai", "anthropic"), default="openai")
    p.add_argument("--stream", action="store_true", help="SSE streaming responses")
    args = p.parse_args(argv)
    r = run_bench(
        min(args.requests, 20000), args.concurrency, args.ttft_ms, args.protocol, args.stream
    )
    print(
        f"{args.protocol} stream={args.stream} c={args.concurrency} ttft={args.ttft_ms:g}ms: "
        f"{r['ok']:.0f}/{r['requests']:.0f} ok in {r['wall_s']:.2f} s = {r['rps']:.0f} req/s "
        f"(ideal {r['ideal_rps']:.0f}); simulator CPU {r['server_cpu_ms_per_req']:.2f} ms/req "
        f"({r['server_cpu_share']:.0%} of a core); "
        f"client CPU {r['client_cpu_ms_per_req']:.2f} ms/req"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
