"""Functions and Assets: ``/v1/Services/{ServiceSid}/Functions`` and ``.../Assets``.

Both are named containers of versions (code and files live in the versions, see versions.py)
and share the ``resources`` table, told apart by ``kind``; one set of handlers serves both,
parameterised by a ``Kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from callbox.api import lookup
from callbox.api.endpoint import Call, Handler, Reply, operation
from callbox.api.params import FRIENDLY_NAME
from callbox.api.render import PAGING, page, timestamp
from callbox.api.shapes import Shape, date, links, sid_of, string, url
from callbox.errors import Conflict
from callbox.store.db import utcnow
from callbox.store.sids import ACCOUNT, RESOURCE, SERVICE, new_sid
from callbox.store.tables import build_versions, environments, resources, versions


@dataclass(frozen=True)
class Kind:
    """What differs between Functions and Assets: names in URLs, lists and fields."""

    name: str  # "function" | "asset": the ``kind`` column
    collection: str  # "Functions" | "Assets": the URL segment

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @property
    def key(self) -> str:
        return f"{self.name}s"

    @property
    def versions_key(self) -> str:
        return f"{self.name}_versions"

    @property
    def parent_field(self) -> str:
        return f"{self.name}_sid"

    @property
    def parent_param(self) -> str:
        return f"{self.label}Sid"

    def path(self, service_sid: str, sid: str | None = None) -> str:
        path = f"/v1/Services/{service_sid}/{self.collection}"
        return path if sid is None else f"{path}/{sid}"

    @property
    def shape(self) -> Shape:
        """Its JSON: a Function or an Asset."""
        return Shape(
            self.label,
            sid=sid_of(RESOURCE),
            account_sid=sid_of(ACCOUNT),
            service_sid=sid_of(SERVICE),
            friendly_name=string(),
            date_created=date(),
            date_updated=date(),
            url=url(),
            links=links(self.versions_key),
        )


FUNCTION = Kind("function", "Functions")
ASSET = Kind("asset", "Assets")


def render(call: Call, kind: Kind, row: Any) -> dict[str, Any]:
    url = call.url(kind.path(row.service_sid, row.sid))
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "service_sid": row.service_sid,
        "friendly_name": row.friendly_name,
        "date_created": timestamp(row.date_created),
        "date_updated": timestamp(row.date_updated),
        "url": url,
        "links": {kind.versions_key: f"{url}/Versions"},
    }


def find(call: Call, conn: sa.Connection, kind: Kind, name: str = "Sid") -> Any:
    """The function or asset the URL names, in the service it names, or a 404."""
    service = lookup.service(call, conn)
    return lookup.child(
        call, conn, resources, RESOURCE, name, service_sid=service.sid, kind=kind.name
    )


@operation(*PAGING)
def list_resources(kind: Kind, call: Call) -> Reply:
    with call.api.store.begin() as conn:
        service = lookup.service(call, conn)
        query = sa.select(resources).where(
            resources.c.service_sid == service.sid, resources.c.kind == kind.name
        )
        body = page(
            call,
            conn,
            query,
            resources,
            key=kind.key,
            path=kind.path(service.sid),
            render=lambda row: render(call, kind, row),
        )
    return Reply(200, body)


@operation(FRIENDLY_NAME)
def create_resource(kind: Kind, call: Call) -> Reply:
    # FriendlyName need not be unique: Twilio does not say it is, and the npm client looks an
    # existing one up by name before it creates, so duplicates are the caller's choice.
    friendly_name = call.args["FriendlyName"]
    now = utcnow()
    with call.api.store.begin() as conn:
        service = lookup.service(call, conn)
        sid = new_sid(RESOURCE)
        conn.execute(
            resources.insert().values(
                sid=sid,
                account_sid=call.account_sid,
                service_sid=service.sid,
                kind=kind.name,
                friendly_name=friendly_name,
                date_created=now,
                date_updated=now,
            )
        )
        row = conn.execute(sa.select(resources).where(resources.c.sid == sid)).one()
    return Reply(201, render(call, kind, row))


@operation()
def fetch_resource(kind: Kind, call: Call) -> Reply:
    with call.api.store.begin() as conn:
        row = find(call, conn, kind)
    return Reply(200, render(call, kind, row))


@operation(FRIENDLY_NAME)
def update_resource(kind: Kind, call: Call) -> Reply:
    friendly_name = call.args["FriendlyName"]
    with call.api.store.begin() as conn:
        row = find(call, conn, kind)
        conn.execute(
            resources.update()
            .where(resources.c.sid == row.sid)
            .values(friendly_name=friendly_name, date_updated=utcnow())
        )
        row = conn.execute(sa.select(resources).where(resources.c.sid == row.sid)).one()
    return Reply(200, render(call, kind, row))


@operation()
def delete_resource(kind: Kind, call: Call) -> Reply:
    """Delete a function or asset with its versions, unless a live build still serves it.

    Refused (409) while any environment has deployed a build containing one of its versions:
    deleting it would pull code or files out from under live traffic. Blobs stay, since they
    are content-addressed and may be shared with other versions.
    """
    with call.api.store.begin() as conn:
        row = find(call, conn, kind)
        deployed = conn.execute(
            sa.select(environments.c.sid)
            .join(build_versions, build_versions.c.build_sid == environments.c.build_sid)
            .join(versions, versions.c.sid == build_versions.c.version_sid)
            .where(versions.c.resource_sid == row.sid)
            .order_by(environments.c.date_created, environments.c.sid)
            .limit(1)
        ).scalar()
        if deployed is not None:
            raise Conflict(
                f"{kind.label} {row.sid} is part of the build deployed in environment "
                f"{deployed}; deploy a build without it first."
            )
        conn.execute(versions.delete().where(versions.c.resource_sid == row.sid))
        conn.execute(resources.delete().where(resources.c.sid == row.sid))
    return Reply(204)


def _routes(kind: Kind) -> list[tuple[str, str, Handler]]:
    collection = f"/v1/Services/{{ServiceSid}}/{kind.collection}"
    shape = kind.shape
    return [
        (collection, "GET", list_resources.bind(kind, returns=shape)),
        (collection, "POST", create_resource.bind(kind, returns=shape)),
        (f"{collection}/{{Sid}}", "GET", fetch_resource.bind(kind, returns=shape)),
        (f"{collection}/{{Sid}}", "POST", update_resource.bind(kind, returns=shape)),
        (f"{collection}/{{Sid}}", "DELETE", delete_resource.bind(kind)),
    ]


ROUTES = [*_routes(FUNCTION), *_routes(ASSET)]
