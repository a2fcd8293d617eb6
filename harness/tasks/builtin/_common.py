"""Shared construction helpers for the builtin suite's category modules."""

from __future__ import annotations

from collections.abc import Iterable

from harness.tasks.types import CATEGORIES, Task

__all__ = ["ANSWER_FORMAT", "derive", "make_task"]

#: Appended to every prompt, so every task asks for the same answer shape.
ANSWER_FORMAT = (
    "Use only the Python standard library. Reply with the complete Python module "
    "(all imports and definitions the task needs) in a single ```python code block."
)


def derive(source: str, replacements: Iterable[tuple[str, str]]) -> str:
    """Derive a variant of ``source`` (the buggy or messy code shown in a prompt).

    Deriving the shown code from the reference keeps the two from drifting apart: a fix the
    task expects is exactly the reverse of one replacement.

    Args:
        source: The reference module.
        replacements: ``(old, new)`` pairs; each ``old`` must occur exactly once in the text
            at the time it is applied.

    Raises:
        ValueError: An ``old`` occurs zero or several times.
    """
    out = source
    for old, new in replacements:
        count = out.count(old)
        if count != 1:
            raise ValueError(f"derive: {old!r} occurs {count} times, expected exactly once")
        out = out.replace(old, new)
    return out


def make_task(
    *,
    category: str,
    name: str,
    difficulty: float,
    entry_point: str,
    instructions: str,
    reference: str,
    tests: str,
    code: str | None = None,
    tags: Iterable[str] = (),
    long_context: bool = False,
) -> Task:
    """Build one builtin task with the suite's prompt layout.

    The prompt is ``instructions``, then ``code`` (if any) in a fenced Python block, then
    :data:`ANSWER_FORMAT`.

    Raises:
        ValueError: Unknown category, or a prompt that never names ``entry_point``.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    parts = [instructions.strip()]
    if code is not None:
        parts.append("```python\n" + code.strip("\n") + "\n```")
    parts.append(ANSWER_FORMAT)
    prompt = "\n\n".join(parts) + "\n"
    if entry_point not in prompt:
        raise ValueError(f"{category}/{name}: prompt does not mention {entry_point!r}")
    metadata: dict[str, object] = {"source": "harness builtin", "tags": list(tags)}
    if long_context:
        metadata["long_context"] = True
    return Task(
        task_id=f"builtin/{category}/{name}",
        suite="builtin",
        category=category,
        prompt=prompt,
        entry_point=entry_point,
        reference=reference.strip("\n") + "\n",
        tests=tests.strip("\n") + "\n",
        test_style="functions",
        difficulty=difficulty,
        metadata=metadata,
    )
