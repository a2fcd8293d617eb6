"""The client every call goes through: credentials, adapters, retries, logging.

One :class:`LLMClient` per run. It owns the shared pooled HTTP client, builds
one adapter per portfolio model, retries what the provider classified as
retryable (honouring Retry-After), prices each attempt and hands one row per
HTTP attempt to the store's sink. Providers never see the database.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.config.schema import ModelConfig
from harness.cost.pricing import Price, Pricer
from harness.errors import ConfigError, LLMError, MissingCredentialsError
from harness.llm.types import ChatRequest, ChatResponse

__all__ = [
    "CallContext",
    "CallOutcome",
    "LLMClient",
    "missing_credentials",
    "require_credentials",
]

SIM_KEY = "sim-no-key"


@dataclass(slots=True)
class CallContext:
    """Where a call belongs: stored on each of its ``calls`` rows."""

    run_id: str
    trial_id: str | None = None
    turn: int = 1
    router: str = ""
    route_reason: str = ""
    fallback_from: str | None = None


@dataclass(slots=True)
class CallOutcome:
    """The result of one logical call after retries."""

    model: str
    response: ChatResponse | None = None
    error: LLMError | None = None
    attempts: int = 0
    cost_usd: float | None = None


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
    """Calls portfolio models with retries; logs every attempt through ``sink``."""

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
    ) -> None:
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

    def model_config(self, model_key: str) -> ModelConfig:
        return self._models[model_key]

    def prepare(self, keys: Iterable[str]) -> None:
        """Check keys and build the adapters of these models before any request.

        A missing key or a bad adapter setting (e.g. a malformed ``api_base``)
        fails here, at start-up, not at the first call.
        """
        keys = list(keys)
        self.check_credentials(keys)
        for key in keys:
            self.adapter(key)

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
            timeouts=self._timeouts,
            extra_body=cfg.extra_body,
            prompt_cache=cfg.prompt_cache,
        )
        self._adapters[model_key] = adapter
        return adapter

    async def chat(self, model_key: str, req: ChatRequest, ctx: CallContext) -> CallOutcome:
        """One logical call: attempts until success or the retry policy gives up."""
        adapter = self.adapter(model_key)
        outcome = CallOutcome(model=model_key)
        start = time.monotonic()
        attempt = 0
        try:
            payload = adapter.encode(req)
        except LLMError as err:  # an unsendable request: one failed attempt, no retry
            base = self._base_row(model_key, req, ctx, None) if self._sink else None
            if base is not None:
                self._emit_error(base, 1, datetime.now(UTC), err, 0.0)
            outcome.attempts, outcome.error = 1, err
            return outcome
        base = self._base_row(model_key, req, ctx, payload) if self._sink else None
        while True:
            attempt += 1
            outcome.attempts = attempt
            started_at = datetime.now(UTC)
            t0 = time.perf_counter()
            try:
                resp = await adapter.chat(req, payload)
            except LLMError as err:
                if base is not None:
                    self._emit_error(
                        base, attempt, started_at, err, (time.perf_counter() - t0) * 1e3
                    )
                delay = self._retry.next_delay(attempt, err, time.monotonic() - start, self._rng)
                if delay is None:
                    outcome.error = err
                    return outcome
                await asyncio.sleep(delay)
                continue
            price = self._pricer.price(model_key, resp.usage, started_at)
            outcome.response = resp
            outcome.cost_usd = price.cost_usd
            if base is not None:
                self._emit_ok(base, attempt, started_at, resp, price.cost_usd, price)
            return outcome

    def _base_row(
        self, model_key: str, req: ChatRequest, ctx: CallContext, payload: bytes | None
    ) -> dict[str, Any]:
        """The columns every attempt of one logical call shares."""
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
            "fallback_from": ctx.fallback_from,
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
