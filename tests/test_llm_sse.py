"""The SSE parser: framing rules of the text/event-stream format, in any chunking."""

from __future__ import annotations

import random

import pytest

from harness.llm.sse import SSEDecoder, aiter_sse

STREAM = (
    b": a comment, ignored\n"
    b"event: message_start\n"
    b'data: {"a": 1}\n'
    b"\n"
    b"data: line one\n"
    b"data: line two\n"
    b"id: 7\n"
    b"retry: 1000\n"
    b"\n"
    b"data:no-space\n"
    b"data:  two-spaces\n"
    b"\n"
    b"event: ping\n"
    b"\n"  # an event with no data is not dispatched
    b"data\n"  # a field without a colon: data is empty
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)
EXPECTED = [
    ("message_start", '{"a": 1}'),
    ("message", "line one\nline two"),
    ("message", "no-space\n two-spaces"),
    ("message", ""),
    ("message", "[DONE]"),
]


def _feed_all(decoder: SSEDecoder, pieces: list[bytes]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    return out


def _split(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(1, 12))))
    return [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_all_line_endings_in_any_chunking(newline: bytes) -> None:
    data = STREAM.replace(b"\n", newline)
    assert _feed_all(SSEDecoder(), [data]) == EXPECTED
    assert _feed_all(SSEDecoder(), [data[i : i + 1] for i in range(len(data))]) == EXPECTED
    rng = random.Random(newline[0])
    for _ in range(50):
        assert _feed_all(SSEDecoder(), _split(data, rng)) == EXPECTED


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    """A CR ending one chunk and the LF starting the next are one line ending, not two."""
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"\ndata: b\r") == []
    assert d.feed(b"\n\r") == [("message", "a\nb")]
    assert d.feed(b"\n") == []  # the LF of that last CRLF, not a new empty line
    assert not d.pending


def test_event_is_dispatched_as_soon_as_its_blank_line_arrives() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: x\n") == []
    assert d.pending
    assert d.feed(b"\n") == [("message", "x")]
    assert not d.pending


def test_utf8_split_inside_a_character_and_bom() -> None:
    data = "\ufeffdata: héllo — ✓\n\n".encode()
    events = _feed_all(SSEDecoder(), [data[i : i + 1] for i in range(len(data))])
    assert events == [("message", "héllo — ✓")]


def test_incomplete_event_at_end_is_not_dispatched() -> None:
    d = SSEDecoder()
    assert d.feed(b'data: {"partial": tr') == []
    assert d.pending  # the caller can tell a cut stream from a finished one


def test_event_name_resets_after_dispatch() -> None:
    events = _feed_all(SSEDecoder(), [b"event: error\ndata: 1\n\ndata: 2\n\n"])
    assert events == [("error", "1"), ("message", "2")]


async def test_aiter_sse_over_async_chunks() -> None:
    async def chunks():
        for i in range(0, len(STREAM), 5):
            yield STREAM[i : i + 5]

    assert [e async for e in aiter_sse(chunks())] == EXPECTED
