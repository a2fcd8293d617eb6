"""Isolation backends: how an outer sandbox (the warden) and its nested sandboxes are started.

A backend turns a request for a sandbox into command lines; it runs nothing itself.

- ``bwrap`` (default): bubblewrap. Outer: new pid, network, IPC and UTS namespaces (and a user
  namespace when not root), a root file system of read-only binds (``/usr``, the interpreter's
  prefix, the configured packages), private size-capped tmpfs ``/work`` and ``/tmp``. Nested:
  a new user, pid, network, IPC and UTS namespace inside it, with its own ``/proc``, no further
  user namespaces, the same ``/work``, a private ``/tmp`` and the rlimits.
- ``unshare``: the same layout built with util-linux ``unshare``, ``mount`` and ``pivot_root``
  from a small shell script, for hosts without bubblewrap.
- ``unsafe_local``: no isolation at all — plain processes with rlimits and the old in-process
  guards. Only when asked for by name; every report says so.

As root, the outer sandbox drops to an unprivileged uid of its own (:mod:`.uids`) before any
untrusted code runs: a user namespace would map the sandbox to host uid 0, for which the kernel
ignores ``RLIMIT_NPROC`` and which owns the host's files.

The outer sandbox sees the host's ``/proc`` (bound, not a fresh mount): the kernel lets an
unprivileged nested sandbox mount its own ``/proc`` only while a fully visible one exists, and
bubblewrap's own ``--proc`` hides parts of it. Only the trusted warden runs there; everything the
model wrote runs in a nested sandbox whose ``/proc`` shows its own processes alone.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import SandboxUnavailableError
from harness.sandbox.limits import SandboxLimits
from harness.sandbox.packages import SITE_DIR

__all__ = [
    "BACKENDS",
    "Backend",
    "OuterPlan",
    "SandboxLayout",
    "backend_names",
    "host_layout",
    "resolve_backend",
]

_SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_WORK = "/work"
# /etc entries the loader and common tools need; nothing with accounts or secrets.
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime")


@dataclass(frozen=True, slots=True)
class SandboxLayout:
    """What the sandbox's read-only root holds, as host paths."""

    python: str
    """The interpreter's real path (same path inside)."""
    python_prefix: str
    """Its installation prefix, bound read-only at the same path (unless under ``/usr``)."""
    packages: dict[str, Path] = field(default_factory=dict)
    """``{name in SITE_DIR: host path}`` of the read-only package set."""

    @property
    def pythonpath(self) -> str | None:
        return SITE_DIR if self.packages else None


def host_layout(packages: dict[str, Path] | None = None) -> SandboxLayout:
    """The layout for this interpreter (the base installation, never a venv's site-packages)."""
    exe = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    return SandboxLayout(
        python=exe, python_prefix=os.path.realpath(sys.base_prefix), packages=packages or {}
    )


@dataclass(slots=True)
class OuterPlan:
    """How to start one outer sandbox, and what the warden inside needs to know."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    workdir: str
    """The work folder as the warden (and the nested sandboxes) see it."""
    nested: list[str]
    """Prefix the warden puts before a nested command (the rlimits follow it)."""
    cleanup: Callable[[], None] = lambda: None


class Backend:
    """One way to isolate code. Subclasses build the command lines."""

    name = "?"
    isolated = True
    """False only for ``unsafe_local``: the report flags runs that used it."""

    def missing(self) -> str | None:
        """Why this backend cannot work here (a missing program), or None."""
        return None

    def plan(self, layout: SandboxLayout, limits: SandboxLimits, uid: int | None) -> OuterPlan:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


def sandbox_env(workdir: str, layout: SandboxLayout) -> dict[str, str]:
    """The environment of everything in a sandbox, built from scratch (no key can leak)."""
    env = {
        "PATH": _SYS_PATH,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": workdir,
        "TMPDIR": "/tmp",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
    }
    if layout.pythonpath:
        env["PYTHONPATH"] = layout.pythonpath
    return env


def _ro_entries(layout: SandboxLayout) -> list[tuple[str, str]]:
    """``(host path, path inside)`` of every read-only bind besides ``/usr``."""
    out: list[tuple[str, str]] = []
    if not (layout.python_prefix + "/").startswith("/usr/"):
        out.append((layout.python_prefix, layout.python_prefix))
    for name in ("bin", "lib", "lib64", "lib32", "libx32", "sbin"):
        p = Path("/") / name
        if p.exists() and not p.is_symlink():
            out.append((str(p), str(p)))  # a host without merged /usr
    for name in _ETC:
        p = Path("/etc") / name
        if p.exists():
            out.append((str(p), str(p)))
    for name, src in sorted(layout.packages.items()):
        out.append((str(src), f"{SITE_DIR}/{name}"))
    return out


def _top_symlinks() -> list[tuple[str, str]]:
    """``(target, link)`` for the merged-/usr links (``/bin -> usr/bin`` …)."""
    out = []
    for name in ("bin", "lib", "lib64", "lib32", "libx32", "sbin"):
        p = Path("/") / name
        if p.is_symlink():
            out.append((os.readlink(p), f"/{name}"))
    return out


def _which(name: str) -> str | None:
    return shutil.which(name, path=_SYS_PATH + ":" + os.environ.get("PATH", ""))


def _setpriv_drop(uid: int | None, *, keep_read: bool = False) -> list[str]:
    """setpriv options that leave no capability (and, as root, switch to ``uid``).

    ``keep_read`` keeps ``CAP_DAC_READ_SEARCH`` (ambient, so it survives exec): without a
    mount namespace (``unsafe_local``) an interpreter under ``/root`` must stay readable.
    """
    ids = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else []
    caps = "-all,+dac_read_search" if keep_read else "-all"
    out = ["setpriv", *ids, "--no-new-privs", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    if keep_read:
        out.append(f"--ambient-caps={caps}")
    return [*out, "--"]


# Not root: from root of the set-up's user namespace into a child namespace as uid 1000, so
# that the warden's own nested sandboxes never map to uid 0 (which needs CAP_SETFCAP), with no
# capability left.
_AS_USER = [
    "unshare",
    "--user",
    "--map-user=1000",
    "--map-group=1000",
    "--",
    "setpriv",
    "--no-new-privs",
    "--inh-caps=-all",
    "--",
]


# -- bubblewrap --------------------------------------------------------------------------------


# Runs with the set-up's capabilities, before any of them is dropped: a /proc of the sandbox's
# own pid namespace, and the writable places as tmpfs capped in size and in number of files.
# $0: size in bytes; $1: inodes; then the command.
_BWRAP_SETUP = r"""
set -e
S=$0; I=$1; shift
mount -t proc proc /proc
for d in /work /tmp /dev/shm; do
  mount -t tmpfs -o "size=$S,nr_inodes=$I,mode=1777,nosuid,nodev" tmpfs "$d"
done
cd /work
exec "$@"
"""


def _inodes(limits: SandboxLimits) -> int:
    # About one file per KiB of the size cap: each costs kernel memory outside the size cap.
    return max(1024, limits.disk_mb * 1024)


class BwrapBackend(Backend):
    name = "bwrap"

    def missing(self) -> str | None:
        for prog in ("bwrap", "prlimit", "setpriv"):
            if _which(prog) is None:
                return f"{prog} not found"
        return None

    def describe(self) -> str:
        return f"bwrap ({_version('bwrap')})"

    def plan(self, layout: SandboxLayout, limits: SandboxLimits, uid: int | None) -> OuterPlan:
        args = [_which("bwrap") or "bwrap"]
        args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
        # The set-up below mounts a /proc of the sandbox's own pid namespace (bwrap's --proc
        # hides parts of it, and then no nested sandbox may mount one) and switches uid; the
        # capabilities it needs are gone before the warden starts. Not root, it runs as root
        # of a new user namespace (mount(8) insists), then moves the warden into a child
        # namespace as uid 1000 (see _AS_USER).
        args += ["--cap-drop", "ALL"]
        caps = ("CAP_SYS_ADMIN", "CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID", "CAP_SETFCAP")
        for cap in caps:
            args += ["--cap-add", cap]
        if uid is None:
            args += ["--unshare-user", "--uid", "0", "--gid", "0"]
        args += ["--ro-bind", "/usr", "/usr"]
        for target, link in _top_symlinks():
            args += ["--symlink", target, link]
        made: set[str] = set()
        for src, dest in _ro_entries(layout):
            args += _parents(dest, made)
            args += ["--ro-bind", src, dest]
        args += ["--bind", "/proc", "/proc", "--dev", "/dev", "--dir", "/tmp", "--dir", _WORK]
        args += ["--remount-ro", "/dev", "--remount-ro", "/", "--"]
        args += ["/bin/sh", "-c", _BWRAP_SETUP, str(limits.disk_mb << 20), str(_inodes(limits))]
        args += _setpriv_drop(uid) if uid is not None else _AS_USER
        nested = [
            "bwrap",
            "--unshare-user",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            # Everything read-only (submounts too), then the three capped tmpfs writable again:
            # no writable place without a cap on its size and on its number of files. A fresh
            # /dev (the bound one would be nodev) is made read-only once shm is in place.
            "--ro-bind", "/", "/",
            "--bind", _WORK, _WORK,
            "--bind", "/tmp", "/tmp",
            "--dev", "/dev",
            "--bind", "/dev/shm", "/dev/shm",
            "--remount-ro", "/dev",
            "--proc", "/proc",
            "--chdir", _WORK,
            "--",
        ]  # fmt: skip
        return OuterPlan(
            argv=args,
            env=sandbox_env(_WORK, layout),
            cwd="/",
            workdir=_WORK,
            nested=nested,
        )


def _parents(dest: str, made: set[str]) -> list[str]:
    # bwrap creates missing parents with the host's modes (/root is 0700): make them 0755.
    out: list[str] = []
    parts = dest.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        p = "/" + "/".join(parts[:i])
        if p in made or p in ("/usr", "/proc", "/dev", "/tmp") or p.startswith("/usr/"):
            continue
        made.add(p)
        out += ["--perms", "0755", "--dir", p]
    return out


# -- util-linux unshare ------------------------------------------------------------------------

# Runs as (namespace) root inside fresh mount/pid/net/ipc/uts namespaces: build a root of
# read-only binds on a tmpfs, pivot into it, drop every capability, exec the warden.
# $1: staging dir; $2: disk size; $3: inodes; $4: "ro" list file; then the command.
_UNSHARE_SETUP = r"""
set -eu
R=$1; SIZE=$2; INODES=$3; LIST=$4; shift 4
mount -t tmpfs -o mode=755 tmpfs "$R"
cd "$R"
mkdir -p usr proc dev tmp work etc .old
mount -o bind,ro,nosuid,nodev /usr usr
while IFS='|' read -r kind src dest; do
  case $kind in
    link) ln -s "$src" ".$dest" ;;
    dir) mkdir -p ".$dest"; mount -o bind,ro,nosuid,nodev "$src" ".$dest" ;;
    file) mkdir -p ".$(dirname "$dest")"; : > ".$dest"
          mount -o bind,ro,nosuid,nodev "$src" ".$dest" ;;
  esac
done < "$LIST"
for d in null zero full random urandom tty; do
  if [ -e "/dev/$d" ]; then : > "dev/$d"; mount -o bind "/dev/$d" "dev/$d"; fi
done
ln -s /proc/self/fd dev/fd; ln -s /proc/self/fd/0 dev/stdin
ln -s /proc/self/fd/1 dev/stdout; ln -s /proc/self/fd/2 dev/stderr
mkdir -p dev/shm
mount -t proc proc proc
for d in tmp work dev/shm; do
  mount -t tmpfs -o "size=$SIZE,nr_inodes=$INODES,mode=1777,nosuid,nodev" tmpfs "$d"
done
chmod 755 .
pivot_root . .old
cd /
umount -l /.old
rmdir /.old
mount -o remount,bind,ro /
cd /work
exec "$@"
"""

# The nested sandbox: a new user (root inside, mapped to the outer's uid), pid, mount, network,
# IPC and UTS namespace; its own /proc; then no capability at all.
_UNSHARE_NESTED = (
    # sh stays pid 1 (a command that were pid 1 could not be killed from inside: kill $$ would
    # be ignored) and exits with the command's status; no user namespace may be made inside.
    "mount -t proc proc /proc && "
    "echo 0 > /proc/sys/user/max_user_namespaces && "
    'setpriv --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"'
)


class UnshareBackend(Backend):
    name = "unshare"

    def missing(self) -> str | None:
        for prog in ("unshare", "mount", "umount", "pivot_root", "setpriv", "prlimit", "sh"):
            if _which(prog) is None:
                return f"{prog} not found"
        return None

    def describe(self) -> str:
        return f"unshare ({_version('unshare')})"

    def plan(self, layout: SandboxLayout, limits: SandboxLimits, uid: int | None) -> OuterPlan:
        staging = tempfile.mkdtemp(prefix="harness-sandbox-")
        os.chmod(staging, 0o755)
        lines = [f"link|{target}|{link}" for target, link in _top_symlinks()]
        for src, dest in _ro_entries(layout):
            kind = "dir" if os.path.isdir(src) else "file"
            lines.append(f"{kind}|{src}|{dest}")
        list_file = os.path.join(staging + ".list")
        Path(list_file).write_text("\n".join(lines) + "\n", encoding="utf-8")
        size = f"{limits.disk_mb}m"
        ns = ["--mount", "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts"]
        ns += ["--propagation", "private"]
        # Not root: the set-up runs as root of a new user namespace (umount(8) refuses any
        # other uid), then the warden moves into a child namespace as uid 1000, so that its
        # own nested sandboxes never map to uid 0 (which would need CAP_SETFCAP).
        user = ["--user", "--map-root-user"] if uid is None else []
        final = _setpriv_drop(uid) if uid is not None else _AS_USER
        argv = [
            "setpriv",
            "--pdeathsig=KILL",  # unshare does not die with us on its own
            "--",
            _which("unshare") or "unshare",
            *user,
            *ns,
            "--",
            "/bin/sh",
            "-c",
            _UNSHARE_SETUP,
            "sh",
            staging,
            size,
            str(_inodes(limits)),
            list_file,
            *final,
        ]
        nested = [
            "unshare",
            "--user",
            "--map-root-user",
            *ns,
            "--",
            "/bin/sh",
            "-c",
            _UNSHARE_NESTED,
            "sh",
        ]

        def cleanup() -> None:
            for path in (list_file,):
                try:
                    os.unlink(path)
                except OSError:
                    pass
            try:
                os.rmdir(staging)
            except OSError:
                pass

        return OuterPlan(
            argv=argv,
            env=sandbox_env(_WORK, layout),
            cwd="/",
            workdir=_WORK,
            nested=nested,
            cleanup=cleanup,
        )


# -- no isolation ------------------------------------------------------------------------------


class UnsafeLocalBackend(Backend):
    """Plain processes: rlimits, a scrubbed environment and the in-process guards only."""

    name = "unsafe_local"
    isolated = False

    def missing(self) -> str | None:
        return None if _which("prlimit") else "prlimit not found"

    def plan(self, layout: SandboxLayout, limits: SandboxLimits, uid: int | None) -> OuterPlan:
        workdir = tempfile.mkdtemp(prefix="harness-unsafe-")
        env = sandbox_env(workdir, layout)
        env["TMPDIR"] = workdir
        env["HARNESS_SANDBOX_GUARDS"] = "1"  # the candidate arms the audit-hook guards
        env.pop("PYTHONPATH", None)  # no read-only package view without a mount namespace
        return OuterPlan(
            argv=[],
            env=env,
            cwd=workdir,
            workdir=workdir,
            nested=[],
            cleanup=lambda: shutil.rmtree(workdir, ignore_errors=True),
        )


BACKENDS: dict[str, type[Backend]] = {
    "bwrap": BwrapBackend,
    "unshare": UnshareBackend,
    "unsafe_local": UnsafeLocalBackend,
}
_AUTO = ("bwrap", "unshare")


def backend_names() -> tuple[str, ...]:
    return ("auto", *BACKENDS)


def resolve_backend(name: str = "auto") -> Backend:
    """The backend ``name`` (``auto``: the first isolating one that works here).

    Works means: its programs exist and a probe sandbox (outer and nested) starts and shows the
    isolation it promises. Probed once per process and name.

    Raises:
        SandboxUnavailableError: No such backend, or it (every one, for ``auto``) fails here;
            one line saying why and how to enable one.
    """
    if name not in (*BACKENDS, "auto"):
        raise SandboxUnavailableError(
            f"unknown sandbox backend {name!r}; choose one of {', '.join(backend_names())}"
        )
    if name != "auto":
        why = _probe(name)
        if why:
            raise SandboxUnavailableError(f"sandbox backend {name!r} does not work here: {why}")
        return BACKENDS[name]()
    reasons = []
    for candidate in _AUTO:
        why = _probe(candidate)
        if why is None:
            return BACKENDS[candidate]()
        reasons.append(f"{candidate}: {why}")
    raise SandboxUnavailableError(
        "no sandbox backend works here (" + "; ".join(reasons) + "). Install bubblewrap "
        "(Debian/Ubuntu: apt-get install bubblewrap) and allow unprivileged user namespaces "
        "(sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0; on Ubuntu "
        "24.04 also kernel.apparmor_restrict_unprivileged_userns=0), or run as root; "
        "verifier.sandbox=unsafe_local runs model code WITHOUT isolation"
    )


@functools.cache
def _probe(name: str) -> str | None:
    backend = BACKENDS[name]()
    why = backend.missing()
    if why:
        return why
    from harness.sandbox.session import probe_backend  # the session layer runs the probe

    return probe_backend(backend)


@functools.cache
def _version(prog: str) -> str:
    path = _which(prog)
    if path is None:
        return "missing"
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown version"
    words = out.stdout.strip().splitlines()[0].split() if out.stdout.strip() else []
    return words[-1] if words else "unknown version"


def shell_join(argv: list[str]) -> str:
    return shlex.join(argv)
