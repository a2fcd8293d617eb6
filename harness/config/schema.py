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
    "AbSplitSettings",
    "ArmConfig",
    "BanditSettings",
    "BudgetAwareSettings",
    "BudgetConfig",
    "CalibrationConfig",
    "Capabilities",
    "CapabilitySettings",
    "Config",
    "CostOptimizedSettings",
    "DesignConfig",
    "EndpointsConfig",
    "LatencySettings",
    "ModelConfig",
    "ModelTimeouts",
    "MonitorConfig",
    "NeedWeight",
    "PlanConfig",
    "PortfolioConfig",
    "PriceOverride",
    "ReliabilityConfig",
    "RetryConfig",
    "RouterConfig",
    "RunnerConfig",
    "TaskMapEntry",
    "TaskMapSettings",
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
    ids: list[str] = field(default_factory=list)
    """Keep only these task ids (empty: all), e.g. route_fit's held-out tasks."""
    exclude_ids: list[str] = field(default_factory=list)
    """Drop these task ids."""


@dataclass
class CostOptimizedSettings:
    """``cost_optimized``: the cheapest candidate whose context window and capability fit."""

    min_fit_easy: float = 0.5
    """Need-weighted capability (0–1) a model needs for a task of complexity 0."""
    min_fit_hard: float = 0.9
    """The same at complexity 1 (linear in between)."""
    expected_output_tokens: int = 400
    """Output tokens assumed when ranking candidates by expected cost."""


@dataclass
class NeedWeight:
    """Fit-score weight of one capability: ``base + extra * need`` (need in 0–1)."""

    base: float = 0.0
    """Weight when the task does not need this capability."""
    extra: float = 0.0
    """Added weight when the task fully needs it."""


@dataclass
class CapabilitySettings:
    """``capability``: the seed's fit score (§3.3), weights depending on the task's needs."""

    coding: NeedWeight = field(default_factory=lambda: NeedWeight(0.2, 0.2))
    """Seed: 0.4 if coding-heavy else 0.2."""
    reasoning: NeedWeight = field(default_factory=lambda: NeedWeight(0.2, 0.2))
    """Seed: 0.4 if complex else 0.2."""
    speed: NeedWeight = field(default_factory=lambda: NeedWeight(0.1, 0.2))
    """Seed: 0.3 if simple else 0.1."""
    long_context: NeedWeight = field(default_factory=lambda: NeedWeight(0.0, 0.3))
    """Not in the seed's formula (it filters on context only); 0.3 when the task is long."""
    cost: float = 0.3
    """Seed: cost weight, always applied to ``effective $/Mtok / cost_scale_per_mtok``."""
    cost_scale_per_mtok: float = 100.0
    """Seed: effective USD per million tokens divided by this (100)."""
    input_share: float = 0.75
    """Effective $/Mtok = input_share * input + (1 - input_share) * output (seed §5.1 is 3:1)."""
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    """Measured success per model and category (``route_fit``): replaces the ratings there."""


@dataclass
class TaskMapEntry:
    """One row of the seed's task-to-model table (§2.2)."""

    primary: str = MISSING
    """Portfolio key tried first."""
    fallbacks: list[str] = field(default_factory=list)
    """Portfolio keys tried next, in order (the call's fallback chain)."""


@dataclass
class TaskMapSettings:
    """``task_map``: task category -> primary + fallbacks."""

    table: dict[str, TaskMapEntry] = field(default_factory=dict)
    """Category -> entry; a category without an entry goes to the first fitting candidate."""


@dataclass
class AbSplitSettings:
    """``ab_split``: a sticky hash split of units (tasks) between candidates."""

    split_ratio: float = 0.5
    """Share of units routed to the first candidate (the rest share the others equally)."""
    salt: str = "${experiment_name}"
    """Hashed with the unit id: same salt, same assignment, in any run or process."""


@dataclass
class LatencySettings:
    """``latency``: the lowest moving average of observed latency."""

    metric: str = "latency"
    """``latency`` (whole call) or ``ttft`` (time to first token)."""
    alpha: float = 0.3
    """Weight of the newest observation in the exponential moving average."""


@dataclass
class BudgetAwareSettings:
    """``budget_aware``: cheaper tiers as the arm's spend passes thresholds."""

    budget_usd: float | None = None
    """The arm's budget; None: the run's budget given to the router (error if none)."""
    thresholds: list[float] = field(default_factory=lambda: [0.5, 0.8, 0.95])
    """Spend shares of the budget at which the router steps down one tier."""
    tiers: list[list[str]] = field(default_factory=list)
    """Most capable tier first; empty: one tier per candidate, dearest first."""


@dataclass
class BanditSettings:
    """``bandit``: Thompson sampling on verified success per (category, model)."""

    cost_weight: float = 10.0
    """Success probability given up per USD of expected cost (0: quality only)."""
    prior_successes: float = 1.0
    """Beta prior alpha of every (category, model)."""
    prior_failures: float = 1.0
    """Beta prior beta."""
    seed: int = "${seed}"  # type: ignore[assignment]
    """Seeds the posterior draws."""


@dataclass
class RouterConfig:
    """A routing policy over the portfolio. ``conf/router/<name>.yaml`` holds one.

    ``- /router@arms.<arm>: <name>`` in an experiment's defaults gives one arm a
    policy file. The top-level ``router`` node gives every arm its default
    ``router`` and ``candidates`` only; its per-strategy settings must stay at
    their defaults (the runner says so otherwise).
    """

    router: str = "fixed"
    """Strategy: fixed, round_robin, cost_optimized, capability, task_map, ab_split,
    latency, least_busy, budget_aware, bandit."""
    candidates: list[str] = field(default_factory=list)
    """Portfolio keys the router chooses among (fixed: the arm's ``model``)."""
    chars_per_token: dict[str, float] = field(default_factory=dict)
    """Model family -> characters per token, for input estimates (route_fit fits them)."""
    cost_optimized: CostOptimizedSettings = field(default_factory=CostOptimizedSettings)
    capability: CapabilitySettings = field(default_factory=CapabilitySettings)
    task_map: TaskMapSettings = field(default_factory=TaskMapSettings)
    ab_split: AbSplitSettings = field(default_factory=AbSplitSettings)
    latency: LatencySettings = field(default_factory=LatencySettings)
    budget_aware: BudgetAwareSettings = field(default_factory=BudgetAwareSettings)
    bandit: BanditSettings = field(default_factory=BanditSettings)


@dataclass
class ArmConfig(RouterConfig):
    """One arm: a router over a portfolio.

    ``router`` and ``candidates`` default to the top-level ``router`` node's.
    Per-strategy settings are the arm's own (defaults: the seed's values): an
    interpolated section would let a dotted override such as
    ``arms.a.bandit.cost_weight=5`` write through to every arm.
    """

    model: str | None = None
    """Portfolio key of a fixed arm's model."""
    router: str = "${router.router}"
    candidates: list[str] = "${router.candidates}"  # type: ignore[assignment]


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
    sandbox: str = "auto"
    """Isolation backend: auto (bwrap, else unshare), bwrap, unshare, or unsafe_local (none)."""
    disk_mb: int = 64
    """Size of the sandbox's private work folder and /tmp (each a tmpfs)."""
    max_processes: int = 64
    """Processes and threads model code may run at once (RLIMIT_NPROC of its own uid)."""


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
class BudgetConfig:
    """Hard spend caps in USD (None: no cap); see ``harness.cost.budget``."""

    run_usd: float | None = None
    """Cap on this run's spend (resumes included)."""
    daily_usd: float | None = None
    """Cap on the UTC day's spend across every run in ``results_dir``."""
    monthly_usd: float | None = None
    """Cap on the UTC month's spend across every run in ``results_dir``."""
    on_cap: str = "finish"
    """At the cap: ``finish`` lets trials in flight end; ``cancel`` cancels them."""
    alerts: list[float] = field(default_factory=lambda: [0.5, 0.8, 1.0])
    """Shares of each cap that log a warning (once each) and show in the progress bar."""
    chars_per_token: float = 1.0
    """Prompt bytes per token assumed for the worst case (1.0: a strict bound)."""


@dataclass
class MonitorConfig:
    """Always-valid p-value of the primary metric while a run is in flight (mixture SPRT,
    ``harness.analysis.sequential``); paired design only."""

    enabled: bool = True
    """Show the always-valid p-value in the progress bar."""
    arms: list[str] = field(default_factory=list)
    """The two arms compared (empty: the first two configured arms)."""
    alpha: float = 0.05
    """Level at which early stopping fires."""
    tau: float = 0.1
    """Sd of the Beta mixing prior of P(first arm wins | discordant pair) around 1/2."""
    early_stop: bool = False
    """Stop the run (status ``early_stopped``) once the always-valid p-value is below alpha."""


@dataclass
class PlanConfig:
    """``python -m harness.plan``: tasks and replicates needed, and the design's MDE."""

    pilot: str | None = None
    """Run folder (or results folder) of a pilot run: variance components from its trials."""
    mde: float = 0.05
    """Minimum detectable effect wanted, on the success-rate scale."""
    power: float = 0.8
    """Target power."""
    alpha: float = 0.05
    """Two-sided significance level."""
    arms: list[str] = field(default_factory=list)
    """The two arms planned for (empty: the first two configured arms)."""
    rates: list[float] = field(default_factory=list)
    """Assumed success rates of the two arms (empty: from the simulator profiles, or the pilot)."""
    icc: float = 1.0
    """With ``rates``: share of outcome variance between tasks (1: replicates do not help)."""
    task_corr: float = 0.5
    """With ``rates``: correlation of the two arms' per-task success probabilities."""
    replicates: list[int] = field(default_factory=lambda: [1, 2, 3, 5, 10])
    """Replicate counts tabulated (the configured ``replicates`` is always included)."""
    method: str = "t"
    """``t``: noncentral t (the paired t the report runs); ``z``: Miller's normal formula."""


@dataclass
class CalibrationConfig:
    """``kind=calibration``: many small simulated experiments checked against ground truth."""

    experiments: int = 1000
    """Simulated experiments (seeds ``seed`` … ``seed + experiments − 1``)."""
    alpha: float = 0.05
    """Significance level of each experiment's comparison."""
    through_http: bool = False
    """Also run ``http_experiments`` of them end to end (simulator + verifier) and compare."""
    http_experiments: int = 2
    """Experiments run through the real stack when ``through_http`` is set."""


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
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    """Spend caps per run, day and month."""
    kind: str = "ab"
    """``ab``: run the arms on the tasks. ``calibration``: many in-process simulated
    experiments against the simulator's ground truth (``harness.calibration``)."""
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    """Always-valid monitoring of the primary metric in the progress bar; early stop."""
    plan: PlanConfig = field(default_factory=PlanConfig)
    """Power planning (``python -m harness.plan``); not used by runs."""
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    """Calibration runs (``kind=calibration``)."""


def register_configs() -> None:
    """Register the schema; call before Hydra composes (idempotent)."""
    from harness.config.resolvers import register_resolvers

    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="harness_schema", node=Config)
