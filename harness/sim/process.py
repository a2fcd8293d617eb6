"""The simulator as a subprocess: started for a run or a test, stopped after.

with SimProcess(load_default_settings(seed=1)) as sim:
    ...  # talk to sim.url over HTTP
    sim.stats()["total"]
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import HarnessError
from harness.sim.server import READY_PREFIX
from harness.sim.settings import SimSettings, repo_root, settings_to_json

__all__ = ["SimProcess", "SimStartError"]


class SimStartError(HarnessError):
    """The simulator subprocess did not come up; the message ends with its stderr."""


def _child_env() -> dict[str, str]:
    # The simulator needs no credentials, so it never gets any.
    env = {
        k: v
        for k, v in os.environ.items()
        if not any(s in k.upper() for s in ("API_KEY", "TOKEN", "SECRET", "PASSWORD"))
    }
    root = str(repo_root())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class SimProcess:
    """``python -m harness.sim`` in a subprocess, on 127.0.0.1 and a free port.

    Args:
        settings: What the simulator serves.
        host: Address to bind.
        port: Port (0: a free one).
        startup_timeout_s: How long :meth:`start` waits for the ready line.
        python: Interpreter to run (default: this one).
    """

    def __init__(
        self,
        settings: SimSettings,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 30.0,
        python: str | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.python = python or sys.executable
        self._proc: subprocess.Popen[str] | None = None
        self._url: str | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._stderr_path: Path | None = None

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT`` (no ``/v1``)."""
        if self._url is None:
            raise RuntimeError("SimProcess is not running; call start() first")
        return self._url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        """Whether the subprocess is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> SimProcess:
        """Start the subprocess and wait for its ready line.

        Raises:
            SimStartError: It exited or stayed silent past ``startup_timeout_s``.
        """
        if self._proc is not None:
            raise RuntimeError("SimProcess already started")
        self._tmp = tempfile.TemporaryDirectory(prefix="harness-sim-")
        tmp = Path(self._tmp.name)
        settings_file = tmp / "settings.json"
        settings_file.write_text(settings_to_json(self.settings), encoding="utf-8")
        self._stderr_path = tmp / "stderr.log"
        cmd = [
            self.python, "-m", "harness.sim",
            "--host", self.host, "--port", str(self.port),
            "--settings-file", str(settings_file),
            "--exit-with-parent", str(os.getpid()),
        ]  # fmt: skip
        with open(self._stderr_path, "w", encoding="utf-8") as err:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=_child_env(),
                cwd=str(repo_root()),
            )
        line = self._ready_line()
        if line is None or not line.startswith(READY_PREFIX):
            code = self._proc.poll()
            why = (
                f"timed out after {self.startup_timeout_s:g} s"
                if code is None
                else f"exit code {code}"
            )
            if code is not None:
                self._proc.wait()
            tail = self._stderr_tail() or "(empty)"
            self.stop()
            raise SimStartError(f"the simulator did not start ({why}); stderr: {tail}")
        self._url = line[len(READY_PREFIX) :].strip()
        return self

    def _ready_line(self) -> str | None:
        assert self._proc is not None and self._proc.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        stdout = self._proc.stdout

        def read() -> None:
            lines.put(stdout.readline() or None)

        threading.Thread(target=read, daemon=True).start()
        try:
            # readline gives "" (so None) as soon as the child exits.
            return lines.get(timeout=self.startup_timeout_s)
        except queue.Empty:
            return None

    def _stderr_tail(self, chars: int = 2000) -> str:
        if self._stderr_path is None or not self._stderr_path.exists():
            return ""
        return self._stderr_path.read_text(encoding="utf-8", errors="replace")[-chars:].strip()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate (SIGTERM), then kill if it is still up after ``timeout_s``. Idempotent."""
        proc, self._proc, self._url = self._proc, None, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout_s)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SimProcess:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        """``GET /sim/stats``: requests served by model and status."""
        return self._call("GET", "/sim/stats")

    def queue_faults(self, model: str, faults: list[str]) -> dict[str, Any]:
        """``POST /sim/faults``: the next requests for ``model`` (or ``*``) take these faults."""
        return self._call("POST", "/sim/faults", {"model": model, "faults": list(faults)})

    def reset(self) -> None:
        """``POST /sim/reset``: zero the stats, drop queued faults."""
        self._call("POST", "/sim/reset", {})
