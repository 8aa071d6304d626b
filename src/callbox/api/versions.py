"""Function and Asset Versions: ``.../Functions/{FunctionSid}/Versions`` and the Assets twin.

A version is immutable: one upload (multipart ``Path``, ``Visibility`` and a ``Content`` file)
gives one row, whose bytes go to the content-addressed blob store. There is no update or
delete; a function or asset's versions go when it does. Only function versions have a
``/Content`` endpoint, which returns the source text.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa

from callbox.api import lookup
from callbox.api.endpoint import Call, Handler, Reply, operation
from callbox.api.functions import ASSET, FUNCTION, Kind, find
from callbox.api.params import Param
from callbox.api.render import PAGING, page, timestamp
from callbox.api.shapes import Shape, date, links, one_of, sid_of, string, url
from callbox.builds.validate import MAX_SEGMENT_BYTES
from callbox.errors import BadRequest, PayloadTooLarge
from callbox.rules import max_bytes, size_text
from callbox.store.db import utcnow
from callbox.store.sids import ACCOUNT, RESOURCE, SERVICE, VERSION, new_sid
from callbox.store.tables import versions

MAX_PATH = 255
VISIBILITIES = ("public", "protected", "private")
# The npm client's checkForValidPath forbids these; backslash and control characters are
# refused too, since a path becomes both a URL and a file name in the build.
FORBIDDEN = set("#;,?:@+&$()'\" \\")
# The same rules as a pattern, for the document: segments of allowed characters, none of them
# "." or "..", at most MAX_SEGMENT_BYTES long (in characters here: the bytes are checked too).
_NAME_CHAR = "[^/#;,?:@+&$()'\" \\\\\\x00-\\x1f\\x7f]"
_SEGMENT = f"(?!\\.\\.?(?:/|$)){_NAME_CHAR}{{1,{MAX_SEGMENT_BYTES}}}"
# With the "/" added in front, at most MAX_PATH characters: 254 when the client sent none.
PATH_PATTERN = f"(?=/?[\\s\\S]{{1,{MAX_PATH - 1}}}$)/?{_SEGMENT}(?:/{_SEGMENT})*"
# Without a part Content-Type (or with the generic one every client falls back to) a
# function's type comes from the part's file name: .js is JavaScript, .py Python; otherwise it
# stays generic, and the build's runtime decides its language (callbox.builds.runtimes).
FUNCTION_TYPES = {".js": "application/javascript", ".py": "text/x-python"}
GENERIC_TYPE = "application/octet-stream"


def shape(kind: Kind) -> Shape:
    """A version's JSON: a FunctionVersion (with a link to its content) or an AssetVersion."""
    extra = {"links": links("function_version_content")} if kind is FUNCTION else {}
    return Shape(
        f"{kind.label}Version",
        sid=sid_of(VERSION),
        account_sid=sid_of(ACCOUNT),
        service_sid=sid_of(SERVICE),
        **{kind.parent_field: sid_of(RESOURCE)},
        path=string(),
        visibility=one_of(*VISIBILITIES),
        content_sha256=string(description="Beyond Twilio: the SHA-256 of the content, in hex."),
        date_created=date(),
        url=url(),
        **extra,
    )


CONTENT_JSON = Shape(
    "FunctionVersionContent",
    sid=sid_of(VERSION),
    account_sid=sid_of(ACCOUNT),
    service_sid=sid_of(SERVICE),
    function_sid=sid_of(RESOURCE),
    content=string(),
    url=url(),
)


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


@operation(*PAGING)
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


@operation()
def fetch_version(kind: Kind, call: Call) -> Reply:
    with call.api.store.begin() as conn:
        row = _find_version(call, conn, kind)
    return Reply(200, render(call, kind, row))


@operation(returns=CONTENT_JSON)
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


@operation(
    Param(
        "Path",
        required=True,
        max_length=MAX_PATH,
        pattern=PATH_PATTERN,
        check=check_path,
        too_long="Path is too long: at most {limit} characters, found {found}.",
        description="Where it is served; a leading '/' is added when missing (and counts).",
    ),
    Param(
        "Visibility",
        required=True,
        enum=VISIBILITIES,
        check=check_visibility,
        description="In any letter case.",
    ),
    Param("Content", "file", required=True),
)
def create_version(kind: Kind, call: Call) -> Reply:
    """Upload a version: multipart/form-data with Path, Visibility and a Content file."""
    path, visibility, upload = call.args["Path"], call.args["Visibility"], call.args["Content"]
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
    # Stored first, in a transaction of its own (PostgreSQL: every node reads it from there).
    digest = call.api.store.blobs.put(data)
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
                content_sha256=digest,
                size=len(data),
                content_type=content_type,
                date_created=utcnow(),
            )
        )
        row = conn.execute(sa.select(versions).where(versions.c.sid == sid)).one()
    return Reply(201, render(call, kind, row))


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
    json = shape(kind)
    routes: list[tuple[str, str, Handler]] = [
        (collection, "GET", list_versions.bind(kind, returns=json)),
        (collection, "POST", create_version.bind(kind, returns=json)),
        (f"{collection}/{{Sid}}", "GET", fetch_version.bind(kind, returns=json)),
    ]
    if kind is FUNCTION:
        routes.append((f"{collection}/{{Sid}}/Content", "GET", fetch_content))
    return routes


ROUTES = [*_routes(FUNCTION), *_routes(ASSET)]
