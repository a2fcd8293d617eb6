"""Sandbox sessions: one outer sandbox with a work folder, driven through its warden.

A :class:`Session` is what agents' tools and the verifier use::

    async with await Session.start(files={"app.py": "print(1)"}) as box:
        result = await box.run("python app.py", timeout_s=5)
        data = await box.read_file("app.py")

Every command runs in a fresh nested sandbox (its own user, pid, network, IPC namespaces and
``/proc``); files persist in the session's size-capped work folder until :meth:`close`. The
warden inside is trusted code (:mod:`harness.sandbox._warden`); it gets its program as
marshalled code on stdin, so nothing of the harness is visible in the sandbox's file system.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import functools
import json
import marshal
import os
import signal
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import SandboxError
from harness.sandbox.backends import Backend, OuterPlan, SandboxLayout, host_layout
from harness.sandbox.limits import SandboxLimits
from harness.sandbox.uids import UidPool, kill_uid, wait_gone

__all__ = ["CommandResult", "Session", "bootstrap", "bundle", "probe_backend"]

_HERE = Path(__file__).resolve().parent
_WARDEN_MODULES = ("_wire", "_candidate", "_guards", "_judge", "_warden")
_WARDEN_LOAD = ("_wire", "_judge", "_warden")
_STDERR_TAIL = 8192
_GRACE_S = 5.0
_UIDS = UidPool()
# Process groups of sandboxes not yet closed: killed at exit should a caller forget close().
_LIVE: set[int] = set()


@atexit.register
def _kill_leftovers() -> None:
    for pgid in list(_LIVE):
        _kill_group(pgid)


#: The ``-c`` program of every sandboxed interpreter: read ``<size> <main> <modules>`` and a
#: marshalled ``{name: marshalled code}``, load the modules in order, run ``main.main()``.
BOOTSTRAP = """\
import os, sys, types, marshal
def _r(n):
    b = bytearray()
    while len(b) < n:
        c = os.read(0, n - len(b))
        if not c: raise SystemExit(3)
        b += c
    return bytes(b)
h = b''
while not h.endswith(b'\\n'):
    c = os.read(0, 1)
    if not c: raise SystemExit(3)
    h += c
n, main, load = h.decode().split()
blobs = marshal.loads(_r(int(n)))
m = types.ModuleType('_bundle'); m.BLOBS = blobs; sys.modules['_bundle'] = m
for name in load.split(','):
    m = types.ModuleType(name); sys.modules[name] = m
    exec(marshal.loads(blobs[name]), m.__dict__)
del _r, h, n, load, blobs, m, c
sys.modules[main].main()
"""


def bootstrap() -> str:
    return BOOTSTRAP


@functools.cache
def bundle(main: str = "_warden", load: tuple[str, ...] = _WARDEN_LOAD) -> bytes:
    """The header and marshalled modules that follow :data:`BOOTSTRAP` on stdin."""
    blobs = {}
    for name in _WARDEN_MODULES:
        path = _HERE / f"{name}.py"
        if not path.exists() and name != main:
            continue
        source = path.read_text(encoding="utf-8")
        # optimize=2 drops docstrings: less to send and unmarshal for every sandbox
        code = compile(source, f"<sandbox {name}>", "exec", dont_inherit=True, optimize=2)
        blobs[name] = marshal.dumps(code)
    data = marshal.dumps(blobs)
    load = tuple(name for name in load if name in blobs)
    return f"{len(data)} {main} {','.join(load)}\n".encode() + data


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What one command in a session did."""

    exit_code: int | None
    """Its exit status (None when a signal ended it)."""
    signal: int | None
    timed_out: bool
    output: str
    """stdout and stderr, interleaved; head and tail kept, a marker says how much was cut."""
    output_bytes: int
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Session:
    """One outer sandbox and its work folder. Create with :meth:`start`; close when done."""

    def __init__(
        self, backend: Backend, limits: SandboxLimits, layout: SandboxLayout | None = None
    ) -> None:
        self.backend = backend
        self.limits = limits
        self.layout = layout or host_layout()
        self._proc: asyncio.subprocess.Process | None = None
        self._plan: OuterPlan | None = None
        self._uid: int | None = None
        self._lock = asyncio.Lock()
        self._stderr = bytearray()
        self._stderr_task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._commands = 0
        self.closed = False

    @classmethod
    async def start(
        cls,
        backend: Backend | str = "auto",
        limits: SandboxLimits | None = None,
        *,
        files: dict[str, bytes | str] | None = None,
        layout: SandboxLayout | None = None,
    ) -> Session:
        """Start a session (with ``files`` written into its work folder).

        Raises:
            SandboxUnavailableError: ``backend`` names no working backend.
            SandboxError: The sandbox failed to start.
        """
        if isinstance(backend, str):
            from harness.sandbox.backends import resolve_backend

            backend = resolve_backend(backend)
        box = cls(backend, limits or SandboxLimits(), layout)
        await box._start()
        if files:
            try:
                await box.write_files(files)
            except BaseException:
                await box.close()
                raise
        return box

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def workdir(self) -> str:
        assert self._plan is not None
        return self._plan.workdir

    # -- the tools' API --------------------------------------------------------------------

    async def run(
        self,
        command: str | list[str],
        *,
        timeout_s: float | None = None,
        stdin: bytes | str | None = None,
    ) -> CommandResult:
        """Run a shell command line (str) or an argv (list) in a fresh nested sandbox."""
        self._count_command()
        timeout = float(timeout_s or self.limits.timeout_s)
        req: dict[str, Any] = {"timeout_s": timeout, "output_limit": self.limits.output_limit}
        if isinstance(command, str):
            req["shell"] = command
        else:
            req["argv"] = list(command)
        if stdin:
            raw = stdin.encode() if isinstance(stdin, str) else stdin
            req["stdin"] = base64.b64encode(raw).decode()
        reply = await self._request("run", timeout + _GRACE_S, **req)
        return CommandResult(
            exit_code=reply["exit"],
            signal=reply["signal"],
            timed_out=reply["timed_out"],
            output=reply["output"],
            output_bytes=reply["output_bytes"],
            duration_ms=reply["duration_ms"],
        )

    async def run_python(self, code: str, *, timeout_s: float | None = None) -> CommandResult:
        """Run a Python snippet (given on stdin) with the sandbox's interpreter."""
        argv = [self.layout.python, "-B", "-"]
        return await self.run(argv, timeout_s=timeout_s, stdin=code)

    async def write_files(self, files: dict[str, bytes | str]) -> None:
        """Write files (paths relative to the work folder; folders are made as needed)."""
        enc = {
            path: base64.b64encode(data.encode() if isinstance(data, str) else data).decode()
            for path, data in files.items()
        }
        await self._request("write", 60.0, files=enc)

    async def write_file(self, path: str, data: bytes | str) -> None:
        await self.write_files({path: data})

    async def read_file(self, path: str, limit: int | None = None) -> bytes:
        """The file's bytes (up to ``limit``; raises FileNotFoundError / PermissionError)."""
        reply = await self._request("read", 60.0, path=path, limit=limit)
        return base64.b64decode(reply["data"])

    async def list_files(self) -> list[tuple[str, int]]:
        """``(path, size)`` of every file under the work folder, sorted."""
        reply = await self._request("list", 60.0)
        return [(p, int(n)) for p, n in reply["files"]]

    async def snapshot(self) -> dict[str, bytes]:
        """Every regular file of the work folder (symlinks and oversized files left out)."""
        reply = await self._request("snapshot", 120.0)
        return {p: base64.b64decode(d) for p, d in reply["files"].items()}

    async def judge(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run hidden tests on candidate code (see :mod:`harness.sandbox._judge`).

        The tests reach the warden only; the candidate runs in a nested sandbox and the verdict
        is decided outside it. The work folder is emptied afterwards.
        """
        timeout = float(job.get("timeout_s", self.limits.timeout_s))
        return await self._request("judge", timeout + 2 * _GRACE_S, job=job)

    async def reset(self) -> None:
        """Empty the work folder."""
        await self._request("reset", 60.0)

    async def close(self) -> None:
        """Kill the sandbox and everything in it; idempotent."""
        if self.closed:
            return
        self.closed = True
        proc = self._proc
        if proc is not None:
            _LIVE.discard(proc.pid)
            if self._uid is not None and proc.returncode is None:
                # The sandbox's own processes first, so that their parent inside (unshare's
                # fork) reaps them: killed together, the orphans wait as zombies of the slot's
                # uid for the host's init, which may take seconds to reap them.
                kill_uid(self._uid)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(proc.wait()), timeout=0.5)
            _kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(TimeoutError, ProcessLookupError):
                await asyncio.wait_for(proc.wait(), timeout=_GRACE_S)
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stderr_task
        if self._uid is not None:
            kill_uid(self._uid)
            # Only a uid with nothing left may serve another sandbox.
            if await asyncio.to_thread(wait_gone, self._uid):
                _UIDS.give_back(self._uid)
            self._uid = None
        if self._plan is not None:
            self._plan.cleanup()

    # -- internals ---------------------------------------------------------------------------

    def _count_command(self) -> None:
        lim = self.limits
        if lim.session_commands is not None and self._commands >= lim.session_commands:
            raise SandboxError(f"the session's limit of {lim.session_commands} commands is used")
        if lim.session_timeout_s is not None:
            if time.monotonic() - self._started > lim.session_timeout_s:
                raise SandboxError(f"the session's {lim.session_timeout_s:g} s are used")
        self._commands += 1

    async def _start(self) -> None:
        root = hasattr(os, "geteuid") and os.geteuid() == 0
        self._uid = _UIDS.take() if root else None
        self._plan = plan = self.backend.plan(self.layout, self.limits, self._uid)
        if self._uid is not None and not self.backend.isolated:
            os.chown(plan.workdir, self._uid, self._uid)
        argv = list(plan.argv)
        if not self.backend.isolated and self._uid is not None:
            from harness.sandbox.backends import _setpriv_drop

            argv += _setpriv_drop(self._uid, keep_read=True)
        argv += [self.layout.python, "-s", "-S", "-P", "-B", "-c", BOOTSTRAP]
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=plan.cwd,
                env=plan.env,
                start_new_session=True,
                limit=1 << 26,  # a reply line may carry a file snapshot
            )
        except OSError as exc:
            await self.close()
            raise SandboxError(f"cannot start the {self.backend.name} sandbox: {exc}") from exc
        _LIVE.add(self._proc.pid)
        # Forgotten sessions (never closed, their event loop gone) still die with their object.
        weakref.finalize(self, _forget, self._proc.pid, self._uid)
        self._started = time.monotonic()
        self._stderr_task = asyncio.ensure_future(self._drain_stderr())
        assert self._proc.stdin is not None
        self._proc.stdin.write(bundle())
        nested = list(plan.nested)
        if not self.backend.isolated and self._uid is not None:
            nested = []  # already the sandbox uid
        await self._request(
            "hello",
            30.0,
            nested=nested,
            prlimit=self.limits.prlimit_args(),
            env=plan.env,
            workdir=plan.workdir,
        )

    async def _drain_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while True:
            chunk = await self._proc.stderr.read(1 << 16)
            if not chunk:
                return
            self._stderr += chunk
            if len(self._stderr) > _STDERR_TAIL:
                del self._stderr[: len(self._stderr) - _STDERR_TAIL]

    async def _request(self, op: str, timeout: float, **fields: Any) -> dict[str, Any]:
        if self.closed or self._proc is None:
            raise SandboxError("the sandbox session is closed")
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        async with self._lock:
            try:
                proc.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode())
                await proc.stdin.drain()
                line = await asyncio.wait_for(proc.stdout.readline(), timeout)
            except TimeoutError:
                await self.close()
                raise SandboxError(
                    f"the sandbox did not answer {op!r} within {timeout:g} s"
                ) from None
            except (ConnectionError, BrokenPipeError) as exc:
                line = b""
                del exc
        if not line:
            await asyncio.sleep(0)  # let the stderr drain catch up
            detail = self._stderr.decode("utf-8", "replace").strip()[-600:]
            await self.close()
            raise SandboxError(
                f"the {self.backend.name} sandbox ended unexpectedly during {op!r}"
                + (f": {detail}" if detail else "")
            )
        reply = json.loads(line)
        if "error" in reply:
            raise _error_of(reply["error"])
        return reply


def _error_of(message: str) -> Exception:
    kind, _, text = message.partition(": ")
    known: dict[str, type[Exception]] = {
        "FileNotFoundError": FileNotFoundError,
        "PermissionError": PermissionError,
        "IsADirectoryError": IsADirectoryError,
        "NotADirectoryError": NotADirectoryError,
        "ValueError": ValueError,
    }
    if kind in known:
        return known[kind](text)
    return SandboxError(message)


def _forget(pgid: int, uid: int | None) -> None:
    if pgid in _LIVE:
        _LIVE.discard(pgid)
        _kill_group(pgid)
        if uid is not None:
            kill_uid(uid)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# -- probing a backend -------------------------------------------------------------------------

_PROBE = r"""
import os, socket, sys
names = [n for _, n in socket.if_nameindex()]
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
open('probe.txt', 'w').write('ok')
try:
    open('/usr/harness-probe', 'w'); ro = False
except OSError:
    ro = True
print(names, len(pids), ro)
sys.exit(0 if names == ['lo'] and len(pids) <= 3 and ro else 7)
"""


def probe_backend(backend: Backend) -> str | None:
    """Start one sandbox, run a nested command that checks the isolation; None when it works."""

    async def go() -> str | None:
        try:
            async with await Session.start(backend, SandboxLimits(timeout_s=20)) as box:
                argv = [box.layout.python, "-S", "-c", _PROBE]
                if not backend.isolated:
                    argv = [box.layout.python, "-S", "-c", "print('ok')"]
                res = await box.run(argv, timeout_s=20)
                if not res.ok:
                    return f"the probe sandbox failed (exit {res.exit_code}): {res.output[-300:]}"
        except SandboxError as exc:
            return str(exc)
        return None

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(go())
    # Called from inside a loop (a sync API used in async code): probe in a helper thread.
    box: list[str | None] = []
    import threading

    thread = threading.Thread(target=lambda: box.append(asyncio.run(go())))
    thread.start()
    thread.join()
    return box[0]
