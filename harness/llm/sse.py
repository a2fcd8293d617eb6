"""An incremental Server-Sent Events parser (the WHATWG ``text/event-stream`` format).

Written for the hot path: it works on bytes, splits only on the three line
endings the format allows (LF, CRLF, CR — also when a CRLF straddles two
network chunks), decodes each complete line once, and yields ``(event, data)``
pairs as soon as the blank line that ends an event arrives::

    async for event, data in aiter_sse(response.aiter_bytes()):
        ...

``event`` is ``"message"`` when the server named none; multi-line ``data``
fields are joined with ``\\n``; comments (``: keep-alive``), ``id`` and
``retry`` fields are read and dropped. An event still open when the bytes end
is discarded, as the format says — a cut stream never yields half an event.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["SSEDecoder", "aiter_sse"]

_LF = 0x0A
_CR = 0x0D


class SSEDecoder:
    """Feed bytes in any chunking; get complete ``(event, data)`` pairs out."""

    __slots__ = ("_buf", "_data", "_event", "_skip_lf", "_started")

    def __init__(self) -> None:
        self._buf = b""
        self._event = ""
        self._data: list[str] = []
        # The previous chunk ended in CR: a LF at the start of the next one
        # belongs to that CRLF, not to an empty line (which would end the event).
        self._skip_lf = False
        self._started = False

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        """Parse ``chunk``; return the events it completed (often none or one)."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
        buf = self._buf + chunk if self._buf else chunk
        if not self._started:
            if len(buf) < 3 and b"\xef\xbb\xbf".startswith(buf):
                self._buf = buf  # maybe a byte-order mark still arriving
                return []
            self._started = True
            if buf.startswith(b"\xef\xbb\xbf"):
                buf = buf[3:]
        # Fast path: most streams use LF only; splitlines also handles CR and CRLF.
        lines = buf.splitlines(keepends=True)
        if not lines:
            self._buf = b""
            return []
        last = lines[-1]
        if last[-1] not in (_LF, _CR):
            self._buf = last
            lines.pop()
        else:
            self._buf = b""
            if last[-1] == _CR:
                self._skip_lf = True
        out: list[tuple[str, str]] = []
        for raw in lines:
            self._line(raw.rstrip(b"\r\n"), out)
        return out

    def _line(self, line: bytes, out: list[tuple[str, str]]) -> None:
        if not line:
            if self._data:
                out.append((self._event or "message", "\n".join(self._data)))
            self._event = ""
            self._data = []
            return
        if line[0] == 0x3A:  # ":" starts a comment
            return
        text = line.decode("utf-8", "replace")
        name, sep, value = text.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        # "id", "retry" and unknown fields do not change what we yield.

    @property
    def pending(self) -> bool:
        """True while an event or a line is open (bytes seen, not yet dispatched)."""
        return bool(self._buf or self._data or self._event)


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[tuple[str, str]]:
    """Yield ``(event, data)`` for each complete event in a byte stream.

    Args:
        chunks: The body as bytes in any chunking, e.g. ``response.aiter_bytes()``.

    Yields:
        ``(event, data)`` pairs in arrival order.
    """
    decoder = SSEDecoder()
    async for chunk in chunks:
        for item in decoder.feed(chunk):
            yield item
