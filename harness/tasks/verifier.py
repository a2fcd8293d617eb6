"""The verifier: a task's hidden tests on a model's answer, decided where the answer can't reach.

Each verification uses a sandbox session (:mod:`harness.sandbox`): the model's code runs in a
fresh nested sandbox (own user, pid, mount, network, IPC namespaces and ``/proc``; read-only
system; size-capped private work folder; rlimits; no inherited descriptors; an environment
built from scratch; as root, an unprivileged uid of its own). The hidden tests, the expected
values and the comparison that decides pass/fail run in the trusted warden process *outside*
it; the two talk through a pipe carrying plain data only (None, bool, int, float, str, bytes
and tuple/list/dict/set/frozenset of them, types preserved; plus immutable stdlib values such as
Decimal). An object whose behaviour the model defines never becomes a value on the test side:
a non-plain result is a reference whose equality with expected values is identity, so an
``__eq__`` that always says True wins nothing; nor do its arithmetic operators, which work
only between two of the candidate's objects. See :mod:`harness.sandbox._judge`.

Sessions are pooled (``max_workers`` per event loop) and emptied after every job; every
verification gets a fresh nested sandbox. Close the pool with :meth:`Verifier.aclose`.

How tests run (:attr:`Task.test_style`). ``humaneval``: the trusted prompt (its helper
functions included, e.g. HumanEval/32 ``poly``), then ``tests``, then ``check(<entry point>)``
in the test process, the entry point being a proxy that calls the candidate; score 1 or 0.
``functions``: the candidate's module names are visible to the tests (also as ``solution``),
except those that would replace a builtin (unless it is the entry point);
every ``test_*`` the tests define is called in definition order; score = the fraction that
pass, success = all pass.

Reasons (:data:`REASONS`) of a :class:`VerifyResult`:

- ``passed``: every hidden test passed.
- ``failed``: a test assertion failed.
- ``error``: the code or the tests raised anything else, or the tests could not be loaded.
- ``syntax_error``: the candidate code does not compile.
- ``timeout``: the wall timeout or the CPU limit was hit.
- ``memory``: out of memory (``MemoryError`` under the address-space limit).
- ``crashed``: the candidate's process died of SIGSEGV, SIGABRT, SIGBUS or SIGILL.
- ``killed``: it died of another signal.
- ``exited``: it exited (``sys.exit``, ``os._exit``) before the tests finished.
- ``output_flood``: it printed more than the flood cap and was stopped.
- ``not_plain``: humaneval style: it returned something that is not plain data.
- ``no_code``: the answer holds no code.
- ``forbidden``: it wrote a file past the size limit, or (``unsafe_local`` only) tried what the
  in-process guards refuse.

A sandbox that fails (cannot start, dies, breaks its protocol) raises :class:`SandboxError`
after one retry on a fresh sandbox: an infrastructure failure is never the model's fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from harness.errors import SandboxError
from harness.sandbox import Backend, SandboxLimits, Session, resolve_backend
from harness.tasks.extract import extract_code
from harness.tasks.types import Task

__all__ = ["REASONS", "Verifier", "VerifyResult"]

#: Every value :attr:`VerifyResult.reason` can take (see the module docstring).
REASONS: tuple[str, ...] = (
    "passed",
    "failed",
    "error",
    "syntax_error",
    "timeout",
    "memory",
    "crashed",
    "killed",
    "exited",
    "output_flood",
    "not_plain",
    "no_code",
    "forbidden",
)


@dataclass(slots=True)
class VerifyResult:
    """The outcome of one verification.

    Attributes:
        success: All hidden tests passed.
        score: Fraction of tests passed (``functions`` style) or 1.0/0.0 (``humaneval``).
        reason: One of :data:`REASONS`.
        output: The tail of the candidate's output and the failing tests' tracebacks
            (truncated to the verifier's limit).
        duration_ms: Wall time of the verification, in milliseconds.
    """

    success: bool
    score: float
    reason: str
    output: str
    duration_ms: float


class Verifier:
    """Runs hidden tests on answers in sandboxes, a few at a time.

    Args:
        max_workers: Verifications running at once (``None``: one per core).
        timeout_s: Wall-clock limit per verification; the CPU limit is its ceiling.
        memory_mb: Address-space limit per process.
        output_limit: Bytes of output kept (the tail).
        file_size_mb: Largest file the candidate may write.
        max_open_files: ``RLIMIT_NOFILE`` per process.
        max_processes: Processes and threads the candidate may run at once.
        disk_mb: Size of the sandbox's private work folder and ``/tmp``.
        backend: A :class:`~harness.sandbox.Backend` or its name (``auto``: bwrap, else
            unshare; ``unsafe_local`` only when asked for by name). Resolved on first use.
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
        max_processes: int = 64,
        disk_mb: int = 64,
        backend: Backend | str = "auto",
    ) -> None:
        self.limits = SandboxLimits(
            timeout_s=float(timeout_s),
            memory_mb=int(memory_mb),
            file_size_mb=int(file_size_mb),
            max_open_files=int(max_open_files),
            max_processes=int(max_processes),
            disk_mb=int(disk_mb),
            output_limit=int(output_limit),
        )
        self.max_workers = max(1, max_workers or os.cpu_count() or 1)
        self._backend = backend
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def timeout_s(self) -> float:
        return self.limits.timeout_s

    @property
    def memory_mb(self) -> int:
        return self.limits.memory_mb

    @functools.cached_property
    def backend(self) -> Backend:
        """The isolation backend (probed on first use; raises SandboxUnavailableError)."""
        if isinstance(self._backend, str):
            return resolve_backend(self._backend)
        return self._backend

    async def verify(self, task: Task, answer: str) -> VerifyResult:
        """Extract the code from a model's ``answer`` and run ``task``'s hidden tests on it."""
        code = extract_code(answer or "", task)
        if not code.strip():
            return VerifyResult(False, 0.0, "no_code", "no code found in the answer", 0.0)
        return await self.verify_code(task, code)

    async def verify_code(self, task: Task, code: str) -> VerifyResult:
        """Run ``task``'s hidden tests on ``code`` (a complete module) in a sandbox.

        Raises:
            SandboxError: The sandbox failed twice (not a verdict on the code).
        """
        if not code.strip():
            return VerifyResult(False, 0.0, "no_code", "no code to run", 0.0)
        job = {
            "style": task.test_style,
            "entry_point": task.entry_point,
            "prompt": task.prompt if task.test_style == "humaneval" else "",
            "code": code,
            "tests": task.tests,
            "timeout_s": self.limits.timeout_s,
            "output_limit": self.limits.output_limit,
        }
        pool = self._pool()
        started = time.perf_counter()
        async with pool.slots:
            verdict = await pool.judge(job)
        return _result(task, verdict, (time.perf_counter() - started) * 1000.0)

    def verify_code_sync(self, task: Task, code: str) -> VerifyResult:
        """Blocking :meth:`verify_code`, for scripts and tests without an event loop.

        Safe to call from inside a running loop too (it then runs in a helper thread). Each
        call starts and closes its own sandbox.
        """

        async def once() -> VerifyResult:
            try:
                return await self.verify_code(task, code)
            finally:
                await self.aclose()

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(once())
        box: list[VerifyResult | BaseException] = []

        def target() -> None:
            try:
                box.append(asyncio.run(once()))
            except BaseException as exc:
                box.append(exc)

        thread = threading.Thread(target=target, name="verify_code_sync")
        thread.start()
        thread.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    async def aclose(self) -> None:
        """Close this event loop's pooled sandboxes (idempotent)."""
        with contextlib.suppress(RuntimeError):
            pool = self._pools.pop(asyncio.get_running_loop(), None)
            if pool is not None:
                await pool.close()

    def _pool(self) -> _Pool:
        # One per event loop: asyncio primitives and subprocesses bind to their loop.
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = _Pool(self.backend, self.limits, self.max_workers)
        return pool


class _Pool:
    """Idle sandbox sessions of one event loop, at most ``size`` in use at once."""

    def __init__(self, backend: Backend, limits: SandboxLimits, size: int) -> None:
        self.backend = backend
        self.limits = limits
        self.slots = asyncio.Semaphore(size)
        self._idle: list[Session] = []
        self._all: set[Session] = set()

    async def judge(self, job: dict[str, Any]) -> dict[str, Any]:
        session = self._idle.pop() if self._idle else await self._new()
        try:
            verdict = await session.judge(job)
        except SandboxError:
            # One retry on a fresh sandbox: a sandbox that broke is not the model's fault.
            await self._drop(session)
            session = await self._new()
            try:
                verdict = await session.judge(job)
            except BaseException:
                await self._drop(session)
                raise
        except BaseException:
            await self._drop(session)  # cancelled mid-job: its state is unknown
            raise
        self._idle.append(session)
        return verdict

    async def _new(self) -> Session:
        session = await Session.start(self.backend, self.limits)
        self._all.add(session)
        return session

    async def _drop(self, session: Session) -> None:
        self._all.discard(session)
        await session.close()

    async def close(self) -> None:
        sessions, self._all, self._idle = list(self._all), set(), []
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


def _result(task: Task, verdict: dict[str, Any], duration_ms: float) -> VerifyResult:
    reason = str(verdict.get("reason", "error"))
    if reason not in REASONS:
        raise SandboxError(f"the judge returned an unknown reason {reason!r}")
    passed, total = int(verdict.get("passed", 0)), int(verdict.get("total", 0))
    success = reason == "passed"
    if task.test_style == "humaneval":
        score = 1.0 if success else 0.0
    else:
        score = passed / total if total else 0.0
    return VerifyResult(success, score, reason, str(verdict.get("output", "")), duration_ms)
