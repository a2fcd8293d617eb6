"""The one pooled async HTTP client every provider adapter shares.

Why ``httpx2``: on this machine kind (2 cores), with the pool sized to the
concurrency, httpx 0.28 spent 21 ms of CPU per call at 256 concurrent calls
against 2.6 ms for ``httpx2`` (its API-compatible fork) — see DESIGN.md. One
client per run keeps connections alive across adapters and calls.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import httpx2

from harness.errors import ConfigError

__all__ = ["Timeouts", "make_http_client"]


@dataclass
class Timeouts:
    """Per-call time limits in seconds.

    ``connect``, ``read``, ``write`` and ``pool`` are the transport's limits
    (``read`` is the longest silence between two received chunks, so it also
    cuts a hung stream); ``total`` bounds a whole call, streaming included.
    """

    connect: float = 10
    """TCP (and TLS) connect."""
    read: float = 60
    """Longest wait for the next bytes of a response."""
    write: float = 30
    """Longest wait to send the next bytes of the request."""
    pool: float = 60
    """Longest wait for a free connection from the pool."""
    total: float = 600
    """The whole call, from sending the request to the last byte."""

    def __post_init__(self) -> None:
        for name in ("connect", "read", "write", "pool", "total"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigError(
                    f"timeout {name!r} must be a positive number of seconds, got {value!r}"
                )

    def with_overrides(self, **overrides: float | None) -> Timeouts:
        """A copy with the given limits replaced (None values keep this one's).

        Raises:
            ConfigError: An override is not a positive number, or names no limit.
        """
        changes = {k: v for k, v in overrides.items() if v is not None}
        if not changes:
            return self
        unknown = set(changes) - {"connect", "read", "write", "pool", "total"}
        if unknown:
            raise ConfigError(f"unknown timeout(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def transport(self) -> httpx2.Timeout:
        """The transport part as an ``httpx2.Timeout`` (``total`` is enforced by the adapter)."""
        return httpx2.Timeout(
            connect=self.connect, read=self.read, write=self.write, pool=self.pool
        )


def make_http_client(
    *,
    max_connections: int,
    timeouts: Timeouts,
    keepalive_expiry: float = 5.0,
) -> httpx2.AsyncClient:
    """Build the shared pooled client.

    Args:
        max_connections: Pool size; size it to the run's concurrency so no call
            waits for a connection (a pool smaller than the concurrency turns
            into ``pool`` timeouts under load).
        timeouts: Default transport timeouts (adapters pass their own per call).
        keepalive_expiry: Seconds an idle connection is kept for reuse.

    Returns:
        An ``httpx2.AsyncClient`` speaking HTTP/1.1 with keep-alive. The caller
        owns it and must ``await client.aclose()``.
    """
    if max_connections < 1:
        raise ConfigError(f"max_connections must be >= 1, got {max_connections}")
    limits = httpx2.Limits(
        max_connections=max_connections,
        # Every connection may stay alive: re-opening (and re-handshaking TLS)
        # under load costs more CPU than the idle sockets do.
        max_keepalive_connections=max_connections,
        keepalive_expiry=keepalive_expiry,
    )
    return httpx2.AsyncClient(
        limits=limits,
        timeout=timeouts.transport(),
        http1=True,
        http2=False,
        # A redirect on an API endpoint is a misconfigured api_base; following
        # it could replay the request (and its key) to another host.
        follow_redirects=False,
    )
