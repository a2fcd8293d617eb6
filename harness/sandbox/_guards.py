"""In-process guards for ``verifier.sandbox=unsafe_local`` only (standard library only).

Without an OS-level sandbox these are the last line: an audit hook (``sys.addaudithook``;
hooks cannot be removed) refuses network, process creation, ctypes, raising limits, signalling
others, writes outside the work folder and reads outside the standard library. Audit hooks are
NOT a security boundary (PEP 578): code can get past them. Runs that use them are flagged as
unsafe in every report. :func:`arm` is called by the candidate server before the candidate's
code is compiled; each refused attempt is appended to ``violations`` (a run with one is never
a success).
"""

from __future__ import annotations

import os
import sys


class SandboxViolation(PermissionError):
    """Raised by the audit hook for an operation the guards forbid."""


# Events that are always denied, with what they mean: processes, network, native code, limits.
_PROCESS = "creating processes"
_NETWORK = "network access"
_DENY: dict[str, str] = {
    "os.fork": _PROCESS,
    "os.forkpty": _PROCESS,
    "os.posix_spawn": _PROCESS,
    "os.posix_spawnp": _PROCESS,
    "os.exec": "exec'ing programs",
    "os.spawn": _PROCESS,
    "os.system": "running shell commands",
    "os.startfile": _PROCESS,
    "subprocess.Popen": "running subprocesses",
    "pty.spawn": _PROCESS,
    "ctypes.dlopen": "native code (ctypes)",
    "ctypes.dlsym": "native code (ctypes)",
    "ctypes.dlsym/handle": "native code (ctypes)",
    "resource.setrlimit": "changing resource limits",
    "resource.prlimit": "changing resource limits",
    "socket.bind": _NETWORK,
    "socket.connect": _NETWORK,
    "socket.sendto": _NETWORK,
    "socket.sendmsg": _NETWORK,
    "socket.getaddrinfo": _NETWORK,
    "socket.gethostbyname": _NETWORK,
    "socket.gethostbyname_ex": _NETWORK,
    "socket.gethostbyaddr": _NETWORK,
    "socket.getnameinfo": _NETWORK,
    "webbrowser.open": "opening a browser",
}
# Path-changing events: (argument position, whether the call follows a final symlink) of each
# path, and the positions of dir_fd arguments.
_WRITE_PATHS: dict[str, tuple[tuple[tuple[int, bool], ...], tuple[int, ...]]] = {
    "os.remove": (((0, False),), (1,)),
    "os.rmdir": (((0, False),), (1,)),
    "os.mkdir": (((0, False),), (2,)),
    "os.rename": (((0, False), (1, False)), (2, 3)),
    "os.symlink": (((1, False),), (2,)),  # the target may point anywhere; following is checked
    "os.link": (((0, True), (1, False)), (2, 3)),
    "os.chmod": (((0, True),), (2,)),
    "os.chown": (((0, True),), (3,)),
    "os.utime": (((0, True),), (3,)),
    "os.truncate": (((0, True),), ()),
    "os.chflags": (((0, True),), ()),
    "os.lchflags": (((0, False),), ()),
    "os.setxattr": (((0, True),), ()),
    "os.removexattr": (((0, True),), ()),
    "shutil.rmtree": (((0, False),), ()),
}
_READ_DIRS = frozenset({"os.listdir", "os.scandir"})
_NO_IMPORT = frozenset({"_ctypes", "ctypes", "_posixsubprocess"})
_EXTRA_READ = (
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "/dev/random",
    "/dev/stdin",
    "/usr/share/zoneinfo",
    "/etc/localtime",
    "/etc/timezone",
)
# Writes that stay inside the sandbox: the null device and our own output pipe.
_WRITE_OK = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})


def arm(violations: list[str]) -> None:
    """Neuter the raw fork primitive and install the audit hook."""
    # Imported now, so that any later import of it is an escape attempt the hook refuses.
    import _posixsubprocess

    def no_fork_exec(*args: object, **kwargs: object) -> None:
        violations.append(f"{_PROCESS} (_posixsubprocess)")
        raise SandboxViolation(f"sandbox: {_PROCESS} is not allowed")

    _posixsubprocess.fork_exec = no_fork_exec  # type: ignore[attr-defined]

    cwd = os.getcwd()
    real_cwd = os.path.realpath(cwd)
    write_roots = tuple({cwd, real_cwd})
    read_roots = tuple(
        {*write_roots, sys.base_prefix, sys.base_exec_prefix, sys.prefix, *_EXTRA_READ}
    )
    me = os.getpid()
    AF_UNIX = 1
    O_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
    abspath = os.path.abspath
    realpath = os.path.realpath
    dirname = os.path.dirname
    basename = os.path.basename
    isdir = os.path.isdir
    fsdecode = os.fsdecode

    def within(p: str, roots: tuple[str, ...]) -> bool:
        return any(p == r or p.startswith(r + "/") for r in roots)

    def under(path: object, roots: tuple[str, ...], follow: bool = True) -> bool:
        """Whether ``path`` stays inside ``roots``, symlinks the code made included."""
        if isinstance(path, int):
            return True  # an fd the code already holds
        if not isinstance(path, (str, bytes)):
            return False
        p = abspath(fsdecode(path))
        if not within(p, roots):
            return False
        if not within(p, write_roots):
            return True  # the stdlib and devices hold no links the code could have made
        # Only the temp dir can hold links the code made: resolve them.
        if follow:
            return within(realpath(p), roots)
        return within(realpath(dirname(p)) + "/" + basename(p), roots)

    def plain_name(path: object) -> bool:
        if isinstance(path, bytes):
            path = fsdecode(path)
        return isinstance(path, str) and "/" not in path and path not in ("", ".", "..")

    def deny(what: str) -> None:
        violations.append(what)
        raise SandboxViolation(f"sandbox: {what} is not allowed")

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            if isinstance(flags, int) and flags & O_WRITE:
                if path not in _WRITE_OK and not under(path, write_roots):
                    deny(f"writing {path!r}")
            elif not under(path, read_roots):
                # Reads outside are refused but are not by themselves a violation.
                raise SandboxViolation(f"sandbox: reading {path!r} is not allowed")
            elif mode is None and isinstance(flags, int) and not isinstance(path, int):
                # A directory fd is only ever one inside the temp dir, so that *at() calls
                # relative to it (dir_fd=) with plain names stay inside too.
                if (flags & O_DIRECTORY or isdir(path)) and not under(path, write_roots):
                    raise SandboxViolation(f"sandbox: opening directory {path!r} is not allowed")
        elif event in _DENY:
            deny(f"{_DENY[event]} ({event})")
        elif event == "import":
            if args[0] in _NO_IMPORT:
                deny(f"importing {args[0]}")
        elif event == "socket.__new__":
            if args[1] != AF_UNIX:
                deny(f"{_NETWORK} (socket family {args[1]})")
        elif event in _WRITE_PATHS:
            paths, dir_fds = _WRITE_PATHS[event]
            relative = any(i < len(args) and args[i] not in (None, -1) for i in dir_fds)
            for i, follow in paths:
                p = args[i] if i < len(args) else None
                if relative and not plain_name(p):
                    deny(f"{event} on {p!r} relative to a directory fd")
                if isinstance(p, int) and event != "os.truncate":
                    deny(f"{event} on a file descriptor")
                if not under(p, write_roots, follow):
                    deny(f"{event} on {p!r}")
        elif event in _READ_DIRS:
            p = args[0] if args else None
            if p is not None and p != "." and not under(p, read_roots):
                raise SandboxViolation(f"sandbox: listing {p!r} is not allowed")
        elif event in ("os.kill", "os.killpg"):
            if not (event == "os.kill" and args[0] == me):
                deny("signalling other processes")

    sys.addaudithook(hook)
