"""route_fit round trip on a real simulator run; router arms then run on the held-out tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.route_fit import fit_router, main, split_tasks, write_router_yaml
from harness.store.reader import open_results
from tests.conftest import run_cli

FIXED = {"sonnet": "claude-3-5-sonnet", "qwen": "qwen-2-5-coder", "deepseek": "deepseek-coder"}


@pytest.fixture(scope="module")
def sim():
    from harness.sim.process import SimProcess
    from harness.sim.settings import load_default_settings

    with SimProcess(load_default_settings()) as proc:
        yield proc


@pytest.fixture(scope="module")
def fit_run(sim, tmp_path_factory) -> Path:
    """Three fixed arms on two categories of the builtin suite, two replicates."""
    results = tmp_path_factory.mktemp("fit_results")
    conf = results.parent / "fit_conf"
    (conf / "experiment").mkdir(parents=True)
    arms = "".join(f"  {arm}: {{model: {model}}}\n" for arm, model in FIXED.items())
    (conf / "experiment" / "fixed3.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /tasks: builtin\n"
        f"experiment_name: fixed3\narms:\n{arms}"
    )
    proc = run_cli(
        [
            f"hydra.searchpath=[file://{conf}]",
            "experiment=fixed3",
            "tasks.categories=[simple,security]",
            "replicates=2",
            "endpoints=sim",
            f"endpoints.url={sim.url}",
            f"results_dir={results}",
            "runner.progress=false",
            "runner.report=false",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return results


def test_split_is_per_category_seeded_and_disjoint() -> None:
    cats = {"a": [f"a{i}" for i in range(10)], "b": ["b0", "b1"], "c": ["c0"]}
    fit, held = split_tasks(cats, 0.3, seed=0)
    assert not set(fit) & set(held)
    assert set(fit) | set(held) == {t for ids in cats.values() for t in ids}
    assert sum(t.startswith("a") for t in held) == 3
    assert sum(t.startswith("b") for t in held) == 1, "a category of two keeps one on each side"
    assert "c0" in fit
    assert split_tasks(cats, 0.3, seed=0) == (fit, held)
    assert split_tasks(cats, 0.3, seed=1) != (fit, held)


def test_fit_matches_the_trials_and_round_trips(fit_run: Path, tmp_path: Path, compose) -> None:
    fit = fit_router(fit_run, holdout=0.3, seed=0)
    con = open_results(fit_run)
    rows = con.execute("SELECT task_id, task_category, model, success FROM trials").fetchall()
    con.close()
    assert not set(fit.fit_ids) & set(fit.holdout_ids)
    assert set(fit.fit_ids) | set(fit.holdout_ids) == {r[0] for r in rows}
    # Independently: per category, the best posterior mean on the fit tasks is the primary.
    for cat, chain in fit.table.items():
        tally: dict[str, list[int]] = {}
        for task_id, c, model, success in rows:
            if c == cat and task_id in fit.fit_ids:
                t = tally.setdefault(model, [0, 0])
                t[0] += 1
                t[1] += bool(success)
        best = max((s + 1) / (n + 2) for n, s in tally.values())
        primary = chain[0]
        assert (tally[primary][1] + 1) / (tally[primary][0] + 2) == pytest.approx(best)
        assert len(chain) == 3 and set(chain) == set(FIXED.values())
    # Characters per token recovered from logged usage: the simulator's profiles
    # count ceil(chars / cpt) with cpt 3.5 (Claude), 3.8 (Qwen), 3.6 (DeepSeek).
    assert fit.chars_per_token["claude"] == pytest.approx(3.5, rel=0.01)
    assert fit.chars_per_token["qwen"] == pytest.approx(3.8, rel=0.01)
    assert fit.chars_per_token["deepseek"] == pytest.approx(3.6, rel=0.01)

    conf_dir = tmp_path / "conf"
    _, held = write_router_yaml(fit, conf_dir / "router" / "fitted.yaml")
    assert held.name == "fitted_holdout.yaml"
    exp = conf_dir / "experiment"
    exp.mkdir()
    (exp / "learned.yaml").write_text(
        "# @package _global_\ndefaults:\n  - /router@arms.learned: fitted\n"
        "  - override /tasks: builtin\nexperiment_name: learned\n"
    )
    from omegaconf import OmegaConf

    from harness.routing import ArmRouting
    from harness.runner import load_tasks

    cfg = OmegaConf.to_object(
        compose(
            [
                f"hydra.searchpath=[file://{conf_dir}]",
                "experiment=learned",
                "+router@tasks=fitted_holdout",
            ]
        )
    )
    router = ArmRouting.from_config(cfg).routers["learned"]
    assert {c: list(ch) for c, ch in router.table.items()} == fit.table
    assert cfg.arms["learned"].chars_per_token == fit.chars_per_token
    assert cfg.arms["learned"].capability.scores["qwen-2-5-coder"].keys() == set(fit.table)
    assert sorted(t.task_id for t in load_tasks(cfg)) == fit.holdout_ids


def test_router_arms_run_offline_on_held_out_tasks(
    fit_run: Path, sim, tmp_path: Path, capsys
) -> None:
    conf_dir = tmp_path / "conf"
    out = conf_dir / "router" / "fitted.yaml"
    assert main([str(fit_run), "--out", str(out), "--holdout", "0.3", "--cost-weight", "1"]) == 0
    assert "wrote" in capsys.readouterr().out
    fit = fit_router(fit_run, holdout=0.3, seed=0, cost_weight=1.0)
    (conf_dir / "experiment").mkdir()
    (conf_dir / "experiment" / "routers.yaml").write_text(
        """# @package _global_
defaults:
  - /router@arms.learned: fitted
  - /router@arms.cheap: cost_optimized
  - override /tasks: builtin
experiment_name: routers
arms:
  sonnet: {model: claude-3-5-sonnet}
  bandit: {router: bandit, candidates: [claude-3-5-sonnet, qwen-2-5-coder]}
  rr: {router: round_robin, candidates: [claude-3-5-sonnet, qwen-2-5-coder]}
  ab: {router: ab_split, candidates: [qwen-2-5-coder, deepseek-coder]}
"""
    )
    results = tmp_path / "results"
    proc = run_cli(
        [
            f"hydra.searchpath=[file://{conf_dir}]",
            "experiment=routers",
            "+router@tasks=fitted_holdout",
            "endpoints=sim",
            f"endpoints.url={sim.url}",
            f"results_dir={results}",
            "runner.progress=false",
            "runner.report=false",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    con = open_results(results)
    assert con.execute("SELECT status FROM runs").fetchall() == [("completed",)]
    trials = con.execute(
        "SELECT arm, router, task_id, task_category, routed_model, model, route_reason, status "
        "FROM trials"
    ).fetchall()
    calls = con.execute(
        "SELECT t.arm, c.route_candidates, c.portfolio_model, c.route_reason, t.route_reason "
        "FROM calls c JOIN trials t USING (trial_id)"
    ).fetchall()
    con.close()
    assert {t[2] for t in trials} == set(fit.holdout_ids), "only the held-out tasks ran"
    assert len(trials) == 6 * len(fit.holdout_ids)
    candidates = {
        "sonnet": ["claude-3-5-sonnet"],
        "bandit": ["claude-3-5-sonnet", "qwen-2-5-coder"],
        "rr": ["claude-3-5-sonnet", "qwen-2-5-coder"],
        "ab": ["qwen-2-5-coder", "deepseek-coder"],
        "learned": ["claude-3-5-sonnet", "qwen-2-5-coder", "deepseek-coder"],
        "cheap": [
            "gpt-4o",
            "claude-3-5-sonnet",
            "gemini-1-5-pro",
            "qwen-2-5-coder",
            "deepseek-coder",
            "llama-3-70b",
        ],
    }
    for arm, router, _task, cat, routed, _model, reason, status in trials:
        assert status == "ok", (arm, reason)
        assert routed in candidates.get(arm, [routed]), (arm, routed)
        assert reason.startswith(f"{router}: {routed} "), reason
        if arm == "learned":
            assert routed == fit.table[cat][0], "the fitted table's primary"
    for arm, cands, _model, call_reason, trial_reason in calls:
        if arm in candidates:
            assert json.loads(cands) == candidates[arm]
        assert call_reason == trial_reason
    rr = [t[4] for t in trials if t[0] == "rr"]
    assert abs(rr.count("qwen-2-5-coder") - rr.count("claude-3-5-sonnet")) <= 1
