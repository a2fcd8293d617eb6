"""Resource limits of a sandbox: per command (rlimits, wall time) and per session."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SandboxLimits"]


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """What one sandboxed command, and one session, may use.

    Attributes:
        timeout_s: Wall time per command (a verification is one command); the CPU limit is its
            ceiling, rounded up to whole seconds.
        memory_mb: Address space per process (``RLIMIT_AS``).
        file_size_mb: Largest file a process may write (``RLIMIT_FSIZE``).
        max_open_files: ``RLIMIT_NOFILE``.
        max_processes: Processes and threads the sandbox may run at once (``RLIMIT_NPROC``,
            counted for the sandbox's own uid only).
        disk_mb: Size of the private work folder and of the private ``/tmp`` (each a tmpfs).
        output_limit: Bytes of output kept per command (the tail; the rest is counted and a
            visible marker says how much was cut).
        session_timeout_s: Wall time of a whole session (``None``: unbounded).
        session_commands: Commands a session may run (``None``: unbounded).
    """

    timeout_s: float = 10.0
    memory_mb: int = 1024
    file_size_mb: int = 64
    max_open_files: int = 256
    max_processes: int = 64
    disk_mb: int = 128
    output_limit: int = 4096
    session_timeout_s: float | None = None
    session_commands: int | None = None

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.memory_mb < 64:
            raise ValueError(
                f"memory_mb must be >= 64 (Python needs it to start), got {self.memory_mb}"
            )
        for name in ("file_size_mb", "max_open_files", "max_processes", "disk_mb", "output_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_open_files < 16:
            raise ValueError(f"max_open_files must be >= 16, got {self.max_open_files}")

    @property
    def cpu_s(self) -> int:
        return max(1, math.ceil(self.timeout_s))

    def prlimit_args(self, timeout_s: float | None = None) -> list[str]:
        """util-linux ``prlimit`` options that apply these limits to the command it runs."""
        cpu = max(1, math.ceil(timeout_s)) if timeout_s else self.cpu_s
        return [
            f"--cpu={cpu}:{cpu + 1}",  # soft: SIGXCPU, hard: SIGKILL a second later
            f"--as={self.memory_mb << 20}",
            f"--fsize={self.file_size_mb << 20}",
            f"--nofile={self.max_open_files}",
            f"--nproc={self.max_processes}",
            "--core=0",
        ]
