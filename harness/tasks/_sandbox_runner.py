"""The program the verifier runs inside each sandbox (``python -s -S -P -B -c <bootstrap>``).

It is never imported by the harness: :mod:`harness.tasks.verifier` compiles this file once and
sends the marshalled code object ahead of each job on the child's stdin, so it must use only the
standard library and stay cheap to start (no site-packages, few imports). Trusted code runs
first and arms the sandbox before a single line of the candidate is compiled:

1. read the whole job from stdin (header line, then entry point, code, tests, nonce),
2. lower the resource limits (CPU, address space, file size, open files, processes, core),
3. point stdin at ``/dev/null`` and neuter ``_posixsubprocess.fork_exec``,
4. install an audit hook (``sys.addaudithook``; hooks cannot be removed) that denies network,
   process creation, ctypes, raising limits, signalling other processes, writes outside the
   working directory and reads outside the standard library and the working directory.

Then it runs the code and the hidden tests and writes one status line, prefixed with the
job's nonce, to a private pipe: ``<nonce> <reason> <passed> <total>``. The parent trusts only
that line; an exit code of 0 alone (say, ``os._exit(0)`` in the candidate) proves nothing.

Candidate and tests see ``__name__ == "solution"``-style module names, never ``"__main__"``, so
``if __name__ == "__main__":`` demo blocks do not run (as in HumanEval's own evaluator).
"""

from __future__ import annotations

import os
import sys


def _main() -> None:
    import errno

    out = os.write  # bound before the candidate can monkeypatch the os module
    exit_now = os._exit
    data = _read_fd(0)
    head, _, body = data.partition(b"\n")
    fields = head.split()
    mode = fields[0].decode()
    status_fd = int(fields[1])
    limits = [int(x) for x in fields[2:8]]
    sizes = [int(x) for x in fields[8:12]]
    parts: list[str] = []
    pos = 0
    for n in sizes:
        parts.append(body[pos : pos + n].decode("utf-8", "replace"))
        pos += n
    entry_point, code, tests, nonce = parts

    _set_limits(*limits)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)

    violations: list[str] = []
    _arm(violations)

    def report(reason: str, passed: int, total: int) -> None:
        _flush()
        if violations and reason != "passed":
            reason = "forbidden"
        elif violations:
            # Tests passed but the code tried something the sandbox forbids: not a success.
            reason, passed = "forbidden", 0
            _say(out, "sandbox: denied " + "; ".join(violations[:3]) + "\n")
        try:
            out(status_fd, f"{nonce} {reason} {passed} {total}\n".encode())
        finally:
            exit_now(0)

    def kind(exc: BaseException) -> str:
        if isinstance(exc, SandboxViolation):
            return "forbidden"
        if isinstance(exc, MemoryError):
            return "memory"
        if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            violations.append("file larger than the size limit")
            return "forbidden"
        if isinstance(exc, AssertionError):
            return "failed"
        return "error"

    _register_source("solution.py", code)
    try:
        compiled = compile(code, "solution.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: source holds NUL bytes
        _say(out, _format(exc))
        report("syntax_error", 0, 1)
        return
    except BaseException as exc:  # MemoryError / RecursionError from the compiler
        _say(out, _format(exc))
        report(kind(exc), 0, 1)
        return

    import types

    module = types.ModuleType("solution")
    module.__file__ = "solution.py"
    sys.modules["solution"] = module
    try:
        exec(compiled, module.__dict__)
    except BaseException as exc:
        _say(out, _format(exc))
        report(kind(exc), 0, 1)
        return

    _register_source("tests.py", tests)
    if mode == "humaneval":
        # HumanEval's convention: one namespace, then check(entry_point).
        program = tests + f"\n\ncheck({entry_point})\n"
        _register_source("tests.py", program)
        try:
            exec(compile(program, "tests.py", "exec", dont_inherit=True), module.__dict__)
        except BaseException as exc:
            _say(out, _format(exc))
            report(kind(exc), 0, 1)
            return
        report("passed", 1, 1)
        return

    # "functions": tests see the candidate's names and can also `import solution`.
    namespace = dict(module.__dict__)
    namespace["__name__"] = "tests"
    namespace["__file__"] = "tests.py"
    try:
        exec(compile(tests, "tests.py", "exec", dont_inherit=True), namespace)
    except BaseException as exc:
        _say(out, "error loading the tests:\n" + _format(exc))
        report(kind(exc), 0, 1)
        return
    # Only the hidden tests' own test_* count, not any the candidate wrote into its answer.
    own = module.__dict__
    names = [
        n
        for n, f in list(namespace.items())
        if n.startswith("test_") and callable(f) and own.get(n) is not f
    ]
    if not names:
        _say(out, "no test_* functions found in the tests\n")
        report("error", 0, 0)
        return
    passed = 0
    first_reason = ""
    for name in names:
        try:
            result = namespace[name]()
            if type(result).__name__ == "coroutine":  # an async test: run it to the end
                import asyncio

                asyncio.run(result)
        except BaseException as exc:
            reason = kind(exc)
            if not first_reason:
                first_reason = reason
                _say(out, f"FAILED {name}:\n" + _format(exc))
            else:
                _say(out, f"FAILED {name}: {_one_line(exc)}\n")
            if reason in ("memory", "forbidden"):
                first_reason = reason
        else:
            passed += 1
    _say(out, f"{passed}/{len(names)} tests passed\n")
    report("passed" if passed == len(names) else first_reason, passed, len(names))


class SandboxViolation(PermissionError):
    """Raised by the audit hook for an operation the sandbox forbids."""


def _read_fd(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _set_limits(cpu_s: int, as_bytes: int, fsize: int, nofile: int, nproc: int, core: int) -> None:
    import resource

    wanted = (
        (resource.RLIMIT_CPU, cpu_s, cpu_s + 1),  # soft: SIGXCPU, hard: SIGKILL a second later
        (resource.RLIMIT_AS, as_bytes, as_bytes),
        (resource.RLIMIT_FSIZE, fsize, fsize),
        (resource.RLIMIT_NOFILE, nofile, nofile),
        (resource.RLIMIT_NPROC, nproc, nproc),
        (resource.RLIMIT_CORE, core, core),
    )
    inf = resource.RLIM_INFINITY
    for res, soft, hard in wanted:
        if soft < 0:
            continue  # the parent asked not to set this one
        _, cur_hard = resource.getrlimit(res)
        if cur_hard != inf:
            soft, hard = min(soft, cur_hard), min(hard, cur_hard)
        resource.setrlimit(res, (soft, hard))


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


def _arm(violations: list[str]) -> None:
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


def _register_source(name: str, source: str) -> None:
    # Lets tracebacks show the candidate's and the tests' lines; linecache is imported lazily
    # (and only on the failure path) to keep startup short.
    _SOURCES[name] = source


_SOURCES: dict[str, str] = {}


def _format(exc: BaseException) -> str:
    try:
        import linecache
        import traceback

        for name, src in _SOURCES.items():
            linecache.cache[name] = (len(src), None, src.splitlines(True), name)
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
        # Drop the runner's own frames; keep the candidate's and the tests'.
        text = "".join(line for line in lines if '"sandbox_runner"' not in line)
        return text[-3000:]
    except BaseException:
        return _one_line(exc) + "\n"


def _one_line(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"[:300]
    except BaseException:
        return type(exc).__name__


def _say(write: object, text: str) -> None:
    _flush()  # the candidate's buffered prints come first, as they happened
    try:
        write(2, text.encode("utf-8", "replace"))  # type: ignore[operator]
    except BaseException:
        pass


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


if __name__ == "__main__":
    _main()
