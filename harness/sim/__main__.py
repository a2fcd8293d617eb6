"""``python -m harness.sim``: run the simulator alone.

    python -m harness.sim --host 127.0.0.1 --port 8765
    python -m harness experiment=ab_sonnet_vs_qwen endpoints=sim endpoints.url=http://127.0.0.1:8765

Prints ``harness.sim listening on http://HOST:PORT`` once ready (port 0 picks
a free port). Without ``--settings-file`` the profiles come from
``conf/sim/default.yaml`` and the model ids from ``conf/portfolio/seed.yaml``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harness.sim", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default 0)")
    p.add_argument("--seed", type=int, default=None, help="seed of every draw (default: settings)")
    p.add_argument("--time-scale", type=float, default=None, help="multiplies simulated durations")
    p.add_argument("--settings-file", type=Path, default=None, help="SimSettings as JSON")
    p.add_argument("--portfolio", default="seed", help="conf/portfolio/<name>.yaml (default seed)")
    p.add_argument(
        "--exit-with-parent",
        type=int,
        default=None,
        metavar="PID",
        help="exit when the process PID is no longer this one's parent",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until interrupted; returns the exit code."""
    args = _parser().parse_args(argv)
    from harness.errors import HarnessError
    from harness.sim.server import serve
    from harness.sim.settings import load_default_settings, settings_from_json

    try:
        if args.settings_file is not None:
            settings = settings_from_json(args.settings_file.read_text(encoding="utf-8"))
        else:
            settings = load_default_settings(portfolio=args.portfolio)
    except (OSError, ValueError, HarnessError) as exc:
        print(f"harness.sim: cannot load settings: {exc}", file=sys.stderr)
        return 2
    if args.seed is not None:
        settings = dataclasses.replace(settings, seed=args.seed)
    if args.time_scale is not None:
        settings = dataclasses.replace(settings, time_scale=args.time_scale)
    try:
        serve(settings, args.host, args.port, parent_pid=args.exit_with_parent)
    except OSError as exc:
        print(f"harness.sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
