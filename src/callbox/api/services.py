"""Services: ``/v1/Services`` — the unit that owns functions, assets, builds, environments."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from callbox.api import lookup
from callbox.api.endpoint import Call, Reply
from callbox.api.render import page, timestamp
from callbox.errors import BadRequest, Conflict
from callbox.rules import is_service_name
from callbox.store import slots
from callbox.store.db import utcnow
from callbox.store.sids import SERVICE, new_sid
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


def create_service(call: Call) -> Reply:
    unique_name = call.form.required("UniqueName")
    check_unique_name(unique_name)
    friendly_name = call.form.required("FriendlyName", max_length=255)
    include_credentials = call.form.boolean("IncludeCredentials", True)
    ui_editable = call.form.boolean("UiEditable", False)
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


def check_unique_name(name: str) -> None:
    if not is_service_name(name):
        raise BadRequest(
            f"UniqueName {name!r} is invalid: use fewer than 50 letters, digits and dashes "
            "(no dash at either end); it becomes part of the service's domain."
        )


def _free_domain_base(conn: sa.Connection, unique_name: str) -> str:
    # The four digits are random and fixed for the life of the service; domains are global.
    for _ in range(100):
        candidate = f"{unique_name.lower()}-{secrets.randbelow(9000) + 1000}"
        used = sa.select(services.c.sid).where(services.c.domain_base == candidate)
        if conn.execute(used).first() is None:
            return candidate
    raise Conflict(f"No free domain is left for UniqueName {unique_name}; choose another name.")


def fetch_service(call: Call) -> Reply:
    with call.api.store.read() as conn:
        row = lookup.service(call, conn, "Sid")
    return Reply(200, render(call, row))


def update_service(call: Call) -> Reply:
    if "UniqueName" in call.form:
        raise BadRequest("UniqueName cannot be changed once a service is created.")
    changes: dict[str, Any] = {}
    if "FriendlyName" in call.form:
        changes["friendly_name"] = call.form.required("FriendlyName", max_length=255)
    for param, column in (
        ("IncludeCredentials", "include_credentials"),
        ("UiEditable", "ui_editable"),
    ):
        value = call.form.boolean(param)
        if value is not None:
            changes[column] = value
    with call.api.store.begin() as conn:
        row = lookup.service(call, conn, "Sid")
        if changes:
            changes["date_updated"] = utcnow()
            conn.execute(services.update().where(services.c.sid == row.sid).values(**changes))
            row = conn.execute(sa.select(services).where(services.c.sid == row.sid)).one()
    call.api.changed(row.sid)
    return Reply(200, render(call, row))


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
