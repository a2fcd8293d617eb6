"""Hostile code against the verifier, on both isolating backends: no forged pass, no escape.

Each attack must fail to pass (the verdict is decided outside the candidate's process), and
nothing may leak, be written or be reached. CI runs this file again as an unprivileged user
(tests/test_sandbox_unprivileged.py).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from harness.errors import SandboxUnavailableError
from harness.sandbox import resolve_backend
from harness.sandbox.uids import uid_pids
from harness.tasks.types import Task
from harness.tasks.verifier import Verifier

TOY = Task(
    task_id="test/toy",
    suite="builtin",
    category="simple",
    prompt="def f():\n    '''Return 1.'''\n",
    entry_point="f",
    reference="def f():\n    return 1\n",
    tests="def check(candidate):\n    assert candidate() == 1\n",
)
OK = "\ndef f():\n    return 1\n"


def _backend_or_skip(name: str) -> object:
    try:
        return resolve_backend(name)
    except SandboxUnavailableError as exc:
        if os.environ.get("CI") == "true":
            raise  # CI must have both backends: a missing one fails, never skips
        pytest.skip(str(exc))


@pytest.fixture(params=["bwrap", "unshare"])
async def verifier(request: pytest.FixtureRequest) -> Verifier:
    v = Verifier(timeout_s=5.0, file_size_mb=8, backend=_backend_or_skip(request.param))
    yield v
    await v.aclose()


def _strays() -> list[int]:
    """Live processes under this process's sandbox uids (root) or our children (not root)."""
    if os.geteuid() == 0:
        base = 1_000_000 + os.getpid() * 256
        return [p for uid in range(base, base + 256) for p in uid_pids(uid)]
    me = str(os.getpid())
    found = []
    for name in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and fields[1] == me:
            found.append(int(name))
    return found


# -- forging a verdict ------------------------------------------------------------------------

FORGERIES = {
    "eq-always-true": (
        "class Any:\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\n"
        "def f():\n    return Any()\n"
    ),
    "int-subclass": (
        "class I(int):\n    def __eq__(self, other):\n        return True\n"
        "def f():\n    return I(7)\n"
    ),
    "frames-and-gc": (
        # Looks for the test runner's reporting function or its verdict in its own process.
        "import gc, sys\n"
        "for o in gc.get_objects():\n"
        "    if callable(o) and getattr(o, '__name__', '') in ('report', 'run_job', 'judge'):\n"
        "        try:\n            o('passed', 1, 1)\n        except Exception:\n            pass\n"
        "def f():\n    return 0\n"
    ),
    "proc-and-files": (
        # Searches every readable process and file for the hidden test's expectation.
        "import os\nfound = []\n"
        "for pid in os.listdir('/proc'):\n"
        "    for leaf in ('cmdline', 'environ', 'fd/0'):\n"
        "        try:\n"
        "            found.append(open(f'/proc/{pid}/{leaf}', 'rb').read(100000))\n"
        "        except OSError:\n            pass\n"
        "for root, _, files in os.walk('/'):\n"
        "    if root.startswith(('/proc', '/sys', '/usr', '/dev')):\n        continue\n"
        "    for n in files:\n"
        "        try:\n            found.append(open(os.path.join(root, n), 'rb').read(100000))\n"
        "        except OSError:\n            pass\n"
        "hit = any(b'candidate() == 1' in b for b in found)\n"
        "def f():\n    return 1 if hit else 0\n"
    ),
    "signal-everyone": (
        "import os, signal\n"
        "for pid in range(1, 400):\n"
        "    if pid != os.getpid():\n"
        "        try:\n            os.kill(pid, signal.SIGKILL)\n        except OSError:\n"
        "            pass\n"
        "try:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n"
        "def f():\n    return 0\n"
    ),
}


@pytest.mark.parametrize("attack", list(FORGERIES))
async def test_a_pass_cannot_be_forged(verifier: Verifier, attack: str) -> None:
    result = await verifier.verify_code(TOY, FORGERIES[attack])
    assert not result.success, (attack, result.reason, result.output)
    assert result.score == 0.0
    # The sandbox still works afterwards: the warden was not reached.
    assert (await verifier.verify_code(TOY, OK)).success


# -- containment ------------------------------------------------------------------------------


async def test_infinite_loop_times_out_and_the_harness_carries_on() -> None:
    verifier = Verifier(max_workers=2, timeout_s=1.0)
    try:
        t0 = time.perf_counter()
        loop_result, ok_result = await asyncio.gather(
            verifier.verify_code(TOY, "while True:\n    pass\n"), verifier.verify_code(TOY, OK)
        )
        assert loop_result.reason == "timeout" and not loop_result.success
        assert ok_result.success, "a hung run does not block the other slot"
        assert time.perf_counter() - t0 < 6.0
    finally:
        await verifier.aclose()
    assert not _strays()


async def test_fork_bomb_is_contained_and_leaves_no_process(verifier: Verifier) -> None:
    code = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = await verifier.verify_code(TOY, code + OK)
    assert not result.success and result.reason == "timeout", result.output
    await verifier.aclose()
    assert not _strays()


async def test_ten_gigabyte_allocation_hits_the_memory_limit(verifier: Verifier) -> None:
    result = await verifier.verify_code(TOY, "x = bytearray(10 * 1024**3)\n" + OK)
    assert (result.success, result.reason) == (False, "memory")


async def test_network_reaches_nothing(verifier: Verifier) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        code = (
            "import socket\nerrors = []\n"
            f"for target in (('127.0.0.1', {port}), ('example.com', 80)):\n"
            "    try:\n        socket.create_connection(target, timeout=1)\n"
            "    except OSError as exc:\n        errors.append(exc)\n"
            "names = [n for _, n in socket.if_nameindex()]\n"
            "def f():\n    return 1 if len(errors) == 2 and names == ['lo'] else 0\n"
        )
        result = await verifier.verify_code(TOY, code)
        assert result.success, result.output  # both refused, only loopback
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever reached the listener


async def test_a_file_past_the_size_limit_is_forbidden(verifier: Verifier) -> None:
    code = "with open('big.bin', 'wb') as fh:\n    for _ in range(64):\n"
    code += "        fh.write(b'x' * (1 << 20))\n" + OK
    result = await verifier.verify_code(TOY, code)
    assert (result.success, result.reason) == (False, "forbidden"), result.output


async def test_writes_outside_land_nowhere(verifier: Verifier, tmp_path: Path) -> None:
    tmp_path.chmod(0o777)  # even a world-writable host folder is out of reach
    target = tmp_path / "pwned.txt"
    code = f"try:\n    open({str(target)!r}, 'w').write('x')\nexcept OSError:\n    pass\n" + OK
    result = await verifier.verify_code(TOY, code)
    assert result.success, result.output  # the write failed inside, the code went on
    assert not target.exists()


async def test_planted_key_is_invisible(
    verifier: Verifier, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = "sk-planted-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    secret_file = tmp_path / "credentials"
    secret_file.write_text(secret)
    await verifier.aclose()  # sandboxes started from now on see the planted variable's env
    code = (
        "import os\nseen = repr(dict(os.environ))\n"
        f"for path in ('/proc/{os.getpid()}/environ', {str(secret_file)!r}):\n"
        "    try:\n        seen += open(path).read()\n    except OSError:\n        pass\n"
        "for pid in os.listdir('/proc'):\n"
        "    try:\n        seen += open(f'/proc/{pid}/environ').read()\n"
        "    except OSError:\n        pass\n"
        "print(seen)\n"
        f"def f():\n    return 1 if {secret!r} not in seen else 0\n"
    )
    result = await verifier.verify_code(TOY, code)
    assert result.success, result.output
    assert secret not in result.output


async def test_output_is_truncated_to_its_tail() -> None:
    verifier = Verifier(output_limit=2048)
    try:
        code = "print('x' * 200_000)\nprint('THE END')\ndef f():\n    return 2\n"
        result = await verifier.verify_code(TOY, code)
    finally:
        await verifier.aclose()
    assert result.reason == "failed"
    assert "truncated" in result.output
    assert len(result.output) < 2048 + 400


async def test_never_ending_output_is_stopped(verifier: Verifier) -> None:
    result = await verifier.verify_code(TOY, "while True:\n    print('y' * 1000)\n")
    assert not result.success and result.reason in ("output_flood", "timeout"), result.output


async def test_cancelling_a_verification_kills_and_cleans_up() -> None:
    verifier = Verifier(timeout_s=30)
    job = asyncio.ensure_future(verifier.verify_code(TOY, "import time\ntime.sleep(60)\n"))
    await asyncio.sleep(0.5)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    await verifier.aclose()
    assert not _strays()


async def test_concurrency_is_bounded_by_max_workers() -> None:
    verifier = Verifier(max_workers=1)
    try:
        code = "import time\ntime.sleep(0.25)\n" + OK
        t0 = time.perf_counter()
        results = await asyncio.gather(*(verifier.verify_code(TOY, code) for _ in range(2)))
        assert all(r.success for r in results)
        assert time.perf_counter() - t0 >= 0.5
    finally:
        await verifier.aclose()


async def test_no_descriptor_leaks_and_sandboxes_close() -> None:
    fds_before = len(os.listdir("/proc/self/fd"))
    verifier = Verifier(timeout_s=5.0)
    await asyncio.gather(*(verifier.verify_code(TOY, c) for c in (OK, "1/0\n")))
    await verifier.aclose()
    assert len(os.listdir("/proc/self/fd")) <= fds_before
    assert not _strays()
