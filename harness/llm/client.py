"""The client every call goes through: credentials, adapters, retries, logging.

One :class:`LLMClient` per run. It owns the shared pooled HTTP client, builds
one adapter per portfolio model, retries what the provider classified as
retryable (honouring Retry-After), prices each attempt and hands one row per
HTTP attempt to the store's sink. Providers never see the database.

A logical call (:meth:`LLMClient.chat`) walks a *fallback chain*: the
requested model, then its fallbacks (``reliability.fallbacks`` or the caller's
list). Each model of the chain is a *hop*::

    hop:  gate.reserve ─► [ limiter.acquire ─► HTTP attempt ─► row ]* ─► gate.settle
            │ BudgetExceededError: no request, no row, outcome.budget_refused
            └ the attempts retry per RetryPolicy; a retryable error counts
              towards the model's cooldown (health)

The call moves to the next hop when the hop ended in

* a retryable error once retries are exhausted (or the model started cooling
  down and a later model is available),
* ``ContextLengthError`` (a later model may have a larger window),
* ``ContentRefusalError``, or a response whose finish reason is
  ``content_filter`` (a refusal answered with HTTP 200).

It stops — no fallback — on a bad request, auth, not-found or any other final
error (another model cannot fix the request or the key, and a config mistake
must surface, not be masked), on a budget refusal (at the cap no new calls
start), and on success. Models cooling down are skipped; if every model of
the chain is cooling down the requested one is tried anyway, so a cooldown
never turns a call into a certain failure.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from harness.config.schema import ModelConfig
from harness.cost.pricing import Price, Pricer
from harness.errors import (
    BudgetExceededError,
    BudgetRefusedError,
    ConfigError,
    ContentRefusalError,
    ContextLengthError,
    LLMError,
    MissingCredentialsError,
)
from harness.llm.gate import CallGate, Reservation
from harness.llm.health import HealthTracker
from harness.llm.ratelimit import ModelLimiter, estimate_tokens, parse_rate_headers
from harness.llm.types import ChatRequest, ChatResponse, FinishReason

__all__ = [
    "CallContext",
    "CallOutcome",
    "LLMClient",
    "missing_credentials",
    "require_credentials",
]

SIM_KEY = "sim-no-key"

# Errors that say "send less": they shrink the model's concurrency and pause it.
_CONGESTION = frozenset({"rate_limit", "overloaded"})


@dataclass(slots=True)
class CallContext:
    """Where a call belongs: stored on each of its ``calls`` rows."""

    run_id: str
    trial_id: str | None = None
    turn: int = 1
    router: str = ""
    route_reason: str = ""
    fallback_from: str | None = None
    route_candidates: str | None = None
    """JSON list of the portfolio keys the router considered."""


@dataclass(slots=True)
class CallOutcome:
    """The result of one logical call after retries."""

    model: str
    """The model that answered, or the last one tried (or refused by the gate)."""
    response: ChatResponse | None = None
    error: LLMError | None = None
    attempts: int = 0
    """HTTP attempts over every hop (= ``calls`` rows of this call)."""
    cost_usd: float | None = None
    """Sum of the known costs of every attempt; None when none was known."""
    fallbacks: int = 0
    """Hops taken away from the requested model (0: it answered or failed itself)."""
    budget_refused: bool = False
    """The gate refused a hop; ``error`` is then a :class:`BudgetRefusedError`."""


def missing_credentials(models: Mapping[str, ModelConfig], keys: Iterable[str]) -> list[str]:
    """Env vars named by these models' ``api_key_env`` that are unset or empty."""
    missing = []
    for key in keys:
        env = models[key].api_key_env
        if env and not os.environ.get(env) and env not in missing:
            missing.append(env)
    return missing


def require_credentials(models: Mapping[str, ModelConfig], keys: Iterable[str]) -> None:
    """Raise one line naming every missing key env var (live runs, before any request)."""
    missing = missing_credentials(models, keys)
    if missing:
        raise MissingCredentialsError(
            f"missing API key env var(s): {', '.join(missing)} — set them, "
            "or run offline with endpoints=sim"
        )


class LLMClient:
    """Calls portfolio models with retries, rate limits, cooldowns and fallback chains.

    Logs every HTTP attempt through ``sink``; passes each hop through ``gate``.
    Public surface: :meth:`chat`, :meth:`is_available` (for routers),
    :meth:`prepare`, :meth:`limiter`, :attr:`health`, :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        models: Mapping[str, ModelConfig],
        mode: str,
        sim_url: str | None = None,
        retry: Any,
        pricer: Pricer,
        sink: Callable[[dict[str, Any]], None] | None = None,
        max_connections: int = 64,
        timeouts: Any = None,
        store_bodies: bool = True,
        seed: int = 0,
        reliability: Any = None,
        gate: CallGate | None = None,
    ) -> None:
        """Build the client.

        Args:
            reliability: A ``ReliabilityConfig`` (cooldowns, fallbacks, AIMD);
                None: its defaults (no cooldown, no fallbacks, AIMD on).
            gate: Admission control each hop passes (a budget), or None.
            Others: see the runner (``endpoints``, ``retry``, ``runner`` config).
        """
        from harness.config.schema import ReliabilityConfig
        from harness.llm.http import Timeouts, make_http_client

        if mode not in ("live", "sim"):
            raise ConfigError(f"endpoints.mode must be 'live' or 'sim', got {mode!r}")
        if mode == "sim" and not sim_url:
            raise ConfigError("endpoints.mode=sim needs a simulator URL")
        self._models = models
        self._mode = mode
        self._sim_url = (sim_url or "").rstrip("/")
        self._retry = retry
        self._pricer = pricer
        self._sink = sink
        self._store_bodies = store_bodies
        self._timeouts = timeouts or Timeouts()
        self._http = make_http_client(max_connections=max_connections, timeouts=self._timeouts)
        self._adapters: dict[str, Any] = {}
        self._rng = random.Random(seed)
        rel = reliability if reliability is not None else ReliabilityConfig()
        self._gate = gate
        self._health = HealthTracker(
            int(rel.cooldown_failures), float(rel.cooldown_window_s), float(rel.cooldown_s)
        )
        self._fallbacks = _check_fallbacks(
            {str(k): [str(m) for m in v] for k, v in rel.fallbacks.items()}, models
        )
        self._limiters = _make_limiters(models, rel.aimd, max_connections)

    def model_config(self, model_key: str) -> ModelConfig:
        return self._models[model_key]

    def prepare(self, keys: Iterable[str]) -> None:
        """Check keys and build the adapters of these models before any request.

        A missing key or a bad adapter setting (e.g. a malformed ``api_base``)
        fails here, at start-up, not at the first call.
        """
        keys = list(keys)
        # A fallback model needs its key and adapter as much as the model it stands in for.
        for key in list(keys):
            keys.extend(m for m in self._fallbacks.get(key, ()) if m not in keys)
        self.check_credentials(keys)
        for key in keys:
            self.adapter(key)

    def is_available(self, model_key: str) -> bool:
        """False while ``model_key`` cools down after repeated failures (routers skip it)."""
        return self._health.is_available(model_key)

    @property
    def health(self) -> HealthTracker:
        """Failure counts and cooldowns per model."""
        return self._health

    def limiter(self, model_key: str) -> ModelLimiter | None:
        """The rate limiter of this model's (provider, model), None when none applies."""
        return self._limiters.get(model_key)

    def fallbacks_of(self, model_key: str) -> list[str]:
        """The configured fallback chain after ``model_key`` (may be empty)."""
        return list(self._fallbacks.get(model_key, ()))

    def check_credentials(self, keys: Iterable[str]) -> None:
        """Raise before any request if a live model's key is missing."""
        keys = list(keys)
        unknown = [k for k in keys if k not in self._models]
        if unknown:
            raise ConfigError(
                f"unknown model(s) {', '.join(unknown)}; portfolio has: {', '.join(self._models)}"
            )
        if self._mode == "live":
            require_credentials(self._models, keys)

    def adapter(self, model_key: str) -> Any:
        """The adapter for a portfolio model (created once)."""
        if model_key in self._adapters:
            return self._adapters[model_key]
        from harness.llm.providers import get_adapter

        cfg = self._models[model_key]
        cls = get_adapter(cfg.protocol)
        if self._mode == "sim":
            api_base = self._sim_url + {"openai": "/v1", "gemini": "/v1beta"}.get(cfg.protocol, "")
            api_key: str | None = SIM_KEY
            headers: dict[str, str] = {}
        else:
            api_base = cfg.api_base
            api_key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
            headers = dict(cfg.headers)
        adapter = cls(
            provider=cfg.provider,
            api_base=api_base,
            api_key=api_key,
            http=self._http,
            headers=headers,
            timeouts=self._timeouts_for(model_key),
            extra_body=cfg.extra_body,
            prompt_cache=cfg.prompt_cache,
        )
        self._adapters[model_key] = adapter
        return adapter

    def _timeouts_for(self, model_key: str) -> Any:
        """The endpoints' timeouts with this model's ``timeouts`` overrides applied."""
        t = getattr(self._models[model_key], "timeouts", None)
        if t is None:
            return self._timeouts
        try:
            return self._timeouts.with_overrides(connect=t.connect, read=t.read, total=t.total)
        except ConfigError as exc:
            raise ConfigError(f"portfolio.models.{model_key}.timeouts: {exc}") from None

    def _chain(self, model_key: str, fallbacks: Sequence[str] | None) -> list[str]:
        rest = self._fallbacks.get(model_key, ()) if fallbacks is None else fallbacks
        chain = [model_key]
        for key in rest:
            if key not in chain:
                if key not in self._models:
                    raise ConfigError(f"fallback model {key!r} is not in the portfolio")
                chain.append(key)
        return chain

    def _next_available(self, chain: list[str], after: int) -> int | None:
        for j in range(after + 1, len(chain)):
            if self._health.is_available(chain[j]):
                return j
        return None

    async def chat(
        self,
        model_key: str,
        req: ChatRequest,
        ctx: CallContext,
        fallbacks: Sequence[str] | None = None,
    ) -> CallOutcome:
        """One logical call: retries per hop, then the next model of the fallback chain.

        Args:
            model_key: The portfolio model asked for; ``req.model`` is its ``model_id``.
            req: The request (each fallback hop sends it with its own ``model_id``).
            ctx: Where the call belongs (stored on every row).
            fallbacks: Models to fall back to, in order; None: ``reliability.fallbacks``.

        Returns:
            The outcome: the answering (or last tried) model, its response or
            the last error, attempts over all hops, summed cost, hops taken.
            Never raises for a provider failure or a budget refusal.
        """
        chain = self._chain(model_key, fallbacks)
        outcome = CallOutcome(model=model_key)
        idx = 0
        if len(chain) > 1 and not self._health.is_available(model_key):
            idx = self._next_available(chain, 0) or 0
        prev = model_key if idx else ctx.fallback_from
        while True:
            key = chain[idx]
            if idx:
                outcome.fallbacks += 1
            outcome.model = key
            hop_req = req if idx == 0 else replace(req, model=self._models[key].model_id)
            resp, err, moves_on = await self._hop(
                key,
                hop_req,
                ctx,
                prev,
                outcome,
                lambda at=idx: self._next_available(chain, at) is not None,
            )
            nxt = self._next_available(chain, idx) if moves_on else None
            if nxt is None:
                outcome.response, outcome.error = resp, err
                return outcome
            prev, idx = key, nxt

    async def _hop(
        self,
        key: str,
        req: ChatRequest,
        ctx: CallContext,
        fallback_from: str | None,
        outcome: CallOutcome,
        can_move_on: Callable[[], bool],
    ) -> tuple[ChatResponse | None, LLMError | None, bool]:
        """One model of the chain: reserve, attempt until done, settle.

        Returns (response, error, whether the chain should move on).
        """
        adapter = self.adapter(key)
        try:
            payload = adapter.encode(req)
        except LLMError as err:  # an unsendable request: one failed attempt, no retry
            if self._sink is not None:
                base = self._base_row(key, req, ctx, None, fallback_from)
                self._emit_error(base, 1, datetime.now(UTC), err, 0.0)
            outcome.attempts += 1
            return None, err, False
        gate = self._gate
        reservation: Reservation | None = None
        if gate is not None:
            try:
                reservation = gate.reserve(key, req)
            except BudgetExceededError as exc:
                refused = BudgetRefusedError(
                    f"the call gate refused a call to {key}: {exc}",
                    provider=self._models[key].provider,
                    model=req.model,
                )
                refused.__cause__ = exc
                outcome.budget_refused = True
                return None, refused, False
        base = (
            self._base_row(key, req, ctx, payload, fallback_from, reservation)
            if self._sink
            else None
        )
        limiter = self._limiters.get(key)
        tokens = (
            estimate_tokens(len(payload), req.max_tokens)
            if limiter is not None and limiter.tpm is not None
            else 0
        )
        health = self._health
        spent = 0.0
        cost_unknown = False
        sending = False
        start = time.monotonic()
        attempt = 0
        try:
            while True:
                attempt += 1
                outcome.attempts += 1
                epoch = await limiter.acquire(tokens) if limiter is not None else 0
                started_at = datetime.now(UTC)
                t0 = time.perf_counter()
                sending = True
                try:
                    resp = await adapter.chat(req, payload)
                except LLMError as err:
                    sending = False
                    latency = (time.perf_counter() - t0) * 1e3
                    if limiter is not None:
                        h = err.rate_headers
                        limiter.on_error(
                            epoch,
                            tokens,
                            congestion=err.kind in _CONGESTION,
                            retry_after=err.retry_after,
                            info=parse_rate_headers(h) if h else None,
                        )
                    if base is not None:
                        self._emit_error(base, attempt, started_at, err, latency)
                    if health.enabled:
                        health.record(key, err)
                        if not health.is_available(key) and can_move_on():
                            return None, err, True
                    delay = self._retry.next_delay(
                        attempt, err, time.monotonic() - start, self._rng
                    )
                    if delay is None:
                        return None, err, _moves_on(err)
                    await asyncio.sleep(delay)
                    continue
                except BaseException:
                    if limiter is not None:
                        limiter.on_cancel(tokens, sent=True)
                    raise
                sending = False
                if limiter is not None:
                    u = resp.usage
                    used = (
                        None
                        if u.input_tokens is None and u.output_tokens is None
                        else (u.input_tokens or 0) + (u.output_tokens or 0)
                    )
                    h = resp.rate_headers
                    limiter.on_success(epoch, tokens, used, parse_rate_headers(h) if h else None)
                price = self._pricer.price(key, resp.usage, started_at)
                if price.cost_usd is None:
                    cost_unknown = True
                else:
                    spent += price.cost_usd
                    outcome.cost_usd = (outcome.cost_usd or 0.0) + price.cost_usd
                if base is not None:
                    self._emit_ok(base, attempt, started_at, resp, price.cost_usd, price)
                return resp, None, resp.finish_reason == FinishReason.CONTENT_FILTER
        finally:
            if gate is not None and reservation is not None:
                # Cancelled mid-request: the provider may bill it, so keep the hold.
                gate.settle(reservation, None if cost_unknown or sending else spent)

    def _base_row(
        self,
        model_key: str,
        req: ChatRequest,
        ctx: CallContext,
        payload: bytes | None,
        fallback_from: str | None = None,
        reservation: Reservation | None = None,
    ) -> dict[str, Any]:
        """The columns every attempt of one hop shares."""
        cfg = self._models[model_key]
        return {
            "run_id": ctx.run_id,
            "trial_id": ctx.trial_id,
            "turn": ctx.turn,
            "provider": cfg.provider,
            "api_protocol": cfg.protocol,
            "request_model": cfg.model_id,
            "portfolio_model": model_key,
            "router": ctx.router,
            "route_reason": ctx.route_reason,
            "route_candidates": ctx.route_candidates,
            "fallback_from": fallback_from,
            "reserved_usd": reservation.amount_usd if reservation is not None else None,
            "stream": req.stream,
            "request_body": payload.decode() if payload and self._store_bodies else None,
        }

    def _emit_ok(
        self,
        base: dict[str, Any],
        attempt: int,
        started_at: datetime,
        resp: ChatResponse,
        cost: float | None,
        price: Price,
    ) -> None:
        u = resp.usage
        assert self._sink is not None
        self._sink(
            {
                **base,
                "call_id": uuid.uuid4().hex,
                "attempt": attempt,
                "started_at": started_at,
                "status": "ok",
                "http_status": resp.http_status,
                "response_model": resp.model,
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cached_input_tokens": u.cached_input_tokens,
                "cache_write_tokens": u.cache_write_tokens,
                "reasoning_tokens": u.reasoning_tokens,
                "cost_usd": cost,
                "price_source": price.source,
                "price_version": price.version,
                "cache_savings_usd": price.cache_savings_usd,
                "latency_ms": resp.latency_ms,
                "ttft_ms": resp.ttft_ms,
                "finish_reason": str(resp.finish_reason),
                "response_body": resp.raw_body if self._store_bodies else None,
            }
        )

    def _emit_error(
        self,
        base: dict[str, Any],
        attempt: int,
        started_at: datetime,
        err: LLMError,
        latency: float,
    ) -> None:
        assert self._sink is not None
        self._sink(
            {
                **base,
                "call_id": uuid.uuid4().hex,
                "attempt": attempt,
                "started_at": started_at,
                "status": "error",
                "error_kind": err.kind,
                "error_message": str(err)[:1000],
                "http_status": err.http_status,
                "retry_after_s": err.retry_after,
                "latency_ms": latency,
                "response_body": err.body if self._store_bodies else None,
            }
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def _moves_on(err: LLMError) -> bool:
    """Whether a hop that ended in ``err`` hands the call to the next model."""
    # Retryable here means retries are exhausted; a longer window or another
    # provider's policy may succeed. A bad request, auth or not-found would not.
    return err.retryable or isinstance(err, ContextLengthError | ContentRefusalError)


def _check_fallbacks(
    fallbacks: dict[str, list[str]], models: Mapping[str, Any]
) -> dict[str, list[str]]:
    """``reliability.fallbacks`` with every key and target checked against the portfolio."""
    for key, chain in fallbacks.items():
        for name in (key, *chain):
            if name not in models:
                raise ConfigError(
                    f"reliability.fallbacks.{key}: unknown model {name!r}; "
                    f"portfolio has: {', '.join(models)}"
                )
    return fallbacks


def _make_limiters(
    models: Mapping[str, Any], aimd: Any, max_connections: int
) -> dict[str, ModelLimiter]:
    """One limiter per (provider, model id), shared by the portfolio keys that name it.

    None for a model without rpm/tpm when AIMD is off (the fast path: no limiter).
    """
    ceiling = (aimd.max_concurrency or max_connections) if aimd.enabled else None
    groups: dict[tuple[str, str], list[str]] = {}
    for key, cfg in models.items():
        groups.setdefault((str(cfg.provider), str(cfg.model_id)), []).append(key)
    out: dict[str, ModelLimiter] = {}
    for keys in groups.values():
        cfgs = [models[k] for k in keys]
        rpms = [int(c.rpm) for c in cfgs if getattr(c, "rpm", None)]
        tpms = [int(c.tpm) for c in cfgs if getattr(c, "tpm", None)]
        if not rpms and not tpms and ceiling is None:
            continue
        for name, values in (("rpm", rpms), ("tpm", tpms)):
            if any(v <= 0 for v in values):
                raise ConfigError(f"portfolio.models.{keys[0]}.{name} must be > 0 (or null)")
        try:
            limiter = ModelLimiter(
                rpm=min(rpms) if rpms else None,
                tpm=min(tpms) if tpms else None,
                max_concurrency=ceiling,
                increase=float(aimd.increase),
                decrease=float(aimd.decrease),
            )
        except ValueError as exc:
            raise ConfigError(f"reliability.aimd: {exc}") from None
        for k in keys:
            out[k] = limiter
    return out
