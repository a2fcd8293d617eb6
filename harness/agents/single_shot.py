"""Single-shot agent: one prompt, one answer, verified by the hidden tests."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.errors import SandboxError
from harness.llm.client import CallContext, LLMClient
from harness.llm.types import ChatRequest, Message
from harness.routing.base import Decision
from harness.tasks.types import Task

__all__ = ["SYSTEM_PROMPT", "TrialSpec", "build_messages", "run_trial"]

SYSTEM_PROMPT = (
    "You are an expert Python programmer. Solve the task below. Reply with the complete "
    "Python code in a single ```python code block."
)


@dataclass(frozen=True, slots=True)
class TrialSpec:
    """One trajectory to produce: a task, an arm, a replicate."""

    trial_id: str
    task: Task
    arm: str
    router: str
    model: str
    route_reason: str
    replicate: int
    assign_u: float | None = None
    models: tuple[str, ...] = ()
    """Portfolio keys the arm's router may choose (routing happens at dispatch)."""
    decision: Decision | None = None
    """The router's decision, set at dispatch (``model`` and ``route_reason`` follow it)."""


def build_messages(task: Task) -> tuple[Message, ...]:
    # The task prompt goes in verbatim: the simulator recognises tasks by it.
    return (Message("system", SYSTEM_PROMPT), Message("user", task.prompt))


def replicate_seed(seed: int, replicate: int) -> int:
    """Per-replicate sampling seed, the same for every arm (arms stay paired)."""
    return (seed * 1_000_003 + replicate) % 2**31


async def run_trial(
    spec: TrialSpec,
    *,
    run_id: str,
    client: LLMClient,
    verifier: Any | None,
    seed: int,
    max_tokens: int,
    temperature: float,
    stream: bool,
    decision: Decision | None = None,
) -> dict[str, Any]:
    """Produce and verify one trajectory; returns its ``trials`` row.

    ``decision`` is the arm router's choice made at dispatch (default: the
    spec's own model); one with no model records a ``route_error`` trial.
    """
    started = datetime.now(UTC)
    if decision is None:
        decision = spec.decision or Decision(spec.model, spec.route_reason, (spec.model,))
    if not decision.model:
        return _route_error_row(spec, run_id, decision, started)
    rseed = replicate_seed(seed, spec.replicate)
    req = ChatRequest(
        model=client.model_config(decision.model).model_id,
        messages=build_messages(spec.task),
        max_tokens=max_tokens,
        temperature=temperature,
        stream=stream,
        seed=rseed,
        user=f"harness-r{rseed}",
    )
    ctx = CallContext(
        run_id=run_id,
        trial_id=spec.trial_id,
        router=spec.router,
        route_reason=decision.reason,
        route_candidates=json.dumps(list(decision.candidates)),
    )
    # The router's fallbacks when it names some, else the configured chain.
    outcome = await client.chat(decision.model, req, ctx, fallbacks=decision.fallbacks or None)
    row = _trial_row(spec, run_id, decision, started)
    row.update(
        model=outcome.model,
        routed_model=decision.model,
        fallbacks=outcome.fallbacks,
        turns=1,
        calls=outcome.attempts,
        cost_usd=outcome.cost_usd,
    )
    resp = outcome.response
    if resp is None:
        err = outcome.error
        row.update(status="llm_error", error=str(err) if err else "no response")
    else:
        row.update(
            input_tokens=resp.usage.input_tokens,
            output_tokens=resp.usage.output_tokens,
            cached_input_tokens=resp.usage.cached_input_tokens,
            latency_ms=resp.latency_ms,
            ttft_ms=resp.ttft_ms,
            answer=resp.content,
        )
        if verifier is None:
            row.update(status="ok", verifier_reason="skipped")
        else:
            t0 = time.perf_counter()
            try:
                result = await verifier.verify(spec.task, resp.content)
            except SandboxError as exc:
                # The sandbox broke (twice): no verdict, never the model's failure.
                row.update(status="verifier_error", error=str(exc))
            else:
                row.update(
                    status="ok",
                    success=result.success,
                    score=result.score,
                    verifier_reason=result.reason,
                    verifier_output=result.output,
                    verify_ms=(time.perf_counter() - t0) * 1000,
                )
    row["finished_at"] = datetime.now(UTC)
    return row


def _route_error_row(
    spec: TrialSpec, run_id: str, decision: Decision, started: datetime
) -> dict[str, Any]:
    """The row of a trial no candidate could take: no call was made."""
    row = _trial_row(spec, run_id, decision, started)
    row.update(turns=0, calls=0, fallbacks=0, status="route_error", error=decision.reason)
    row["finished_at"] = datetime.now(UTC)
    return row


def _trial_row(
    spec: TrialSpec, run_id: str, decision: Decision, started: datetime
) -> dict[str, Any]:
    """The columns every ``trials`` row has, whatever happened to the trial."""
    return {
        "trial_id": spec.trial_id,
        "run_id": run_id,
        "task_id": spec.task.task_id,
        "task_suite": spec.task.suite,
        "task_category": spec.task.category,
        "arm": spec.arm,
        "router": spec.router,
        "route_reason": decision.reason,
        "replicate": spec.replicate,
        "assign_u": spec.assign_u,
        "started_at": started,
    }
