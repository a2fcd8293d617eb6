"""OS-level sandboxes attacked from inside, with every outcome checked from the host side.

Each attack test runs on both isolating backends (``bwrap`` and the ``unshare`` fallback) and
asserts two things: the attack fails inside, and nothing leaked, was written or was reached on
the host. The suite runs as root in CI and again as an unprivileged uid
(``tests/test_sandbox_unprivileged.py``); every host-side check here must hold in both.
Under ``CI=true`` a missing backend fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.sandbox import (
    SandboxError,
    SandboxLimits,
    SandboxUnavailableError,
    Session,
    resolve_backend,
)
from harness.sandbox.backends import Backend
from harness.sandbox.uids import uid_pids
from tests.conftest import REPO

BACKENDS = ("bwrap", "unshare")
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
DISK_MB = 32
LIMITS = SandboxLimits(timeout_s=5, max_processes=32, disk_mb=DISK_MB, output_limit=4096)
SECRET_VAR = "HARNESS_TEST_SECRET"
# Secrets look like API keys: the attacker knows the shape, never the value.
SECRET_SHAPE = "sk-harness-test-"
# Kernel memory a tmpfs may pin for its inodes is ~1 KiB each (measured ~0.9 KiB per empty
# file): at most disk_mb * 1024 of them keeps that within the size cap.
MAX_INODES = DISK_MB * 1024


# -- backends and sessions -----------------------------------------------------------------------


def require_backend(name: str) -> Backend:
    """The backend, or skip (outside CI) / fail (under ``CI=true``) when it does not work."""
    try:
        return resolve_backend(name)
    except SandboxUnavailableError as exc:
        if IN_CI:
            pytest.fail(f"CI=true and sandbox backend {name!r} is unavailable: {exc}")
        pytest.skip(f"sandbox backend {name!r} is unavailable here: {exc}")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    return require_backend(request.param)


@pytest.fixture
def host_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake key in the harness's own environment, planted before any session starts."""
    value = SECRET_SHAPE + secrets.token_hex(16)
    monkeypatch.setenv(SECRET_VAR, value)
    return value


@pytest.fixture
async def box(backend: Backend, host_secret: str) -> AsyncIterator[Session]:
    # One session per test: the attacks below may leave it damaged, the next test must not care.
    async with await Session.start(backend, LIMITS) as session:
        yield session


@pytest.fixture
def canary(host_secret: str) -> Iterator[subprocess.Popen[bytes]]:
    """A host process holding the secret in its environment, argv and heap."""
    code = "import sys, time; held = sys.argv[1] + ''; time.sleep(120)"
    env = {**os.environ, SECRET_VAR: host_secret}
    proc = subprocess.Popen([sys.executable, "-c", code, host_secret], env=env)
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A world-writable host folder: only the mount namespace keeps the sandbox out of it."""
    path = Path(tempfile.mkdtemp(prefix="harness-sbx-outside-", dir="/tmp"))
    path.chmod(0o777)
    target = path / "target.txt"
    target.write_text("original")
    target.chmod(0o666)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def run_py(box: Session, code: str, **params: Any) -> Any:
    """Run ``code`` inside with ``P`` = params; it prints one JSON document, returned parsed."""
    head = f"import json\nP = json.loads({json.dumps(params)!r})\n"
    res = await box.run_python(head + code)
    assert res.exit_code == 0, res.output
    return json.loads(res.output.strip().splitlines()[-1])


def marker() -> str:
    return "harness-mark-" + secrets.token_hex(8)


def host_pids_with(text: str) -> list[int]:
    """Host pids whose command line contains ``text`` (zombies have none, so they never match)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(name))
    return found


async def left_running(text: str, within_s: float = 1.0) -> list[int]:
    """Host pids with ``text`` still alive after ``within_s``: the kernel tears a pid namespace
    down asynchronously after its init died, so allow it a moment."""
    deadline = time.monotonic() + within_s
    while (pids := running(host_pids_with(text))) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return pids


def running(pids: list[int]) -> list[int]:
    """``pids`` that are not zombies: a dead child waits for its reaper (the host's init, once
    its parent is gone), which may take a moment, but runs nothing."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            alive.append(pid)
    return alive


async def uid_left_running(uid: int, within_s: float = 1.0) -> list[int]:
    """Live host processes of ``uid`` after ``within_s`` (see :func:`left_running`)."""
    deadline = time.monotonic() + within_s
    while (pids := running(uid_pids(uid))) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return pids


# -- normal use ----------------------------------------------------------------------------------


async def test_files_round_trip(box: Session) -> None:
    blob = bytes(range(256)) * 4
    await box.write_files({"a.txt": "hello", "sub/dir/b.bin": blob})
    assert await box.read_file("a.txt") == b"hello"
    assert await box.read_file("sub/dir/b.bin") == blob
    res = await box.run("cat a.txt && printf made > sub/c.txt")
    assert res.ok and res.output == "hello"
    assert await box.read_file("sub/c.txt") == b"made"
    assert await box.list_files() == [("a.txt", 5), ("sub/c.txt", 4), ("sub/dir/b.bin", 1024)]
    assert await box.snapshot() == {"a.txt": b"hello", "sub/c.txt": b"made", "sub/dir/b.bin": blob}
    with pytest.raises(FileNotFoundError):
        await box.read_file("missing.txt")


async def test_files_given_at_start(backend: Backend) -> None:
    async with await Session.start(backend, LIMITS, files={"t/in.txt": "x"}) as box:
        assert (await box.run(["cat", "t/in.txt"])).output == "x"


async def test_run_python_exit_codes_stdin(box: Session) -> None:
    res = await box.run_python("import sys; print(sys.version_info[:2]); sys.exit(3)")
    assert res.exit_code == 3 and res.output.strip() == str(tuple(sys.version_info[:2]))
    assert (await box.run("exit 7")).exit_code == 7
    piped = await box.run(["wc", "-c"], stdin=b"12345")
    assert piped.ok and piped.output.strip() == "5"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
async def test_death_by_signal_is_reported(box: Session, sig: signal.Signals) -> None:
    # The command must run under default signal dispositions (not as a pid namespace's init,
    # which ignores them) and its death must read as a signal, not as `exit 128+n`.
    res = await box.run(f"kill -{sig.name.removeprefix('SIG')} $$; echo survived")
    assert "survived" not in res.output
    assert (res.exit_code, res.signal) == (None, sig)


async def test_timeout_stops_a_command(box: Session) -> None:
    res = await box.run("sleep 30", timeout_s=0.5)
    assert res.timed_out and not res.ok
    assert res.duration_ms < 3000
    assert (await box.run("echo still here")).output == "still here\n"


# -- attacks -------------------------------------------------------------------------------------


def host_addresses() -> list[str]:
    """Loopback plus the host's own global addresses (from ``ip``, when it is installed)."""
    addrs = ["127.0.0.1"]
    if socket.has_ipv6:
        addrs.append("::1")
    ip = shutil.which("ip")
    if ip:
        out = subprocess.run([ip, "-j", "addr"], capture_output=True, text=True, check=False)
        for link in json.loads(out.stdout or "[]"):
            for info in link.get("addr_info", []):
                if info.get("scope") == "global":
                    addrs.append(info["local"])
    return addrs


def listen(addr: str, kind: int) -> socket.socket | None:
    """A non-blocking server on ``addr`` (None when this host cannot bind it, e.g. no IPv6)."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        sock.bind((addr, 0))
    except OSError:
        sock.close()
        return None
    if kind == socket.SOCK_STREAM:
        sock.listen(16)
    sock.setblocking(False)
    return sock


def received_anything(sock: socket.socket) -> bool:
    try:
        if sock.type == socket.SOCK_STREAM:
            sock.accept()[0].close()
        else:
            sock.recvfrom(64)
    except BlockingIOError:
        return False
    return True


NET_ATTACK = r"""
import socket
out = {"ifaces": sorted(n for _, n in socket.if_nameindex()), "reached": [], "errors": []}
for host, port, kind in P["targets"]:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        s = socket.socket(fam, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
        s.settimeout(1)
        if kind == "tcp":
            s.connect((host, port))
            out["reached"].append([host, port, kind])
        else:
            # A datagram "sent" may just land on the sandbox's own loopback: whether it
            # arrived is for the host's side to say.
            s.sendto(b"leak", (host, port))
    except OSError as e:
        out["errors"].append(str(e))
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\0" + P["abstract"])
    out["reached"].append(["abstract", P["abstract"]])
except OSError as e:
    out["errors"].append(str(e))
for name in ("example.com", "pypi.org"):
    try:
        out["reached"].append(["dns", name, socket.getaddrinfo(name, 443)[0][4][0]])
    except OSError as e:
        out["errors"].append(str(e))
print(json.dumps(out))
"""


async def test_network_reaches_nothing_on_the_host(box: Session) -> None:
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM)
    servers = [s for a in host_addresses() for k in kinds if (s := listen(a, k)) is not None]
    targets = [
        [*s.getsockname()[:2], "tcp" if s.type == socket.SOCK_STREAM else "udp"] for s in servers
    ]
    # Abstract unix sockets are scoped by the network namespace: the classic escape hatch.
    abstract = marker()
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind("\0" + abstract)
    unix.listen(4)
    unix.setblocking(False)
    servers.append(unix)
    try:
        out = await run_py(box, NET_ATTACK, targets=targets, abstract=abstract)
        assert out["ifaces"] == ["lo"]
        assert out["reached"] == [], out
        assert not [s.getsockname() for s in servers if received_anything(s)]
    finally:
        for s in servers:
            s.close()


PROC_SCAN = r"""
import os, re
shape = re.compile(P["shape"].encode() + rb"[0-9a-f]{32}")
# Built at run time, so it is in this process's heap and nowhere else: if the memory scan
# finds it, the scan works, and finding no secret means there is none to find.
control = (P["shape"] + "c0" * 16).encode()
found, readable = set(), {}
for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
    got = []
    for part in ("environ", "cmdline"):
        try:
            data = open(f"/proc/{pid}/{part}", "rb").read()
            got.append(part)
            found.update(m.decode() for m in shape.findall(data))
        except OSError:
            pass
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            for line in maps:
                span, perms = line.split()[:2]
                lo, hi = (int(x, 16) for x in span.split("-"))
                if "r" not in perms or hi - lo > 1 << 28:
                    continue
                try:
                    mem.seek(lo)
                    found.update(m.decode() for m in shape.findall(mem.read(hi - lo)))
                except (OSError, OverflowError, ValueError):
                    continue
        got.append("mem")
    except OSError:
        pass
    readable[pid] = got
print(json.dumps({"found": sorted(found), "readable": readable, "me": os.getpid()}))
"""


async def test_no_other_process_environment_or_memory(
    box: Session, canary: subprocess.Popen[bytes], host_secret: str
) -> None:
    out = await run_py(box, PROC_SCAN, shape=SECRET_SHAPE)
    control = SECRET_SHAPE + "c0" * 16
    assert str(out["me"]) in out["readable"] and "mem" in out["readable"][str(out["me"])]
    assert control in out["found"], "the memory scan does not work: it missed its own control"
    assert host_secret not in json.dumps(out)
    assert out["found"] == [control]
    # Its /proc lists the sandbox's own processes alone (the nested init and the command).
    assert len(out["readable"]) <= 3, out["readable"]
    assert canary.poll() is None


SHELL_PROBES = r"""
import subprocess
def sh(cmd):
    r = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True)
    return [r.returncode, r.stdout + r.stderr]
out = {"read": {p: sh(f"cat {p}") for p in P["read"]},
       "write": {p: sh(f"echo pwned > {p}") for p in P["write"]},
       "mkdir": {p: sh(f"mkdir {p}") for p in P["mkdir"]},
       "list": {d: sh(f"ls -A {d}") for d in P["list"]}}
print(json.dumps(out))
"""

# What the sandbox's root may show: the read-only system, its own /proc, /dev, /tmp and /work,
# the package view, and the interpreter's prefix (the top folder of sys.base_prefix).
ALLOWED_TOP = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "opt"}
ALLOWED_TOP |= {"proc", "dev", "tmp", "work"}
# /etc holds only what the loader needs; no accounts, hosts, keys or resolver.
ALLOWED_ETC = {"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime"}


def _first_line(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readline().strip() or None
    except OSError:
        return None


async def test_shell_reaches_nothing_forbidden(box: Session) -> None:
    home = str(Path.home())
    prefix = os.path.realpath(sys.base_prefix)
    readable = ["/etc/shadow", "/etc/passwd", str(REPO / "pyproject.toml")]
    readable += [str(p) for p in sorted(Path(home).glob(".*"))[:5] if p.is_file()]
    tag = marker()
    # Read-only inside; the home folder is not listed: unprivileged, HOME may be /tmp, which
    # inside is the sandbox's own private /tmp (writable, and gone after the command).
    readonly = ["/usr", "/usr/local/bin", "/", "/etc", "/opt", "/bin", "/root", prefix]
    writes = [f"{d.rstrip('/')}/{tag}" for d in [*readonly, home]]
    mkdirs = [w + ".d" for w in writes]
    listed = ["/", "/etc", "/root", home, str(REPO), str(REPO.parent)]
    out = await run_py(box, SHELL_PROBES, read=readable, write=writes, mkdir=mkdirs, list=listed)
    for path, (code, text) in out["read"].items():
        assert code != 0, f"read {path}: {text}"
        line = _first_line(path)
        assert line is None or line not in text
    for kind in ("write", "mkdir"):
        for path, (code, _) in out[kind].items():
            if not path.startswith(home.rstrip("/") + "/"):
                assert code != 0, f"{kind} {path} succeeded inside"
    assert not [p for p in writes + mkdirs if os.path.lexists(p)], "written on the host"
    top = set(out["list"]["/"][1].split())
    assert top <= ALLOWED_TOP | {Path(prefix).parts[1]}, top
    assert set(out["list"]["/etc"][1].split()) <= ALLOWED_ETC
    # Host folders on the way to the interpreter show that path and nothing else of the host.
    for folder in ("/root", home, str(REPO), str(REPO.parent)):
        code, text = out["list"][folder]
        seen = set(text.split()) if code == 0 else set()
        on_path = {Path(prefix).relative_to(folder).parts[0]} if _under(prefix, folder) else set()
        try:
            host = set(os.listdir(folder))
        except OSError:
            host = set()
        assert (seen & host) <= on_path, f"{folder} shows host entries {sorted(seen & host)}"


async def test_runs_without_privilege(box: Session) -> None:
    # Setuid programs and capabilities are the way from a shell back to the host's root.
    tag = marker()
    seen: dict[int, int] = {}

    async def watch() -> None:
        while True:
            for pid in host_pids_with(tag):
                with contextlib.suppress(OSError):
                    seen[pid] = os.stat(f"/proc/{pid}").st_uid
            await asyncio.sleep(0.02)

    watcher = asyncio.ensure_future(watch())
    try:
        script = "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status; sleep 0.3"
        res = await box.run(["/bin/sh", "-c", script, tag])
    finally:
        watcher.cancel()
    status = dict(line.split(":\t") for line in res.output.splitlines())
    assert status.pop("NoNewPrivs") == "1"
    assert set(status.values()) == {"0000000000000000"}, status
    # From the host: every process of the command, its nested-sandbox wrapper included.
    assert seen, "the command's processes were never seen on the host"
    assert 0 not in seen.values(), f"host uids of the sandbox's processes: {seen}"


NEW_NAMESPACES = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
flags = {"user": 0x10000000, "user+mount": 0x10020000, "mount": 0x00020000, "net": 0x40000000}
out = {}
for name, flag in flags.items():
    pid = os.fork()
    if pid == 0:  # try in a child: success changes the caller for good
        os._exit(0 if libc.unshare(flag) == 0 else 1)
    out[name] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
print(json.dumps(out))
"""


async def test_no_new_namespaces(box: Session) -> None:
    # A new user namespace hands its creator every capability inside it: its own mounts (a
    # fresh tmpfs there is half the host's RAM, not the disk cap) and the kernel's whole
    # CAP_NET_ADMIN/CAP_SYS_ADMIN surface (nftables & co, where the usual kernel exploits
    # start). bwrap's --disable-userns closes it; every backend must.
    made = await run_py(box, NEW_NAMESPACES)
    assert not any(made.values()), f"namespaces the sandbox could create: {made}"


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


async def test_no_host_devices(box: Session) -> None:
    res = await box.run("ls -A /dev; ls /sys 2>&1; ls /dev/disk 2>&1")
    names = set(res.output.split())
    host_blocks = set(os.listdir("/sys/block")) if os.path.isdir("/sys/block") else set()
    assert not names & host_blocks, f"host block devices visible: {sorted(names & host_blocks)}"
    assert not {"kmsg", "mem", "kmem", "port", "console"} & names


async def test_writing_outside_fails(box: Session, host_dir: Path) -> None:
    outside = str(host_dir)
    script = (
        f"echo pwned > {outside}/target.txt; echo pwned > {outside}/new.txt; "
        f"ln -s {outside} dirlink; ln -s {outside}/target.txt filelink; "
        "echo pwned > dirlink/new2.txt; echo pwned > filelink; "
        "ln -s / rootlink; ln -s .. up; true"
    )
    assert (await box.run(script)).ok
    api_writes = ["dirlink/api.txt", "filelink", f"{outside}/api.txt", "up/api.txt"]
    api_writes.append("../" * 8 + outside.lstrip("/") + "/api.txt")
    for path in api_writes:
        with pytest.raises(PermissionError):
            await box.write_file(path, "pwned")
    for path in ("filelink", "dirlink/target.txt", "rootlink/etc/ld.so.cache", "../etc/hosts"):
        with pytest.raises(PermissionError):
            await box.read_file(path)
    assert {p.name: p.read_text() for p in host_dir.iterdir()} == {"target.txt": "original"}


@pytest.mark.parametrize("op", ["read", "write"])
async def test_special_files_do_not_hang_the_session(box: Session, op: str) -> None:
    # A FIFO planted by the sandboxed code: opening it blocks until a peer appears. A tool
    # reading or writing that path must get an answer (data or an error) at once, not stall
    # the warden and with it every later request of the session.
    assert (await box.run("mkfifo pipe")).ok
    call = box.read_file("pipe") if op == "read" else box.write_file("pipe", "x")
    try:
        await asyncio.wait_for(call, 1)
    except TimeoutError:
        pytest.fail(f"{op}_file on a FIFO in the work folder hangs the session's warden")
    except (OSError, SandboxError):
        pass  # refusing a non-regular file is a fine answer
    assert (await asyncio.wait_for(box.run("echo alive"), 5)).output == "alive\n"


KILL_ATTACK = r"""
import os, signal
def can_signal(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
me = os.getpid()
own = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
names = sorted(set(range(1, P["max_pid"])) | set(P["targets"]))
signalable = [p for p in names if can_signal(p)]
for pid in P["targets"] + names:
    if pid != me:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
print(json.dumps({"own": own, "signalable": signalable}), flush=True)
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
"""


async def test_cannot_signal_the_harness(
    box: Session, backend: Backend, canary: subprocess.Popen[bytes]
) -> None:
    async with await Session.start(backend, LIMITS) as bystander:
        assert box._proc is not None and bystander._proc is not None
        targets = [os.getpid(), os.getppid(), canary.pid, box._proc.pid, bystander._proc.pid]
        # Every pid up to the host's highest (capped: pid_max may be 4M, too many to try in a
        # test), and the harness's own pids by name whatever their size.
        max_pid = min(max(int(p) for p in os.listdir("/proc") if p.isdigit()) + 64, 1 << 16)
        out = await run_py(box, KILL_ATTACK, targets=targets, max_pid=max_pid)
        # It can name no process outside its own pid namespace.
        assert set(out["signalable"]) <= set(out["own"]), out
        assert canary.poll() is None
        assert (await box.run("echo ok")).output == "ok\n"
        assert (await bystander.run("echo ok")).output == "ok\n"


async def test_disk_fill_stops_at_the_cap(box: Session) -> None:
    before = shutil.disk_usage("/tmp").free
    res = await box.run(
        "dd if=/dev/zero of=/work/fill bs=1M count=1000 2>&1; "
        "dd if=/dev/zero of=/tmp/fill bs=1M count=1000 2>&1; "
        "du -sk /work/fill /tmp/fill"
    )
    assert res.output.count("No space left on device") == 2, res.output
    used_kb = [int(line.split()[0]) for line in res.output.splitlines()[-2:]]
    assert all(kb <= DISK_MB * 1024 for kb in used_kb), used_kb
    lost = before - shutil.disk_usage("/tmp").free
    assert lost <= 2 * DISK_MB << 20, f"host /tmp lost {lost >> 20} MiB"
    # The session goes on: a full /work is still a working session once cleaned up.
    assert (await box.run("rm /work/fill && echo ok")).output == "ok\n"
    await box.write_file("after.txt", "x")
    assert await box.read_file("after.txt") == b"x"


WRITABLE_MOUNTS = r"""
import os, secrets
out = {}
seen = set()
for line in open("/proc/self/mounts"):
    mp = line.split()[1].replace("\\040", " ")
    if mp in seen or not os.path.isdir(mp):
        continue
    seen.add(mp)
    probe = os.path.join(mp, ".probe-" + secrets.token_hex(4))
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError:
        continue
    os.unlink(probe)
    st = os.statvfs(mp)
    out[mp] = [st.f_blocks * st.f_frsize, st.f_files]
print(json.dumps(out))
"""


async def test_every_writable_place_is_capped(box: Session) -> None:
    # Filling the disk through a writable mount that is not the capped /work or /tmp (a bare
    # /dev tmpfs, say) costs the host memory with no cap at all.
    out = await run_py(box, WRITABLE_MOUNTS)
    assert {"/work", "/tmp"} <= set(out)
    too_big = {mp: size >> 20 for mp, (size, _) in out.items() if size > DISK_MB << 20}
    assert not too_big, f"writable mounts above the {DISK_MB} MiB cap (MiB): {too_big}"


async def test_file_count_is_capped(box: Session) -> None:
    # Empty files cost no blocks, so `size=` does not bound them, but each pins ~1 KiB of
    # kernel memory: an unbounded inode count lets a sandbox take gigabytes of host memory.
    out = await run_py(box, WRITABLE_MOUNTS)
    too_many = {mp: files for mp, (_, files) in out.items() if files > MAX_INODES}
    assert not too_many, f"writable mounts allowing more than {MAX_INODES} files: {too_many}"


async def test_fork_bomb_is_bounded(box: Session) -> None:
    tag = marker()
    uid = box._uid
    ticks: list[float] = []
    counts: list[int] = []

    async def watch() -> None:
        while True:
            ticks.append(time.monotonic())
            counts.append(len(host_pids_with(tag)))
            await asyncio.sleep(0.05)

    watcher = asyncio.ensure_future(watch())
    try:
        # Every process forks forever, failed forks included, so only the process limit holds
        # it (a shell bomb gives up at the first failed fork). The marker in argv shows in
        # every forked process's host command line.
        bomb = (
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
        )
        res = await box.run([box.layout.python, "-S", "-c", bomb, tag], timeout_s=1)
    finally:
        watcher.cancel()
    assert res.timed_out and res.duration_ms < 3000
    # The limit, plus the nested sandbox's own wrapper processes that carry the command line.
    assert max(counts) <= LIMITS.max_processes + 3, f"{max(counts)} bomb processes at once"
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps, default=0) < 1.0, "the harness's event loop stalled"
    assert await left_running(tag) == []
    assert (await box.run("echo ok")).output == "ok\n"
    await box.close()
    assert await left_running(tag) == []
    if uid is not None:
        assert await uid_left_running(uid) == [], "processes of the sandbox's uid outlive it"


async def test_endless_output_is_capped(box: Session) -> None:
    res = await box.run("yes", timeout_s=0.5)
    assert res.timed_out and res.duration_ms < 3000
    assert res.output_bytes > LIMITS.output_limit
    assert "bytes of output truncated" in res.output
    assert len(res.output.encode()) <= LIMITS.output_limit + 200


async def test_everything_started_is_killed_after(box: Session) -> None:
    # A unique duration marks the sleeps; each tries another way to outlive its command.
    nap = f"1000.{secrets.randbelow(10**6):06d}"
    script = (
        f"sleep {nap} & "
        f"setsid sleep {nap} & "
        f"nohup sleep {nap} >/dev/null 2>&1 & "
        f"(trap '' HUP TERM INT; sleep {nap}) & "
        f"sh -c 'sleep {nap} &' & "
        "sleep 0.2; echo started"
    )
    res = await box.run(script)
    assert res.ok and "started" in res.output
    assert await left_running(nap) == []
    assert (await box.run(f"sleep {nap} & echo again")).ok
    await box.close()
    assert await left_running(nap) == []


# What the sandbox sets itself (harness.sandbox.backends.sandbox_env) plus what a shell adds.
SANDBOX_ENV = {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "USER", "LOGNAME", "OMP_NUM_THREADS"}
SANDBOX_ENV |= {"PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH"}
SANDBOX_ENV |= {"PWD", "SHLVL", "_", "OLDPWD"}


async def test_environment_built_from_scratch(box: Session, host_secret: str) -> None:
    res = await box.run("env")
    assert res.ok and host_secret not in res.output and SECRET_VAR not in res.output
    names = {line.split("=", 1)[0] for line in res.output.splitlines() if "=" in line}
    assert names <= SANDBOX_ENV, f"unexpected variables inside: {sorted(names - SANDBOX_ENV)}"
    # No value of the host's own variables (a venv path, a token, a home) shows up either.
    leaked = [
        k for k, v in os.environ.items() if k not in SANDBOX_ENV and len(v) >= 8 and v in res.output
    ]
    assert not leaked, f"values of host variables inside: {leaked}"
    assert "HOME=/work\n" in res.output


FD_LIST = r"""
import os
fds = {}
for f in os.listdir("/proc/self/fd"):
    try:
        fds[f] = os.readlink("/proc/self/fd/" + f)
    except OSError:
        pass  # the folder listdir() had open, closed by now
print(json.dumps(fds))
"""


async def test_no_inherited_file_descriptors(backend: Backend, host_dir: Path) -> None:
    # An inheritable fd to a host folder would let openat() walk out of every namespace.
    fd = os.open(host_dir, os.O_RDONLY | os.O_DIRECTORY)
    os.set_inheritable(fd, True)
    try:
        async with await Session.start(backend, LIMITS) as box:
            fds = await run_py(box, FD_LIST)
    finally:
        os.close(fd)
    assert str(host_dir) not in json.dumps(fds)
    # stdin, stdout, stderr and the one listdir() has open.
    assert len(fds) <= 4, fds


@pytest.mark.parametrize("name", BACKENDS)
def test_backend_available(name: str) -> None:
    """Under CI=true both backends must work (fail otherwise); elsewhere a missing one skips."""
    assert require_backend(name).name == name
