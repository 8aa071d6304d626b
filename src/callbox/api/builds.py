"""Builds: ``/v1/Services/{ServiceSid}/Builds`` — a snapshot of exact versions, built once.

Create answers 201 with ``status: building`` at once; the builder (callbox.builds.builder)
checks, installs and records the outcome in the background, and clients poll ``/Status``.

Beyond Twilio's fields (the SDKs ignore unknown ones), a build's JSON carries ``error`` (why a
failed build failed, one readable paragraph; null otherwise) and ``log`` (the build log text),
since Twilio's API gives no reason for a failure at all.

Decisions where Twilio is silent:

- A build's versions must be versions of this service, of the kind the parameter names; no
  two of them (functions and assets together) may share a path, since both would be served
  at the same URL.
- ``Runtime`` (python3.11-3.13, node18/20/22) decides the build's language. Without it, a
  build whose function versions were all uploaded as JavaScript (their Content-Type) gets the
  newest Node.js runtime the server has (node22 when it has none: the build then fails saying
  so); any other build python3.11.
- ``Dependencies`` is checked with the builder's own parser (callbox.builds.validate) for the
  runtime's language, so an entry the build would refuse is a 400 here.
- ``twilio`` is always a dependency: when ``Dependencies`` does not name it, a Python build gets
  the installed version (the runtime provides it; nothing is installed for it), a Node.js build
  Twilio's defaults, ``twilio`` (installed with npm) and ``@twilio/runtime-handler`` (callbox
  itself, never installed).
- A version deleted after the build was made (with its function or asset) no longer appears
  in the build's JSON.
- Deleting a build deployed in an environment is refused with 409.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from callbox.api import lookup
from callbox.api.endpoint import Call, Reply, operation
from callbox.api.params import Param
from callbox.api.render import PAGING, page, timestamp
from callbox.api.shapes import SID_DIGITS, Shape, array, date, links, one_of, sid_of, string, url
from callbox.api.versions import VISIBILITIES
from callbox.builds import validate
from callbox.builds.runtimes import Language, language_of, newest_node_runtime, version_language
from callbox.builds.validate import BuildFailure
from callbox.errors import BadRequest, Conflict
from callbox.rules import (
    DEFAULT_PYTHON_RUNTIME,
    MAX_ASSETS,  # per build, per visibility (seed)
    RUNTIMES,
    max_bytes,
    size_text,
    too_many_assets,
)
from callbox.store.db import utcnow
from callbox.store.sids import ACCOUNT, BUILD, RESOURCE, SERVICE, VERSION, new_sid
from callbox.store.tables import build_versions, builds, environments, versions

DEFAULT_RUNTIME = DEFAULT_PYTHON_RUNTIME
STATUS = one_of("building", "completed", "failed")


def _member(parent: str) -> Shape:
    """A version as a build lists it."""
    return Shape(
        "",
        sid=sid_of(VERSION),
        account_sid=sid_of(ACCOUNT),
        service_sid=sid_of(SERVICE),
        **{f"{parent}_sid": sid_of(RESOURCE)},
        date_created=date(),
        path=string(),
        visibility=one_of(*VISIBILITIES),
        content_sha256=string(),
    )


BUILD_JSON = Shape(
    "Build",
    sid=sid_of(BUILD),
    account_sid=sid_of(ACCOUNT),
    service_sid=sid_of(SERVICE),
    status=STATUS,
    asset_versions=array(_member("asset")),
    function_versions=array(_member("function")),
    dependencies=array(Shape("", name=string(), version=string())),
    runtime=string(),
    error=string(nullable=True, description="Beyond Twilio: why a failed build failed."),
    log=string(description="Beyond Twilio: the build log."),
    date_created=date(),
    date_updated=date(),
    url=url(),
    links=links("build_status"),
)
BUILD_STATUS_JSON = Shape(
    "BuildStatus",
    sid=sid_of(BUILD),
    account_sid=sid_of(ACCOUNT),
    service_sid=sid_of(SERVICE),
    status=STATUS,
    url=url(),
)


def build_url(call: Call, row: Any) -> str:
    return call.url(f"/v1/Services/{row.service_sid}/Builds/{row.sid}")


def render(call: Call, row: Any, members: list[Any]) -> dict[str, Any]:
    """The build JSON; ``members`` are its ``versions`` rows, in build order."""
    url = build_url(call, row)
    body: dict[str, Any] = {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "service_sid": row.service_sid,
        "status": row.status,
        "asset_versions": [_version(v) for v in members if v.kind == "asset"],
        "function_versions": [_version(v) for v in members if v.kind == "function"],
        "dependencies": json.loads(row.dependencies or "[]"),
        "runtime": row.runtime,
        "error": row.error,
        "log": row.log,
        "date_created": timestamp(row.date_created),
        "date_updated": timestamp(row.date_updated),
        "url": url,
        "links": {"build_status": f"{url}/Status"},
    }
    return body


def _version(row: Any) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "service_sid": row.service_sid,
        f"{row.kind}_sid": row.resource_sid,
        "date_created": timestamp(row.date_created),
        "path": row.path,
        "visibility": row.visibility,
        "content_sha256": row.content_sha256,  # beyond Twilio: lets a deploy skip re-uploads
    }


def _members(conn: sa.Connection, build_sids: list[str]) -> dict[str, list[Any]]:
    """The version rows of several builds in one query: a page costs two queries, not N + 1."""
    query = (
        sa.select(build_versions.c.build_sid, versions)
        .join(versions, versions.c.sid == build_versions.c.version_sid)
        .where(build_versions.c.build_sid.in_(build_sids))
        .order_by(build_versions.c.build_sid, build_versions.c.position)
    )
    found: dict[str, list[Any]] = {sid: [] for sid in build_sids}
    for member in conn.execute(query):
        found[member.build_sid].append(member)
    return found


@operation(*PAGING, returns=BUILD_JSON)
def list_builds(call: Call) -> Reply:
    with call.api.store.read() as conn:
        service = lookup.service(call, conn)
        rows: dict[str, Any] = {}

        # page() renders row by row; the versions are filled in after, for the whole page.
        def remember(row: Any) -> dict[str, Any]:
            rows[row.sid] = row
            return {"sid": row.sid}

        body = page(
            call,
            conn,
            sa.select(builds).where(builds.c.service_sid == service.sid),
            builds,
            key="builds",
            path=f"/v1/Services/{service.sid}/Builds",
            render=remember,
        )
        members = _members(conn, list(rows))
    body["builds"] = [render(call, rows[b["sid"]], members[b["sid"]]) for b in body["builds"]]
    return Reply(200, body)


def _version_sids(name: str) -> Param:
    return Param(
        name,
        "list",
        pattern=f"{VERSION}{SID_DIGITS}",
        empty="absent",  # an empty item is left out
        unique=True,
        invalid="Parameter {name} must hold version SIDs (ZN and 32 hex digits); found {value!r}",
        description="Version SIDs, one key per version.",
    )


@operation(
    _version_sids("FunctionVersions"),
    _version_sids("AssetVersions"),
    Param(
        "Dependencies",
        # Read whole once the runtime is known (pip or npm rules): create_build.
        description='A JSON array of {"name": ..., "version": ...} objects (pip requirements '
        "for a Python runtime, npm packages for a Node.js one).",
    ),
    Param(
        "Runtime",
        max_length=32,
        enum=RUNTIMES,
        empty="absent",
        check=lambda raw: check_runtime(raw),
    ),
    any_of=("FunctionVersions", "AssetVersions"),
    any_of_message=(
        "At least one function version or asset version is required: send "
        "FunctionVersions and/or AssetVersions (ZN... SIDs, one key per version)."
    ),
    returns=BUILD_JSON,
)
def create_build(call: Call) -> Reply:
    """Build the given function and asset versions; poll ``/Status`` until it is done."""
    function_sids, asset_sids = call.args["FunctionVersions"], call.args["AssetVersions"]
    raw_dependencies, runtime = call.args["Dependencies"], call.args["Runtime"]
    # Checked before the versions are read when the runtime is known.
    dependencies = parse_dependencies(raw_dependencies, language_of(runtime)) if runtime else []
    now = utcnow()
    sid = new_sid(BUILD)
    with call.api.store.begin() as conn:
        service = lookup.service(call, conn)
        chosen = _versions(call, conn, service.sid, function_sids, asset_sids)
        if not runtime:
            runtime = default_runtime(chosen)
            dependencies = parse_dependencies(raw_dependencies, language_of(runtime))
        _check_paths(chosen)
        _check_asset_limits(chosen)
        conn.execute(
            builds.insert().values(
                sid=sid,
                account_sid=call.account_sid,
                service_sid=service.sid,
                status="building",
                runtime=runtime,
                dependencies=json.dumps(dependencies),
                error=None,
                log="",
                date_created=now,
                date_updated=now,
            )
        )
        conn.execute(
            build_versions.insert(),
            [
                {"build_sid": sid, "version_sid": v.sid, "position": position}
                for position, v in enumerate(chosen)
            ],
        )
        row = conn.execute(sa.select(builds).where(builds.c.sid == sid)).one()
    # After the commit: the builder reads the row in its own transaction.
    if call.api.builder is not None:
        call.api.builder.submit(sid)
    return Reply(201, render(call, row, chosen))


def _versions(
    call: Call,
    conn: sa.Connection,
    service_sid: str,
    function_sids: list[str],
    asset_sids: list[str],
) -> list[Any]:
    """The version rows, function versions first, each checked to be of this service and kind."""
    wanted = [("FunctionVersions", "function", s) for s in function_sids]
    wanted += [("AssetVersions", "asset", s) for s in asset_sids]
    seen: set[str] = set()
    for _param, _kind, sid in wanted:
        if sid in seen:
            raise BadRequest(f"Version {sid} is listed twice; list each version once.")
        seen.add(sid)
    query = sa.select(versions).where(
        versions.c.sid.in_(seen),
        versions.c.account_sid == call.account_sid,
        versions.c.service_sid == service_sid,
    )
    found = {row.sid: row for row in conn.execute(query)}
    chosen = []
    for param, kind, sid in wanted:
        row = found.get(sid)
        if row is None:
            raise BadRequest(f"{kind.capitalize()} version {sid} was not found in this service")
        if row.kind != kind:
            raise BadRequest(
                f"Version {sid} in {param} is {_article(row.kind)} {row.kind} version; "
                f"{param} takes {kind} versions only."
            )
        chosen.append(row)
    return chosen


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _check_paths(chosen: list[Any]) -> None:
    # Functions and assets share one URL space: two versions at one path cannot both be served.
    owners: dict[str, Any] = {}
    for row in chosen:
        first = owners.setdefault(row.path, row)
        if first is not row:
            raise BadRequest(
                f"Two versions in the build have the path {row.path}: {first.kind} version "
                f"{first.sid} and {row.kind} version {row.sid}; keep one."
            )


def _check_asset_limits(chosen: list[Any]) -> None:
    assets = [row for row in chosen if row.kind == "asset"]
    for row in assets:
        limit = max_bytes(row.kind, row.visibility)
        if row.size > limit:
            raise BadRequest(
                f"{row.visibility.capitalize()} asset {row.path} (version {row.sid}) is "
                f"{row.size} bytes; a build may include {row.visibility} assets of at most "
                f"{size_text(limit)} each."
            )
    excess = too_many_assets(row.visibility for row in assets)
    if excess is not None:
        visibility, count = excess
        raise BadRequest(
            f"A build may include at most {MAX_ASSETS[visibility]} {visibility} assets; "
            f"found {count}. Split them across builds in different environments."
        )


def default_runtime(chosen: list[Any]) -> str:
    """Without ``Runtime``: Node.js when every function version says it is JavaScript."""
    languages = {version_language(v.content_type) for v in chosen if v.kind == "function"}
    if languages == {"node"}:
        return newest_node_runtime() or "node22"
    return DEFAULT_RUNTIME


def parse_dependencies(raw: str | None, language: Language = "python") -> list[dict[str, str]]:
    """``Dependencies`` as the list stored and echoed (``validate.declared_dependencies``: the
    builder's own parser, so an entry the build would refuse is a 400 here)."""
    try:
        return validate.declared_dependencies(raw, language)
    except BuildFailure as exc:
        raise BadRequest(str(exc)) from None


def check_runtime(raw: str | None) -> str:
    """The runtime asked for; "" when none was (the versions decide, ``default_runtime``)."""
    runtime = (raw or "").strip()
    if not runtime or runtime in RUNTIMES:
        return runtime
    raise BadRequest(f"Parameter Runtime must be one of {', '.join(RUNTIMES)}; found {runtime!r}")


def _find(call: Call, conn: sa.Connection) -> Any:
    service = lookup.service(call, conn)
    return lookup.child(call, conn, builds, BUILD, service_sid=service.sid)


@operation(returns=BUILD_JSON)
def fetch_build(call: Call) -> Reply:
    with call.api.store.read() as conn:
        row = _find(call, conn)
        members = _members(conn, [row.sid])[row.sid]
    return Reply(200, render(call, row, members))


@operation(returns=BUILD_STATUS_JSON)
def fetch_status(call: Call) -> Reply:
    """Where the build is: building, completed or failed (clients poll this once a second)."""
    with call.api.store.read() as conn:
        row = _find(call, conn)
    return Reply(
        200,
        {
            "sid": row.sid,
            "account_sid": row.account_sid,
            "service_sid": row.service_sid,
            "status": row.status,
            "url": f"{build_url(call, row)}/Status",
        },
    )


@operation()
def delete_build(call: Call) -> Reply:
    """Delete a build, unless an environment serves it (deploy another build there first).

    Its folder on disk is removed too.
    """
    with call.api.store.begin() as conn:
        row = _find(call, conn)
        live = conn.execute(
            sa.select(environments.c.unique_name)
            .where(environments.c.build_sid == row.sid)
            .order_by(environments.c.date_created, environments.c.sid)
            .limit(1)
        ).scalar()
        if live is not None:
            raise Conflict(
                f"Build {row.sid} is deployed in environment {live}; "
                "deploy another build there first"
            )
        conn.execute(build_versions.delete().where(build_versions.c.build_sid == row.sid))
        conn.execute(builds.delete().where(builds.c.sid == row.sid))
    if call.api.builder is not None:
        call.api.builder.discard(row.sid)
    return Reply(204)


ROUTES = [
    ("/v1/Services/{ServiceSid}/Builds", "GET", list_builds),
    ("/v1/Services/{ServiceSid}/Builds", "POST", create_build),
    ("/v1/Services/{ServiceSid}/Builds/{Sid}", "GET", fetch_build),
    ("/v1/Services/{ServiceSid}/Builds/{Sid}", "DELETE", delete_build),
    ("/v1/Services/{ServiceSid}/Builds/{Sid}/Status", "GET", fetch_status),
]
