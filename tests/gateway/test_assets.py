"""Static assets: content types, headers, missing files, validators, 304 and byte ranges."""

from __future__ import annotations

import os
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import pytest

from callbox.errors import NotFound
from callbox.gateway.assets import Served, content_type, serve_asset


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/index.html", "text/html; charset=utf-8"),
        ("/assets/index.html", "text/html; charset=utf-8"),
        ("/styles.css", "text/css; charset=utf-8"),
        ("/data.json", "application/json; charset=utf-8"),
        ("/logo.png", "image/png"),
        ("/icon.svg", "image/svg+xml; charset=utf-8"),
        ("/notes.txt", "text/plain; charset=utf-8"),
        ("/photo.jpg", "image/jpeg"),
        ("/file.unknownext", "application/octet-stream"),
        ("/no-extension", "application/octet-stream"),
    ],
)
def test_content_types(path: str, expected: str) -> None:
    assert content_type(path) == expected


def test_javascript_is_text_with_a_charset() -> None:
    assert content_type("/app.js") in {
        "text/javascript; charset=utf-8",
        "application/javascript; charset=utf-8",
    }


def test_content_type_uses_the_route_path_not_the_file_name() -> None:
    # assets/logo.private.png is served as /logo.png: the markers never decide the type.
    assert content_type("/logo.png") == "image/png"


async def read_asset(file: Path, route_path: str) -> tuple[list[tuple[str, str]], bytes]:
    served = await serve_asset(file, route_path, "GET", [])
    assert served.status == 200
    return served.headers, served.body


async def test_read_asset_returns_the_bytes_and_headers(tmp_path: Path) -> None:
    file = tmp_path / "style.private.css"
    file.write_bytes(b"body { color: red; }\n")
    headers, body = await read_asset(file, "/style.css")
    assert body == b"body { color: red; }\n"
    named = dict(headers)
    assert named["Content-Type"] == "text/css; charset=utf-8"
    assert named["Accept-Ranges"] == "bytes"
    assert named["ETag"].startswith('"') and named["ETag"].endswith('"')
    modified = parsedate_to_datetime(named["Last-Modified"])
    assert abs(modified.timestamp() - file.stat().st_mtime) < 1
    assert named["Last-Modified"].endswith("GMT")


async def test_read_asset_of_a_large_file(tmp_path: Path) -> None:
    file = tmp_path / "big.bin"
    data = bytes(range(256)) * 2048  # 512 KB: read on a thread
    file.write_bytes(data)
    headers, body = await read_asset(file, "/big.bin")
    assert body == data
    assert dict(headers)["Content-Type"] == "application/octet-stream"


async def test_read_asset_of_an_empty_file(tmp_path: Path) -> None:
    file = tmp_path / "empty.txt"
    file.write_bytes(b"")
    _, body = await read_asset(file, "/empty.txt")
    assert body == b""


async def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as caught:
        await read_asset(tmp_path / "gone.css", "/gone.css")
    assert caught.value.message == "The requested resource /gone.css was not found"
    assert caught.value.status == 404


async def test_a_folder_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        await read_asset(tmp_path, "/folder")


async def test_a_path_through_a_file_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotFound):
        await read_asset(tmp_path / "file.txt" / "inner.txt", "/file.txt/inner.txt")


# --- validators, 304, HEAD, ranges (issue 13) -----------------------------------------------

DATA = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def asset(tmp_path: Path) -> Path:
    file = tmp_path / "data.bin"
    file.write_bytes(DATA)
    os.utime(file, (1_700_000_000, 1_700_000_000))
    return file


async def serve(file: Path, method: str = "GET", **headers: str) -> Served:
    raw = [(k.replace("_", "-").lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
    return await serve_asset(file, "/data.bin", method, raw)


async def test_head_has_the_headers_and_length_but_no_body(asset: Path) -> None:
    got = await serve(asset)
    head = await serve(asset, "HEAD")
    assert (head.status, head.body, head.length) == (200, b"", len(DATA))
    assert head.headers == got.headers


async def test_the_etag_changes_with_the_file(asset: Path) -> None:
    before = dict((await serve(asset)).headers)["ETag"]
    assert dict((await serve(asset)).headers)["ETag"] == before
    asset.write_bytes(DATA[:-1] + b"x")
    os.utime(asset, (1_700_000_001, 1_700_000_001))
    assert dict((await serve(asset)).headers)["ETag"] != before


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_matching_if_none_match_is_304(asset: Path, method: str) -> None:
    etag = dict((await serve(asset)).headers)["ETag"]
    for value in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        answer = await serve(asset, method, if_none_match=value)
        assert answer.status == 304, value
        assert answer.body == b""
        assert dict(answer.headers)["ETag"] == etag
        assert "Last-Modified" in dict(answer.headers)


async def test_if_none_match_decides_over_if_modified_since(asset: Path) -> None:
    later = formatdate(1_800_000_000, usegmt=True)
    answer = await serve(asset, if_none_match='"other"', if_modified_since=later)
    assert (answer.status, answer.body) == (200, DATA)


@pytest.mark.parametrize(
    ("since", "status"),
    [
        (formatdate(1_700_000_000, usegmt=True), 304),
        (formatdate(1_800_000_000, usegmt=True), 304),
        ("Tue, 14 Nov 2023 22:13:20 -0000", 304),  # the same instant, as UTC without a zone
        (formatdate(1_600_000_000, usegmt=True), 200),
        ("not a date", 200),
    ],
)
async def test_if_modified_since(asset: Path, since: str, status: int) -> None:
    assert (await serve(asset, if_modified_since=since)).status == status


async def test_post_ignores_conditions_and_ranges(asset: Path) -> None:
    answer = await serve(asset, "POST", if_none_match="*", range="bytes=0-1")
    assert (answer.status, answer.body) == (200, DATA)


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=-5000", 0, 1023),
        ("bytes=1000-99999", 1000, 1023),
        ("BYTES = 5-5", 5, 5),
    ],
)
async def test_one_range_is_a_206(asset: Path, spec: str, first: int, last: int) -> None:
    answer = await serve(asset, range=spec)
    assert answer.status == 206
    assert answer.body == DATA[first : last + 1]
    assert dict(answer.headers)["Content-Range"] == f"bytes {first}-{last}/1024"
    assert dict(answer.headers)["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("spec", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
async def test_a_range_outside_the_file_is_a_416(asset: Path, spec: str) -> None:
    answer = await serve(asset, range=spec)
    assert answer.status == 416
    assert dict(answer.headers)["Content-Range"] == "bytes */1024"
    assert answer.body == b""


@pytest.mark.parametrize(
    "spec", ["bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=a-b", "bytes=-", "bytes=0"]
)
async def test_ranges_it_does_not_serve_get_the_whole_file(asset: Path, spec: str) -> None:
    answer = await serve(asset, range=spec)
    assert (answer.status, answer.body) == (200, DATA)


async def test_head_ignores_a_range(asset: Path) -> None:
    answer = await serve(asset, "HEAD", range="bytes=0-1")
    assert (answer.status, answer.length) == (200, len(DATA))


async def test_if_range_applies_the_range_only_to_the_same_version(asset: Path) -> None:
    headers = dict((await serve(asset)).headers)
    same = [headers["ETag"], headers["Last-Modified"]]
    for condition in same:
        assert (await serve(asset, range="bytes=0-1", if_range=condition)).status == 206
    other = ['"stale"', f"W/{headers['ETag']}", formatdate(1_600_000_000, usegmt=True)]
    for condition in other:
        answer = await serve(asset, range="bytes=0-1", if_range=condition)
        assert (answer.status, answer.body) == (200, DATA), condition


async def test_a_range_of_a_large_file_reads_only_the_range(tmp_path: Path) -> None:
    file = tmp_path / "big.bin"
    data = os.urandom(600 * 1024)  # over the inline limit: read on a thread
    file.write_bytes(data)
    answer = await serve_asset(file, "/big.bin", "GET", [(b"range", b"bytes=300000-300009")])
    assert (answer.status, answer.body) == (206, data[300000:300010])


async def test_an_empty_file_has_no_satisfiable_range(tmp_path: Path) -> None:
    file = tmp_path / "empty.txt"
    file.write_bytes(b"")
    answer = await serve_asset(file, "/empty.txt", "GET", [(b"range", b"bytes=0-")])
    assert answer.status == 416
