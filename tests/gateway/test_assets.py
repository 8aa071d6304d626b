"""Static assets: content types, headers, missing files."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from callbox.errors import NotFound
from callbox.gateway.assets import content_type, read_asset


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


async def test_read_asset_returns_the_bytes_and_headers(tmp_path: Path) -> None:
    file = tmp_path / "style.private.css"
    file.write_bytes(b"body { color: red; }\n")
    headers, body = await read_asset(file, "/style.css")
    assert body == b"body { color: red; }\n"
    named = dict(headers)
    assert named["Content-Type"] == "text/css; charset=utf-8"
    assert named["Accept-Ranges"] == "none"
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
