"""What a task asks of a model: size, category, complexity, and needs.

Routers read these to decide; nothing here does I/O except
:func:`fit_chars_per_token` / :func:`load_chars_per_token`, which calibrate the
token estimate from logged calls and are run offline (``route_fit``).

Token estimate without a tokenizer: the prompt's characters divided by the
model family's characters per token. The defaults below are assumptions about
tokenizers on English plus code (lower is more conservative: it estimates more
tokens); :func:`fit_chars_per_token` replaces them with figures measured from
a results folder's ``calls`` rows (message text length vs ``input_tokens``).

Needs follow the seed's task-to-model table (§2.2, its "Reason" column): the
category sets a base need for coding, reasoning, long context and speed (0–1);
complexity shifts need from speed to reasoning (harder tasks need more
reasoning and less speed), and a task marked ``long_context`` needs it fully.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.tasks.types import CATEGORIES, Task

__all__ = [
    "CATEGORY_NEEDS",
    "DEFAULT_CHARS_PER_TOKEN",
    "MESSAGE_OVERHEAD_TOKENS",
    "FamilyFit",
    "Needs",
    "TaskRequirements",
    "chars_per_token",
    "complexity",
    "estimate_tokens",
    "fit_chars_per_token",
    "load_chars_per_token",
    "model_family",
    "request_text_chars",
    "requirements",
]

#: Characters per token by model family (assumed, see module docstring).
DEFAULT_CHARS_PER_TOKEN: dict[str, float] = {
    "gpt": 4.0,
    "claude": 3.5,
    "gemini": 4.0,
    "qwen": 3.7,
    "deepseek": 3.7,
    "llama": 3.8,
    "mistral": 3.6,
    "default": 3.5,
}

#: Tokens a chat template adds per message (role markers); an assumption.
MESSAGE_OVERHEAD_TOKENS = 4

# Substrings of a model id or portfolio key -> family, first match wins.
_FAMILY_MARKERS: tuple[tuple[str, str], ...] = (
    ("claude", "claude"),
    ("gemini", "gemini"),
    ("qwen", "qwen"),
    ("deepseek", "deepseek"),
    ("llama", "llama"),
    ("mistral", "mistral"),
    ("codestral", "mistral"),
    ("gpt", "gpt"),
    ("o1", "gpt"),
    ("o3", "gpt"),
    ("o4", "gpt"),
)


@dataclass(frozen=True, slots=True)
class Needs:
    """How much a task needs each capability, 0–1 (the seed's rating columns)."""

    coding: float = 0.5
    reasoning: float = 0.5
    long_context: float = 0.0
    speed: float = 0.0

    def weighted(self, caps: Any) -> float:
        """Need-weighted mean of a model's ratings (``caps`` has the same four fields)."""
        total = self.coding + self.reasoning + self.long_context + self.speed
        if total <= 0:
            return 0.0
        return (
            self.coding * caps.coding
            + self.reasoning * caps.reasoning
            + self.long_context * caps.long_context
            + self.speed * caps.speed
        ) / total


#: Base needs per category, from the seed's §2.2 reasons.
CATEGORY_NEEDS: dict[str, Needs] = {
    # "Best reasoning"
    "complex_debugging": Needs(coding=1.0, reasoning=1.0, long_context=0.0, speed=0.0),
    # "Speed + quality"
    "code_generation": Needs(coding=1.0, reasoning=0.5, long_context=0.0, speed=0.5),
    # "Context understanding"
    "refactoring": Needs(coding=1.0, reasoning=0.5, long_context=0.5, speed=0.0),
    # "Cost efficiency": fast and cheap, little reasoning
    "simple": Needs(coding=0.5, reasoning=0.0, long_context=0.0, speed=1.0),
    # "Context window"
    "long_files": Needs(coding=0.5, reasoning=0.5, long_context=1.0, speed=0.0),
    # "Conservative reasoning"
    "security": Needs(coding=0.5, reasoning=1.0, long_context=0.0, speed=0.0),
}
assert set(CATEGORY_NEEDS) == set(CATEGORIES)


@dataclass(frozen=True, slots=True)
class TaskRequirements:
    """A task's demands on a model.

    Attributes:
        category: One of :data:`~harness.tasks.types.CATEGORIES`.
        complexity: 0 (trivial) – 1 (hard).
        prompt_chars: Characters of every message the model will read.
        needs: Capability needs, 0–1 each.
        n_messages: Messages in the prompt (for the template overhead).
    """

    category: str
    complexity: float
    prompt_chars: int
    needs: Needs
    n_messages: int = 2

    def input_tokens(self, chars_per_tok: float) -> int:
        """Estimated prompt tokens for a model family with this many characters per token."""
        return estimate_tokens(self.prompt_chars, chars_per_tok, n_messages=self.n_messages)


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, x))


def complexity(task: Task) -> float:
    """Task complexity in 0–1.

    ``metadata["complexity"]`` when a suite sets it, else the logistic of the
    task's latent ``difficulty`` (logit scale, mean 0): a task of average
    difficulty is 0.5.
    """
    given = task.metadata.get("complexity")
    if isinstance(given, int | float):
        return _clamp(float(given))
    return 1.0 / (1.0 + math.exp(-task.difficulty))


def requirements(task: Task, *, extra_chars: int = 0, n_messages: int = 2) -> TaskRequirements:
    """A task's requirements.

    Args:
        task: The task.
        extra_chars: Characters the agent adds around the task prompt (system prompt).
        n_messages: Messages the agent sends.
    """
    base = CATEGORY_NEEDS.get(task.category, Needs())
    c = complexity(task)
    shift = c - 0.5
    long_ctx = 1.0 if task.metadata.get("long_context") else base.long_context
    needs = Needs(
        coding=base.coding,
        reasoning=_clamp(base.reasoning + shift),
        long_context=long_ctx,
        speed=_clamp(base.speed - shift),
    )
    return TaskRequirements(
        category=task.category,
        complexity=c,
        prompt_chars=len(task.prompt) + extra_chars,
        needs=needs,
        n_messages=n_messages,
    )


def estimate_tokens(chars: int, chars_per_tok: float, *, n_messages: int = 2) -> int:
    """Prompt tokens from characters: ``ceil(chars / cpt) + overhead per message``."""
    return math.ceil(chars / chars_per_tok) + MESSAGE_OVERHEAD_TOKENS * n_messages


def model_family(model_id: str, key: str = "") -> str:
    """Tokenizer family of a model from its API id (or portfolio key): gpt, claude, …, default."""
    for text in (model_id.lower(), key.lower()):
        for marker, family in _FAMILY_MARKERS:
            if marker in text:
                return family
    return "default"


def chars_per_token(family: str, overrides: Mapping[str, float] | None = None) -> float:
    """Characters per token of a family: the override, else the default table."""
    if overrides and family in overrides:
        return float(overrides[family])
    return DEFAULT_CHARS_PER_TOKEN.get(family, DEFAULT_CHARS_PER_TOKEN["default"])


def request_text_chars(body: str) -> tuple[int, int] | None:
    """(text characters, messages) of a logged request body, or None if unreadable.

    Counts the text a tokenizer sees: message contents (strings or text parts),
    an Anthropic top-level ``system``, and Gemini ``contents``/``systemInstruction``
    parts — not the JSON around them.
    """
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    chars = 0
    n = 0

    def text_of(content: Any) -> int:
        if isinstance(content, str):
            return len(content)
        if isinstance(content, list):
            return sum(text_of(p) for p in content)
        if isinstance(content, dict):
            if isinstance(content.get("text"), str):
                return len(content["text"])
            if "parts" in content:
                return text_of(content["parts"])
            if "content" in content:
                return text_of(content["content"])
        return 0

    for m in data.get("messages") or []:
        if isinstance(m, dict):
            chars += text_of(m.get("content"))
            n += 1
    if "system" in data:
        chars += text_of(data["system"])
        n += 1
    for m in data.get("contents") or []:
        chars += text_of(m)
        n += 1
    if "systemInstruction" in data:
        chars += text_of(data["systemInstruction"])
        n += 1
    return (chars, n) if n else None


@dataclass(frozen=True, slots=True)
class FamilyFit:
    """Fitted characters per token of one family, with the calls it came from.

    Attributes:
        family: Tokenizer family (:func:`model_family`).
        chars_per_token: 1 / slope of input tokens on text characters.
        overhead_tokens: Intercept: tokens the template adds per call (informational).
        calls: Calls the fit used.
    """

    family: str
    chars_per_token: float
    overhead_tokens: float
    calls: int


def fit_chars_per_token(results: str | Path) -> dict[str, FamilyFit]:
    """Fit characters per token per model family from a results folder's ``calls`` rows.

    Uses successful calls with a stored request body and reported ``input_tokens``;
    fits ``input_tokens = overhead + chars / cpt`` by least squares, so a constant
    template overhead does not bias ``cpt``. With fewer than 3 distinct prompt
    lengths the intercept cannot be told apart: then ``cpt = Σ chars / Σ tokens``.

    Raises:
        HarnessError: no run database under ``results``.
    """
    import numpy as np

    from harness.store.reader import open_results

    con = open_results(results)
    try:
        rows = con.execute(
            "SELECT request_model, portfolio_model, request_body, input_tokens FROM calls "
            "WHERE status = 'ok' AND input_tokens > 0 AND request_body IS NOT NULL"
        ).fetchall()
    finally:
        con.close()
    points: dict[str, list[tuple[int, int]]] = {}
    for model_id, key, body, tokens in rows:
        parsed = request_text_chars(body)
        if parsed is None or parsed[0] <= 0:
            continue
        fam = model_family(model_id or "", key or "")
        points.setdefault(fam, []).append((parsed[0], int(tokens)))
    fits: dict[str, FamilyFit] = {}
    for fam, pts in sorted(points.items()):
        chars = np.array([c for c, _ in pts], dtype=float)
        toks = np.array([t for _, t in pts], dtype=float)
        if len(set(chars.tolist())) >= 3:
            design = np.column_stack([chars, np.ones_like(chars)])
            (slope, icpt), *_ = np.linalg.lstsq(design, toks, rcond=None)
            if slope > 0:
                cpt = round(float(1.0 / slope), 4)
                fits[fam] = FamilyFit(fam, cpt, round(float(icpt), 2), len(pts))
                continue
        fits[fam] = FamilyFit(fam, round(float(chars.sum() / toks.sum()), 4), 0.0, len(pts))
    return fits


def load_chars_per_token(path: str | Path) -> dict[str, float]:
    """The ``chars_per_token`` table of a router YAML file (as ``route_fit`` writes it)."""
    from omegaconf import OmegaConf

    from harness.errors import ConfigError

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"chars_per_token: {p} does not exist")
    data = OmegaConf.to_container(OmegaConf.load(p))
    table = data.get("chars_per_token", {}) if isinstance(data, dict) else {}
    if not isinstance(table, dict) or not all(
        isinstance(v, int | float) and v > 0 for v in table.values()
    ):
        raise ConfigError(f"{p}: chars_per_token must map families to positive numbers")
    return {str(k): float(v) for k, v in table.items()}
