"""The task type shared by suites, agents, the simulator and the verifier."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["CATEGORIES", "Task", "TestStyle"]

#: The seed document's six task categories (section 2.2), in its order.
CATEGORIES: tuple[str, ...] = (
    "complex_debugging",
    "code_generation",
    "refactoring",
    "simple",
    "long_files",
    "security",
)

TestStyle = Literal["humaneval", "functions"]


@dataclass(frozen=True, slots=True)
class Task:
    """One coding task.

    Attributes:
        task_id: Unique across suites, e.g. ``HumanEval/0`` or ``builtin/sec_sql_01``.
        suite: ``humaneval`` or ``builtin``.
        category: One of :data:`CATEGORIES`.
        prompt: The task text the model sees (code to complete or fix, plus instructions).
        entry_point: Name of the function (or class) the tests exercise.
        reference: A complete, correct Python solution (module source).
        tests: Hidden test source. ``humaneval`` style defines ``check(candidate)``;
            ``functions`` style defines ``test_*`` functions taking no arguments.
        test_style: How ``tests`` is run.
        difficulty: Latent difficulty on the logit scale (mean 0, sd about 1);
            the simulator uses it so arms correlate per task.
        metadata: Free-form extras (source, tags, expected tokens).
    """

    task_id: str
    suite: str
    category: str
    prompt: str
    entry_point: str
    reference: str
    tests: str
    test_style: TestStyle = "humaneval"
    difficulty: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
