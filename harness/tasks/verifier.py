"""The sandboxed verifier: run a task's hidden tests on an answer, in a throw-away process.

Each verification is one fresh interpreter (``sys.executable -s -S -P -B``) started with
:func:`asyncio.create_subprocess_exec` and wrapped, layer by layer:

- **environment** built from scratch (``PATH``, ``LANG``, ``HOME``/``TMPDIR`` = the temp dir,
  ``PYTHONHASHSEED=0`` …): nothing of ``os.environ`` is inherited, so no API key can leak.
  (``-I`` is not used because it would also ignore ``PYTHONHASHSEED``; with an environment we
  wrote ourselves ``-s -P`` give the same isolation.)
- **working directory**: a fresh temp directory, removed afterwards.
- **process group**: a new session; on the wall timeout, and after every run, the whole group
  gets SIGKILL.
- **resource limits**, set by the runner's first lines, before any candidate code is compiled
  (not in a ``preexec_fn``, which runs Python between fork and exec — unsafe in a threaded
  parent such as the harness — and rules out vfork; without root the candidate cannot raise
  them back, and as root the audit hook refuses ``setrlimit``): CPU seconds
  (``timeout_s``, soft SIGXCPU then hard SIGKILL), address space (``memory_mb``), file size,
  open files, core dumps off, and processes (``RLIMIT_NPROC``: the run's own uid gets
  ``max_processes``; a non-root user gets its current count plus ``max_processes``; root
  without an own uid gets none, as the kernel would ignore it).
- **audit hook** (:mod:`harness.tasks._sandbox_runner`): network sockets, DNS, process
  creation, ctypes, raising limits, signalling others, writes outside the temp dir and reads
  outside the standard library are refused inside the interpreter (hooks cannot be removed).
  A refused read raises ``PermissionError`` but is not by itself a violation.
- **as root** (here and in CI) two more layers when the host allows them, probed once:
  ``setpriv`` drops to a uid of our own for the run (a distinct uid per concurrent slot and
  process, so ``RLIMIT_NPROC`` — which root ignores — bounds a fork bomb, the file system's
  permissions apply, and every process left with that uid is killed afterwards); it keeps only
  ``CAP_DAC_READ_SEARCH`` so the interpreter and its standard library (under ``/root`` here)
  stay readable. ``unshare --net`` gives the run an empty network namespace.

How tests run (:attr:`Task.test_style`). ``humaneval``: the code, then ``tests``, then
``check(<entry_point>)``, in one namespace; score 1 or 0. ``functions``: the code runs as module
``solution`` (so tests may ``import solution``), the tests run in a copy of its namespace, and
every callable ``test_*`` is called without arguments in definition order; score = the fraction
that pass, success = all pass. The candidate never runs as ``__main__``, and only the standard
library is importable (``-S``).

Audit hooks are not a security boundary on their own (PEP 578); they are one layer. The runner
reports through a private pipe with a per-run nonce, so a candidate that exits early with
status 0 is an error, not a pass; a candidate that deliberately digs the nonce out of the
runner's frames could forge a pass — acceptable for grading model answers, not for hostile
multi-tenant use.

Reasons (:data:`REASONS`) of a :class:`VerifyResult`:

- ``passed``: every hidden test passed.
- ``failed``: a test assertion failed (``AssertionError``).
- ``error``: the code or the tests raised anything else, exited early, crashed, or the
  functions-style tests could not be loaded.
- ``syntax_error``: the candidate code does not compile.
- ``timeout``: the wall timeout or the CPU limit was hit.
- ``memory``: ``MemoryError`` (the address-space limit) or a crash while out of memory.
- ``killed``: the process died from a signal it did not cause by a limit we know of.
- ``no_code``: the answer holds no code.
- ``forbidden``: the code tried something the sandbox forbids (network, processes, ctypes,
  writes outside the temp dir, a file past the size limit, signalling others); a run with a
  denied attempt never counts as a success, even if it swallowed the error.
"""

from __future__ import annotations

import asyncio
import functools
import marshal
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from harness.tasks.extract import extract_code
from harness.tasks.types import Task

__all__ = ["REASONS", "SandboxSupport", "Verifier", "VerifyResult", "sandbox_support"]

#: Every value :attr:`VerifyResult.reason` can take (see the module docstring).
REASONS: tuple[str, ...] = (
    "passed",
    "failed",
    "error",
    "syntax_error",
    "timeout",
    "memory",
    "killed",
    "no_code",
    "forbidden",
)

_RUNNER_PATH = Path(__file__).with_name("_sandbox_runner.py")
_ENCODING_ERRORS = "replace"
# Killing a group whose output pipe is held by an escaped process must not hang us.
_DRAIN_GRACE_S = 1.0
_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "out of memory")


@dataclass(slots=True)
class VerifyResult:
    """The outcome of one verification.

    Attributes:
        success: All hidden tests passed.
        score: Fraction of tests passed (``functions`` style) or 1.0/0.0 (``humaneval``).
        reason: One of :data:`REASONS`.
        output: The tail of the run's stdout and stderr (truncated to the verifier's limit).
        duration_ms: Wall time of the sandboxed run, in milliseconds.
    """

    success: bool
    score: float
    reason: str
    output: str
    duration_ms: float


@dataclass(frozen=True, slots=True)
class SandboxSupport:
    """What this host lets the verifier add on top of the in-process guards."""

    drop_privileges: bool
    """Running as root with a working ``setpriv``: runs get a uid of their own."""
    isolate_network: bool
    """Running as root with a working ``unshare --net``: runs get no network at all."""


class Verifier:
    """Runs hidden tests on answers in sandboxed subprocesses, a few at a time.

    Args:
        max_workers: Verifications running at once (``None``: one per core).
        timeout_s: Wall-clock limit per run; the CPU limit is its ceiling.
        memory_mb: Address-space limit per run.
        output_limit: Bytes of output kept (the tail).
        file_size_mb: Largest file a run may write.
        max_open_files: ``RLIMIT_NOFILE`` per run.
        max_processes: Processes and threads a run may add (``RLIMIT_NPROC``, see above).
        drop_privileges: Run as an unprivileged uid (``None``: when root and supported).
        isolate_network: Run in an empty network namespace (``None``: when supported).
    """

    def __init__(
        self,
        max_workers: int | None = None,
        timeout_s: float = 10.0,
        memory_mb: int = 1024,
        *,
        output_limit: int = 4096,
        file_size_mb: int = 64,
        max_open_files: int = 256,
        max_processes: int = 32,
        drop_privileges: bool | None = None,
        isolate_network: bool | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if memory_mb < 64:
            raise ValueError(f"memory_mb must be >= 64 (Python needs it to start), got {memory_mb}")
        self.max_workers = max(1, max_workers or os.cpu_count() or 1)
        self.timeout_s = float(timeout_s)
        self.memory_mb = int(memory_mb)
        self.output_limit = int(output_limit)
        self.file_size_mb = int(file_size_mb)
        self.max_open_files = int(max_open_files)
        self.max_processes = int(max_processes)
        self._drop_privileges = drop_privileges
        self._isolate_network = isolate_network
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    @functools.cached_property
    def support(self) -> SandboxSupport:
        """The isolation layers in use (probed once per process on first use)."""
        host = sandbox_support()
        drop = host.drop_privileges if self._drop_privileges is None else self._drop_privileges
        net = host.isolate_network if self._isolate_network is None else self._isolate_network
        if drop and not host.drop_privileges:
            raise RuntimeError("drop_privileges=True but this host cannot (needs root + setpriv)")
        if net and not host.isolate_network:
            raise RuntimeError("isolate_network=True but this host cannot (needs unshare --net)")
        return SandboxSupport(drop_privileges=drop, isolate_network=net)

    async def verify(self, task: Task, answer: str) -> VerifyResult:
        """Extract the code from a model's ``answer`` and run ``task``'s hidden tests on it."""
        code = extract_code(answer or "", task)
        if not code.strip():
            return VerifyResult(False, 0.0, "no_code", "no code found in the answer", 0.0)
        return await self.verify_code(task, code)

    async def verify_code(self, task: Task, code: str) -> VerifyResult:
        """Run ``task``'s hidden tests on ``code`` (a complete module) in a sandbox."""
        if not code.strip():
            return VerifyResult(False, 0.0, "no_code", "no code to run", 0.0)
        support = self.support
        async with self._semaphore():
            uid = _UIDS.take() if support.drop_privileges else None
            try:
                return await self._run(task, code, support, uid)
            finally:
                if uid is not None:
                    _UIDS.give_back(uid)

    def verify_code_sync(self, task: Task, code: str) -> VerifyResult:
        """Blocking :meth:`verify_code`, for scripts and tests without an event loop.

        Safe to call from inside a running loop too (it then runs in a helper thread).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.verify_code(task, code))
        box: list[VerifyResult | BaseException] = []

        def target() -> None:
            try:
                box.append(asyncio.run(self.verify_code(task, code)))
            except BaseException as exc:
                box.append(exc)

        thread = threading.Thread(target=target, name="verify_code_sync")
        thread.start()
        thread.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    # -- internals -----------------------------------------------------------------------

    def _semaphore(self) -> asyncio.Semaphore:
        # One per event loop: asyncio primitives bind to the loop that first uses them.
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.max_workers)
        return sem

    def _command(self, support: SandboxSupport, uid: int | None) -> list[str]:
        cmd: list[str] = []
        if support.isolate_network:
            cmd += [_which("unshare"), "--net"]
        if uid is not None:
            cmd += _setpriv_args(uid)
        cmd += [sys.executable, "-s", "-S", "-P", "-B", "-X", "frozen_modules=on"]
        return [*cmd, "-c", _runner()[0]]

    def _job(self, task: Task, code: str, status_fd: int, nonce: str) -> bytes:
        cpu = max(1, math.ceil(self.timeout_s))
        if self.support.drop_privileges:
            nproc = self.max_processes  # the run's own uid: the count starts at zero
        elif os.geteuid() != 0:
            # Shared uid: the limit counts all our processes, so leave room for those.
            nproc = _count_processes(os.geteuid()) + self.max_processes
        else:
            nproc = -1  # root ignores RLIMIT_NPROC; the audit hook stands alone here
        limits = (cpu, self.memory_mb << 20, self.file_size_mb << 20, self.max_open_files, nproc, 0)
        blobs = [
            s.encode("utf-8", _ENCODING_ERRORS) for s in (task.entry_point, code, task.tests, nonce)
        ]
        head = " ".join(
            [task.test_style, str(status_fd), *map(str, limits), *(str(len(b)) for b in blobs)]
        )
        return _runner()[1] + head.encode() + b"\n" + b"".join(blobs)

    async def _run(
        self, task: Task, code: str, support: SandboxSupport, uid: int | None
    ) -> VerifyResult:
        started = time.perf_counter()
        workdir = tempfile.mkdtemp(prefix="harness-verify-")
        read_fd, write_fd = os.pipe()
        proc: asyncio.subprocess.Process | None = None
        try:
            if uid is not None:
                os.chown(workdir, uid, uid)
            os.set_blocking(read_fd, False)
            nonce = secrets.token_hex(8)
            job = self._job(task, code, write_fd, nonce)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self._command(support, uid),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=workdir,
                    env=_child_env(workdir),
                    start_new_session=True,
                    pass_fds=(write_fd,),
                )
            finally:
                os.close(write_fd)
                write_fd = -1
            tail, total, timed_out = await self._communicate(proc, job)
            status = _read_status(read_fd, nonce)
            output = _render_output(tail, total)
            duration_ms = _elapsed_ms(started)
            if timed_out:
                note = f"[verifier: wall timeout after {self.timeout_s:g} s, process group killed]"
                return VerifyResult(False, 0.0, "timeout", _join(output, note), duration_ms)
            return _classify(task, proc.returncode, status, output, duration_ms)
        finally:
            if proc is not None:
                _kill_group(proc.pid)
            if uid is not None:
                _kill_uid(uid)
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
            shutil.rmtree(workdir, ignore_errors=True)

    async def _communicate(
        self, proc: asyncio.subprocess.Process, job: bytes
    ) -> tuple[bytes, int, bool]:
        """Feed the job, collect the output tail, enforce the wall timeout."""
        assert proc.stdin is not None and proc.stdout is not None
        buf = bytearray()
        counter = [0]
        feeder = asyncio.ensure_future(_feed(proc.stdin, job))
        drain = asyncio.ensure_future(_drain(proc.stdout, buf, counter, self.output_limit))
        waiter = asyncio.ensure_future(proc.wait())
        helpers = (feeder, drain, waiter)
        timed_out = True
        try:
            done, _ = await asyncio.wait({drain, waiter}, timeout=self.timeout_s)
            timed_out = waiter not in done or drain not in done
        finally:
            # Also on cancellation (Ctrl-C in the runner): kill, reap, and leave no helper.
            if not waiter.done():
                _kill_group(proc.pid)
                await asyncio.wait({waiter}, timeout=_DRAIN_GRACE_S)
            if not drain.done():
                await asyncio.wait({drain}, timeout=_DRAIN_GRACE_S)
            for fut in helpers:
                if not fut.done():
                    fut.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
        return bytes(buf), counter[0], timed_out


# -- helpers ---------------------------------------------------------------------------------


@functools.cache
def _runner() -> tuple[str, bytes]:
    """The ``-c`` bootstrap and the runner's marshalled code object, which leads the job.

    Compiling the runner costs ~3 ms per run; unmarshalling the code object compiled once
    here costs ~0.05 ms. The bootstrap reads exactly that many bytes from stdin (``os.read``,
    so nothing of the job that follows is buffered away) and executes them as ``__main__``.
    """
    source = _RUNNER_PATH.read_text(encoding="utf-8")
    code = marshal.dumps(compile(source, "sandbox_runner", "exec", dont_inherit=True))
    bootstrap = (
        "import os, marshal\n"
        f"n = {len(code)}\n"
        "b = b''\n"
        "while len(b) < n:\n"
        "    c = os.read(0, n - len(b))\n"
        "    if not c: raise SystemExit(3)\n"
        "    b += c\n"
        "del n, c\n"
        "exec(marshal.loads(b))\n"
    )
    return bootstrap, code


async def _feed(stdin: asyncio.StreamWriter, job: bytes) -> None:
    try:
        stdin.write(job)
        await stdin.drain()
        stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # died before reading its job; the exit status tells why


async def _drain(
    stream: asyncio.StreamReader, buf: bytearray, counter: list[int], limit: int
) -> None:
    # Keeps only the last `limit` bytes, so a run printing gigabytes costs no memory.
    while True:
        chunk = await stream.read(1 << 16)
        if not chunk:
            return
        counter[0] += len(chunk)
        buf += chunk
        if len(buf) > limit:
            del buf[: len(buf) - limit]


def _render_output(tail: bytes, total: int) -> str:
    text = tail.decode("utf-8", _ENCODING_ERRORS)
    if total > len(tail):
        return f"[... {total - len(tail)} earlier bytes truncated ...]\n{text}"
    return text


def _read_status(fd: int, nonce: str) -> tuple[str, int, int] | None:
    """The runner's status line, if it wrote one with the right nonce."""
    try:
        raw = os.read(fd, 4096)
    except BlockingIOError:
        return None
    for line in raw.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == nonce and parts[1] in REASONS:
            try:
                return parts[1], int(parts[2]), int(parts[3])
            except ValueError:
                return None
    return None


def _classify(
    task: Task,
    returncode: int | None,
    status: tuple[str, int, int] | None,
    output: str,
    duration_ms: float,
) -> VerifyResult:
    if status is not None:
        reason, passed, total = status
        score = passed / total if total else 0.0
        if task.test_style == "humaneval":
            score = 1.0 if reason == "passed" else 0.0
        return VerifyResult(reason == "passed", score, reason, output, duration_ms)
    # No trustworthy status: the process died or exited before the tests finished.
    if returncode is not None and returncode < 0:
        sig = -returncode
        if sig == signal.SIGXCPU:
            reason = "timeout"
        elif any(m in output for m in _MEMORY_MARKERS):
            reason = "memory"
        elif sig == signal.SIGXFSZ:
            reason = "forbidden"
        elif sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL):
            reason = "error"
        else:
            reason = "killed"
        note = f"[verifier: killed by {signal.Signals(sig).name}]"
        if sig == signal.SIGXCPU:
            note = "[verifier: timeout, the CPU time limit was reached (SIGXCPU)]"
    else:
        reason = "memory" if any(m in output for m in _MEMORY_MARKERS) else "error"
        note = f"[verifier: exited with status {returncode} before the tests finished]"
    return VerifyResult(False, 0.0, reason, _join(output, note), duration_ms)


def _join(output: str, note: str) -> str:
    return f"{output.rstrip()}\n{note}" if output.strip() else note


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _child_env(workdir: str) -> dict[str, str]:
    # From scratch, never from os.environ: the child must not see any credential.
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": workdir,
        "TMPDIR": workdir,
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
    }


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _uid_pids(uid: int) -> list[int]:
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    pids = []
    for name in entries:
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    pids.append(int(name))
            except OSError:
                continue
    return pids


def _count_processes(uid: int) -> int:
    """Processes and threads (what ``RLIMIT_NPROC`` counts) owned by ``uid``, roughly."""
    total = 0
    for pid in _uid_pids(uid):
        try:
            total += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return total


def _kill_uid(uid: int) -> None:
    """SIGKILL every process owned by ``uid`` (a uid only this run used)."""
    for pid in _uid_pids(uid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue


def _which(name: str) -> str:
    path = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin:" + os.environ.get("PATH", ""))
    if path is None:
        raise RuntimeError(f"{name} not found")
    return path


def _setpriv_args(uid: int) -> list[str]:
    # Keep only CAP_DAC_READ_SEARCH (ambient, so it survives exec) so the interpreter and its
    # stdlib stay readable wherever they live; --no-new-privs blocks setuid binaries.
    return [
        _which("setpriv"),
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--no-new-privs",
        "--bounding-set=-all,+dac_read_search",
        "--inh-caps=-all,+dac_read_search",
        "--ambient-caps=-all,+dac_read_search",
    ]


class _UidPool:
    """Unprivileged uids for sandbox runs: distinct per concurrent run and per process.

    ``1_000_000 + pid * 256 + slot`` stays below 2**31 for any Linux pid, lies far above the
    uids of real accounts, and cannot collide with another harness process on the host.
    """

    SLOTS = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[int] = set()

    def take(self) -> int:
        with self._lock:
            base = 1_000_000 + os.getpid() * self.SLOTS
            for i in range(self.SLOTS):
                if base + i not in self._busy:
                    self._busy.add(base + i)
                    return base + i
        raise RuntimeError(f"more than {self.SLOTS} concurrent verifications in one process")

    def give_back(self, uid: int) -> None:
        with self._lock:
            self._busy.discard(uid)


_UIDS = _UidPool()


@functools.cache
def sandbox_support() -> SandboxSupport:
    """Probe (once per process) which extra isolation layers this host supports."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return SandboxSupport(drop_privileges=False, isolate_network=False)
    drop = net = False
    probe_uid = _UIDS.take()
    try:
        check = f"import math, os; assert os.geteuid() == {probe_uid}"
        try:
            drop = _probe_ok([*_setpriv_args(probe_uid), sys.executable, "-S", "-c", check])
        except RuntimeError:
            drop = False
        try:
            # A fresh namespace has the loopback interface only (and it is down); nothing is
            # sent anywhere to find out.
            net_check = "import socket; assert [n for _, n in socket.if_nameindex()] == ['lo']"
            net = _probe_ok([_which("unshare"), "--net", sys.executable, "-S", "-c", net_check])
        except RuntimeError:
            net = False
    finally:
        _kill_uid(probe_uid)
        _UIDS.give_back(probe_uid)
    return SandboxSupport(drop_privileges=drop, isolate_network=net)


def _probe_ok(cmd: list[str]) -> bool:
    try:
        done = subprocess.run(
            cmd, env=_child_env("/"), cwd="/", capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
