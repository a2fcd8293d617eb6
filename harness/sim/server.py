"""Running the simulator: uvicorn on a socket bound here, one ready line on stdout."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from typing import TextIO

from harness.sim.settings import SimSettings

__all__ = ["READY_PREFIX", "bind_socket", "serve"]

#: The line ``serve`` prints (then the URL) once it accepts connections.
READY_PREFIX = "harness.sim listening on "


class _QuietCuts(logging.Filter):
    """Drops uvicorn's complaint about responses cut on purpose (the ``cut``/``reset`` faults)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every reused connection waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def serve(
    settings: SimSettings,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    out: TextIO | None = None,
    parent_pid: int | None = None,
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM), or until ``parent_pid`` is gone.

    Tasks are indexed before the socket opens, so the ready line means ready.
    """
    import uvicorn

    from harness.sim.app import build_app

    app = build_app(settings)
    sock = bind_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        http="h11",
        loop="asyncio",
        lifespan="off",
        access_log=False,
        log_level="warning",
        # Clients keep pooled connections; closing them sooner invites reuse races.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=1,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    logging.getLogger("uvicorn.error").addFilter(_QuietCuts())
    url = f"http://{bound_host}:{bound_port}"
    asyncio.run(_run(server, sock, url, out or sys.stdout, parent_pid))


async def _run(
    server: object, sock: socket.socket, url: str, out: TextIO, parent_pid: int | None
) -> None:
    serving = asyncio.create_task(server.serve(sockets=[sock]))  # type: ignore[attr-defined]
    while not server.started:  # type: ignore[attr-defined]
        if serving.done():
            await serving
            raise RuntimeError("the simulator stopped before it started")
        await asyncio.sleep(0.005)
    out.write(f"{READY_PREFIX}{url}\n")
    out.flush()
    watch = asyncio.create_task(_watch_parent(server, parent_pid)) if parent_pid else None
    try:
        await serving
    finally:
        if watch is not None:
            watch.cancel()


async def _watch_parent(server: object, parent_pid: int) -> None:
    # A harness killed with SIGKILL cannot stop its simulator; the simulator notices instead.
    while True:
        await asyncio.sleep(0.5)
        if os.getppid() != parent_pid:
            server.should_exit = True  # type: ignore[attr-defined]
            return
