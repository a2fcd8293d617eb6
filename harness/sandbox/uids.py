"""Unprivileged host uids for sandboxes started by root: one per concurrent sandbox.

As root, the kernel ignores ``RLIMIT_NPROC`` and file permissions do not apply; every sandbox
therefore runs under a uid of its own. ``1_000_000 + pid * 256 + slot`` stays below 2**31 for
any Linux pid, lies far above the uids of real accounts and cannot collide with another harness
process on the host.
"""

from __future__ import annotations

import os
import signal
import threading
import time

__all__ = ["UidPool", "kill_uid", "uid_pids", "wait_gone"]


class UidPool:
    """Hands out uids distinct per concurrent sandbox and per harness process."""

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
        raise RuntimeError(f"more than {self.SLOTS} concurrent sandboxes in one process")

    def give_back(self, uid: int) -> None:
        with self._lock:
            self._busy.discard(uid)


def uid_pids(uid: int) -> list[int]:
    """Host pids of the processes owned by ``uid``."""
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


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` (a uid only one sandbox used)."""
    for pid in uid_pids(uid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue


def wait_gone(uid: int, timeout_s: float = 2.0) -> bool:
    """Kill ``uid``'s processes until none is left (teardown is asynchronous); True if gone."""
    deadline = time.monotonic() + timeout_s
    while True:
        pids = uid_pids(uid)
        if not pids:
            return True
        if time.monotonic() > deadline:
            return False
        kill_uid(uid)
        time.sleep(0.005)
