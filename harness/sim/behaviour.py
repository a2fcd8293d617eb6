"""What a simulated model says: the task draw, the answer text, tool calls, token counts.

Protocol-neutral: the wire modules parse a request into a :class:`SimRequest`
and render the :class:`Reply` this module makes.

Quality. For a recognised task, P(correct) = sigmoid(skill +
category_skill[category] - difficulty); the shared per-task difficulty makes
models correlate per task as real ones do. The draw is a hash of (seed,
profile, task id, variation), where the variation is the request's OpenAI
``seed`` (else its ``user``) or Anthropic ``metadata.user_id``; the harness
varies them per replicate. The same request gives the same answer, and
replicates are independent draws. A correct answer carries the task's reference solution, a
wrong one a mutant of it (:mod:`harness.sim.mutate`).

Prompt cache. The wire modules list the request's cacheable prefixes
(:attr:`SimRequest.cache_points`): every message boundary for OpenAI, which
caches automatically, and every ``cache_control`` breakpoint for Anthropic.
:class:`PromptCache` remembers the prefixes of at least ``cache_min_tokens``
tokens per profile for ``SimSettings.prompt_cache_ttl_s``: a repeat within the
TTL reads the longest remembered prefix (OpenAI: in 128-token steps), and an
explicit breakpoint not yet cached is written (Anthropic's
``cache_creation_input_tokens``). Usage therefore depends on the requests
that came before — as with a real provider — while answers never do.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.sim.mutate import MutantCache
from harness.sim.recognise import TaskIndex
from harness.sim.settings import ModelProfile, SimSettings
from harness.tasks.types import Task

__all__ = [
    "Behaviour",
    "Draw",
    "PromptCache",
    "Reply",
    "SimRequest",
    "ToolCallOut",
    "probability",
    "tool_arguments",
]


@dataclass(slots=True)
class SimRequest:
    """A chat request, whichever protocol it came in."""

    protocol: str
    """``openai`` or ``anthropic``."""
    model: str
    task_text: str
    """Text of the last user message that is not only tool results."""
    input_chars: int
    """Characters of every message, the system prompt and the tool definitions."""
    after_tool_result: bool = False
    """The conversation's last message is a tool result."""
    tools: list[dict[str, Any]] = field(default_factory=list)
    """``{"name": ..., "parameters": <JSON schema>}`` per tool."""
    tool_choice: str = "auto"
    """``auto``, ``none``, ``required``, or ``tool:<name>``."""
    parallel_tools: bool = True
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False
    """OpenAI ``stream_options.include_usage``."""
    variation: str = "0"
    cache_points: list[tuple[str, int]] = field(default_factory=list)
    """Cacheable prompt prefixes as (digest, characters), shortest first."""
    cache_explicit: bool = False
    """The points are explicit breakpoints (Anthropic): a new one is written and reported."""
    usage_include: bool = False
    """OpenRouter's ``usage: {include: true}``: the usage carries a ``cost``."""
    served_by: str | None = None
    """OpenRouter only: the upstream provider the response names."""


@dataclass(slots=True)
class ToolCallOut:
    """One tool call; ``key`` is a hex id the wire prefixes (``call_``, ``toolu_``)."""

    key: str
    name: str
    arguments: str
    """JSON text (cut short when ``max_tokens`` ran out)."""


@dataclass(slots=True)
class Reply:
    text: str
    tool_calls: list[ToolCallOut]
    finish: str
    """``stop``, ``length``, ``tool_calls`` or ``stop_sequence``."""
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    stop_sequence: str | None = None
    task_id: str | None = None
    correct: bool | None = None
    cache_write_tokens: int = 0
    """Prompt tokens written to the cache (reported by explicit-cache protocols)."""
    report_cost: bool = False
    """Put a cost in the usage (OpenRouter usage accounting)."""
    served_by: str | None = None


@dataclass(frozen=True, slots=True)
class Draw:
    """The seeded draw of one (profile, task, variation)."""

    p: float
    u: float
    correct: bool
    choice: int
    style: int


def probability(profile: ModelProfile, task: Task) -> float:
    """P(correct) of ``profile`` on ``task``."""
    logit = profile.skill + profile.category_skill.get(task.category, 0.0) - task.difficulty
    return 1.0 / (1.0 + math.exp(-logit))


def _digest(*parts: object) -> bytes:
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=24).digest()


_INTROS = (
    "Here is the complete solution:",
    "Here's an implementation that follows the specification:",
    "The following code solves the task:",
    "Sure, here is the Python code:",
    "Here is one way to implement it:",
)
_OUTROS = (
    "",
    "Let me know if you need any changes.",
    "The function handles the examples given in the prompt.",
    "",
    "It keeps the original signature, so it can be dropped in as is.",
)
_GENERIC = (
    "I can help with that. Could you share the function signature and a few example inputs "
    "and outputs? With those I can write the code and a couple of tests for it.",
    "Here is a general approach: start from the simplest case, write a small function for it, "
    "add tests for the edge cases (empty input, a single element, duplicates), then generalise. "
    "If you paste the code you have, I can point out exactly what to change.",
    "Sure. A minimal example in Python:\n\n```python\ndef solve(items):\n"
    "    return sorted(set(items))\n```\n\nIt removes duplicates and returns the items in "
    "ascending order.",
    "Happy to help. In short: read the input, validate it early, keep the core logic in a pure "
    "function, and cover it with a few unit tests so later changes stay safe.",
)
# Property names that receive the code answer in a tool call's arguments.
_CODE_WORDS = ("code", "source", "content", "program", "script", "solution", "patch", "body")


def _short_string(name: str, task: Task | None) -> str:
    lowered = name.lower()
    if "path" in lowered or "file" in lowered:
        return "solution.py"
    if "command" in lowered or "cmd" in lowered:
        return "python solution.py"
    if "lang" in lowered:
        return "python"
    if task is not None and ("name" in lowered or "query" in lowered or "func" in lowered):
        return task.entry_point
    return "example"


def _value(name: str, schema: Any, code: str, task: Task | None, depth: int) -> Any:
    if not isinstance(schema, dict):
        return "example"
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "string":
        return code if any(w in name.lower() for w in _CODE_WORDS) else _short_string(name, task)
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if kind == "array":
        items = schema.get("items")
        return [_value(name, items, code, task, depth + 1)] if items and depth < 3 else []
    if kind == "object":
        return tool_arguments(schema, code, task, depth + 1) if depth < 3 else {}
    return None


def tool_arguments(
    schema: dict[str, Any], code: str, task: Task | None = None, depth: int = 0
) -> dict[str, Any]:
    """Arguments for a tool from its JSON schema.

    Every declared property gets a value of its type: string properties named
    like code (``code``, ``source``, ``content`` …) get ``code``, others a
    short string guessed from the name (a path, a command, the entry point).
    """
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return {}
    return {str(k): _value(str(k), v, code, task, depth) for k, v in props.items()}


class PromptCache:
    """Prompt prefixes each simulated model holds, each until its TTL runs out."""

    _PRUNE_AT = 50_000

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._until: dict[tuple[str, str], float] = {}

    def lookup(
        self,
        model: str,
        points: list[tuple[str, int]],
        chars_per_token: float,
        min_tokens: int,
        explicit: bool,
    ) -> tuple[int, int]:
        """(tokens read, tokens written) for a request's prefixes; remembers them.

        Prefixes under ``min_tokens`` are never cached. Automatic caches
        (``explicit`` False) report reads in 128-token steps and no writes.
        """
        now = self._clock()
        sized = [(d, math.ceil(chars / chars_per_token)) for d, chars in points]
        sized = [(d, t) for d, t in sized if t >= max(1, min_tokens)]
        read = max((t for d, t in sized if self._until.get((model, d), -1.0) > now), default=0)
        written = 0
        if explicit:
            written = max((t for _, t in sized), default=0) - read
        else:
            read = read // 128 * 128
        if len(self._until) > self._PRUNE_AT:
            self._until = {k: v for k, v in self._until.items() if v > now}
        for d, _ in sized:
            self._until[(model, d)] = now + self.ttl_s  # a hit refreshes the entry
        return read, max(0, written)

    def clear(self) -> None:
        """Forget every cached prefix."""
        self._until.clear()


class Behaviour:
    """Turns a :class:`SimRequest` into a :class:`Reply` for a profile.

    Holds the task index, the mutant cache and the prompt cache; the answer is
    a pure function of the settings and the request.
    """

    def __init__(self, settings: SimSettings, index: TaskIndex) -> None:
        self.settings = settings
        self.index = index
        self._mutants = MutantCache()
        self.cache = PromptCache(settings.prompt_cache_ttl_s)

    def profile_for(self, model: str) -> tuple[str, ModelProfile] | None:
        """The (name, profile) an API model id answers as, else None."""
        name = self.settings.model_ids.get(model)
        if name is None and model in self.settings.profiles:
            name = model
        if name is None:
            return None
        return name, self.settings.profiles[name]

    def draw(self, name: str, profile: ModelProfile, task: Task, variation: str) -> Draw:
        """The seeded correctness draw of ``profile`` on ``task`` for one variation."""
        d = _digest(self.settings.seed, name, task.task_id, variation)
        p = probability(profile, task)
        u = int.from_bytes(d[:8], "big") / 2.0**64
        return Draw(
            p=p,
            u=u,
            correct=u < p,
            choice=int.from_bytes(d[8:16], "big"),
            style=int.from_bytes(d[16:], "big"),
        )

    def code_for(self, task: Task, draw: Draw) -> str:
        """The reference when the draw is correct, else its mutant for the draw's choice."""
        if draw.correct:
            return task.reference
        return self._mutants.mutant(task.task_id, task.reference, draw.choice, task.entry_point)

    def reply(self, name: str, profile: ModelProfile, req: SimRequest) -> Reply:
        """The model's answer to ``req``."""
        task = self.index.match(req.task_text) if req.task_text else None
        correct: bool | None = None
        if task is not None:
            draw = self.draw(name, profile, task, req.variation)
            code = self.code_for(task, draw)
            correct = draw.correct
            intro = _INTROS[draw.style % len(_INTROS)]
            outro = _OUTROS[(draw.style // len(_INTROS)) % len(_OUTROS)]
            text = f"{intro}\n\n```python\n{code.rstrip()}\n```\n"
            if outro:
                text += f"\n{outro}\n"
            seed_key = task.task_id
        else:
            d = _digest(self.settings.seed, name, req.task_text, req.variation)
            code = ""
            text = _GENERIC[int.from_bytes(d[:8], "big") % len(_GENERIC)]
            seed_key = req.task_text

        calls: list[ToolCallOut] = []
        wants_tool = req.tools and req.tool_choice != "none"
        forced = req.tool_choice == "required" or req.tool_choice.startswith("tool:")
        if wants_tool and (forced or not req.after_tool_result):
            calls = self._tool_calls(name, req, code or text, task, seed_key)
            text = f"I'll use the `{calls[0].name}` tool." if req.protocol == "anthropic" else ""
        return self._finish(profile, req, text, calls, task, correct)

    def _tool_calls(
        self, name: str, req: SimRequest, code: str, task: Task | None, seed_key: str
    ) -> list[ToolCallOut]:
        by_name = {t["name"]: t for t in req.tools}
        if req.tool_choice.startswith("tool:") and req.tool_choice[5:] in by_name:
            chosen = [by_name[req.tool_choice[5:]]]
        else:
            chosen = req.tools[: 2 if req.parallel_tools else 1]
        calls = []
        for i, tool in enumerate(chosen):
            args = tool_arguments(tool.get("parameters") or {}, code, task)
            key = _digest(self.settings.seed, name, seed_key, req.variation, i).hex()[:24]
            calls.append(ToolCallOut(key=key, name=tool["name"], arguments=json.dumps(args)))
        return calls

    def _finish(
        self,
        profile: ModelProfile,
        req: SimRequest,
        text: str,
        calls: list[ToolCallOut],
        task: Task | None,
        correct: bool | None,
    ) -> Reply:
        finish = "tool_calls" if calls else "stop"
        stop_sequence = None
        for stop in req.stop:
            at = text.find(stop) if stop else -1
            if at >= 0 and not calls:
                text, finish, stop_sequence = text[:at], "stop_sequence", stop
        cpt = profile.chars_per_token
        if req.max_tokens is not None:
            budget = int(req.max_tokens * cpt)
            if len(text) > budget:
                text, calls, finish = text[:budget], [], "length"
            else:
                budget -= len(text)
                kept = []
                for call in calls:
                    need = len(call.name) + len(call.arguments)
                    if need > budget:
                        cut = max(0, budget - len(call.name))
                        kept.append(ToolCallOut(call.key, call.name, call.arguments[:cut]))
                        finish = "length"
                        break
                    budget -= need
                    kept.append(call)
                calls = kept
        out_chars = len(text) + sum(len(c.name) + len(c.arguments) for c in calls)
        output_tokens = max(1, math.ceil(out_chars / cpt))
        if req.max_tokens is not None:
            output_tokens = min(output_tokens, max(1, req.max_tokens))
        input_tokens = max(1, math.ceil(req.input_chars / cpt))
        # Per API model id: two deployments of one profile do not share a cache.
        cached, written = self.cache.lookup(
            req.model, req.cache_points, cpt, profile.cache_min_tokens, req.cache_explicit
        )
        if not cached and input_tokens >= profile.cache_min_tokens:
            cached = int(input_tokens * profile.cached_share)
        cached = min(cached, input_tokens)
        written = min(written, input_tokens - cached)
        return Reply(
            text=text,
            tool_calls=calls,
            finish=finish,
            input_tokens=input_tokens,
            cached_tokens=cached,
            output_tokens=output_tokens,
            stop_sequence=stop_sequence,
            task_id=task.task_id if task else None,
            correct=correct,
            cache_write_tokens=written,
            report_cost=req.usage_include,
            served_by=req.served_by,
        )

    def delays(self, profile: ModelProfile) -> tuple[float, float]:
        """(time to first token, seconds per output token), both scaled, in wall seconds."""
        scale = self.settings.time_scale
        return profile.ttft_ms / 1000.0 * scale, scale / profile.tokens_per_s
