"""Command-line edges: override validation and one-line errors with exit codes."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence

__all__ = [
    "EXIT_CONFIG",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "check_cli_overrides",
    "friendly_errors",
]

EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130

# Hydra flags that take a value, and flags after which composing is not ours to check.
_FLAGS_WITH_VALUE = {
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--experimental-rerun",
    "--info",
    "-i",
}
_NO_CHECK = {
    "--help",
    "-h",
    "--hydra-help",
    "--version",
    "--shell-completion",
    "-sc",
    "--info",
    "-i",
    "--experimental-rerun",
}


_USAGE = """\
usage: python -m harness experiment=<name> [key=value ...]
       python -m harness -m experiment=<name> key=v1,v2 ...   (a sweep: one run folder per job)
       python -m harness doctor [--all] [key=value ...]       (check endpoints: reachable, key
                                                               accepted, model exists; no run)

Runs an experiment: every trial's LLM calls are logged to DuckDB, every answer is verified
by its hidden tests, and a report compares the arms. Results go to
<results_dir>/<experiment>/<run_id>/.

config groups (pick one with group=option):
{groups}

common overrides:
  endpoints=sim                 run offline against the built-in simulator
  endpoints.url=URL             use an already running simulator (python -m harness.sim)
  tasks.limit=N                 only the first N tasks
  tasks.categories=[a,b]        only these task categories
  replicates=K                  trials per (task, arm)
  seed=S                        seed of sampling and of the simulator
  runner.concurrency=C          trials in flight
  results_dir=PATH              results root (default: results)
  resume=RUN_FOLDER             finish an interrupted run

more:
  --cfg job                     print the composed config and exit
  --hydra-help                  Hydra's own options (launchers, sweepers, logging)
"""


def print_help() -> None:
    """Short help, without composing the config (Hydra's --help takes seconds)."""
    from harness.config.compose import CONF_DIR

    lines = []
    for group in sorted(p for p in CONF_DIR.iterdir() if p.is_dir() and p.name != "hydra"):
        options = sorted(f.stem for f in group.glob("*.yaml"))
        lines.append(f"  {group.name + '=':<30}{', '.join(options)}")
    print(_USAGE.format(groups="\n".join(lines)))


def _first_line(exc: BaseException) -> str:
    parts = []
    e: BaseException | None = exc
    while e is not None and len(parts) < 3:
        text = str(e).strip().splitlines()
        line = text[0].strip() if text else type(e).__name__
        if line and line not in parts:
            parts.append(line)
        e = e.__cause__ or e.__context__
    return " — ".join(parts)


def overrides_from_argv(argv: Sequence[str]) -> list[list[str]] | None:
    """Override lists to compose for argv: one with every sweep at its first value,
    plus one per further sweep value. None when argv asks Hydra for help or info.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    plain: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _NO_CHECK:
            return None
        if arg in _FLAGS_WITH_VALUE:
            skip = True
            continue
        if not arg.startswith("-"):
            plain.append(arg)
    choices: list[list[str]] = []
    for ov in OverridesParser.create().parse_overrides(plain):
        if ov.is_hydra_override():
            # The search path changes what composes; other hydra.* keys do not.
            if ov.get_key_element() == "hydra.searchpath":
                choices.append([ov.input_line])
            continue
        if ov.is_sweep_override():
            key = ov.get_key_element()
            choices.append([f"{key}={v}" for v in ov.sweep_string_iterator()])
        else:
            choices.append([ov.input_line])
    base = [c[0] for c in choices]
    sets = [base]
    for i, values in enumerate(choices):
        sets.extend([*base[:i], v, *base[i + 1 :]] for v in values[1:])
    return sets


def check_cli_overrides(argv: Sequence[str]) -> None:
    """Compose with the command's overrides; on error print one line and exit 2."""
    try:
        groups = overrides_from_argv(argv)
        if groups is None:
            return
        from harness.config.compose import compose_config

        for overrides in groups:
            compose_config(overrides)
    except Exception as exc:
        print(f"harness: config error: {_first_line(exc)}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


#: Exit codes of sweep jobs that failed; the sweep goes on and exits with the worst.
FAILED_JOBS: list[int] = []


@contextlib.contextmanager
def friendly_errors(job: str | None = None) -> Iterator[None]:
    """Turn HarnessErrors and Ctrl-C into one line and an exit code.

    In a sweep (``job`` names it) a failed job is reported and recorded in
    :data:`FAILED_JOBS`, so one bad job does not sink the others.
    """
    from harness.errors import ConfigError, HarnessError

    where = f" (job {job})" if job else ""
    try:
        yield
    except HarnessError as exc:
        code = EXIT_CONFIG if isinstance(exc, ConfigError) else EXIT_ERROR
        kind = "config error" if code == EXIT_CONFIG else "error"
        print(f"harness: {kind}{where}: {exc}", file=sys.stderr)
        if job is None:
            raise SystemExit(code) from None
        FAILED_JOBS.append(code)
    except KeyboardInterrupt:
        print(
            "harness: interrupted — everything finished so far is saved; "
            "finish it with resume=<run folder>",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_INTERRUPTED) from None
