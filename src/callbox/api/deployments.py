"""Deployments: ``/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Deployments``.

A deployment points an environment at a completed build of its service; from then on the
environment serves that build. Deployments are a history: no update, no delete.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from callbox.api import lookup
from callbox.api.endpoint import Call, Reply, operation
from callbox.api.params import Param
from callbox.api.render import PAGING, page, timestamp
from callbox.api.shapes import SID_DIGITS, Shape, date, sid_of, url
from callbox.errors import BadRequest, Conflict
from callbox.store import changes
from callbox.store.db import utcnow
from callbox.store.sids import ACCOUNT, BUILD, DEPLOYMENT, ENVIRONMENT, SERVICE, new_sid
from callbox.store.tables import build_versions, builds, deployments, environments, versions

DEPLOYMENT_JSON = Shape(
    "Deployment",
    sid=sid_of(DEPLOYMENT),
    account_sid=sid_of(ACCOUNT),
    service_sid=sid_of(SERVICE),
    environment_sid=sid_of(ENVIRONMENT),
    build_sid=sid_of(BUILD),
    date_created=date(),
    date_updated=date(),
    url=url(),
)


def render(call: Call, row: Any) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "service_sid": row.service_sid,
        "environment_sid": row.environment_sid,
        "build_sid": row.build_sid,
        "date_created": timestamp(row.date_created),
        "date_updated": timestamp(row.date_updated),
        "url": call.url(
            f"/v1/Services/{row.service_sid}/Environments/{row.environment_sid}"
            f"/Deployments/{row.sid}"
        ),
    }


@operation(*PAGING, returns=DEPLOYMENT_JSON)
def list_deployments(call: Call) -> Reply:
    with call.api.store.read() as conn:
        env = lookup.environment(call, conn)
        query = sa.select(deployments).where(deployments.c.environment_sid == env.sid)
        body = page(
            call,
            conn,
            query,
            deployments,
            key="deployments",
            path=f"/v1/Services/{env.service_sid}/Environments/{env.sid}/Deployments",
            render=lambda row: render(call, row),
        )
    return Reply(200, body)


@operation(
    Param(
        "BuildSid",
        required=True,
        pattern=f"{BUILD}{SID_DIGITS}",
        invalid="Parameter BuildSid must be a Build SID (ZB and 32 hex digits); found {value!r}",
        description="The completed build to serve.",
    ),
    Param("IsPlugin", "boolean", description="Accepted and ignored (Flex plugins)."),
    returns=DEPLOYMENT_JSON,
)
def create_deployment(call: Call) -> Reply:
    """Serve a completed build in this environment from the next request on.

    ``BuildSid`` is required here (optional in Twilio's spec, whose behaviour without it is
    undocumented): without a build there is nothing to deploy. ``IsPlugin`` (Flex) is accepted
    and ignored.
    """
    build_sid = call.args["BuildSid"]
    now = utcnow()
    with call.api.store.begin() as conn:
        env = lookup.environment(call, conn)
        build = conn.execute(
            sa.select(builds.c.status).where(
                builds.c.sid == build_sid,
                builds.c.service_sid == env.service_sid,
                builds.c.account_sid == call.account_sid,
            )
        ).first()
        if build is None:
            raise BadRequest(f"Build {build_sid} was not found in this service")
        if build.status == "building":
            raise Conflict(f"Build {build_sid} is still building; wait for status completed")
        if build.status != "completed":
            raise BadRequest(f"Build {build_sid} failed and cannot be deployed")
        deleted = conn.execute(
            sa.select(build_versions.c.version_sid)
            .outerjoin(versions, versions.c.sid == build_versions.c.version_sid)
            .where(build_versions.c.build_sid == build_sid, versions.c.sid.is_(None))
            .limit(1)
        ).first()
        if deleted is not None:
            raise Conflict(
                f"Build {build_sid} includes a function or asset that was deleted since "
                f"(version {deleted[0]}); create a new build."
            )
        sid = new_sid(DEPLOYMENT)
        # The deployment row and the environment's pointer change together, or not at all.
        conn.execute(
            deployments.insert().values(
                sid=sid,
                account_sid=call.account_sid,
                service_sid=env.service_sid,
                environment_sid=env.sid,
                build_sid=build_sid,
                date_created=now,
                date_updated=now,
            )
        )
        conn.execute(
            environments.update()
            .where(environments.c.sid == env.sid)
            .values(build_sid=build_sid, deployment_sid=sid, date_updated=now)
        )
        row = conn.execute(sa.select(deployments).where(deployments.c.sid == sid)).one()
        changes.record(conn, "deployment", env.sid)
    call.api.changed(env.sid)
    # The answer waits (briefly) for the build's first worker: a request sent right after a
    # deploy then finds it started, not paying for Node.js or Python to start.
    call.api.activated(env.sid)
    return Reply(201, render(call, row))


@operation(returns=DEPLOYMENT_JSON)
def fetch_deployment(call: Call) -> Reply:
    with call.api.store.read() as conn:
        env = lookup.environment(call, conn)
        row = lookup.child(call, conn, deployments, DEPLOYMENT, environment_sid=env.sid)
    return Reply(200, render(call, row))


BASE = "/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Deployments"
ROUTES = [
    (BASE, "GET", list_deployments),
    (BASE, "POST", create_deployment),
    (BASE + "/{Sid}", "GET", fetch_deployment),
]
