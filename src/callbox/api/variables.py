"""Variables: ``/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Variables``.

Key/value pairs a function reads from its context. Values are secrets: stored sealed
(store.box), returned in clear to the account that owns them. A change applies to the next
invocation without a redeploy, so every write tells the serving side (``api.changed``).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from callbox.api import lookup
from callbox.api.endpoint import Call, Reply, operation
from callbox.api.params import Param
from callbox.api.render import PAGING, page, timestamp
from callbox.api.shapes import Shape, date, sid_of, string, url
from callbox.errors import BadRequest, Conflict
from callbox.rules import MAX_VARIABLE_BYTES as MAX_VALUE_BYTES
from callbox.rules import MAX_VARIABLE_KEY as MAX_KEY
from callbox.rules import MAX_VARIABLES_BYTES as MAX_TOTAL_BYTES
from callbox.rules import VARIABLE_KEY as KEY
from callbox.store import changes
from callbox.store.db import utcnow
from callbox.store.sids import ACCOUNT, ENVIRONMENT, SERVICE, VARIABLE, new_sid
from callbox.store.tables import variables
from callbox.store.variables import read_variables

VARIABLE_JSON = Shape(
    "Variable",
    sid=sid_of(VARIABLE),
    account_sid=sid_of(ACCOUNT),
    service_sid=sid_of(SERVICE),
    environment_sid=sid_of(ENVIRONMENT),
    key=string(),
    value=string(),
    date_created=date(),
    date_updated=date(),
    url=url(),
)


def _key(required: bool) -> Param:
    return Param(
        "Key",
        required=required,
        empty="missing" if required else "value",
        max_length=MAX_KEY,
        pattern=KEY.pattern,
        invalid=(
            "Key {value!r} is invalid: use letters, digits and underscores, not starting with "
            "a digit (e.g. API_KEY); it becomes a name in the function's context."
        ),
        description="A name in the function's context: letters, digits, underscores.",
    )


def _value(required: bool) -> Param:
    return Param(
        "Value",
        required=required,
        empty="value",  # an empty value is allowed (Twilio accepts one)
        max_bytes=MAX_VALUE_BYTES,
        too_long=(
            "Variable value is {found:,} bytes; at most {limit} (UTF-8). Store a larger secret "
            "in a private Asset and read it with Runtime.getAssets."
        ),
    )


def render(call: Call, row: Any) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "service_sid": row.service_sid,
        "environment_sid": row.environment_sid,
        "key": row.key,
        "value": call.api.store.box.open(row.value_sealed),
        "date_created": timestamp(row.date_created),
        "date_updated": timestamp(row.date_updated),
        "url": call.url(
            f"/v1/Services/{row.service_sid}/Environments/{row.environment_sid}/Variables/{row.sid}"
        ),
    }


@operation(*PAGING, returns=VARIABLE_JSON)
def list_variables(call: Call) -> Reply:
    with call.api.store.read() as conn:
        env = lookup.environment(call, conn)
        query = sa.select(variables).where(variables.c.environment_sid == env.sid)
        body = page(
            call,
            conn,
            query,
            variables,
            key="variables",
            path=f"/v1/Services/{env.service_sid}/Environments/{env.sid}/Variables",
            render=lambda row: render(call, row),
        )
    return Reply(200, body)


@operation(_key(required=True), _value(required=True), returns=VARIABLE_JSON)
def create_variable(call: Call) -> Reply:
    key, value = call.args["Key"], call.args["Value"]
    now = utcnow()
    with call.api.store.begin() as conn:
        env = lookup.environment(call, conn)
        current = read_variables(conn, call.api.store.box, env.sid)
        if key in current:
            raise Conflict(f"Variable with Key {key} already exists in this environment.")
        _check_total({**current, key: value})
        sid = new_sid(VARIABLE)
        try:
            conn.execute(
                variables.insert().values(
                    sid=sid,
                    account_sid=call.account_sid,
                    service_sid=env.service_sid,
                    environment_sid=env.sid,
                    key=key,
                    value_sealed=call.api.store.box.seal(value),
                    date_created=now,
                    date_updated=now,
                )
            )
        except sa.exc.IntegrityError:  # a concurrent create took the key first
            raise Conflict(f"Variable with Key {key} already exists in this environment.") from None
        row = conn.execute(sa.select(variables).where(variables.c.sid == sid)).one()
        changes.record(conn, "variables", env.sid)
    call.api.changed(env.sid)
    return Reply(201, render(call, row))


@operation(returns=VARIABLE_JSON)
def fetch_variable(call: Call) -> Reply:
    with call.api.store.read() as conn:
        row = _variable(call, conn, lookup.environment(call, conn))
    return Reply(200, render(call, row))


@operation(_key(required=False), _value(required=False), returns=VARIABLE_JSON)
def update_variable(call: Call) -> Reply:
    key, value = call.args["Key"], call.args["Value"]
    with call.api.store.begin() as conn:
        env = lookup.environment(call, conn)
        row = _variable(call, conn, env)
        if key is None and value is None:
            return Reply(200, render(call, row))
        current = read_variables(conn, call.api.store.box, env.sid)
        old_value = current.pop(row.key)
        new_key = row.key if key is None else key
        if new_key in current:
            raise Conflict(f"Variable with Key {new_key} already exists in this environment.")
        new_value = old_value if value is None else value
        _check_total({**current, new_key: new_value})
        updates: dict[str, Any] = {"key": new_key, "date_updated": utcnow()}
        if value is not None:
            updates["value_sealed"] = call.api.store.box.seal(value)
        try:
            conn.execute(variables.update().where(variables.c.sid == row.sid).values(**updates))
        except sa.exc.IntegrityError:
            raise Conflict(
                f"Variable with Key {new_key} already exists in this environment."
            ) from None
        row = conn.execute(sa.select(variables).where(variables.c.sid == row.sid)).one()
        changes.record(conn, "variables", env.sid)
    call.api.changed(env.sid)
    return Reply(200, render(call, row))


@operation()
def delete_variable(call: Call) -> Reply:
    with call.api.store.begin() as conn:
        env = lookup.environment(call, conn)
        row = _variable(call, conn, env)
        conn.execute(variables.delete().where(variables.c.sid == row.sid))
        changes.record(conn, "variables", env.sid)
    call.api.changed(env.sid)
    return Reply(204)


def _check_total(after: dict[str, str]) -> None:
    # Measured as the seed words it: the whole set, JSON encoded, after this change.
    size = len(json.dumps(after).encode())
    if size > MAX_TOTAL_BYTES:
        raise BadRequest(
            f"All variables of this environment would be {size:,} bytes as JSON; "
            f"at most {MAX_TOTAL_BYTES:,}. Shorten or delete some variables first."
        )


def _variable(call: Call, conn: sa.Connection, env: Any) -> Any:
    return lookup.child(call, conn, variables, VARIABLE, environment_sid=env.sid)


BASE = "/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Variables"
ROUTES = [
    (BASE, "GET", list_variables),
    (BASE, "POST", create_variable),
    (BASE + "/{Sid}", "GET", fetch_variable),
    (BASE + "/{Sid}", "POST", update_variable),
    (BASE + "/{Sid}", "DELETE", delete_variable),
]
