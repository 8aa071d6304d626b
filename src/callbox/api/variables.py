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
from callbox.api.endpoint import Call, Reply
from callbox.api.render import page, timestamp
from callbox.errors import BadRequest, Conflict
from callbox.rules import MAX_VARIABLE_BYTES as MAX_VALUE_BYTES
from callbox.rules import MAX_VARIABLE_KEY as MAX_KEY
from callbox.rules import MAX_VARIABLES_BYTES as MAX_TOTAL_BYTES
from callbox.rules import VARIABLE_KEY as KEY
from callbox.store.db import utcnow
from callbox.store.sids import VARIABLE, new_sid
from callbox.store.tables import variables
from callbox.store.variables import read_variables


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


def create_variable(call: Call) -> Reply:
    key = _check_key(call.form.required("Key"))
    value = _value(call)
    if value is None:
        raise BadRequest("Missing required parameter Value in the post body")
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
    call.api.changed(env.sid)
    return Reply(201, render(call, row))


def fetch_variable(call: Call) -> Reply:
    with call.api.store.read() as conn:
        row = _variable(call, conn, lookup.environment(call, conn))
    return Reply(200, render(call, row))


def update_variable(call: Call) -> Reply:
    raw_key = call.form.text("Key")
    key = None if raw_key is None else _check_key(raw_key)
    value = _value(call)
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
        changes: dict[str, Any] = {"key": new_key, "date_updated": utcnow()}
        if value is not None:
            changes["value_sealed"] = call.api.store.box.seal(value)
        try:
            conn.execute(variables.update().where(variables.c.sid == row.sid).values(**changes))
        except sa.exc.IntegrityError:
            raise Conflict(
                f"Variable with Key {new_key} already exists in this environment."
            ) from None
        row = conn.execute(sa.select(variables).where(variables.c.sid == row.sid)).one()
    call.api.changed(env.sid)
    return Reply(200, render(call, row))


def delete_variable(call: Call) -> Reply:
    with call.api.store.begin() as conn:
        env = lookup.environment(call, conn)
        row = _variable(call, conn, env)
        conn.execute(variables.delete().where(variables.c.sid == row.sid))
    call.api.changed(env.sid)
    return Reply(204)


def _check_key(key: str) -> str:
    if len(key) > MAX_KEY:
        raise BadRequest(
            f"Parameter Key is too long: at most {MAX_KEY} characters, found {len(key)}"
        )
    if not KEY.fullmatch(key):
        raise BadRequest(
            f"Key {key!r} is invalid: use letters, digits and underscores, not starting with a "
            "digit (e.g. API_KEY); it becomes a name in the function's context."
        )
    return key


def _value(call: Call) -> str | None:
    """The Value parameter; an empty value is allowed (Twilio accepts one)."""
    value = call.form.text("Value")
    if value is not None:
        size = len(value.encode())
        if size > MAX_VALUE_BYTES:
            raise BadRequest(
                f"Variable value is {size:,} bytes; at most {MAX_VALUE_BYTES} (UTF-8). "
                "Store a larger secret in a private Asset and read it with Runtime.getAssets."
            )
    return value


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
