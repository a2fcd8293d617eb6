"""Simulator settings: model profiles, fault rates, and how to build them.

The dataclasses are plain (defaults, simple field types) so the config layer
can register :class:`SimSettings` in Hydra's ConfigStore as the schema of the
``sim`` group. Settings come from ``conf/sim/default.yaml`` plus the
portfolio, which maps API model ids to profiles; they travel to a simulator
subprocess as JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

__all__ = [
    "FaultRates",
    "ModelProfile",
    "SimSettings",
    "load_default_settings",
    "repo_root",
    "settings_from_config",
    "settings_from_dict",
    "settings_from_json",
    "settings_to_json",
]


@dataclass
class FaultRates:
    """Per-request fault probabilities of one simulated model (all off by default)."""

    rate_limit: float = 0.0
    """Share of requests answered 429 with a ``Retry-After`` header."""
    retry_after_s: float = 1.0
    """Value of ``Retry-After`` on a 429, in wall seconds (not scaled)."""
    server_error: float = 0.0
    """Share answered 500."""
    overloaded: float = 0.0
    """Share answered overloaded: 529 on the Anthropic API, 503 on the OpenAI API."""
    hang: float = 0.0
    """Share that send nothing for ``SimSettings.hang_s`` before answering."""
    cut_stream: float = 0.0
    """Share whose body stops midway (streams lack their terminal event)."""


@dataclass
class ModelProfile:
    """How one simulated model behaves."""

    skill: float = 0.0
    """Logit ability: P(correct) = sigmoid(skill + category_skill[cat] - task.difficulty)."""
    category_skill: dict[str, float] = field(default_factory=dict)
    """Logit offsets per task category (missing categories: 0)."""
    ttft_ms: float = 500.0
    """Time to first token, simulated milliseconds (multiplied by ``time_scale``)."""
    tokens_per_s: float = 50.0
    """Output speed, simulated tokens per second (divided by ``time_scale``)."""
    chars_per_token: float = 4.0
    """Characters per token, for usage counts and ``max_tokens``."""
    cached_share: float = 0.0
    """Share of prompt tokens reported as cached once a prompt has ``cache_min_tokens``."""
    cache_min_tokens: int = 1024
    """Smallest prompt (tokens) that reports cached tokens, as prompt caches do."""
    faults: FaultRates = field(default_factory=FaultRates)
    """Fault probabilities."""


@dataclass
class SimSettings:
    """Everything a simulator process needs."""

    seed: int = 0
    """Seeds every draw (answers and faults); the runner sets it to the run's seed."""
    time_scale: float = 0.05
    """Multiplies every simulated duration (0.05: 20x faster, same relative latencies)."""
    hang_s: float = 60.0
    """How long a hang fault stays silent, wall seconds (not scaled)."""
    chunk_tokens: int = 4
    """Tokens per streamed chunk."""
    prompt_cache_ttl_s: float = 300.0
    """How long a cached prompt prefix stays readable, wall seconds (not scaled);
    each hit refreshes it, like Anthropic's 5-minute ephemeral cache."""
    profiles: dict[str, ModelProfile] = field(default_factory=dict)
    """Profile name -> profile."""
    model_ids: dict[str, str] = field(default_factory=dict)
    """API model id -> profile name (filled from the portfolio; profile names also work)."""


def repo_root() -> Path:
    """The checkout holding ``conf/`` (the package is installed editable)."""
    import harness

    return Path(harness.__file__).resolve().parents[1]


def _plain(value: Any) -> Any:
    """OmegaConf nodes and dataclasses to plain containers; others unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(value, DictConfig | ListConfig):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _fields(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    out = dict(data)
    for name, value in out.items():
        # YAML writes 700 for 700.0; keep float fields float so JSON round trips compare equal.
        if isinstance(fields[name].default, float) and isinstance(value, int | float):
            out[name] = float(value)
    return out


def _profile(data: Mapping[str, Any], where: str) -> ModelProfile:
    data = _fields(ModelProfile, data, where)
    faults = data.pop("faults", None) or {}
    faults = FaultRates(**_fields(FaultRates, _plain(faults), f"{where}.faults"))
    cats = {str(k): float(v) for k, v in (data.pop("category_skill", None) or {}).items()}
    return ModelProfile(faults=faults, category_skill=cats, **data)


def settings_from_dict(data: Mapping[str, Any]) -> SimSettings:
    """Build settings from plain data (YAML or JSON shape); unknown keys raise ConfigError."""
    data = _fields(SimSettings, _plain(data) or {}, "sim")
    profiles = {
        str(name): p if isinstance(p, ModelProfile) else _profile(_plain(p), f"sim.profiles.{name}")
        for name, p in (data.pop("profiles", None) or {}).items()
    }
    model_ids = {str(k): str(v) for k, v in (data.pop("model_ids", None) or {}).items()}
    settings = SimSettings(profiles=profiles, model_ids=model_ids, **data)
    _validate(settings)
    return settings


def _validate(s: SimSettings) -> None:
    if s.time_scale < 0:
        raise ConfigError(f"sim.time_scale must be >= 0, got {s.time_scale}")
    if s.chunk_tokens < 1:
        raise ConfigError(f"sim.chunk_tokens must be >= 1, got {s.chunk_tokens}")
    if s.prompt_cache_ttl_s < 0:
        raise ConfigError(f"sim.prompt_cache_ttl_s must be >= 0, got {s.prompt_cache_ttl_s}")
    for name, p in s.profiles.items():
        if p.tokens_per_s <= 0 or p.chars_per_token <= 0:
            raise ConfigError(f"sim.profiles.{name}: tokens_per_s and chars_per_token must be > 0")
    for model_id, name in s.model_ids.items():
        if name not in s.profiles:
            raise ConfigError(f"sim.model_ids.{model_id}: no profile named {name!r}")


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def settings_from_config(
    sim_cfg: Mapping[str, Any], portfolio_models: Mapping[str, Any]
) -> SimSettings:
    """Settings from the composed config: ``cfg.sim`` and ``cfg.portfolio.models``.

    Each portfolio model's ``model_id`` answers as the profile named by its
    ``sim_profile``, or by its portfolio key when that is unset.

    Raises:
        ConfigError: a portfolio model has no profile, or two models share an
            API model id but not a profile.
    """
    settings = settings_from_dict(sim_cfg)
    model_ids = dict(settings.model_ids)
    for key, model in _plain(portfolio_models).items():
        profile = _get(model, "sim_profile") or key
        model_id = _get(model, "model_id") or key
        if profile not in settings.profiles:
            raise ConfigError(
                f"portfolio.models.{key}: the simulator has no profile {profile!r}; "
                f"add sim.profiles.{profile} or set portfolio.models.{key}.sim_profile"
            )
        if model_ids.get(model_id, profile) != profile:
            raise ConfigError(
                f"portfolio.models.{key}: model_id {model_id!r} already answers as "
                f"profile {model_ids[model_id]!r}"
            )
        model_ids[model_id] = profile
    return dataclasses.replace(settings, model_ids=model_ids)


def load_default_settings(
    seed: int = 0,
    *,
    time_scale: float | None = None,
    portfolio: str = "seed",
    root: Path | None = None,
) -> SimSettings:
    """Settings from ``conf/sim/default.yaml`` and ``conf/portfolio/<portfolio>.yaml``.

    Args:
        seed: Seed of every draw.
        time_scale: Overrides the YAML's ``time_scale`` when given.
        portfolio: Portfolio file name under ``conf/portfolio/``.
        root: Repository root (default: the checkout of this package).
    """
    from omegaconf import OmegaConf

    root = root or repo_root()
    sim_cfg = OmegaConf.load(root / "conf" / "sim" / "default.yaml")
    port_cfg = OmegaConf.load(root / "conf" / "portfolio" / f"{portfolio}.yaml")
    settings = settings_from_config(sim_cfg, port_cfg.get("models", {}))  # type: ignore[arg-type]
    settings = dataclasses.replace(settings, seed=int(seed))
    if time_scale is not None:
        settings = dataclasses.replace(settings, time_scale=float(time_scale))
    _validate(settings)
    return settings


def settings_to_json(settings: SimSettings) -> str:
    """Serialise settings (for a simulator subprocess)."""
    return json.dumps(dataclasses.asdict(settings), sort_keys=True)


def settings_from_json(text: str) -> SimSettings:
    """Inverse of :func:`settings_to_json`."""
    return settings_from_dict(json.loads(text))
