"""Services: ``/v1/Services`` — the unit that owns functions, assets, builds, environments."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from callbox.api import lookup
from callbox.api.endpoint import Call, Reply, operation
from callbox.api.params import FRIENDLY_NAME, Param
from callbox.api.render import PAGING, page, timestamp
from callbox.api.shapes import Shape, boolean, date, links, sid_of, string, url
from callbox.errors import BadRequest, Conflict
from callbox.rules import MAX_SERVICE_NAME, SERVICE_NAME
from callbox.store import changes, slots
from callbox.store.db import utcnow
from callbox.store.sids import ACCOUNT, SERVICE, new_sid
from callbox.store.tables import (
    build_versions,
    builds,
    deployments,
    environments,
    logs,
    resources,
    services,
    variables,
    versions,
)

MAX_SERVICES = 50

SERVICE_JSON = Shape(
    "Service",
    sid=sid_of(SERVICE),
    account_sid=sid_of(ACCOUNT),
    friendly_name=string(),
    unique_name=string(),
    include_credentials=boolean(),
    ui_editable=boolean(),
    domain_base=string(),
    date_created=date(),
    date_updated=date(),
    url=url(),
    links=links("environments", "functions", "assets", "builds"),
)
BAD_NAME = (
    "UniqueName {value!r} is invalid: use fewer than 50 letters, digits and dashes (no dash at "
    "either end); it becomes part of the service's domain."
)
UNIQUE_NAME = Param(
    "UniqueName",
    required=True,
    max_length=MAX_SERVICE_NAME,
    pattern=SERVICE_NAME.pattern,
    invalid=BAD_NAME,
    too_long=BAD_NAME,
    description="Letters, digits and inner dashes; the first label of the service's domains.",
)


def render(call: Call, row: Any) -> dict[str, Any]:
    url = call.url(f"/v1/Services/{row.sid}")
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "friendly_name": row.friendly_name,
        "unique_name": row.unique_name,
        "include_credentials": row.include_credentials,
        "ui_editable": row.ui_editable,
        "domain_base": row.domain_base,
        "date_created": timestamp(row.date_created),
        "date_updated": timestamp(row.date_updated),
        "url": url,
        "links": {
            "environments": f"{url}/Environments",
            "functions": f"{url}/Functions",
            "assets": f"{url}/Assets",
            "builds": f"{url}/Builds",
        },
    }


@operation(*PAGING, returns=SERVICE_JSON)
def list_services(call: Call) -> Reply:
    with call.api.store.read() as conn:
        query = sa.select(services).where(services.c.account_sid == call.account_sid)
        body = page(
            call,
            conn,
            query,
            services,
            key="services",
            path="/v1/Services",
            render=lambda row: render(call, row),
        )
    return Reply(200, body)


@operation(
    UNIQUE_NAME,
    FRIENDLY_NAME,
    Param("IncludeCredentials", "boolean", default=True),
    Param("UiEditable", "boolean", default=False),
    returns=SERVICE_JSON,
)
def create_service(call: Call) -> Reply:
    unique_name, friendly_name = call.args["UniqueName"], call.args["FriendlyName"]
    include_credentials, ui_editable = call.args["IncludeCredentials"], call.args["UiEditable"]
    now = utcnow()
    with call.api.store.begin() as conn:
        mine = services.c.account_sid == call.account_sid
        count = conn.execute(sa.select(sa.func.count()).where(mine)).scalar_one()
        if count >= MAX_SERVICES:
            raise BadRequest(
                f"Services are limited to {MAX_SERVICES} per account; delete one to create another."
            )
        taken = sa.select(services.c.sid).where(mine, services.c.unique_name == unique_name)
        if conn.execute(taken).first() is not None:
            raise Conflict(f"Service with UniqueName {unique_name} already exists.")
        sid = new_sid(SERVICE)
        conn.execute(
            services.insert().values(
                sid=sid,
                account_sid=call.account_sid,
                unique_name=unique_name,
                friendly_name=friendly_name,
                include_credentials=include_credentials,
                ui_editable=ui_editable,
                domain_base=_free_domain_base(conn, unique_name),
                date_created=now,
                date_updated=now,
            )
        )
        slots.assign(conn, sid)  # its workers' own uid
        row = conn.execute(sa.select(services).where(services.c.sid == sid)).one()
    return Reply(201, render(call, row))


def _free_domain_base(conn: sa.Connection, unique_name: str) -> str:
    # The four digits are random and fixed for the life of the service; domains are global.
    for _ in range(100):
        candidate = f"{unique_name.lower()}-{secrets.randbelow(9000) + 1000}"
        used = sa.select(services.c.sid).where(services.c.domain_base == candidate)
        if conn.execute(used).first() is None:
            return candidate
    raise Conflict(f"No free domain is left for UniqueName {unique_name}; choose another name.")


@operation(returns=SERVICE_JSON)
def fetch_service(call: Call) -> Reply:
    with call.api.store.read() as conn:
        row = lookup.service(call, conn, "Sid")
    return Reply(200, render(call, row))


@operation(
    Param("UniqueName", refused="UniqueName cannot be changed once a service is created."),
    Param("FriendlyName", max_length=255, empty="missing"),
    Param("IncludeCredentials", "boolean"),
    Param("UiEditable", "boolean"),
    returns=SERVICE_JSON,
)
def update_service(call: Call) -> Reply:
    updates: dict[str, Any] = {}
    for param, column in (
        ("FriendlyName", "friendly_name"),
        ("IncludeCredentials", "include_credentials"),
        ("UiEditable", "ui_editable"),
    ):
        if call.args[param] is not None:
            updates[column] = call.args[param]
    with call.api.store.begin() as conn:
        row = lookup.service(call, conn, "Sid")
        if updates:
            updates["date_updated"] = utcnow()
            conn.execute(services.update().where(services.c.sid == row.sid).values(**updates))
            row = conn.execute(sa.select(services).where(services.c.sid == row.sid)).one()
            changes.record(conn, "service", row.sid)
    call.api.changed(row.sid)
    return Reply(200, render(call, row))


@operation()
def delete_service(call: Call) -> Reply:
    """Deleting a service deletes everything in it: environments stop serving at once."""
    with call.api.store.begin() as conn:
        row = lookup.service(call, conn, "Sid")
        sid = row.sid
        build_sids = sa.select(builds.c.sid).where(builds.c.service_sid == sid)
        removed = [row[0] for row in conn.execute(build_sids)]
        conn.execute(build_versions.delete().where(build_versions.c.build_sid.in_(build_sids)))
        for table in (logs, variables, deployments, environments, builds, versions, resources):
            conn.execute(table.delete().where(table.c.service_sid == sid))
        conn.execute(services.delete().where(services.c.sid == sid))
        changes.record(conn, "service", sid)
    call.api.changed(sid)
    if call.api.builder is not None:
        for build_sid in removed:
            call.api.builder.discard(build_sid)
    return Reply(204)


ROUTES = [
    ("/v1/Services", "GET", list_services),
    ("/v1/Services", "POST", create_service),
    ("/v1/Services/{Sid}", "GET", fetch_service),
    ("/v1/Services/{Sid}", "POST", update_service),
    ("/v1/Services/{Sid}", "DELETE", delete_service),
]
