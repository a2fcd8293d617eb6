"""Structured config schemas.

``conf/config.yaml`` names ``harness_schema`` as its first default, so every
YAML file and command-line override is checked against these dataclasses when
Hydra composes: an unknown key or a value of the wrong type fails before
anything runs, and the error names the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from harness.sim.settings import SimSettings

__all__ = [
    "ArmConfig",
    "Capabilities",
    "Config",
    "DesignConfig",
    "EndpointsConfig",
    "ModelConfig",
    "PortfolioConfig",
    "PriceOverride",
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
    """USD per million tokens; used instead of genai-prices for this model."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cached_input_per_mtok: float | None = None


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
    """Extra HTTP headers (never secrets: keys come from ``api_key_env``)."""


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


def register_configs() -> None:
    """Register the schema; call before Hydra composes (idempotent)."""
    from harness.config.resolvers import register_resolvers

    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="harness_schema", node=Config)
