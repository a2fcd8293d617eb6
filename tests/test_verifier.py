"""The sandboxed verifier: real subprocesses, real limits, real hostile code.

Hostile snippets run twice: with every layer this host supports (as root here: own uid, empty
network namespace) and with the in-process guards only (what a non-root machine gets).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from harness.tasks.humaneval import load_humaneval
from harness.tasks.types import Task
from harness.tasks.verifier import REASONS, Verifier, VerifyResult, sandbox_support

# A HumanEval-style toy: passes when the module defines f() returning 1.
TOY = Task(
    task_id="test/toy",
    suite="builtin",
    category="simple",
    prompt="Write f() returning 1.",
    entry_point="f",
    reference="def f():\n    return 1\n",
    tests="def check(candidate):\n    assert candidate() == 1\n",
)
OK = "\ndef f():\n    return 1\n"

FUNCS = Task(
    task_id="test/funcs",
    suite="builtin",
    category="simple",
    prompt="Write double(x).",
    entry_point="double",
    reference="def double(x):\n    return 2 * x\n",
    tests=(
        "import solution\n\n"
        "def test_small():\n    assert double(2) == 4\n\n"
        "def test_zero():\n    assert double(0) == 0\n\n"
        "def test_module_import():\n    assert solution.double(-3) == -6\n"
    ),
    test_style="functions",
)

MODES = {
    "all-layers": {},
    "guards-only": {"drop_privileges": False, "isolate_network": False},
}


@pytest.fixture(scope="module", params=list(MODES))
def verifier(request: pytest.FixtureRequest) -> Verifier:
    return Verifier(timeout_s=5.0, file_size_mb=8, **MODES[request.param])


@pytest.fixture(scope="module")
def default_verifier() -> Verifier:
    return Verifier(timeout_s=5.0)


def _our_strays() -> list[int]:
    """Live processes that are our children or run under this process's sandbox uids."""
    base = 1_000_000 + os.getpid() * 256
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{name}").st_uid
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, ppid = fields[0], int(fields[1])
        if state != "Z" and (base <= uid < base + 256 or ppid == me):
            found.append(int(name))
    return found


# -- the reference solutions ------------------------------------------------------------------


async def test_all_164_humaneval_reference_solutions_pass(default_verifier: Verifier) -> None:
    tasks = load_humaneval()
    results = await asyncio.gather(*(default_verifier.verify_code(t, t.reference) for t in tasks))
    failed = [(t.task_id, r.reason, r.output[-300:]) for t, r in zip(tasks, results, strict=True)]
    failed = [f for f, r in zip(failed, results, strict=True) if not r.success]
    assert not failed
    assert all(r.score == 1.0 and r.reason == "passed" for r in results)


async def test_reference_through_verify_with_markdown_answer(default_verifier: Verifier) -> None:
    task = load_humaneval(limit=3)[2]
    body = task.reference[len(task.prompt) :]
    result = await default_verifier.verify(task, f"Here you go:\r\n```python\r\n{body}```\r\n")
    assert (result.success, result.reason, result.score) == (True, "passed", 1.0)


# -- outcomes of ordinary code ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (OK, "passed"),
        ("def f():\n    return 2\n", "failed"),
        ("def f(:\n    return 1\n", "syntax_error"),
        ("def f():\n    return undefined_name\n", "error"),
        ("import sys\nsys.exit(0)\n" + OK, "error"),
        ("import os\nos._exit(0)\n" + OK, "error"),  # exit 0 without the runner's word
        ("x = input()\n" + OK, "error"),  # stdin is /dev/null
    ],
)
async def test_outcomes(default_verifier: Verifier, code: str, reason: str) -> None:
    result = await default_verifier.verify_code(TOY, code)
    assert result.reason == reason, result.output
    assert result.success is (reason == "passed")
    assert result.score == (1.0 if reason == "passed" else 0.0)
    assert result.duration_ms > 0


async def test_functions_style_scores_the_fraction_passing(default_verifier: Verifier) -> None:
    good = await default_verifier.verify_code(FUNCS, FUNCS.reference)
    assert (good.success, good.score, good.reason) == (True, 1.0, "passed")
    # Wrong at x == 0 only: one of three tests fails.
    wrong = "def double(x):\n    return 2 * x + (x == 0)\n"
    partial = await default_verifier.verify_code(FUNCS, wrong)
    assert partial.success is False and partial.reason == "failed"
    assert partial.score == pytest.approx(2 / 3)
    assert "FAILED test_zero" in partial.output and "2/3 tests passed" in partial.output


async def test_functions_style_runs_only_the_hidden_tests(default_verifier: Verifier) -> None:
    # The answer brings its own (failing) test; async hidden tests are awaited.
    task = Task(
        task_id="test/async",
        suite="builtin",
        category="simple",
        prompt="p",
        entry_point="double",
        reference=FUNCS.reference,
        tests="async def test_async():\n    assert double(4) == 8\n",
        test_style="functions",
    )
    code = FUNCS.reference + "\ndef test_mine():\n    assert False\n"
    result = await default_verifier.verify_code(task, code)
    assert (result.success, result.score) == (True, 1.0), result.output
    assert "1/1 tests passed" in result.output
    wrong = await default_verifier.verify_code(task, "def double(x):\n    return x\n")
    assert (wrong.success, wrong.reason) == (False, "failed")


async def test_no_code(default_verifier: Verifier) -> None:
    result = await default_verifier.verify(TOY, "I would rather not write code today.")
    assert (result.success, result.reason, result.score) == (False, "no_code", 0.0)


def test_verify_code_sync_without_and_inside_a_loop(default_verifier: Verifier) -> None:
    assert default_verifier.verify_code_sync(TOY, OK).success

    async def inside() -> VerifyResult:
        return default_verifier.verify_code_sync(TOY, OK)

    assert asyncio.run(inside()).success


# -- hostile code -----------------------------------------------------------------------------


async def test_infinite_loop_times_out_and_the_harness_carries_on() -> None:
    verifier = Verifier(max_workers=2, timeout_s=1.0)
    t0 = time.perf_counter()
    loop_result, ok_result = await asyncio.gather(
        verifier.verify_code(TOY, "while True:\n    pass\n"), verifier.verify_code(TOY, OK)
    )
    assert loop_result.reason == "timeout" and not loop_result.success
    assert "timeout" in loop_result.output
    assert ok_result.success, "a hung run does not block the other slot"
    assert time.perf_counter() - t0 < 4.0
    assert not _our_strays()


async def test_sleeping_past_the_wall_timeout() -> None:
    result = await Verifier(timeout_s=0.5).verify_code(TOY, "import time\ntime.sleep(30)\n" + OK)
    assert result.reason == "timeout" and result.duration_ms < 3000


async def test_fork_bomb_is_contained_and_leaves_no_process(verifier: Verifier) -> None:
    result = await verifier.verify_code(TOY, "import os\nwhile True:\n    os.fork()\n")
    assert (result.success, result.reason) == (False, "forbidden")
    assert "creating processes" in result.output
    await asyncio.sleep(0.05)
    assert not _our_strays()


@pytest.mark.parametrize(
    "code",
    [
        "import subprocess\nsubprocess.run(['true'])\n",
        "import os\nos.system('true')\n",
        "import os\nos.execv('/bin/true', ['true'])\n",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()\n",
        "import ctypes\nctypes.CDLL(None).fork()\n",
        "import sys\ndel sys.modules['_posixsubprocess']\nimport _posixsubprocess\n",
        "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (-1, -1))\n",
    ],
    ids=["subprocess", "system", "exec", "multiprocessing", "ctypes", "reimport", "rlimit"],
)
async def test_process_and_native_escapes_are_forbidden(verifier: Verifier, code: str) -> None:
    result = await verifier.verify_code(TOY, code + OK)
    assert (result.success, result.reason) == (False, "forbidden"), result.output
    assert not _our_strays()


async def test_signalling_other_processes_is_forbidden(verifier: Verifier) -> None:
    # The target is a process of our own, so nothing else could be hurt if a guard failed.
    victim = await asyncio.create_subprocess_exec("sleep", "30")
    try:
        code = f"import os, signal\nos.kill({victim.pid}, signal.SIGKILL)\n" + OK
        result = await verifier.verify_code(TOY, code)
        assert (result.success, result.reason) == (False, "forbidden"), result.output
        assert victim.returncode is None
    finally:
        victim.kill()
        await victim.wait()


async def test_ten_gigabyte_allocation_hits_the_memory_limit(verifier: Verifier) -> None:
    result = await verifier.verify_code(TOY, "x = bytearray(10 * 1024**3)\n" + OK)
    assert (result.success, result.reason) == (False, "memory")
    assert "MemoryError" in result.output


async def test_socket_connect_and_bind_are_forbidden(verifier: Verifier) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        connect = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        bind = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\n"
        udp = "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
        udp += f".sendto(b'x', ('127.0.0.1', {port}))\n"
        results = await asyncio.gather(
            *(verifier.verify_code(TOY, c + OK) for c in (connect, bind, udp))
        )
        for r in results:
            assert (r.success, r.reason) == (False, "forbidden"), r.output
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever reached the listener


async def test_swallowed_network_attempt_is_still_forbidden(verifier: Verifier) -> None:
    code = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
    code += "except Exception:\n    pass\n" + OK
    result = await verifier.verify_code(TOY, code)
    assert (result.success, result.reason, result.score) == (False, "forbidden", 0.0)
    assert "denied" in result.output


async def test_two_gigabyte_file_stops_at_the_size_limit(verifier: Verifier) -> None:
    code = "with open('big.bin', 'wb') as fh:\n    for _ in range(2048):\n"
    code += "        fh.write(b'x' * (1 << 20))\n" + OK
    result = await verifier.verify_code(TOY, code)
    assert (result.success, result.reason) == (False, "forbidden")
    assert "File too large" in result.output


async def test_writes_outside_the_temp_dir_are_forbidden(
    verifier: Verifier, tmp_path: Path
) -> None:
    target = tmp_path / "pwned.txt"
    result = await verifier.verify_code(TOY, f"open({str(target)!r}, 'w').write('x')\n" + OK)
    assert (result.success, result.reason) == (False, "forbidden")
    assert not target.exists()
    # Inside its own temp dir (cwd, TMPDIR) the code may write and read freely.
    inside = "import tempfile\nwith tempfile.TemporaryFile() as t:\n    t.write(b'1')\n"
    inside += "open('local.txt', 'w').write('ok')\nassert open('local.txt').read() == 'ok'\n"
    assert (await verifier.verify_code(TOY, inside + OK)).success


async def test_symlinks_do_not_lead_outside(verifier: Verifier, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("sk-behind-a-link")
    target = tmp_path / "written-through-a-link.txt"
    read = f"import os\nos.symlink({str(secret)!r}, 'l')\nprint(open('l').read())\n" + OK
    result = await verifier.verify_code(TOY, read)
    assert not result.success and "sk-behind-a-link" not in result.output
    write = f"import os\nos.symlink({str(target)!r}, 'w')\nopen('w', 'w').write('x')\n" + OK
    result = await verifier.verify_code(TOY, write)
    assert (result.success, result.reason) == (False, "forbidden") and not target.exists()
    # Links inside the temp dir, and removing trees that hold links, are fine.
    inside = "import os, shutil\nos.makedirs('d/e')\nos.symlink('e', 'd/l')\n"
    inside += "open('d/l/f', 'w').write('1')\nos.symlink('/etc', 'd/out')\nshutil.rmtree('d')\n"
    result = await verifier.verify_code(TOY, inside + OK)
    assert result.success, result.output
    # dir_fd-relative calls may only use plain names.
    escape = "import os\nfd = os.open('.', os.O_RDONLY)\nos.mkdir('../escaped', dir_fd=fd)\n"
    result = await verifier.verify_code(TOY, escape + OK)
    assert (result.success, result.reason) == (False, "forbidden"), result.output


async def test_planted_key_is_invisible(
    verifier: Verifier, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = "sk-planted-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    secret_file = tmp_path / "credentials"
    secret_file.write_text(secret)
    code = (
        "import os\n"
        "print(dict(os.environ))\n"
        "def f():\n"
        "    return 1 if os.environ.get('OPENAI_API_KEY') else 0\n"
    )
    result = await verifier.verify_code(TOY, code)
    assert (result.success, result.reason) == (False, "failed")
    assert "HOME" in result.output and secret not in result.output
    for path in (f"/proc/{os.getpid()}/environ", str(secret_file)):
        probe = f"print(open({path!r}).read())\n" + OK
        leaked = await verifier.verify_code(TOY, probe)
        assert not leaked.success and secret not in leaked.output


async def test_output_is_truncated_to_its_tail() -> None:
    verifier = Verifier(output_limit=2048)
    code = "print('x' * 200_000)\nprint('THE END')\ndef f():\n    return 2\n"
    result = await verifier.verify_code(TOY, code)
    assert result.reason == "failed"
    assert result.output.startswith("[... ") and "truncated" in result.output
    assert len(result.output) < 2048 + 100
    assert result.output.rstrip().endswith("AssertionError")


def test_root_layers_when_the_host_has_them() -> None:
    support = sandbox_support()
    if not support.drop_privileges or not support.isolate_network:
        pytest.skip("needs root with setpriv and unshare --net")
    code = "import os, socket\n"
    code += "def f():\n    ok = os.geteuid() != 0 and os.getegid() != 0\n"
    code += "    return 1 if ok and [n for _, n in socket.if_nameindex()] == ['lo'] else 0\n"
    result = Verifier().verify_code_sync(TOY, code)
    assert result.success, result.output


async def test_cancelling_a_verification_kills_and_cleans_up() -> None:
    verifier = Verifier(timeout_s=30)
    job = asyncio.ensure_future(verifier.verify_code(TOY, "import time\ntime.sleep(60)\n"))
    await asyncio.sleep(0.3)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert not _our_strays()


async def test_concurrency_is_bounded_by_max_workers() -> None:
    verifier = Verifier(max_workers=1)
    code = "import time\ntime.sleep(0.25)\n" + OK
    t0 = time.perf_counter()
    results = await asyncio.gather(*(verifier.verify_code(TOY, code) for _ in range(2)))
    assert all(r.success for r in results)
    assert time.perf_counter() - t0 >= 0.5


async def test_no_descriptor_or_directory_leaks(default_verifier: Verifier) -> None:
    fds_before = len(os.listdir("/proc/self/fd"))
    code = "import os\nprint('CWD=' + os.getcwd())\n1/0\n"
    results = await asyncio.gather(*(default_verifier.verify_code(TOY, c) for c in (OK, code)))
    assert len(os.listdir("/proc/self/fd")) <= fds_before
    cwd = results[1].output.split("CWD=")[1].split()[0]
    assert "harness-verify-" in cwd and not Path(cwd).exists(), "the temp dir is removed"


def test_reasons_are_documented() -> None:
    import harness.tasks.verifier as mod

    assert mod.__doc__ is not None
    for reason in REASONS:
        assert f"``{reason}``" in mod.__doc__
