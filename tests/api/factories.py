"""What the API tests build on: resources made through the API, or written as rows directly.

Rows written directly are for tests about something else (a deployment needs a completed
build, not the builder); ``svc`` is then a service's JSON, or any mapping with its ``sid``
and ``account_sid``. ``hold_after_the_check`` lines two requests up for race tests.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from callbox.api.app import Api, create_api
from callbox.store.db import Store, utcnow
from callbox.store.sids import BUILD, ENVIRONMENT, RESOURCE, VERSION, new_sid
from callbox.store.tables import build_versions, builds, environments, resources, versions

BASE = "http://api.test"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SOURCE = "def handler(context, event, callback):\n    return callback(None, 'héllo ✓')\n"

Json = dict[str, Any]


def connect(api: Api, auth: tuple[str, str] | None = None) -> httpx.AsyncClient:
    """A client of ``api`` in process (ASGI), to open with ``async with``."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(api)), base_url=BASE, auth=auth
    )


# --- through the API ----------------------------------------------------------------------


async def service(client: httpx.AsyncClient, name: str = "my-app") -> Json:
    r = await client.post("/v1/Services", data={"UniqueName": name, "FriendlyName": "My app"})
    assert r.status_code == 201, r.text
    return r.json()


async def environment(
    client: httpx.AsyncClient, service_sid: str, name: str = "dev-environment", **extra: str
) -> Json:
    r = await client.post(
        f"/v1/Services/{service_sid}/Environments", data={"UniqueName": name, **extra}
    )
    assert r.status_code == 201, r.text
    return r.json()


async def function(client: httpx.AsyncClient, service_sid: str, name: str = "/hello") -> Json:
    return await _resource(client, f"/v1/Services/{service_sid}/Functions", name)


async def asset(client: httpx.AsyncClient, service_sid: str, name: str = "/logo.png") -> Json:
    return await _resource(client, f"/v1/Services/{service_sid}/Assets", name)


async def _resource(client: httpx.AsyncClient, url: str, name: str) -> Json:
    r = await client.post(url, data={"FriendlyName": name})
    assert r.status_code == 201, r.text
    return r.json()


async def upload(
    client: httpx.AsyncClient,
    url: str,
    *,
    path: str = "/hello",
    visibility: str = "public",
    content: bytes = SOURCE.encode(),
    content_type: str = "application/x-python",
    filename: str = "hello.py",
) -> httpx.Response:
    """A new version at a Versions URL, as the toolkit sends it; the answer, unchecked."""
    return await client.post(
        url,
        files={"Content": (filename, content, content_type)},
        data={"Path": path, "Visibility": visibility},
    )


async def walk(
    client: httpx.AsyncClient,
    url: str,
    *,
    key: str | None = None,
    prefix: str | None = None,
    **params: str | int,
) -> tuple[list[Json], Json]:
    """Every item of a list, following next_page_url as the SDKs do; and the last page.

    Each page must answer 200 (under ``key``, when given); each next_page_url must start
    with ``prefix``, when given.
    """
    items: list[Json] = []
    r = await client.get(url, params=params or None)
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        assert key is None or body["meta"]["key"] == key, body["meta"]
        items += body[body["meta"]["key"]]
        next_url = body["meta"]["next_page_url"]
        if next_url is None:
            return items, body
        assert prefix is None or next_url.startswith(prefix), next_url
        r = await client.get(next_url)


# --- rows written directly ----------------------------------------------------------------


def build(
    store: Store,
    svc: Mapping[str, Any],
    status: str = "completed",
    version_sids: Sequence[str] = (),
) -> str:
    """A build of these versions; a failed one says why."""
    sid = new_sid(BUILD)
    error = "pip said no" if status == "failed" else None
    with store.begin() as conn:
        _insert(
            conn,
            builds,
            svc,
            sid,
            status=status,
            runtime="python3.11",
            dependencies="[]",
            error=error,
            log="",
        )
        if version_sids:
            conn.execute(
                build_versions.insert(),
                [
                    {"build_sid": sid, "version_sid": version, "position": position}
                    for position, version in enumerate(version_sids)
                ],
            )
    return sid


def deployed(store: Store, svc: Mapping[str, Any], version_sids: Sequence[str]) -> tuple[str, str]:
    """A completed build of these versions, live in a new environment: (build, environment)."""
    build_sid, sid = build(store, svc, version_sids=version_sids), new_sid(ENVIRONMENT)
    with store.begin() as conn:
        name = sid.lower()  # unique, as the table wants
        _insert(
            conn,
            environments,
            svc,
            sid,
            unique_name=name,
            domain_name=f"{name}.example",
            build_sid=build_sid,
        )
    return build_sid, sid


def version(
    store: Store,
    svc: Mapping[str, Any],
    kind: str = "function",
    path: str = "/hello",
    visibility: str = "public",
    content: bytes = SOURCE.encode(),
    size: int | None = None,
) -> str:
    """A function or asset with one version: the version's SID."""
    resource, sid = new_sid(RESOURCE), new_sid(VERSION)
    with store.begin() as conn:
        _insert(conn, resources, svc, resource, kind=kind, friendly_name=path)
        _insert(
            conn,
            versions,
            svc,
            sid,
            resource_sid=resource,
            kind=kind,
            path=path,
            visibility=visibility,
            content_sha256=store.blobs.put(content),
            size=len(content) if size is None else size,
            content_type="text/x-python" if kind == "function" else "text/plain",
        )
    return sid


def resource_of(store: Store, version_sid: str) -> str:
    """The function or asset a version belongs to."""
    with store.begin() as conn:
        query = sa.select(versions.c.resource_sid).where(versions.c.sid == version_sid)
        return conn.execute(query).scalar_one()


def _insert(
    conn: sa.Connection, table: sa.Table, svc: Mapping[str, Any], sid: str, **values: object
) -> None:
    """A row of ``table`` owned by this service, dated now."""
    dates = {"date_created": utcnow()}
    if "date_updated" in table.c:
        dates["date_updated"] = dates["date_created"]
    owner = {"account_sid": svc["account_sid"], "service_sid": svc["sid"]}
    conn.execute(table.insert().values(sid=sid, **owner, **dates, **values))


# --- races --------------------------------------------------------------------------------


def hold_after_the_check(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> None:
    """Make ``module``'s handlers wait in ``new_sid`` (after their checks, before their write)
    for a second request to get there too, as concurrent clients now and then do.

    A write transaction holds SQLite's write lock from BEGIN, so the second request waits there
    instead and never arrives: after a short wait the barrier breaks and the first goes on,
    the second then checks what the first wrote. Were the two not serialised, both would be
    past the check together.
    """
    barrier = threading.Barrier(2, timeout=0.5)
    original = module.new_sid

    def held(prefix: str) -> str:
        # Broken: the other request was serialised behind this one.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return original(prefix)

    monkeypatch.setattr(module, "new_sid", held)
