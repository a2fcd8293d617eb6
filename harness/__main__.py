"""``python -m harness experiment=<name> [overrides]`` — run one experiment (or a ``-m`` sweep).

The overrides are checked against the schema before Hydra starts, so a wrong
key or type is one line naming it (exit code 2), never a traceback.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and {"-h", "--help"} & set(sys.argv[1:]):
    from harness.cli import print_help

    print_help()
    raise SystemExit(0)

import hydra
from omegaconf import DictConfig

from harness.cli import check_cli_overrides, friendly_errors
from harness.config.compose import CONF_DIR
from harness.config.schema import register_configs

register_configs()


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from harness.runner import run_experiment

    with friendly_errors():
        summary = run_experiment(cfg)
        if summary.report_text:
            print(summary.report_text)
        print(f"run folder: {summary.run_dir}")


if __name__ == "__main__":
    check_cli_overrides(sys.argv[1:])
    main()
