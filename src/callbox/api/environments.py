"""Environments: ``/v1/Services/{ServiceSid}/Environments`` — where a build is served, at a domain.

Each environment of a service has its own domain: ``{domain_base}[-{suffix}].{base_domain}``.
callbox serves on its own base domain (``Config.base_domain``) where Twilio uses ``twil.io``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from callbox.api import lookup
from callbox.api.endpoint import Call, Reply, operation
from callbox.api.params import Param
from callbox.api.render import PAGING, page, timestamp
from callbox.api.shapes import Shape, date, links, sid_of, string, url
from callbox.errors import BadRequest, Conflict
from callbox.store import changes
from callbox.store.db import utcnow
from callbox.store.sids import ACCOUNT, BUILD, ENVIRONMENT, SERVICE, new_sid
from callbox.store.tables import deployments, environments, logs, variables

MAX_UNIQUE_NAME, MAX_SUFFIX = 100, 16
MAX_LABEL = 63  # one DNS label: <unique name>-<4 digits>-<suffix>
# The suffix becomes a DNS label inside the domain name, so it takes what a label takes:
# lowercase letters, digits and inner dashes. Upper case is refused rather than folded, so the
# domain_suffix a client reads back is the one it sent (the npm client matches on it).
SUFFIX = "[a-z0-9]+(?:-[a-z0-9]+)*"
BAD_SUFFIX = (
    f"DomainSuffix {{value!r}} is invalid: use at most {MAX_SUFFIX} lowercase letters, digits "
    "and dashes (no dash at either end); it becomes part of the domain name."
)
DUPLICATE = "Environment with this UniqueName or DomainSuffix already exists."

ENVIRONMENT_JSON = Shape(
    "Environment",
    sid=sid_of(ENVIRONMENT),
    account_sid=sid_of(ACCOUNT),
    service_sid=sid_of(SERVICE),
    build_sid=sid_of(BUILD, nullable=True),
    unique_name=string(),
    domain_suffix=string(nullable=True),
    domain_name=string(),
    date_created=date(),
    date_updated=date(),
    url=url(),
    links=links("variables", "deployments", "logs"),
)


def render(call: Call, row: Any) -> dict[str, Any]:
    url = call.url(f"/v1/Services/{row.service_sid}/Environments/{row.sid}")
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "service_sid": row.service_sid,
        "build_sid": row.build_sid,
        "unique_name": row.unique_name,
        "domain_suffix": row.domain_suffix,
        "domain_name": row.domain_name,
        "date_created": timestamp(row.date_created),
        "date_updated": timestamp(row.date_updated),
        "url": url,
        "links": {
            "variables": f"{url}/Variables",
            "deployments": f"{url}/Deployments",
            "logs": f"{url}/Logs",
        },
    }


@operation(*PAGING, returns=ENVIRONMENT_JSON)
def list_environments(call: Call) -> Reply:
    with call.api.store.read() as conn:
        service = lookup.service(call, conn)
        query = sa.select(environments).where(environments.c.service_sid == service.sid)
        body = page(
            call,
            conn,
            query,
            environments,
            key="environments",
            path=f"/v1/Services/{service.sid}/Environments",
            render=lambda row: render(call, row),
        )
    return Reply(200, body)


@operation(
    Param("UniqueName", required=True, max_length=MAX_UNIQUE_NAME),
    Param(
        "DomainSuffix",
        max_length=MAX_SUFFIX,
        pattern=SUFFIX,
        empty="absent",  # an empty suffix means none
        invalid=BAD_SUFFIX,
        too_long=BAD_SUFFIX,
        description="Lowercase letters, digits and inner dashes, added to the domain's label.",
    ),
    returns=ENVIRONMENT_JSON,
)
def create_environment(call: Call) -> Reply:
    """Create an environment; FriendlyName (sent by the npm client) and other extras are ignored."""
    unique_name, suffix = call.args["UniqueName"], call.args["DomainSuffix"]
    now = utcnow()
    with call.api.store.begin() as conn:
        service = lookup.service(call, conn)
        same_suffix = (
            environments.c.domain_suffix.is_(None)
            if suffix is None
            else environments.c.domain_suffix == suffix
        )
        taken = sa.select(environments.c.sid).where(
            environments.c.service_sid == service.sid,
            sa.or_(environments.c.unique_name == unique_name, same_suffix),
        )
        if conn.execute(taken).first() is not None:
            raise Conflict(DUPLICATE)
        label = service.domain_base if suffix is None else f"{service.domain_base}-{suffix}"
        if len(label) > MAX_LABEL:
            raise BadRequest(
                f"The domain label {label} would be {len(label)} characters; DNS allows "
                f"{MAX_LABEL}. Use a shorter DomainSuffix."
            )
        domain_name = f"{label}.{call.api.config.base_domain}"
        # Domains are global: service "a" with suffix "1234" could meet service "a-1234"'s base.
        clash = sa.select(environments.c.sid).where(environments.c.domain_name == domain_name)
        if conn.execute(clash).first() is not None:
            raise Conflict(
                f"The domain {domain_name} is already used by another environment; "
                "choose another DomainSuffix."
            )
        sid = new_sid(ENVIRONMENT)
        try:
            conn.execute(
                environments.insert().values(
                    sid=sid,
                    account_sid=call.account_sid,
                    service_sid=service.sid,
                    unique_name=unique_name,
                    domain_suffix=suffix,
                    domain_name=domain_name,
                    build_sid=None,
                    deployment_sid=None,
                    date_created=now,
                    date_updated=now,
                )
            )
        except sa.exc.IntegrityError:  # a concurrent create won the race for the same name
            raise Conflict(DUPLICATE) from None
        row = conn.execute(sa.select(environments).where(environments.c.sid == sid)).one()
    return Reply(201, render(call, row))


@operation(returns=ENVIRONMENT_JSON)
def fetch_environment(call: Call) -> Reply:
    with call.api.store.read() as conn:
        row = lookup.environment(call, conn, "Sid")
    return Reply(200, render(call, row))


@operation()
def delete_environment(call: Call) -> Reply:
    """Deleting an environment deletes its variables, deployments and logs; it stops serving."""
    with call.api.store.begin() as conn:
        sid = lookup.environment(call, conn, "Sid").sid
        for table in (logs, variables, deployments):
            conn.execute(table.delete().where(table.c.environment_sid == sid))
        conn.execute(environments.delete().where(environments.c.sid == sid))
        changes.record(conn, "environment", sid)
    call.api.changed(sid)
    return Reply(204)


BASE = "/v1/Services/{ServiceSid}/Environments"
ROUTES = [
    (BASE, "GET", list_environments),
    (BASE, "POST", create_environment),
    (BASE + "/{Sid}", "GET", fetch_environment),
    (BASE + "/{Sid}", "DELETE", delete_environment),
]
