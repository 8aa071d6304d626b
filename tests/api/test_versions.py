from __future__ import annotations

import hashlib
import re

import httpx
import pytest
import sqlalchemy as sa
from factories import SOURCE, TIMESTAMP, function, service, upload, walk

from callbox import rules
from callbox.api import versions as module
from callbox.api.openapi import openapi_document
from callbox.errors import BadRequest
from callbox.store.db import Store
from callbox.store.tables import versions


async def make_function(client: httpx.AsyncClient) -> tuple[str, str]:
    """Service "app" with function /hello: their SIDs."""
    service_sid = (await service(client, "app"))["sid"]
    return service_sid, (await function(client, service_sid))["sid"]


async def test_upload_answers_the_wire_format(client: httpx.AsyncClient, store: Store) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    r = await upload(client, base, path="hello", visibility="Protected")
    assert r.status_code == 201, r.text
    body = r.json()
    assert re.match(r"^ZN[0-9a-f]{32}$", body["sid"])
    url = f"http://api.test{base}/{body['sid']}"
    assert body == {
        "sid": body["sid"],
        "account_sid": body["account_sid"],
        "service_sid": service,
        "function_sid": function,
        "path": "/hello",  # the leading slash is added
        "visibility": "protected",  # case-insensitive in, lower case out
        "content_sha256": hashlib.sha256(SOURCE.encode()).hexdigest(),  # beyond Twilio
        "date_created": body["date_created"],
        "url": url,
        "links": {"function_version_content": f"{url}/Content"},
    }
    assert body["account_sid"].startswith("AC") and TIMESTAMP.match(body["date_created"])
    with store.begin() as conn:
        row = conn.execute(sa.select(versions).where(versions.c.sid == body["sid"])).one()
    data = SOURCE.encode()
    assert row.kind == "function" and row.resource_sid == function
    assert row.content_sha256 == hashlib.sha256(data).hexdigest() and row.size == len(data)
    assert row.content_type == "application/x-python"
    assert store.blobs.get(row.content_sha256) == data


async def test_fetch_and_content_round_trip(client: httpx.AsyncClient) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    created = (await upload(client, base)).json()
    # the service's unique name works wherever its SID does
    r = await client.get(f"/v1/Services/app/Functions/{function}/Versions/{created['sid']}")
    assert r.status_code == 200 and r.json() == created
    r = await client.get(created["links"]["function_version_content"])
    assert r.status_code == 200
    assert r.json() == {
        "sid": created["sid"],
        "account_sid": created["account_sid"],
        "service_sid": service,
        "function_sid": function,
        "content": SOURCE,
        "url": created["url"] + "/Content",
    }


async def test_a_generic_content_type_is_named_by_the_file_name(
    client: httpx.AsyncClient, store: Store
) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    generic = await upload(client, base, content_type="application/octet-stream")
    # a file part with no Content-Type header at all
    raw = (
        b"--b\r\nContent-Disposition: form-data; name=Path\r\n\r\n/h\r\n"
        b"--b\r\nContent-Disposition: form-data; name=Visibility\r\n\r\nprivate\r\n"
        b'--b\r\nContent-Disposition: form-data; name=Content; filename="h"\r\n\r\n'
        b"x = 1\r\n--b--\r\n"
    )
    bare = await client.post(
        base, content=raw, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    script = await upload(
        client, base, content_type="application/octet-stream", filename="hello.js"
    )
    # hello.py, no extension (the build's runtime then decides the language), hello.js
    expected = ["text/x-python", "application/octet-stream", "application/javascript"]
    for r, content_type in zip((generic, bare, script), expected, strict=True):
        assert r.status_code == 201, r.text
        with store.begin() as conn:
            row = conn.execute(sa.select(versions).where(versions.c.sid == r.json()["sid"])).one()
        assert row.content_type == content_type


async def test_missing_parts(client: httpx.AsyncClient) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    file = {"Content": ("hello.py", b"x = 1", "text/x-python")}
    cases = [
        ({"Visibility": "public"}, file, "Path"),
        ({"Path": "", "Visibility": "public"}, file, "Path"),
        ({"Path": "/hello"}, file, "Visibility"),
        ({"Path": "/hello", "Visibility": "public"}, {"Other": ("x", b"x", "text/plain")}, "file"),
    ]
    for data, files, word in cases:
        r = await client.post(base, data=data, files=files)
        assert r.status_code == 400, data
        assert r.json()["code"] == 20001 and word in r.json()["message"], r.json()


async def test_content_must_be_a_file_part(client: httpx.AsyncClient) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    data = {"Path": "/hello", "Visibility": "public", "Content": "x = 1"}
    # a text field in a multipart body, and a plain urlencoded body
    r = await client.post(base, data=data, files={"Other": ("x", b"x", "text/plain")})
    assert r.status_code == 400 and "file" in r.json()["message"]
    r = await client.post(base, data=data)
    assert r.status_code == 400 and "file" in r.json()["message"]
    r = await client.post(base, json=data)
    assert r.status_code == 400 and r.json()["code"] == 20001
    # Path sent as a file is refused too
    r = await client.post(
        base,
        data={"Visibility": "public"},
        files={"Path": ("p", b"/hello", "text/plain"), "Content": ("h", b"x", "text/plain")},
    )
    assert r.status_code == 400 and "Path" in r.json()["message"]


async def test_wrong_visibility(client: httpx.AsyncClient) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    for bad in ("secret", "publicx", "1"):
        r = await upload(client, base, visibility=bad)
        assert r.status_code == 400, bad
        assert r.json()["message"] == (
            f"Parameter Visibility must be one of public, protected or private; found {bad!r}."
        )
    for good in ("PUBLIC", "Private", "protected"):
        r = await upload(client, base, visibility=good)
        assert r.status_code == 201 and r.json()["visibility"] == good.lower()


@pytest.mark.parametrize("char", list("#;,?:@+&$()'\" \\") + ["\t", "\x7f"])
async def test_forbidden_path_characters(client: httpx.AsyncClient, char: str) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    r = await upload(client, base, path=f"/a{char}b")
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 20001 and repr(char) in r.json()["message"]


@pytest.mark.parametrize("path", ["/", "//a", "/a//b", "/a/", "/./a", "/a/..", "/../a"])
async def test_bad_path_segments(client: httpx.AsyncClient, path: str) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    r = await upload(client, base, path=path)
    assert r.status_code == 400 and "segments" in r.json()["message"], r.text


async def test_path_length(client: httpx.AsyncClient) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    longest = "/" + "a" * 200 + "/" + "b" * 53
    r = await upload(client, base, path=longest)
    assert r.status_code == 201 and r.json()["path"] == longest and len(longest) == 255
    # 255 without the slash becomes 256 once it is added
    for path in ("/" + "a" * 255, "a" * 255):
        r = await upload(client, base, path=path)
        assert r.status_code == 400
        assert r.json()["message"] == "Path is too long: at most 255 characters, found 256."
    r = await upload(client, base, path="/dir/sub-dir/ok_name.v2~é")
    assert r.status_code == 201 and r.json()["path"] == "/dir/sub-dir/ok_name.v2~é"


async def test_function_size_limit(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "MAX_FUNCTION_BYTES", 10)
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    r = await upload(client, base, content=b"x" * 10)
    assert r.status_code == 201
    r = await upload(client, base, content=b"x" * 11)
    assert r.status_code == 413 and r.json()["code"] == 82007
    assert r.json()["message"] == "Function source may be at most 10 bytes; this one is 11 bytes."


async def test_size_limit_message_names_megabytes() -> None:
    with pytest.raises(Exception, match=r"at most 10 MB \(10485760 bytes\)"):
        module._check_size(module.FUNCTION, "public", 10 * 1024 * 1024 + 1)


async def test_function_source_must_be_utf8(client: httpx.AsyncClient) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    r = await upload(client, base, content=b"x = '\xff'\n")
    assert r.status_code == 400
    assert r.json()["message"] == (
        "Function source must be UTF-8 text; found byte 0xff at offset 5. Save the file as UTF-8."
    )


async def test_versions_pagination(client: httpx.AsyncClient) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    made = [(await upload(client, base, path=f"/v{i}")).json()["sid"] for i in range(5)]
    # a version of another function is not listed
    r = await client.post(f"/v1/Services/{service}/Functions", data={"FriendlyName": "x"})
    await upload(client, f"/v1/Services/{service}/Functions/{r.json()['sid']}/Versions")
    prefix = f"http://api.test{base}?"
    seen, body = await walk(client, base, key="function_versions", prefix=prefix, PageSize=2)
    assert [v["sid"] for v in seen] == made and body["meta"]["page"] == 2
    r = await client.get(base, params={"PageSize": "zero"})
    assert r.status_code == 400


async def test_unknown_and_malformed_sids(client: httpx.AsyncClient) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    sid = (await upload(client, base)).json()["sid"]
    r = await client.post(f"/v1/Services/{service}/Functions", data={"FriendlyName": "other"})
    other_function = r.json()["sid"]
    missing = [
        f"{base}/ZN{'0' * 32}",
        f"{base}/not-a-sid",
        f"{base}/{sid}x",
        f"{base}/ZH{sid[2:]}",
        f"/v1/Services/{service}/Functions/{other_function}/Versions/{sid}",
        f"/v1/Services/{service}/Assets/{function}/Versions/{sid}",
        f"/v1/Services/{service}/Functions/ZH{'0' * 32}/Versions",
        f"/v1/Services/nope/Functions/{function}/Versions",
        f"/v1/Services/{service}/Functions/{other_function}/Versions/{sid}/Content",
        f"{base}/ZN{'0' * 32}/Content",
    ]
    for url in missing:
        r = await client.get(url)
        assert r.status_code == 404, url
        assert r.json()["message"] == f"The requested resource {url[3:]} was not found"
    r = await upload(client, f"/v1/Services/{service}/Functions/ZH{'0' * 32}/Versions")
    assert r.status_code == 404
    r = await upload(client, f"/v1/Services/{service}/Assets/{function}/Versions")
    assert r.status_code == 404


async def test_versions_are_immutable(client: httpx.AsyncClient) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    sid = (await upload(client, base)).json()["sid"]
    assert (await client.post(f"{base}/{sid}", data={"Path": "/x"})).status_code == 405
    assert (await client.delete(f"{base}/{sid}")).status_code == 405


async def test_another_account_gets_404(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    sid = (await upload(client, base)).json()["sid"]
    for url in (base, f"{base}/{sid}", f"{base}/{sid}/Content"):
        assert (await other.get(url)).status_code == 404, url
    assert (await upload(other, base)).status_code == 404
    # the other account's own service named "app" does not open the first one's
    await other.post("/v1/Services", data={"UniqueName": "app", "FriendlyName": "Mine"})
    r = await other.get(f"/v1/Services/app/Functions/{function}/Versions/{sid}")
    assert r.status_code == 404


def test_a_path_segment_too_long_for_a_file_name_is_refused_at_upload() -> None:
    # From the review: it was accepted, then its build failed showing the server's data path.
    with pytest.raises(BadRequest):
        module.check_path("/" + "a" * 254)


async def test_path_segments_are_limited_in_utf8_bytes(client: httpx.AsyncClient) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    fits = "/dir/" + "é" * 100  # 200 bytes: with ".py" still far below the 255 of a file name
    r = await upload(client, base, path=fits)
    assert r.status_code == 201 and r.json()["path"] == fits
    for path in ("/" + "é" * 100 + "a", "/" + "a" * 201 + "/x", "a" * 201):
        r = await upload(client, base, path=path)
        assert r.status_code == 400, path
        assert r.json()["code"] == 20001
        message = r.json()["message"]
        assert "is 201 bytes long" in message and "at most 200 bytes (UTF-8)" in message


PATH_SAMPLES = [
    "/a",
    "a",
    "/dir/sub-dir/ok_name.v2~é",
    "/" + "a" * 200 + "/" + "b" * 53,  # 255
    "a" * 200 + "/" + "b" * 53,  # 254, and 255 once the slash is added
    "a" * 200 + "/" + "b" * 54,  # 256 once the slash is added
    "/" + "a" * 200 + "/" + "b" * 54,
    "/" + "a" * 201,  # a segment of 201 characters
    "/a//b",
    "/a/",
    "/./a",
    "/a/..",
    "/..a",
    "/a b",
    "/a#b",
    "/a\\b",
    "/a\tb",
    "/a\x7fb",
    "/a\x85b",  # a C1 control character is allowed
]


@pytest.fixture
def doc_path_rule() -> dict:
    """The Path property of the upload form, as /v1/openapi.json publishes it."""
    post = openapi_document("http://api.test")["paths"][
        "/v1/Services/{ServiceSid}/Functions/{FunctionSid}/Versions"
    ]["post"]
    return post["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["Path"]


async def test_the_documented_path_rule_is_the_upload_rule(
    client: httpx.AsyncClient, doc_path_rule: dict
) -> None:
    service, function = await make_function(client)
    base = f"/v1/Services/{service}/Functions/{function}/Versions"
    for path in PATH_SAMPLES:
        admitted = len(path) <= doc_path_rule["maxLength"] and bool(
            re.search(doc_path_rule["pattern"], path)
        )
        r = await upload(client, base, path=path)
        assert (r.status_code == 201) == admitted, (path, r.text)
    # What the pattern cannot say: a segment's limit is in UTF-8 bytes (100 "é" are 200).
    assert re.search(doc_path_rule["pattern"], "/" + "é" * 101)
    r = await upload(client, base, path="/" + "é" * 101)
    assert r.status_code == 400 and "202 bytes long" in r.json()["message"]
    assert (await upload(client, base, path="/" + "é" * 100)).status_code == 201
