"""Isolation for model-written code: OS-level sandboxes, sessions for tools, verdicts outside.

Public API::

    from harness.sandbox import Session, SandboxLimits, resolve_backend

    backend = resolve_backend("auto")            # bwrap, else unshare; raises when neither works
    async with await Session.start(backend, SandboxLimits(timeout_s=5), files={...}) as box:
        res = await box.run("python -m pytest -q", timeout_s=30)

Threat model (also in the README): model code runs in a nested sandbox — new user, pid, mount,
network, IPC and UTS namespaces; a read-only system; a private size-capped work folder and
``/tmp``; its own ``/proc``; only loopback; rlimits; an environment built from scratch; as root,
an unprivileged uid of its own. Hidden tests and the pass/fail decision live in the warden
process outside it, reached by plain data only. Not isolated: the kernel itself (no seccomp
filter; a kernel exploit escapes), CPU time of other sandboxes (no cgroup quotas), and timing.
"""

from __future__ import annotations

from harness.errors import SandboxError, SandboxUnavailableError
from harness.sandbox.backends import Backend, backend_names, resolve_backend
from harness.sandbox.limits import SandboxLimits
from harness.sandbox.session import CommandResult, Session

__all__ = [
    "Backend",
    "CommandResult",
    "SandboxError",
    "SandboxLimits",
    "SandboxUnavailableError",
    "Session",
    "backend_names",
    "resolve_backend",
]
