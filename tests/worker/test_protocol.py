"""The gateway <-> worker frames: round trips, EOF, truncation, bad headers, oversize bodies."""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import pytest

from callbox.worker.protocol import (
    MAX_HEADER_BYTES,
    BodyTooLarge,
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
