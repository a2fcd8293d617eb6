"""LiteLLM Router on the simulator, for scripts/bench_harness.py to compare against.

Runs under an interpreter that has litellm installed (kept out of this project's
dependencies), e.g.::

    python3 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install litellm
    python scripts/bench_harness.py --litellm-python /tmp/litellm-venv/bin/python

Prints one JSON line: {"wall_s": ..., "cpu_s": ..., "calls": ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


async def _run(url: str, n: int, concurrency: int) -> dict[str, float]:
    from litellm import Router

    router = Router(
        model_list=[
            {
                "model_name": "qwen",
                "litellm_params": {
                    "model": "openai/qwen/qwen-2.5-coder-32b-instruct",
                    "api_base": f"{url}/v1",
                    "api_key": "sim",
                },
            }
        ]
    )
    prompt = 'def add(a, b):\n    """Return a + b."""\n'
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await router.acompletion(
                model="qwen",
                messages=[{"role": "user", "content": prompt}],
                max_tokens=1024,
                seed=i,
            )

    w0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0, "calls": n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=256)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(_run(args.url, args.calls, args.concurrency))))


if __name__ == "__main__":
    main()
