"""The gateway <-> worker frames: round trips, EOF, truncation, bad headers, oversize bodies;
``read_frame`` (a stream, the worker's side) and ``FrameReader`` (bytes as they arrive, the
gateway's side)."""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from callbox.worker.protocol import (
    MAX_HEADER_BYTES,
    BodyTooLarge,
    FrameReader,
    ProtocolError,
    encode,
    read_frame,
)


def stream(*chunks: bytes, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()
    return reader


def raw_frame(header: bytes, body: bytes = b"") -> bytes:
    """A frame built by hand, so bad headers can be sent."""
    return struct.pack(">II", len(header), len(body)) + header + body


# --- encode -----------------------------------------------------------------------------


def test_encode_lays_out_lengths_header_and_body() -> None:
    frame = encode({"type": "invoke", "id": "a"}, b"xyz")
    header = b'{"type":"invoke","id":"a"}'
    assert frame == struct.pack(">II", len(header), 3) + header + b"xyz"


def test_encode_keeps_non_ascii_text_and_stringifies_unknown_types() -> None:
    frame = encode({"type": "log", "message": "héllo ☎", "where": Path("/tmp/x")})
    header_len, body_len = struct.unpack(">II", frame[:8])
    assert body_len == 0
    assert json.loads(frame[8 : 8 + header_len]) == {
        "type": "log",
        "message": "héllo ☎",
        "where": "/tmp/x",
    }


# --- read_frame: good frames ------------------------------------------------------------


async def test_round_trip_with_body() -> None:
    header = {"type": "result", "id": "RQ1", "status": 200, "headers": [["A", "b"]]}
    reader = stream(encode(header, b"\x00binary\xffbody"))
    assert await read_frame(reader, max_body=1024) == (header, b"\x00binary\xffbody")


async def test_round_trip_without_body() -> None:
    reader = stream(encode({"type": "cancel", "id": "RQ2"}))
    assert await read_frame(reader, max_body=0) == ({"type": "cancel", "id": "RQ2"}, b"")


async def test_several_frames_in_one_chunk_then_eof_between_frames() -> None:
    reader = stream(encode({"type": "a"}, b"1") + encode({"type": "b"}) + encode({"type": "c"}))
    assert await read_frame(reader, 10) == ({"type": "a"}, b"1")
    assert await read_frame(reader, 10) == ({"type": "b"}, b"")
    assert await read_frame(reader, 10) == ({"type": "c"}, b"")
    with pytest.raises(EOFError, match="closed the connection"):
        await read_frame(reader, 10)


async def test_frame_arriving_in_pieces_is_reassembled() -> None:
    frame = encode({"type": "invoke", "id": "x"}, b"body")
    reader = stream(eof=False)

    async def feed() -> None:
        for byte in frame:
            reader.feed_data(bytes([byte]))
            await asyncio.sleep(0)

    feeder = asyncio.ensure_future(feed())
    assert await read_frame(reader, 100) == ({"type": "invoke", "id": "x"}, b"body")
    await feeder


async def test_body_exactly_at_the_limit_is_accepted() -> None:
    reader = stream(encode({"type": "result"}, b"12345"))
    assert await read_frame(reader, max_body=5) == ({"type": "result"}, b"12345")


# --- read_frame: EOF and truncation -----------------------------------------------------


async def test_eof_on_an_empty_stream() -> None:
    with pytest.raises(EOFError, match="the peer closed the connection"):
        await read_frame(stream(), 10)


async def test_truncated_length_prefix() -> None:
    with pytest.raises(EOFError):
        await read_frame(stream(b"\x00\x00\x00"), 10)


async def test_truncated_header() -> None:
    frame = encode({"type": "invoke", "id": "x"})
    with pytest.raises(EOFError, match="mid-frame"):
        await read_frame(stream(frame[:-4]), 10)


async def test_truncated_body() -> None:
    frame = encode({"type": "result"}, b"0123456789")
    with pytest.raises(EOFError, match="mid-frame"):
        await read_frame(stream(frame[:-3]), 100)


async def test_truncated_oversize_body_being_skipped() -> None:
    frame = encode({"type": "result"}, b"x" * 100)
    with pytest.raises(EOFError, match="mid-frame"):
        await read_frame(stream(frame[:-10]), max_body=10)


# --- read_frame: bad headers ------------------------------------------------------------


async def test_header_that_is_not_json() -> None:
    with pytest.raises(ProtocolError, match="frame header is not JSON"):
        await read_frame(stream(raw_frame(b"{not json")), 10)


async def test_header_that_is_not_utf8() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        await read_frame(stream(raw_frame(b'{"type": "\xff\xfe"}')), 10)


@pytest.mark.parametrize(
    "header",
    [b'{"id": "no type"}', b'["type", "invoke"]', b'"invoke"', b'{"type": 7}', b'{"type": null}'],
)
async def test_header_without_a_string_type(header: bytes) -> None:
    with pytest.raises(ProtocolError, match="JSON object with a string 'type'"):
        await read_frame(stream(raw_frame(header)), 10)


async def test_bad_header_consumes_its_body_so_the_next_frame_reads() -> None:
    reader = stream(raw_frame(b"garbage", b"body!") + encode({"type": "next"}, b"ok"))
    with pytest.raises(ProtocolError):
        await read_frame(reader, 10)
    assert await read_frame(reader, 10) == ({"type": "next"}, b"ok")


async def test_header_length_over_the_limit_is_refused_before_reading_it() -> None:
    prefix = struct.pack(">II", MAX_HEADER_BYTES + 1, 0)
    with pytest.raises(ProtocolError, match=f"{MAX_HEADER_BYTES + 1} bytes is over the limit"):
        await read_frame(stream(prefix), 10)


# --- read_frame: oversize bodies --------------------------------------------------------


async def test_oversize_body_raises_with_the_header_and_the_stream_stays_aligned() -> None:
    big = {"type": "result", "id": "RQbig", "status": 200}
    reader = stream(encode(big, b"x" * 5000) + encode({"type": "result", "id": "RQnext"}, b"ok"))
    with pytest.raises(BodyTooLarge) as caught:
        await read_frame(reader, max_body=1000)
    assert caught.value.header == big
    assert caught.value.size == 5000
    assert "5000 bytes is over the limit" in str(caught.value)
    assert isinstance(caught.value, ProtocolError)
    assert await read_frame(reader, max_body=1000) == ({"type": "result", "id": "RQnext"}, b"ok")


async def test_oversize_body_larger_than_one_read_chunk_is_skipped() -> None:
    body = b"y" * (3 * (1 << 20) + 17)
    reader = stream(encode({"type": "result", "id": "a"}, body) + encode({"type": "after"}))
    with pytest.raises(BodyTooLarge) as caught:
        await read_frame(reader, max_body=0)
    assert caught.value.size == len(body)
    assert await read_frame(reader, max_body=0) == ({"type": "after"}, b"")


async def test_oversize_body_with_a_bad_header_is_a_protocol_error() -> None:
    reader = stream(raw_frame(b"{}", b"z" * 50) + encode({"type": "next"}))
    with pytest.raises(ProtocolError) as caught:
        await read_frame(reader, max_body=10)
    assert not isinstance(caught.value, BodyTooLarge)
    assert await read_frame(reader, max_body=10) == ({"type": "next"}, b"")


# --- FrameReader: bytes as they arrive (the gateway's side) -------------------------------


class Collected:
    """A FrameReader and everything it delivered."""

    def __init__(self, max_body: int = 100) -> None:
        self.frames: list[tuple[dict[str, Any], bytes]] = []
        self.oversize: list[tuple[dict[str, Any], int]] = []
        self.reader = FrameReader(
            max_body,
            lambda header, body: self.frames.append((dict(header), bytes(body))),
            lambda header, size: self.oversize.append((dict(header), size)),
        )

    def feed(self, *chunks: bytes) -> Collected:
        for chunk in chunks:
            self.reader.feed(chunk)
        return self


def test_reader_delivers_many_frames_from_one_chunk() -> None:
    data = b"".join(encode({"type": "result", "id": str(i)}, b"b" * i) for i in range(20))
    got = Collected().feed(data)
    assert got.frames == [({"type": "result", "id": str(i)}, b"b" * i) for i in range(20)]
    assert not got.reader.pending


def test_reader_reassembles_a_frame_fed_one_byte_at_a_time() -> None:
    first = encode({"type": "result", "id": "x"}, b"body")
    data = first + encode({"type": "log", "id": "x"})
    got = Collected()
    for i, byte in enumerate(data, start=1):
        got.feed(bytes([byte]))
        # Between frames nothing is pending: EOF there is a clean end.
        assert got.reader.pending == (i not in (len(first), len(data)))
        assert len(got.frames) == (i >= len(first)) + (i == len(data))
    assert got.frames == [
        ({"type": "result", "id": "x"}, b"body"),
        ({"type": "log", "id": "x"}, b""),
    ]
    assert not got.reader.pending


@pytest.mark.parametrize("cut", [3, 8, 12, 30, -1])
def test_reader_joins_a_frame_split_anywhere_with_the_next_one(cut: int) -> None:
    first = encode({"type": "result", "id": "a"}, b"0123456789")
    second = encode({"type": "cancelled", "id": "b"})
    data = first + second
    got = Collected().feed(data[:cut], data[cut:])
    assert got.frames == [
        ({"type": "result", "id": "a"}, b"0123456789"),
        ({"type": "cancelled", "id": "b"}, b""),
    ]


def test_reader_accepts_a_body_exactly_at_the_limit() -> None:
    got = Collected(max_body=5).feed(encode({"type": "result"}, b"12345"))
    assert (got.frames, got.oversize) == ([({"type": "result"}, b"12345")], [])


def test_reader_skips_an_oversize_body_in_one_chunk_and_goes_on() -> None:
    data = encode({"type": "result", "id": "big"}, b"x" * 500) + encode({"type": "log"}, b"")
    got = Collected(max_body=100).feed(data)
    assert got.oversize == [({"type": "result", "id": "big"}, 500)]
    assert got.frames == [({"type": "log"}, b"")]


def test_reader_skips_an_oversize_body_arriving_over_many_chunks() -> None:
    body = b"y" * (3 * 65536 + 7)
    data = encode({"type": "result", "id": "big"}, body) + encode(
        {"type": "result", "id": "next"}, b"ok"
    )
    got = Collected(max_body=1000)
    for start in range(0, len(data), 65536):
        got.feed(data[start : start + 65536])
        if start + 65536 < len(data) - 40:
            assert got.oversize == []  # told once the body has passed, not before
    assert got.oversize == [({"type": "result", "id": "big"}, len(body))]
    assert got.frames == [({"type": "result", "id": "next"}, b"ok")]
    assert not got.reader.pending


def test_reader_is_pending_while_an_oversize_body_is_skipped() -> None:
    data = encode({"type": "result", "id": "big"}, b"z" * 300)
    got = Collected(max_body=10).feed(data[:-50])
    assert got.reader.pending and got.oversize == []
    got.feed(data[-50:])
    assert not got.reader.pending and got.oversize == [({"type": "result", "id": "big"}, 300)]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (raw_frame(b"{not json"), "frame header is not JSON"),
        (raw_frame(b'{"id": "no type"}'), "JSON object with a string 'type'"),
        (raw_frame(b"[1]", b"body"), "JSON object with a string 'type'"),
        (struct.pack(">II", MAX_HEADER_BYTES + 1, 0), "over the limit"),
        (raw_frame(b"{}", b"z" * 500), "JSON object with a string 'type'"),  # oversize, bad header
    ],
)
def test_reader_raises_on_a_bad_header_after_delivering_what_came_before(
    raw: bytes, message: str
) -> None:
    got = Collected()
    with pytest.raises(ProtocolError, match=message):
        got.feed(encode({"type": "result", "id": "before"}) + raw)
    assert got.frames == [({"type": "result", "id": "before"}, b"")]


def test_reader_is_pending_when_eof_would_cut_a_frame() -> None:
    data = encode({"type": "result", "id": "x"}, b"body")
    for cut in (1, 7, 8, len(data) - 1):
        assert Collected().feed(data[:cut]).reader.pending
    assert not Collected().feed(data).reader.pending
    assert not Collected().reader.pending


def test_reader_callbacks_may_be_swapped_between_frames() -> None:
    """The gateway reads the hello with one callback, then hands the rest to the Worker."""
    later: list[dict[str, Any]] = []
    got = Collected()

    def hello(header: dict[str, Any], _body: bytes) -> None:
        got.frames.append((dict(header), b""))
        got.reader.on_frame = lambda header, _body: later.append(dict(header))

    got.reader.on_frame = hello  # type: ignore[assignment]
    got.feed(encode({"type": "hello"}) + encode({"type": "result", "id": "1"}))
    assert got.frames == [({"type": "hello"}, b"")]
    assert later == [{"type": "result", "id": "1"}]
