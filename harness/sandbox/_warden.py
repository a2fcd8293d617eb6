"""The warden: the trusted program inside an outer sandbox (standard library only).

It is shipped as a marshalled code object (see :mod:`harness.sandbox.session`) and runs as
``python -s -S -P -B``. It reads one JSON request per line on stdin and writes one JSON reply
per line on its original stdout; its own fd 1 is pointed at stderr first, so nothing printed by
test code can corrupt a reply. Requests:

- ``hello``: the nested-sandbox prefix, rlimit options, environment and work folder.
- ``write`` / ``read`` / ``list`` / ``snapshot``: files under the work folder (paths that leave
  it, also through symlinks, are refused).
- ``run``: a command in a fresh nested sandbox, with a wall timeout; output capped (head and
  tail kept, a marker says how much was cut); everything it started dies with it.
- ``judge``: the hidden tests of a task against candidate code (:mod:`_judge`), in a forked
  child so no state of one job reaches the next; then the work folder is emptied.
- ``reset``: empty the work folder.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import signal
import stat
import subprocess
import time

MAX_READ = 8 << 20  # the largest file read or snapshot entry returned
MAX_SNAPSHOT = 64 << 20


class _State:
    """Set once by ``hello``."""

    nested: tuple[str, ...] = ()
    prlimit: tuple[str, ...] = ()
    env: dict[str, str] = {}  # noqa: RUF012 — replaced, never mutated
    workdir = "/work"
    warm = False


def main() -> None:
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # test code's prints go to stderr, never into a reply
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    stdin = open(0, "rb", closefd=False)  # lives as long as the warden
    while True:
        line = stdin.readline()
        if not line:
            return
        try:
            req = json.loads(line)
            reply = _HANDLERS[req["op"]](req)
        except Exception as exc:  # a bad request must not kill the session
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        data = (json.dumps(reply) + "\n").encode()
        while data:
            data = data[os.write(reply_fd, data) :]


# -- requests ----------------------------------------------------------------------------------


def _hello(req: dict) -> dict:
    _State.nested = tuple(req["nested"])
    _State.prlimit = tuple(req["prlimit"])
    _State.env = dict(req["env"])
    _State.workdir = req["workdir"]
    return {"ok": True, "uid": os.getuid(), "pid": os.getpid()}


def _write(req: dict) -> dict:
    for rel, b64 in req["files"].items():
        path = _inside(rel, must_exist=False)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = _open_regular(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with open(fd, "wb") as fh:
            fh.write(base64.b64decode(b64))
    return {"ok": True}


def _read(req: dict) -> dict:
    path = _inside(req["path"])
    limit = min(int(req.get("limit") or MAX_READ), MAX_READ)
    with open(_open_regular(path, os.O_RDONLY), "rb") as fh:
        data = fh.read(limit + 1)
        size = os.fstat(fh.fileno()).st_size
    return {
        "data": base64.b64encode(data[:limit]).decode(),
        "truncated": len(data) > limit,
        "size": size,
    }


def _open_regular(path: str, flags: int) -> int:
    """Open ``path`` without following a last symlink and without blocking (a FIFO the code
    planted must not stall the warden); anything but a regular file is refused."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PermissionError(f"{os.path.basename(path)!r} is not a regular file")
    os.set_blocking(fd, True)
    return fd


def _list(req: dict) -> dict:
    limit = int(req.get("limit") or 10_000)
    files: list[list] = []
    root = _State.workdir
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            files.append([os.path.relpath(full, root), st.st_size])
            if len(files) >= limit:
                return {"files": files, "truncated": True}
    return {"files": files, "truncated": False}


def _snapshot(req: dict) -> dict:
    budget = int(req.get("limit") or MAX_SNAPSHOT)
    out: dict[str, str] = {}
    skipped: list[str] = []
    for rel, size in _list({"limit": 100_000})["files"]:
        full = os.path.join(_State.workdir, rel)
        if size > min(budget, MAX_READ):
            skipped.append(rel)
            continue
        try:
            with open(_open_regular(full, os.O_RDONLY), "rb") as fh:
                data = fh.read(MAX_READ)
        except OSError:
            skipped.append(rel)  # a link, a FIFO, a socket: not part of a workspace copy
            continue
        budget -= len(data)
        out[rel] = base64.b64encode(data).decode()
    return {"files": out, "skipped": skipped}


def _run(req: dict) -> dict:
    timeout = float(req["timeout_s"])
    limit = int(req.get("output_limit") or 4096)
    argv = req.get("argv") or ["/bin/sh", "-c", req["shell"]]
    stdin = base64.b64decode(req["stdin"]) if req.get("stdin") else b""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            launch(argv, timeout),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=_State.workdir,
            env=_State.env,
            start_new_session=True,
        )
    except OSError as exc:
        return {"error": f"cannot start the command: {exc}"}
    head, tail, total, timed_out = _collect(proc, stdin, timeout, limit)
    kill(proc)
    code = proc.wait()
    # A nested sandbox reports a death by signal n the shell's way, as exit 128 + n.
    sig = -code if code < 0 else code - 128 if 128 < code <= 128 + 64 else None
    return {
        "exit": None if sig is not None else code,
        "signal": sig,
        "timed_out": timed_out,
        "output": _render(head, tail, total),
        "output_bytes": total,
        "duration_ms": (time.monotonic() - started) * 1000,
    }


def _judge(req: dict) -> dict:
    import _judge

    if not _State.warm:
        _judge.warm()  # imported once here, the forked jobs start with them
        _State.warm = True

    job = req["job"]
    deadline = float(job.get("timeout_s", 10.0)) + 5.0
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one job, then gone
        try:
            os.close(rfd)
            os.setsid()
            verdict = _judge.run_job(job, lambda argv: launch(argv, job.get("timeout_s")),
                                     _State.env, _State.workdir)  # fmt: skip
            data = json.dumps(verdict).encode()
        except BaseException as exc:
            data = json.dumps({"error": f"judge failed: {type(exc).__name__}: {exc}"}).encode()
        try:
            while data:
                data = data[os.write(wfd, data) :]
        finally:
            os._exit(0)
    os.close(wfd)
    chunks, timed_out = _read_until_eof(rfd, deadline)
    os.close(rfd)
    if timed_out:
        _kill_pid(-pid)
    os.waitpid(pid, 0)
    _reset({})
    if timed_out:
        note = f"[sandbox: the tests did not finish within {deadline:g} s; stopped]"
        return {"reason": "timeout", "passed": 0, "total": 1, "output": note}
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"error": "the judge ended without a verdict"}


def _reset(req: dict) -> dict:
    roots = [_State.workdir]
    if _State.nested:  # inside a sandbox /tmp and /dev/shm are ours too
        roots += ["/tmp", "/dev/shm"]
    for root in roots:
        for name in os.listdir(root):
            _remove(os.path.join(root, name))
    return {"ok": True}


_HANDLERS = {
    "hello": _hello,
    "write": _write,
    "read": _read,
    "list": _list,
    "snapshot": _snapshot,
    "run": _run,
    "judge": _judge,
    "reset": _reset,
    "ping": lambda req: {"ok": True},
}


# -- helpers -----------------------------------------------------------------------------------


def launch(argv: list[str], timeout_s: float | None = None) -> list[str]:
    """``argv`` as a nested sandbox runs it: the backend's prefix, then the rlimits."""
    limits = list(_State.prlimit)
    if timeout_s:
        cpu = max(1, int(-(-float(timeout_s) // 1)))
        limits = [a for a in limits if not a.startswith("--cpu=")]
        limits.append(f"--cpu={cpu}:{cpu + 1}")
    return [*_State.nested, "prlimit", *limits, "--", *argv]


def kill(proc: subprocess.Popen) -> None:
    """Kill a nested sandbox and all it started (its namespace dies with its first process)."""
    _kill_pid(-proc.pid)
    _kill_pid(proc.pid)


def _kill_pid(pid: int) -> None:
    try:
        if pid < 0:
            os.killpg(-pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _inside(rel: str, must_exist: bool = True) -> str:
    """The absolute path of ``rel`` under the work folder; refuses anything that leaves it."""
    root = os.path.realpath(_State.workdir)
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise ValueError("a path must be a non-empty string")
    path = os.path.normpath(os.path.join(root, rel))
    real = os.path.realpath(path)
    for p in (path, real):
        if p != root and not p.startswith(root + "/"):
            raise PermissionError(f"{rel!r} is outside the work folder")
    if must_exist and not os.path.exists(real):
        raise FileNotFoundError(f"{rel!r} does not exist")
    return real


def _collect(
    proc: subprocess.Popen, stdin: bytes, timeout: float, limit: int
) -> tuple[bytes, bytearray, int, bool]:
    """Feed stdin, keep the first and last ``limit // 2`` bytes of output, enforce the timeout."""
    half = max(1, limit // 2)
    head = bytearray()
    tail = bytearray()
    total = 0
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stdin is not None
    os.set_blocking(proc.stdout.fileno(), False)
    sel.register(proc.stdout, selectors.EVENT_READ)
    pending = memoryview(stdin)
    if pending:
        os.set_blocking(proc.stdin.fileno(), False)
        sel.register(proc.stdin, selectors.EVENT_WRITE)
    else:
        proc.stdin.close()
    timed_out = False
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for key, _ in sel.select(min(left, 1.0)):
            if key.fileobj is proc.stdin:
                try:
                    n = os.write(proc.stdin.fileno(), pending[: 1 << 16])
                    pending = pending[n:]
                except BlockingIOError:
                    continue
                except OSError:
                    pending = pending[:0]
                if not pending:
                    sel.unregister(proc.stdin)
                    proc.stdin.close()
                continue
            try:
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(proc.stdout)
                continue
            total += len(chunk)
            if len(head) < half:
                take = half - len(head)
                head += chunk[:take]
                chunk = chunk[take:]
            tail += chunk
            if len(tail) > half:
                del tail[: len(tail) - half]
    if not timed_out:
        left = max(0.0, deadline - time.monotonic())
        try:
            proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            timed_out = True
    sel.close()
    return bytes(head), tail, total, timed_out


def _render(head: bytes, tail: bytearray, total: int) -> str:
    cut = total - len(head) - len(tail)
    text = head.decode("utf-8", "replace")
    if cut > 0:
        text += f"\n[... {cut} bytes of output truncated ...]\n"
    return text + bytes(tail).decode("utf-8", "replace")


def _read_until_eof(fd: int, timeout: float) -> tuple[list[bytes], bool]:
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return chunks, True
            if not sel.select(left):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return chunks, False
            chunks.append(chunk)
    finally:
        sel.close()


def _remove(path: str) -> None:
    # The candidate may have left read-only or unlistable folders: open them up first.
    try:
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
            return
        os.chmod(path, 0o700)
        for name in os.listdir(path):
            _remove(os.path.join(path, name))
        os.rmdir(path)
    except OSError:
        pass
