"""``python -m harness experiment=<name> [overrides]`` — run one experiment (or a ``-m`` sweep).

``python -m harness doctor [overrides]`` checks the configured endpoints instead
(:mod:`harness.doctor`).

The overrides are checked against the schema before Hydra starts, so a wrong
key or type is one line naming it (exit code 2), never a traceback.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and sys.argv[1:2] == ["doctor"]:
    # Checks endpoints with the same config and overrides, before Hydra runs anything.
    from harness.doctor import main as doctor

    raise SystemExit(doctor(sys.argv[2:]))

if __name__ == "__main__" and {"-h", "--help"} & set(sys.argv[1:]):
    from harness.cli import print_help

    print_help()
    raise SystemExit(0)

import hydra
from omegaconf import DictConfig

from harness.cli import FAILED_JOBS, check_cli_overrides, friendly_errors
from harness.config.compose import CONF_DIR
from harness.config.schema import register_configs

register_configs()


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from harness.runner import run_experiment

    hc = HydraConfig.get()
    job = str(hc.job.num) if hc.mode == RunMode.MULTIRUN else None
    with friendly_errors(job):
        if cfg.get("kind", "ab") == "calibration":  # experiment=aa_calibration, known_effect
            from harness.calibration import run_calibration

            summary = run_calibration(cfg)
        else:
            summary = run_experiment(cfg)
        if summary.report_text:
            print(summary.report_text)
        print(f"run folder: {summary.run_dir}")


if __name__ == "__main__":
    check_cli_overrides(sys.argv[1:])
    main()
    if FAILED_JOBS:
        print(f"harness: {len(FAILED_JOBS)} sweep job(s) failed", file=sys.stderr)
        raise SystemExit(max(FAILED_JOBS))
