"""The simulator over real HTTP: both protocols, streams, tools, usage, stats, faults, draws."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from harness.sim.process import SimProcess, SimStartError
from harness.sim.settings import FaultRates, ModelProfile, SimSettings, load_default_settings
from harness.tasks.humaneval import load_humaneval
from harness.tasks.types import Task

GPT4O = "gpt-4o-2024-08-06"
SONNET = "claude-3-5-sonnet-20241022"
QWEN = "qwen/qwen-2.5-coder-32b-instruct"
KEY = "sk-test-secret-do-not-log-4242"
OPENAI_HEADERS = {"authorization": f"Bearer {KEY}"}
ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
TOOLS_OPENAI = [
    {
        "type": "function",
        "function": {
            "name": "run_python",
            "description": "Run code",
            "parameters": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "timeout_s": {"type": "number"}},
                "required": ["code"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    },
]
TOOLS_ANTHROPIC = [
    {"name": t["function"]["name"], "input_schema": t["function"]["parameters"]}
    for t in TOOLS_OPENAI
]


def _settings() -> SimSettings:
    settings = load_default_settings(seed=11, time_scale=1.0)
    for profile in settings.profiles.values():
        profile.ttft_ms, profile.tokens_per_s = 0.0, 1e9  # instant, for fast tests
    settings.profiles["slow"] = ModelProfile(skill=2.0, ttft_ms=150.0, tokens_per_s=1000.0)
    settings.profiles["coin"] = ModelProfile(skill=0.0, ttft_ms=0.0, tokens_per_s=1e9)
    settings.profiles["flaky"] = ModelProfile(
        ttft_ms=0.0,
        tokens_per_s=1e9,
        faults=FaultRates(rate_limit=0.3, retry_after_s=0.5, server_error=0.1),
    )
    return settings


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    with SimProcess(_settings()) as process:
        yield process


@pytest.fixture(scope="module")
def client(sim: SimProcess) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=sim.url, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return load_humaneval()


def _openai(prompt: str, model: str = GPT4O, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": "You write Python."},
            {"role": "user", "content": prompt},
        ],
        **extra,
    }


def _anthropic(prompt: str, model: str = SONNET, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 2048,
        "system": "You write Python.",
        "messages": [{"role": "user", "content": prompt}],
        **extra,
    }


def _events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) of each server-sent event."""
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        out.append((name, "\n".join(data)))
    return out


def _code(text: str) -> str:
    return text.split("```python\n", 1)[1].split("\n```", 1)[0]


def test_models_lists_the_portfolio_ids(client: httpx2.Client) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    ids = {m["id"] for m in body["data"]}
    assert {GPT4O, SONNET, QWEN, "claude-3-opus-20240229", "gemini-1.5-pro-002"} <= ids
    anthropic = client.get("/v1/models", headers=ANTHROPIC_HEADERS).json()
    assert anthropic["data"][0]["type"] == "model"


def test_openai_json_and_stream_agree(client: httpx2.Client, tasks: list[Task]) -> None:
    task = tasks[0]
    body = _openai(task.prompt, seed=3)
    plain = client.post("/v1/chat/completions", json=body, headers=OPENAI_HEADERS)
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("application/json")
    data = plain.json()
    assert data["object"] == "chat.completion"
    choice = data["choices"][0]
    assert choice["finish_reason"] == "stop"
    content = choice["message"]["content"]
    assert f"def {task.entry_point}(" in _code(content)
    usage = data["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0

    stream = client.post(
        "/v1/chat/completions",
        json={**body, "stream": True, "stream_options": {"include_usage": True}},
        headers=OPENAI_HEADERS,
    )
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [d for _, d in _events(stream.text)]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(d) for d in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == usage
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert text == content
    assert len(chunks) > 5  # streamed in pieces, not one blob


def test_anthropic_json_and_stream_agree(client: httpx2.Client, tasks: list[Task]) -> None:
    task = tasks[1]
    body = _anthropic(task.prompt, metadata={"user_id": "harness-r7"})
    plain = client.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS).json()
    assert plain["type"] == "message" and plain["stop_reason"] == "end_turn"
    assert plain["usage"]["input_tokens"] > 0 and plain["usage"]["output_tokens"] > 0
    text = plain["content"][0]["text"]
    assert f"def {task.entry_point}(" in _code(text)

    stream = client.post("/v1/messages", json={**body, "stream": True}, headers=ANTHROPIC_HEADERS)
    events = _events(stream.text)
    names = [n for n, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names[-2] == "message_delta"
    start = json.loads(events[0][1])
    assert start["message"]["usage"]["input_tokens"] == plain["usage"]["input_tokens"]
    delta = json.loads(events[-2][1])
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == plain["usage"]["output_tokens"]
    deltas = [json.loads(d) for n, d in events if n == "content_block_delta"]
    assert "".join(d["delta"]["text"] for d in deltas) == text


def test_same_request_same_answer_and_variations_differ(
    client: httpx2.Client, tasks: list[Task]
) -> None:
    hard = max(tasks, key=lambda t: t.difficulty)
    body = _openai(hard.prompt, model="coin", seed=1)
    first = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"][
        "content"
    ]
    again = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"][
        "content"
    ]
    assert first == again
    outcomes = set()
    for seed in range(20):
        reply = client.post("/v1/chat/completions", json={**body, "seed": seed}).json()
        outcomes.add(_code(reply["choices"][0]["message"]["content"]) == hard.reference.rstrip())
    assert outcomes == {True, False}


def test_unknown_prompt_gets_a_generic_answer(client: httpx2.Client) -> None:
    reply = client.post("/v1/chat/completions", json=_openai("Say hello.")).json()
    assert reply["choices"][0]["message"]["content"]
    assert reply["choices"][0]["finish_reason"] == "stop"


def test_max_tokens_truncates(client: httpx2.Client, tasks: list[Task]) -> None:
    reply = client.post("/v1/chat/completions", json=_openai(tasks[2].prompt, max_tokens=5)).json()
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] <= 5
    body = {**_anthropic(tasks[2].prompt), "max_tokens": 5}
    msg = client.post("/v1/messages", json=body).json()
    assert msg["stop_reason"] == "max_tokens" and msg["usage"]["output_tokens"] <= 5


def test_openai_tool_call_round_trip(client: httpx2.Client, tasks: list[Task]) -> None:
    task = tasks[3]
    body = _openai(task.prompt, tools=TOOLS_OPENAI, seed=2)
    first = client.post("/v1/chat/completions", json=body).json()["choices"][0]
    assert first["finish_reason"] == "tool_calls"
    calls = first["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["run_python", "read_file"]
    args = json.loads(calls[0]["function"]["arguments"])
    assert f"def {task.entry_point}(" in args["code"] and args["timeout_s"] == 1.0
    assert json.loads(calls[1]["function"]["arguments"]) == {"path": "solution.py"}
    assert all(c["type"] == "function" and c["id"].startswith("call_") for c in calls)

    single = client.post("/v1/chat/completions", json={**body, "parallel_tool_calls": False}).json()
    assert len(single["choices"][0]["message"]["tool_calls"]) == 1

    # The same call, streamed: argument fragments add up to the same JSON.
    stream = client.post("/v1/chat/completions", json={**body, "stream": True})
    chunks = [json.loads(d) for _, d in _events(stream.text) if d != "[DONE]"]
    pieces: dict[int, str] = {}
    for c in chunks:
        for tc in c["choices"][0]["delta"].get("tool_calls") or []:
            pieces[tc["index"]] = pieces.get(tc["index"], "") + tc["function"].get("arguments", "")
    assert pieces[0] == calls[0]["function"]["arguments"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"

    messages = [
        *body["messages"],
        first["message"],
        *({"role": "tool", "tool_call_id": c["id"], "content": "ok"} for c in calls),
    ]
    final = client.post("/v1/chat/completions", json={**body, "messages": messages}).json()
    assert final["choices"][0]["finish_reason"] == "stop"
    code = _code(final["choices"][0]["message"]["content"])
    assert code.strip() == args["code"].strip()  # the same draw on every turn


def test_anthropic_tool_use_round_trip(client: httpx2.Client, tasks: list[Task]) -> None:
    task = tasks[4]
    body = _anthropic(task.prompt, tools=TOOLS_ANTHROPIC)
    first = client.post("/v1/messages", json=body).json()
    assert first["stop_reason"] == "tool_use"
    uses = [b for b in first["content"] if b["type"] == "tool_use"]
    assert [u["name"] for u in uses] == ["run_python", "read_file"]
    assert f"def {task.entry_point}(" in uses[0]["input"]["code"]
    assert uses[0]["id"].startswith("toolu_")

    stream = client.post("/v1/messages", json={**body, "stream": True})
    deltas = [json.loads(d) for n, d in _events(stream.text) if n == "content_block_delta"]
    partial = "".join(d["delta"].get("partial_json", "") for d in deltas if d["index"] == 1)
    assert json.loads(partial) == uses[0]["input"]

    results = [{"type": "tool_result", "tool_use_id": u["id"], "content": "ok"} for u in uses]
    messages = [
        *body["messages"],
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": results},
    ]
    final = client.post("/v1/messages", json={**body, "messages": messages}).json()
    assert final["stop_reason"] == "end_turn"
    assert _code(final["content"][0]["text"]).strip() == uses[0]["input"]["code"].strip()


def test_refusals_have_each_protocols_error_shape(client: httpx2.Client) -> None:
    r = client.post("/v1/chat/completions", json=_openai("hi", model="no-such-model"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    r = client.post("/v1/messages", json=_anthropic("hi", model="no-such-model"))
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    body = _anthropic("hi")
    del body["max_tokens"]
    r = client.post("/v1/messages", json=body)
    assert r.status_code == 400
    assert r.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": r.json()["error"]["message"]},
    }
    r = client.post("/v1/chat/completions", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_stats_count_every_request_by_model_and_status(client: httpx2.Client) -> None:
    client.post("/sim/reset")
    client.post("/sim/faults", json={"model": QWEN, "faults": ["429", "500"]})
    for _ in range(3):
        client.post("/v1/chat/completions", json=_openai("hi", model=QWEN))
    client.post("/v1/messages", json=_anthropic("hi"))
    client.post("/v1/chat/completions", json=_openai("hi", model="no-such-model"))
    stats = client.get("/sim/stats").json()
    assert stats["total"] == 5
    assert stats["by_model"][QWEN] == {"429": 1, "500": 1, "200": 1}
    assert stats["by_model"][SONNET] == {"200": 1}
    assert stats["by_model"]["no-such-model"] == {"404": 1}
    assert stats["by_profile"]["qwen-2-5-coder"] == {"429": 1, "500": 1, "200": 1}


def test_queued_status_faults(client: httpx2.Client) -> None:
    client.post("/sim/faults", json={"model": GPT4O, "faults": ["429:0.25", "503", "html"]})
    r = client.post("/v1/chat/completions", json=_openai("hi"))
    assert r.status_code == 429 and r.headers["retry-after"] == "0.25"
    assert r.json()["error"]["type"] == "requests"
    r = client.post("/v1/chat/completions", json=_openai("hi"))
    assert r.status_code == 503 and "message" in r.json()["error"]
    r = client.post("/v1/chat/completions", json=_openai("hi"))
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    assert client.post("/v1/chat/completions", json=_openai("hi")).status_code == 200

    client.post("/sim/faults", json={"model": "*", "faults": ["529"]})
    r = client.post("/v1/messages", json=_anthropic("hi"))
    assert r.status_code == 529
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "overloaded_error"

    r = client.post("/sim/faults", json={"model": "*", "faults": ["teapot"]})
    assert r.status_code == 400 and "teapot" in r.json()["error"]


def test_queued_body_faults(client: httpx2.Client) -> None:
    faults = ["malformed", "empty", "wrong_content_type"]
    client.post("/sim/faults", json={"model": GPT4O, "faults": faults})
    r = client.post("/v1/chat/completions", json=_openai("hi"))
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    r = client.post("/v1/chat/completions", json=_openai("hi"))
    assert r.status_code == 200 and r.content == b""
    r = client.post("/v1/chat/completions", json=_openai("hi"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")


def test_cut_streams_lack_their_terminal_event(client: httpx2.Client, tasks: list[Task]) -> None:
    client.post("/sim/faults", json={"model": "*", "faults": ["cut", "cut"]})
    r = client.post("/v1/chat/completions", json=_openai(tasks[5].prompt, stream=True))
    data = [d for _, d in _events(r.text)]
    assert r.status_code == 200 and len(data) > 1 and "[DONE]" not in data
    assert all(json.loads(d)["choices"][0]["finish_reason"] is None for d in data)
    r = client.post("/v1/messages", json=_anthropic(tasks[5].prompt, stream=True))
    names = [n for n, _ in _events(r.text)]
    assert "message_start" in names and "message_stop" not in names and "message_delta" not in names


def test_reset_and_cut_bodies_break_the_transport(client: httpx2.Client, tasks: list[Task]) -> None:
    client.post("/sim/faults", json={"model": "*", "faults": ["reset", "cut"]})
    with pytest.raises(httpx2.RemoteProtocolError):
        client.post("/v1/chat/completions", json=_openai(tasks[6].prompt, stream=True))
    with pytest.raises(httpx2.RemoteProtocolError):
        client.post("/v1/messages", json=_anthropic(tasks[6].prompt))
    assert client.post("/v1/messages", json=_anthropic("hi")).status_code == 200


def test_hang_outlasts_a_read_timeout(client: httpx2.Client) -> None:
    client.post("/sim/faults", json={"model": GPT4O, "faults": ["hang:0.5"]})
    with pytest.raises(httpx2.ReadTimeout):
        client.post("/v1/chat/completions", json=_openai("hi"), timeout=0.15)


def test_profile_fault_rates(client: httpx2.Client) -> None:
    statuses = [
        client.post("/v1/chat/completions", json=_openai("hi", model="flaky")) for _ in range(200)
    ]
    codes = [r.status_code for r in statuses]
    assert 0.2 < codes.count(429) / 200 < 0.4
    assert 0.03 < codes.count(500) / 200 < 0.2
    assert all(r.headers["retry-after"] == "0.5" for r in statuses if r.status_code == 429)


def test_latency_follows_the_profile(client: httpx2.Client, tasks: list[Task]) -> None:
    body = _openai(tasks[7].prompt, model="slow")
    t0 = time.perf_counter()
    reply = client.post("/v1/chat/completions", json=body).json()
    elapsed = time.perf_counter() - t0
    expected = 0.150 + reply["usage"]["completion_tokens"] / 1000.0
    assert expected * 0.95 < elapsed < expected + 0.5

    t0 = time.perf_counter()
    ttft = None
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
        for line in r.iter_lines():
            if ttft is None and '"content":"' in line and '"content":""' not in line:
                ttft = time.perf_counter() - t0
    total = time.perf_counter() - t0
    assert ttft is not None and 0.14 < ttft < 0.4
    assert total > ttft + 0.8 * reply["usage"]["completion_tokens"] / 1000.0


async def test_pass_rate_matches_the_model_probability(sim: SimProcess, tasks: list[Task]) -> None:
    """Over 164 tasks x 3 replicates the share of reference answers is the mean P(correct)."""
    from harness.sim.behaviour import probability

    settings = _settings()
    limits = httpx2.Limits(max_connections=32)
    async with httpx2.AsyncClient(base_url=sim.url, limits=limits, timeout=30) as http:
        sem = asyncio.Semaphore(32)

        async def correct(model: str, protocol: str, task: Task, rep: int) -> bool:
            async with sem:
                if protocol == "openai":
                    r = await http.post(
                        "/v1/chat/completions", json=_openai(task.prompt, model, seed=rep)
                    )
                    text = r.json()["choices"][0]["message"]["content"]
                else:
                    body = _anthropic(task.prompt, model, metadata={"user_id": f"r{rep}"})
                    text = (await http.post("/v1/messages", json=body)).json()["content"][0]["text"]
            code = _code(text)
            assert code.startswith(task.reference[:20])  # a mutant is a near miss
            return code == task.reference.rstrip()

        for model, profile, protocol in (
            ("coin", "coin", "openai"),
            (SONNET, "claude-3-5-sonnet", "anthropic"),
        ):
            jobs = [(t, rep) for t in tasks for rep in range(3)]
            got = await asyncio.gather(*(correct(model, protocol, t, rep) for t, rep in jobs))
            p = [probability(settings.profiles[profile], t) for t, _ in jobs]
            expected = sum(p) / len(p)
            sd = (sum(x * (1 - x) for x in p)) ** 0.5 / len(p)
            rate = sum(got) / len(got)
            print(f"{profile}: reference rate {rate:.3f}, mean P(correct) {expected:.3f}")
            assert abs(rate - expected) < 4 * sd
            # Harder tasks fail more often: arms correlate through task difficulty.
            fails = [t.difficulty for (t, _), ok in zip(jobs, got, strict=True) if not ok]
            passes = [t.difficulty for (t, _), ok in zip(jobs, got, strict=True) if ok]
            assert sum(fails) / len(fails) > sum(passes) / len(passes) + 0.3


def test_api_keys_never_reach_the_log(sim: SimProcess, client: httpx2.Client) -> None:
    client.post("/v1/chat/completions", json=_openai("hi", model="nope"), headers=OPENAI_HEADERS)
    client.post("/v1/messages", content=b"{", headers=ANTHROPIC_HEADERS)
    assert KEY not in sim._stderr_tail(100_000)


def test_start_failure_is_explained() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SimStartError, match="cannot listen"):
            SimProcess(load_default_settings(), port=port, startup_timeout_s=20).start()


def test_simulator_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = (
        "import time\n"
        "from harness.sim import SimProcess, load_default_settings\n"
        "s = SimProcess(load_default_settings()).start()\n"
        "print(s.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    try:
        child = int(parent.stdout.readline())
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        return os.path.exists(f"/proc/{pid}")
