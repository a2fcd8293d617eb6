"""``python -m harness doctor``: the real config, real HTTP to 127.0.0.1, never a key printed.

- ``endpoints=sim`` as a subprocess: a simulator is started and every portfolio
  endpoint is healthy.
- ``endpoints=live`` without keys: the missing env vars are named, no request
  is made for those models, exit code 1.
- A planted key, with every endpoint pointed at a running simulator, never
  appears in the output; a closed localhost port is ``unreachable``.
- The probe order (model endpoint, model list, 1-token chat) against a
  scripted server.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.doctor import check_models, main
from harness.llm.http import Timeouts
from tests.conftest import KEY_VARS, run_cli
from tests.test_llm_http import Reply, ScriptedServer

PLANTED = "sk-PLANTED-doctor-key-7c1e5a9b3d"


def closed_port() -> int:
    """A localhost port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def portfolio() -> dict[str, Any]:
    from harness.config.compose import compose_config

    return dict(compose_config([]).portfolio.models)


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    from harness.sim.process import SimProcess
    from harness.sim.settings import load_default_settings

    with SimProcess(load_default_settings()) as proc:
        yield proc


def portfolio_overrides(tmp_path: Path, changes: dict[str, dict[str, Any]]) -> list[str]:
    """Overrides selecting a copy of the seed portfolio with ``changes`` per model key.

    Portfolio keys hold dots and dashes, which Hydra's override grammar cannot
    address, so the changed portfolio is a config file on an added search path.
    """
    from omegaconf import OmegaConf

    from harness.config.compose import compose_config

    models = OmegaConf.to_container(compose_config([]).portfolio.models)
    assert isinstance(models, dict)
    for key, fields in changes.items():
        models[key].update(fields)
    folder = tmp_path / "conf" / "portfolio"
    folder.mkdir(parents=True)
    (folder / "doctor_test.yaml").write_text(OmegaConf.to_yaml({"models": models}))
    return [f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "portfolio=doctor_test"]


def rows(out: str) -> dict[str, str]:
    """model key → its table line."""
    lines = out.splitlines()[1:]
    return {x.split()[0]: x for x in lines if x and not x.startswith(("missing API", "doctor:"))}


def test_sim_every_endpoint_healthy(portfolio: dict[str, Any]) -> None:
    proc = run_cli(["doctor", "endpoints=sim"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    table = rows(proc.stdout)
    assert set(portfolio) <= set(table)
    for key, m in portfolio.items():
        cells = table[key].split()
        assert cells[1:3] == [m.provider, m.protocol]
        assert cells[3].startswith("127.0.0.1:") and cells[4] == "ok", table[key]
        assert float(cells[5]) >= 0
    assert f"all {len(portfolio)} endpoint(s) healthy" in proc.stdout


def test_help_is_fast_and_lists_doctor() -> None:
    proc = run_cli(["--help"], timeout=60)
    assert proc.returncode == 0 and "python -m harness doctor" in proc.stdout
    proc = run_cli(["doctor", "--help"], timeout=60)
    assert proc.returncode == 0 and "--all" in proc.stdout


def test_live_without_keys_names_them_and_calls_nothing(
    portfolio: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    port = closed_port()
    # keyless self-hosted entries get a closed localhost port: nothing leaves the machine
    keyless = [k for k, m in portfolio.items() if not m.api_key_env]
    assert keyless
    base = f"http://127.0.0.1:{port}/v1"
    overrides = portfolio_overrides(tmp_path, {k: {"api_base": base} for k in keyless})
    code = main(["endpoints=live", *overrides])
    out = capsys.readouterr().out
    assert code == 1
    needed = sorted({m.api_key_env for m in portfolio.values() if m.api_key_env})
    (line,) = [x for x in out.splitlines() if x.startswith("missing API key env var(s):")]
    assert sorted(line.split(":", 1)[1].split("—")[0].replace(",", " ").split()) == needed
    table = rows(out)
    for key, m in portfolio.items():
        if m.api_key_env:
            # no request: no latency
            assert table[key].split()[-2:] == ["missing", "key"], table[key]
        else:
            assert "unreachable" in table[key] and f"127.0.0.1:{port}/v1" in table[key]


def test_experiment_checks_only_its_arms(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    assert main(["endpoints=live", "experiment=ab_sonnet_vs_qwen"]) == 1
    out = capsys.readouterr().out
    assert set(rows(out)) == {"claude-3-5-sonnet", "qwen-2-5-coder"}
    assert "missing API key env var(s): ANTHROPIC_API_KEY, OPENROUTER_API_KEY" in out


def test_planted_key_never_printed(
    sim: Any,
    portfolio: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for var in KEY_VARS:
        monkeypatch.setenv(var, PLANTED)
    suffix = {"openai": "/v1", "gemini": "/v1beta", "anthropic": ""}
    changes = {k: {"api_base": f"{sim.url}{suffix[m.protocol]}"} for k, m in portfolio.items()}
    dead = "claude-3-opus"
    changes[dead] = {"api_base": f"http://127.0.0.1:{closed_port()}"}
    changes["gemini-1-5-pro"]["model_id"] = "gemini-0-nope"
    code = main(["endpoints=live", *portfolio_overrides(tmp_path, changes)])
    captured = capsys.readouterr()
    assert code == 1
    table = rows(captured.out)
    assert "unreachable" in table[dead]
    assert "model not found" in table["gemini-1-5-pro"]
    healthy = [k for k in portfolio if k not in (dead, "gemini-1-5-pro")]
    assert all(table[k].split()[4] == "ok" for k in healthy), captured.out
    assert "2 of" in captured.out
    assert PLANTED not in captured.out + captured.err


async def test_probe_order_against_a_scripted_server(portfolio: dict[str, Any]) -> None:
    """Model endpoint, then the model list, then a 1-token chat; 401 is auth failed."""
    vllm = portfolio["qwen-2-5-coder-vllm"]
    json_ct = {"content-type": "application/json"}
    listing = b'{"object":"list","data":[{"id":"Qwen/Qwen2.5-Coder-32B-Instruct"}]}'
    completion = (
        b'{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":"p"},"finish_reason":"length"}]}'
    )
    async with ScriptedServer() as srv:
        srv.reply(
            Reply(404, json_ct, b'{"detail":"Not Found"}'),  # vLLM: no /models/{id} ...
            Reply(200, json_ct, listing),  # ... but the id is in the list → ok
            Reply(405, json_ct, b"{}"),  # llama.cpp-like: no model endpoint,
            Reply(404, json_ct, b"{}"),  # no list either,
            Reply(200, json_ct, completion),  # a 1-token chat answers → ok
            Reply(401, json_ct, b'{"error":{"message":"bad key"}}'),  # → auth failed
        )
        models = {"m": _with_base(vllm, srv.url + "/v1")}
        t = Timeouts(read=5, total=10)
        (first,) = await check_models(models, ["m"], mode="live", timeouts=t)
        (second,) = await check_models(models, ["m"], mode="live", timeouts=t)
        (third,) = await check_models(models, ["m"], mode="live", timeouts=t)
    assert (first.status, first.how) == ("ok", "list")
    assert (second.status, second.how) == ("ok", "chat")
    assert (third.status, third.how) == ("auth failed", "model")
    paths = [(r.method, r.path) for r in srv.requests]
    model_path = "/v1/models/Qwen/Qwen2.5-Coder-32B-Instruct"
    assert paths == [
        ("GET", model_path),
        ("GET", "/v1/models"),
        ("GET", model_path),
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("GET", model_path),
    ]
    assert srv.requests[4].json()["max_tokens"] == 1


def _with_base(model: Any, api_base: str) -> Any:
    import dataclasses

    from omegaconf import OmegaConf

    plain = OmegaConf.to_object(model)
    return dataclasses.replace(plain, api_base=api_base)
