"""Structured config schemas.

``conf/config.yaml`` names ``harness_schema`` as its first default, so every
YAML file and command-line override is checked against these dataclasses when
Hydra composes: an unknown key or a value of the wrong type fails before
anything runs, and the error names the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from harness.sim.settings import SimSettings

__all__ = [
    "AIMDConfig",
    "ArmConfig",
    "Capabilities",
    "Config",
    "DesignConfig",
    "EndpointsConfig",
    "ModelConfig",
    "ModelTimeouts",
    "PortfolioConfig",
    "PriceOverride",
    "ReliabilityConfig",
    "RetryConfig",
    "RouterConfig",
    "RunnerConfig",
    "TasksConfig",
    "VerifierConfig",
    "register_configs",
]


@dataclass
class Capabilities:
    """Seed §2.1 ratings scaled to 0–1 (n/5)."""

    coding: float = 0.5
    reasoning: float = 0.5
    long_context: float = 0.5
    speed: float = 0.5


@dataclass
class PriceOverride:
    """USD per million tokens; used instead of genai-prices for this model.

    Either per-token rates (``*_per_mtok``) or, for a self-hosted model, a GPU
    hourly cost and measured throughput (``gpu_hour_usd`` + ``throughput_tok_s``):
    then $/Mtok = gpu_hour_usd / (3600 * throughput_tok_s) * 1e6.
    """

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cached_input_per_mtok: float | None = None
    """Cache reads; None: the input rate."""
    cache_write_per_mtok: float | None = None
    """Prompt-cache writes; None: the input rate."""
    gpu_hour_usd: float | None = None
    """Self-hosted: cost of the GPU(s) serving the model per hour (source ``gpu-hour``)."""
    throughput_tok_s: float | None = None
    """Self-hosted: measured output tokens per second across concurrent requests."""
    input_throughput_tok_s: float | None = None
    """Self-hosted: measured prompt (prefill) tokens per second; None: ``throughput_tok_s``."""


@dataclass
class ModelTimeouts:
    """Per-model timeout overrides in seconds; None keeps the ``endpoints`` default."""

    connect: float | None = None
    """TCP (and TLS) connect."""
    read: float | None = None
    """Longest silence while waiting for the response or between two stream chunks."""
    total: float | None = None
    """The whole call, streaming included."""


@dataclass
class ModelConfig:
    """One deployable model of a portfolio."""

    provider: str = MISSING
    """Who serves and bills the call: openai, anthropic, google, openrouter, vllm, ollama …"""
    protocol: str = MISSING
    """Wire protocol of the adapter: ``openai`` or ``anthropic``."""
    model_id: str = MISSING
    """The provider's API model id."""
    api_base: str = MISSING
    """Base URL of the API (adapters append their path)."""
    api_key_env: str | None = None
    """Environment variable that holds the key; None for keyless self-hosted servers."""
    context_window: int = 8192
    max_output_tokens: int = 4096
    capabilities: Capabilities = field(default_factory=Capabilities)
    price: PriceOverride | None = None
    """Set only where genai-prices has no price for this model."""
    sim_profile: str | None = None
    """Simulator profile to answer as (default: this model's portfolio key)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra HTTP headers (never secrets: keys come from ``api_key_env``), e.g.
    OpenRouter's attribution headers ``HTTP-Referer`` (your app's URL) and ``X-Title``."""
    prompt_cache: bool = False
    """Mark the system prompt and the last tool spec as cacheable (Anthropic
    ``cache_control: {type: ephemeral}``); other protocols cache on their own."""
    extra_body: dict[str, Any] = field(default_factory=dict)
    """Merged into every request body of this model (before per-call extras),
    e.g. OpenRouter's ``provider: {order: [...], allow_fallbacks: false, sort: price}``."""
    rpm: int | None = None
    """Requests per minute allowed for this (provider, model); None: no limit enforced."""
    tpm: int | None = None
    """Tokens per minute (prompt chars/4 + max_tokens) for this (provider, model); None: none."""
    timeouts: ModelTimeouts = field(default_factory=ModelTimeouts)
    """Timeout overrides for this model's requests (None fields: the endpoints' defaults)."""


@dataclass
class PortfolioConfig:
    models: dict[str, ModelConfig] = field(default_factory=dict)


@dataclass
class EndpointsConfig:
    mode: str = "live"
    """``live``: the portfolio's real APIs. ``sim``: the local simulator."""
    url: str | None = None
    """sim only: URL of a running simulator; None starts one for the run."""
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 120.0
    total_timeout_s: float = 600.0


@dataclass
class TasksConfig:
    suite: str = "humaneval"
    """Task suite: ``humaneval`` or ``builtin``."""
    limit: int | None = None
    """Use only the first N tasks (after the category filter)."""
    categories: list[str] = field(default_factory=list)
    """Keep only these categories (empty: all)."""


@dataclass
class RouterConfig:
    strategy: str = "fixed"
    """Default routing strategy of an arm (``fixed``: always the arm's model)."""


@dataclass
class ArmConfig:
    model: str = MISSING
    """Portfolio key of the model this arm uses."""
    router: str = "${router.strategy}"
    """Routing strategy of this arm."""


@dataclass
class DesignConfig:
    kind: str = "paired"
    """``paired``: every arm on every task. ``split``: one arm per task by hash."""
    split_ratio: float = 0.5
    """split only: share of tasks assigned to the first arm."""
    salt: str = "${experiment_name}"
    """split only: hashed with the task id, so assignment is stable across runs."""


@dataclass
class RunnerConfig:
    concurrency: int = 16
    """Trials in flight at once."""
    stream: bool = True
    """Stream responses (measures time to first token)."""
    max_tokens: int = 1024
    temperature: float = 0.0
    progress: bool = True
    """Show a progress bar on stderr."""
    store_bodies: bool = True
    """Store request and response bodies in ``calls`` (keys never)."""
    report: bool = True
    """Write report.md and figures when the run ends."""


@dataclass
class RetryConfig:
    max_attempts: int = 5
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.25
    max_total_s: float = 300.0


@dataclass
class VerifierConfig:
    enabled: bool = True
    """Run the hidden tests on every answer (off: trajectories only, success is NULL)."""
    timeout_s: float = 10.0
    memory_mb: int = 1024
    workers: int | None = None
    """Parallel verifications (None: one per core)."""


@dataclass
class AIMDConfig:
    """Adaptive concurrency per (provider, model): additive increase, multiplicative decrease."""

    enabled: bool = True
    """Back off on 429 / overload and recover on success (never below 1 call in flight)."""
    increase: float = 1.0
    """Added to the limit per full window of successes (each success adds increase / limit)."""
    decrease: float = 0.5
    """Factor applied to the limit on a 429 or overload (once per window of calls)."""
    max_concurrency: int | None = None
    """Ceiling and starting limit per model; None: the run's concurrency (so no 429, no change)."""


@dataclass
class ReliabilityConfig:
    """Cooldowns, fallback chains and adaptive concurrency (defaults: today's behaviour)."""

    cooldown_failures: int = 0
    """Failures (retryable kinds) within the window that cool a model down; 0: never."""
    cooldown_window_s: float = 60.0
    """Window in which the failures are counted."""
    cooldown_s: float = 60.0
    """How long a cooled-down model is skipped by routers and fallback chains."""
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    """Portfolio key -> ordered fallback models, tried on retries exhausted, context
    length exceeded or content refusal."""
    aimd: AIMDConfig = field(default_factory=AIMDConfig)
    """Adaptive concurrency per model."""


@dataclass
class Config:
    experiment_name: str = "default"
    question: str = ""
    """The question this experiment answers (shown in the report)."""
    results_dir: str = "results"
    seed: int = 0
    replicates: int = 1
    resume: str | None = None
    """Run folder of an interrupted run to finish."""
    arms: dict[str, ArmConfig] = field(default_factory=dict)
    design: DesignConfig = field(default_factory=DesignConfig)
    portfolio: PortfolioConfig = field(default_factory=PortfolioConfig)
    endpoints: EndpointsConfig = field(default_factory=EndpointsConfig)
    tasks: TasksConfig = field(default_factory=TasksConfig)
    router: RouterConfig = field(default_factory=RouterConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    verifier: VerifierConfig = field(default_factory=VerifierConfig)
    sim: SimSettings = field(default_factory=SimSettings)
    """Simulator profiles (``conf/sim/``), used with ``endpoints=sim``."""
    reliability: ReliabilityConfig = field(default_factory=ReliabilityConfig)
    """Cooldowns, fallback chains and adaptive concurrency of the LLM client."""


def register_configs() -> None:
    """Register the schema; call before Hydra composes (idempotent)."""
    from harness.config.resolvers import register_resolvers

    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="harness_schema", node=Config)
