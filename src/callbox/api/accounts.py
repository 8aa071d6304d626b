"""Accounts and API keys, at Twilio's own paths (``/2010-04-01/Accounts...``), so the SDK's
``client.api.v2010.accounts.create()`` and ``client.new_keys.create()`` work unchanged.

The owner account (created on first start) may create accounts; any account manages its own
keys. A secret (auth token, key secret) is in the create answer and in the account's own fetch,
as on Twilio. Only an account's own token opens these routes: an API key (a revocable
credential) must not lead to the token or to more keys, as Twilio's standard keys cannot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callbox.api.endpoint import Call, Reply, operation
from callbox.api.params import Param
from callbox.api.shapes import Shape, nested, one_of, sid_of, string
from callbox.errors import NotFound, NotPermitted
from callbox.store.sids import ACCOUNT, API_KEY, is_sid

PREFIX = "/2010-04-01"

# The 2010 API's JSON: RFC 2822 dates, relative uris.
ACCOUNT_JSON = Shape(
    "Account",
    sid=sid_of(ACCOUNT),
    friendly_name=string(),
    owner_account_sid=sid_of(ACCOUNT),
    auth_token=string(nullable=True),
    status=string(),
    type=one_of("Full"),
    date_created=string(),
    date_updated=string(),
    uri=string(),
    subresource_uris=nested(Shape("", keys=string())),
)
KEY_JSON = Shape(
    "Key",
    sid=sid_of(API_KEY),
    friendly_name=string(),
    date_created=string(),
    date_updated=string(),
    secret=string(optional=True, description="Only in the answer that creates the key."),
)


def rfc2822(value: datetime) -> str:
    # The 2010 API writes dates this way (the SDK parses them with email.utils).
    return value.strftime("%a, %d %b %Y %H:%M:%S +0000")


def render_account(call: Call, row: Any, token: str | None) -> dict[str, Any]:
    uri = f"{PREFIX}/Accounts/{row.sid}.json"
    return {
        "sid": row.sid,
        "friendly_name": row.friendly_name,
        "owner_account_sid": row.owner_account_sid or row.sid,
        "auth_token": token,
        "status": row.status,
        "type": "Full",
        "date_created": rfc2822(row.date_created),
        "date_updated": rfc2822(row.date_updated),
        "uri": uri,
        "subresource_uris": {"keys": f"{PREFIX}/Accounts/{row.sid}/Keys.json"},
    }


def render_key(row: Any, secret: str | None = None) -> dict[str, Any]:
    body = {
        "sid": row.sid,
        "friendly_name": row.friendly_name,
        "date_created": rfc2822(row.date_created),
        "date_updated": rfc2822(row.date_updated),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def _envelope(call: Call, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    # Small lists: one page, in the 2010 API's envelope.
    uri = call.uri
    return {
        key: items,
        "first_page_uri": uri,
        "next_page_uri": None,
        "previous_page_uri": None,
        "page": 0,
        "page_size": max(len(items), 50),
        "start": 0,
        "end": max(len(items) - 1, 0),
        "uri": uri,
    }


def _token_only(call: Call) -> None:
    if call.via_key:
        raise NotPermitted(
            "API keys cannot manage accounts or keys; authenticate with the account SID and "
            "its auth token."
        )


@operation(
    Param("FriendlyName", max_length=255, empty="absent", default="Account"),
    returns=ACCOUNT_JSON,
)
def create_account(call: Call) -> Reply:
    _token_only(call)
    accounts = call.api.accounts
    me = accounts.account(call.account_sid)
    if me is None or me.owner_account_sid is not None:
        raise NotPermitted("Only the owner account may create accounts.")
    sid, token = accounts.create_account(call.args["FriendlyName"], call.account_sid)
    return Reply(201, render_account(call, accounts.account(sid), token))


@operation(returns=ACCOUNT_JSON)
def list_accounts(call: Call) -> Reply:
    accounts = call.api.accounts
    if call.via_key:
        # An API key does not name its account; this is how it learns which it is (the
        # toolkit needs it for .twiliodeployinfo and config scopes) — never with the token.
        me = accounts.account(call.account_sid)
        return Reply(200, _envelope(call, "accounts", [render_account(call, me, None)]))
    rows = accounts.children(call.account_sid)
    items = [render_account(call, row, accounts.auth_token(row.sid)) for row in rows]
    return Reply(200, _envelope(call, "accounts", items))


def _visible_account(call: Call, sid: str) -> Any:
    row = call.api.accounts.account(sid) if is_sid(sid, ACCOUNT) else None
    if row is None or call.account_sid not in (row.sid, row.owner_account_sid):
        raise NotFound(f"The requested resource {call.uri} was not found")
    return row


@operation(returns=ACCOUNT_JSON)
def fetch_account(call: Call) -> Reply:
    _token_only(call)
    row = _visible_account(call, call.path["Sid"])
    return Reply(200, render_account(call, row, call.api.accounts.auth_token(row.sid)))


@operation(Param("FriendlyName", max_length=255, empty="absent", default=""), returns=KEY_JSON)
def create_key(call: Call) -> Reply:
    _token_only(call)
    account = _visible_account(call, call.path["AccountSid"])
    sid, secret = call.api.accounts.create_key(account.sid, call.args["FriendlyName"])
    row = next(k for k in call.api.accounts.keys(account.sid) if k.sid == sid)
    return Reply(201, render_key(row, secret))


@operation(returns=KEY_JSON)
def list_keys(call: Call) -> Reply:
    _token_only(call)
    account = _visible_account(call, call.path["AccountSid"])
    items = [render_key(row) for row in call.api.accounts.keys(account.sid)]
    return Reply(200, _envelope(call, "keys", items))


def _key(call: Call) -> tuple[Any, Any]:
    account = _visible_account(call, call.path["AccountSid"])
    sid = call.path["Sid"]
    for row in call.api.accounts.keys(account.sid) if is_sid(sid, API_KEY) else []:
        if row.sid == sid:
            return account, row
    raise NotFound(f"The requested resource {call.uri} was not found")


@operation(returns=KEY_JSON)
def fetch_key(call: Call) -> Reply:
    _token_only(call)
    return Reply(200, render_key(_key(call)[1]))


@operation()
def delete_key(call: Call) -> Reply:
    _token_only(call)
    account, row = _key(call)
    call.api.accounts.delete_key(account.sid, row.sid)
    return Reply(204)


ROUTES = [
    (f"{PREFIX}/Accounts.json", "GET", list_accounts),
    (f"{PREFIX}/Accounts.json", "POST", create_account),
    (f"{PREFIX}/Accounts/{{Sid}}.json", "GET", fetch_account),
    (f"{PREFIX}/Accounts/{{AccountSid}}/Keys.json", "GET", list_keys),
    (f"{PREFIX}/Accounts/{{AccountSid}}/Keys.json", "POST", create_key),
    (f"{PREFIX}/Accounts/{{AccountSid}}/Keys/{{Sid}}.json", "GET", fetch_key),
    (f"{PREFIX}/Accounts/{{AccountSid}}/Keys/{{Sid}}.json", "DELETE", delete_key),
]
