"""``python -m harness doctor [--all] [overrides …]`` — is every configured endpoint usable?

Composes the same config as a run, with the same overrides (``endpoints=sim``
starts a simulator when ``endpoints.url`` is null, as the runner does), and
checks each model: the endpoint answers, the key is accepted, the model
exists. Which models: the arms' models when an experiment is selected (what
that run would call), else the whole portfolio; ``--all`` checks the whole
portfolio in either case.

Per model, the cheapest call that proves all three:

1. ``GET`` the provider's model endpoint — OpenAI-compatible
   ``{api_base}/models/{id}``, Anthropic ``/v1/models/{id}``, Gemini
   ``{api_base}/models/{id}``: 200 → ok, 401/403 → auth failed, 404 → model
   not found.
2. OpenAI-compatible servers without that endpoint (vLLM, llama.cpp server
   answer 404/405 there) get ``GET {api_base}/models`` and the id is looked
   up in the list.
3. If neither exists, a 1-token chat call decides.

A live model whose key env var is unset is not called: its row says
``missing key`` and the env vars are named. Nothing printed ever holds a key,
a query string or a response body — only fixed status words and HTTP codes.
Exit code 0 when every checked endpoint is healthy, 1 otherwise, 2 for a
config error.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2

from harness.errors import (
    AuthenticationError,
    ConfigError,
    LLMError,
    NotFoundError,
    ProviderConnectionError,
    ProviderTimeoutError,
)

__all__ = ["USAGE", "Check", "check_models", "format_table", "main", "select_models"]

USAGE = """\
usage: python -m harness doctor [--all] [key=value ...]

Checks every endpoint the config would call — reachable, key accepted, model exists —
and prints a table with each check's latency. Keys are never printed.

  python -m harness doctor                          live APIs of the whole portfolio
  python -m harness doctor experiment=ab_sonnet_vs_qwen   only that experiment's arms
  python -m harness doctor endpoints=sim            against a simulator started for the check
  python -m harness doctor --all experiment=…       the whole portfolio anyway

Exit code: 0 all healthy, 1 some endpoint is not, 2 config error.
"""

OK = "ok"
MISSING_KEY = "missing key"
AUTH_FAILED = "auth failed"
NOT_FOUND = "model not found"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"

# Statuses meaning "the model endpoint is not there, ask another way".
_NO_ENDPOINT = {404, 405, 501}


@dataclass(slots=True)
class Check:
    """One row of the table."""

    model: str
    provider: str
    protocol: str
    endpoint: str
    status: str = ""
    latency_ms: float | None = None
    how: str = ""
    """Which probe decided: ``model``, ``list`` or ``chat`` (empty when none ran)."""

    @property
    def healthy(self) -> bool:
        return self.status == OK


def endpoint_label(url: str) -> str:
    """``host[:port]/path`` of a base URL: no scheme, credentials or query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return host + parts.path.rstrip("/")


def select_models(cfg: Any, *, everything: bool = False) -> list[str]:
    """Portfolio keys to check: the arms' models, or every model when no arm is set."""
    portfolio = list(cfg.portfolio.models)
    arms = cfg.get("arms") or {}
    if everything or not arms:
        return portfolio
    keys: list[str] = []
    for name, arm in arms.items():
        key = arm.model
        if key not in cfg.portfolio.models:
            raise ConfigError(f"arms.{name}.model={key!r} is not in the portfolio")
        if key not in keys:
            keys.append(key)
    return keys


def _model_url(adapter: Any, protocol: str, model_id: str) -> str:
    if protocol == "anthropic":
        return f"{adapter.url.removesuffix('/messages')}/models/{model_id}"
    if protocol == "gemini":
        return f"{adapter.url}/{model_id.removeprefix('models/')}"
    return f"{adapter.api_base}/models/{model_id}"


def _status_for(code: int) -> str | None:
    if code == 200:
        return OK
    if code in (401, 403):
        return AUTH_FAILED
    return None


async def _probe(
    check: Check, adapter: Any, http: httpx2.AsyncClient, model_id: str, extra: dict[str, str]
) -> None:
    """Fill ``check.status`` and ``check.how`` (see the module docstring for the order)."""
    # The adapter's own auth headers, so the check sends exactly what a call would.
    headers = {"accept": "application/json", **adapter._auth_headers(adapter._api_key), **extra}
    url = _model_url(adapter, check.protocol, model_id)
    check.how = "model"
    r = await http.get(url, headers=headers)
    status = _status_for(r.status_code)
    if status is not None:
        check.status = status
        return
    if r.status_code not in _NO_ENDPOINT:
        check.status = f"error: HTTP {r.status_code}"
        return
    if check.protocol != "openai":
        # Anthropic and Gemini both have the endpoint: a 404 is about the model.
        check.status = NOT_FOUND
        return
    check.how = "list"
    r = await http.get(f"{adapter.api_base}/models", headers=headers)
    status = _status_for(r.status_code)
    if status == OK:
        try:
            ids = {str(m.get("id")) for m in r.json().get("data", []) if isinstance(m, dict)}
        except (ValueError, AttributeError):
            ids = set()
        if ids:
            check.status = OK if model_id in ids else NOT_FOUND
            return
    elif status is not None:
        check.status = status
        return
    check.how = "chat"
    await _chat_probe(check, adapter, model_id)


async def _chat_probe(check: Check, adapter: Any, model_id: str) -> None:
    from harness.llm.types import ChatRequest, Message

    req = ChatRequest(model=model_id, messages=(Message("user", "ping"),), max_tokens=1)
    try:
        await adapter.chat(req)
    except AuthenticationError:
        check.status = AUTH_FAILED
    except NotFoundError:
        check.status = NOT_FOUND
    except ProviderTimeoutError:
        check.status = TIMEOUT
    except ProviderConnectionError:
        check.status = UNREACHABLE
    except LLMError as err:
        check.status = f"error: {err.kind}" + (
            f" (HTTP {err.http_status})" if err.http_status else ""
        )
    else:
        check.status = OK


async def _check_one(
    check: Check, adapter: Any, http: httpx2.AsyncClient, model_id: str, extra: dict[str, str]
) -> None:
    t0 = time.perf_counter()
    try:
        await _probe(check, adapter, http, model_id, extra)
    except httpx2.TimeoutException:
        check.status = TIMEOUT
    except httpx2.TransportError:
        check.status = UNREACHABLE
    except httpx2.HTTPError as exc:  # never str(exc): it may quote the request
        check.status = f"error: {type(exc).__name__}"
    check.latency_ms = (time.perf_counter() - t0) * 1000.0


async def check_models(
    models: Mapping[str, Any],
    keys: Sequence[str],
    *,
    mode: str,
    sim_url: str | None = None,
    timeouts: Any = None,
) -> list[Check]:
    """Check each of ``keys`` (portfolio keys); returns one :class:`Check` per key.

    ``mode`` is ``live`` (the portfolio's endpoints, keys from the env vars it
    names) or ``sim`` (every model at ``sim_url``, as :class:`LLMClient` does).
    """
    from harness.llm.client import SIM_KEY
    from harness.llm.http import Timeouts, make_http_client
    from harness.llm.providers import get_adapter

    timeouts = timeouts or Timeouts(read=15, total=30)
    http = make_http_client(max_connections=max(4, len(keys)), timeouts=timeouts)
    checks: list[Check] = []
    jobs = []
    try:
        for key in keys:
            cfg = models[key]
            if mode == "sim":
                # The same bases LLMClient.adapter uses in sim mode.
                suffix = {"openai": "/v1", "gemini": "/v1beta"}.get(cfg.protocol, "")
                api_base, api_key, headers = (sim_url or "") + suffix, SIM_KEY, {}
            else:
                api_base = cfg.api_base
                api_key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
                headers = dict(cfg.headers or {})
            check = Check(key, cfg.provider, cfg.protocol, endpoint_label(api_base or ""))
            checks.append(check)
            if cfg.api_key_env and not api_key:
                check.status = MISSING_KEY
                continue
            try:
                adapter = get_adapter(cfg.protocol)(
                    provider=cfg.provider,
                    api_base=api_base,
                    api_key=api_key,
                    http=http,
                    headers=headers,
                    timeouts=timeouts,
                )
            except ConfigError as exc:
                check.status = f"config error: {exc}"
                continue
            jobs.append(_check_one(check, adapter, http, cfg.model_id, headers))
        await asyncio.gather(*jobs)
    finally:
        await http.aclose()
    return checks


def format_table(checks: Sequence[Check]) -> str:
    """The checks as an aligned text table."""
    head = ("model", "provider", "protocol", "endpoint", "status", "latency ms")
    rows = [
        (
            c.model,
            c.provider,
            c.protocol,
            c.endpoint,
            c.status,
            "" if c.latency_ms is None else f"{c.latency_ms:.0f}",
        )
        for c in checks
    ]
    widths = [max(len(str(r[i])) for r in (head, *rows)) for i in range(len(head))]
    lines = []
    for r in (head, *rows):
        cells = [str(v).ljust(w) for v, w in zip(r[:-1], widths[:-1], strict=True)]
        lines.append("  ".join([*cells, str(r[-1]).rjust(widths[-1])]).rstrip())
    return "\n".join(lines)


def _run(argv: list[str]) -> int:
    from omegaconf import OmegaConf

    from harness.cli import EXIT_CONFIG, _first_line
    from harness.config.compose import compose_config
    from harness.llm.client import missing_credentials
    from harness.llm.http import Timeouts

    everything = "--all" in argv
    overrides = [a for a in argv if a != "--all"]
    try:
        cfg = compose_config(overrides)
    except Exception as exc:  # Hydra's and the schema's errors: one line, as the run CLI does
        print(f"harness: config error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    keys = select_models(cfg, everything=everything)
    models = {k: OmegaConf.to_object(cfg.portfolio.models[k]) for k in keys}
    mode = cfg.endpoints.mode
    if mode not in ("live", "sim"):
        raise ConfigError(f"endpoints.mode must be 'live' or 'sim', got {mode!r}")
    ep = cfg.endpoints
    timeouts = Timeouts(
        connect=ep.connect_timeout_s,
        read=min(ep.read_timeout_s, 15.0),
        total=min(ep.total_timeout_s, 30.0),
    )
    sim = None
    sim_url = ep.url
    try:
        if mode == "sim" and not sim_url:
            sim = _start_sim(cfg)
            sim_url = sim.url
        checks = asyncio.run(
            check_models(models, keys, mode=mode, sim_url=sim_url, timeouts=timeouts)
        )
    finally:
        if sim is not None:
            sim.stop()
    print(format_table(checks))
    bad = [c for c in checks if not c.healthy]
    where = f"endpoints={mode}" + (f" at {endpoint_label(sim_url)}" if mode == "sim" else "")
    if mode == "live":
        missing = missing_credentials(models, keys)
        if missing:
            print(
                f"missing API key env var(s): {', '.join(missing)} — set them, "
                "or check offline with endpoints=sim"
            )
    if bad:
        print(f"doctor: {len(bad)} of {len(checks)} endpoint(s) not healthy ({where})")
        return 1
    print(f"doctor: all {len(checks)} endpoint(s) healthy ({where})")
    return 0


def _start_sim(cfg: Any) -> Any:
    """A simulator for the check, as the runner starts one for a run."""
    import dataclasses

    from harness.sim.process import SimProcess
    from harness.sim.settings import settings_from_config

    settings = settings_from_config(cfg.sim, cfg.portfolio.models)
    settings = dataclasses.replace(settings, seed=int(cfg.seed))
    return SimProcess(settings).start()


def main(argv: Sequence[str]) -> int:
    """Entry point of ``python -m harness doctor``; returns the exit code."""
    argv = list(argv)
    if {"-h", "--help"} & set(argv):
        print(USAGE)
        return 0
    from harness.cli import friendly_errors

    with friendly_errors():
        return _run(argv)
    return 1  # friendly_errors exits on errors; kept for type checkers


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
