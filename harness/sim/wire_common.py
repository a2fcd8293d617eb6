"""Pieces both wire protocols share: request errors, SSE framing, chunking."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["Event", "WireError", "chunks", "dumps", "sse"]

#: One piece of a stream: its bytes and the output tokens it carries (0: structure only).
Event = tuple[bytes, float]


class WireError(Exception):
    """A request the real API would refuse: HTTP ``status`` with an error ``kind``."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


def dumps(obj: Any) -> str:
    """Compact JSON, as the APIs send it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def sse(data: str, event: str | None = None) -> bytes:
    """One server-sent event."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def chunks(text: str, size: int) -> list[str]:
    """``text`` in pieces of ``size`` characters (the last may be shorter)."""
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]
