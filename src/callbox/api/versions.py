"""Function and Asset Versions: ``.../Functions/{FunctionSid}/Versions`` and the Assets twin.

A version is immutable: one upload (multipart ``Path``, ``Visibility`` and a ``Content`` file)
gives one row, whose bytes go to the content-addressed blob store. There is no update or
delete; a function or asset's versions go when it does. Only function versions have a
``/Content`` endpoint, which returns the source text.
"""

from __future__ import annotations

import mimetypes
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa

from callbox.api import lookup
from callbox.api.endpoint import Call, Handler, Reply
from callbox.api.functions import ASSET, FUNCTION, Kind, find
from callbox.api.render import page, timestamp
from callbox.builds.validate import MAX_SEGMENT_BYTES
from callbox.errors import BadRequest, PayloadTooLarge
from callbox.rules import max_bytes, size_text
from callbox.store.db import utcnow
from callbox.store.sids import VERSION, new_sid
from callbox.store.tables import versions

MAX_PATH = 255
VISIBILITIES = ("public", "protected", "private")
# The npm client's checkForValidPath forbids these; backslash and control characters are
# refused too, since a path becomes both a URL and a file name in the build.
FORBIDDEN = set("#;,?:@+&$()'\" \\")
# Without a part Content-Type (or with the generic one every client falls back to) a
# function's type comes from the part's file name: .js is JavaScript, .py Python; otherwise it
# stays generic, and the build's runtime decides its language (callbox.builds.runtimes).
FUNCTION_TYPES = {".js": "application/javascript", ".py": "text/x-python"}
GENERIC_TYPE = "application/octet-stream"


def render(call: Call, kind: Kind, row: Any) -> dict[str, Any]:
    url = call.url(f"{kind.path(row.service_sid, row.resource_sid)}/Versions/{row.sid}")
    body: dict[str, Any] = {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "service_sid": row.service_sid,
        kind.parent_field: row.resource_sid,
        "path": row.path,
        "visibility": row.visibility,
        "content_sha256": row.content_sha256,  # beyond Twilio: lets a deploy skip re-uploads
        "date_created": timestamp(row.date_created),
        "url": url,
    }
    if kind is FUNCTION:
        body["links"] = {"function_version_content": f"{url}/Content"}
    return body


def list_versions(kind: Kind, call: Call) -> Reply:
    with call.api.store.begin() as conn:
        parent = find(call, conn, kind, kind.parent_param)
        query = sa.select(versions).where(versions.c.resource_sid == parent.sid)
        body = page(
            call,
            conn,
            query,
            versions,
            key=kind.versions_key,
            path=f"{kind.path(parent.service_sid, parent.sid)}/Versions",
            render=lambda row: render(call, kind, row),
        )
    return Reply(200, body)


def fetch_version(kind: Kind, call: Call) -> Reply:
    with call.api.store.begin() as conn:
        row = _find_version(call, conn, kind)
    return Reply(200, render(call, kind, row))


def fetch_content(call: Call) -> Reply:
    """The uploaded source of a function version, as text."""
    with call.api.store.read() as conn:
        row = _find_version(call, conn, FUNCTION)
    # Checked to be UTF-8 at upload; "replace" keeps a damaged blob from becoming a 500.
    content = call.api.store.blobs.get(row.content_sha256).decode("utf-8", "replace")
    url = call.url(f"{FUNCTION.path(row.service_sid, row.resource_sid)}/Versions/{row.sid}")
    return Reply(
        200,
        {
            "sid": row.sid,
            "account_sid": row.account_sid,
            "service_sid": row.service_sid,
            "function_sid": row.resource_sid,
            "content": content,
            "url": f"{url}/Content",
        },
    )


def _find_version(call: Call, conn: sa.Connection, kind: Kind) -> Any:
    parent = find(call, conn, kind, kind.parent_param)
    return lookup.child(call, conn, versions, VERSION, resource_sid=parent.sid)


def create_version(kind: Kind, call: Call) -> Reply:
    """Upload a version: multipart/form-data with Path, Visibility and a Content file."""
    path = check_path(call.form.required("Path"))
    visibility = check_visibility(call.form.required("Visibility"))
    upload = call.files.get("Content")
    if upload is None:
        if "Content" in call.form:
            raise BadRequest(
                "Parameter Content must be a file part of a multipart/form-data body "
                "(with a filename), not a text field; send the file as Content."
            )
        raise BadRequest(
            "Missing required parameter Content: send the file as a multipart/form-data part "
            "named Content."
        )
    data: bytes = upload.file.read()
    _check_size(kind, visibility, len(data))
    content_type = _content_type(kind, path, upload.content_type, upload.filename)
    if kind is FUNCTION:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(
                f"Function source must be UTF-8 text; found byte {data[exc.start]:#04x} at "
                f"offset {exc.start}. Save the file as UTF-8."
            ) from None
    with call.api.store.begin() as conn:
        parent = find(call, conn, kind, kind.parent_param)
        sid = new_sid(VERSION)
        conn.execute(
            versions.insert().values(
                sid=sid,
                account_sid=call.account_sid,
                service_sid=parent.service_sid,
                resource_sid=parent.sid,
                kind=kind.name,
                path=path,
                visibility=visibility,
                content_sha256=call.api.store.blobs.put(data),
                size=len(data),
                content_type=content_type,
                date_created=utcnow(),
            )
        )
        row = conn.execute(sa.select(versions).where(versions.c.sid == sid)).one()
    return Reply(201, render(call, kind, row))


def check_path(raw: str) -> str:
    """The route a version is served at: '/' added in front, then the npm client's rules."""
    path = raw if raw.startswith("/") else "/" + raw
    if len(path) > MAX_PATH:
        raise BadRequest(f"Path is too long: at most {MAX_PATH} characters, found {len(path)}.")
    bad = sorted({c for c in path if c in FORBIDDEN or ord(c) < 0x20 or ord(c) == 0x7F})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise BadRequest(
            f"Path {path!r} contains {shown}; a path may not contain '#', space, backslash, "
            "control characters or any of ; , ? : @ + & $ ( ) ' \"."
        )
    parts = path[1:].split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise BadRequest(
            f"Path {path!r} is invalid: it must name a file, with no empty, '.' or '..' "
            "segments (no '//' and no '/' at the end)."
        )
    # Each segment becomes a file or folder name in the build, which the builder cannot write
    # past the file system's 255 bytes: refused here, where the user can still choose another.
    long = next((part for part in parts if len(part.encode()) > MAX_SEGMENT_BYTES), None)
    if long is not None:
        raise BadRequest(
            f"Path segment {long[:20]!r}... is {len(long.encode())} bytes long; each part of a "
            f"path between slashes may be at most {MAX_SEGMENT_BYTES} bytes (UTF-8), since it "
            "becomes a file name. Use shorter names or more folders."
        )
    return path


def check_visibility(raw: str) -> str:
    value = raw.strip().lower()
    if value not in VISIBILITIES:
        raise BadRequest(
            f"Parameter Visibility must be one of public, protected or private; found {raw!r}."
        )
    return value


def _check_size(kind: Kind, visibility: str, size: int) -> None:
    limit = max_bytes(kind.name, visibility)
    what = "Function source" if kind is FUNCTION else f"A {visibility} asset"
    if size > limit:
        raise PayloadTooLarge(
            f"{what} may be at most {size_text(limit)}; this one is {size} bytes."
        )


def _content_type(kind: Kind, path: str, sent: str | None, filename: str | None) -> str:
    sent = (sent or "").strip()
    if sent and sent.lower() != GENERIC_TYPE:
        if len(sent) > 255:
            raise BadRequest(f"The Content part's Content-Type is too long ({len(sent)} chars).")
        return sent
    if kind is FUNCTION:
        suffix = PurePosixPath(filename or "").suffix.lower()
        return FUNCTION_TYPES.get(suffix, GENERIC_TYPE)
    return mimetypes.guess_type(path)[0] or GENERIC_TYPE


def _routes(kind: Kind) -> list[tuple[str, str, Handler]]:
    collection = f"/v1/Services/{{ServiceSid}}/{kind.collection}/{{{kind.parent_param}}}/Versions"
    routes: list[tuple[str, str, Handler]] = [
        (collection, "GET", partial(list_versions, kind)),
        (collection, "POST", partial(create_version, kind)),
        (f"{collection}/{{Sid}}", "GET", partial(fetch_version, kind)),
    ]
    if kind is FUNCTION:
        routes.append((f"{collection}/{{Sid}}/Content", "GET", fetch_content))
    return routes


ROUTES = [*_routes(FUNCTION), *_routes(ASSET)]
