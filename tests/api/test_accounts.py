from __future__ import annotations

import httpx


async def key(client: httpx.AsyncClient, account_sid: str) -> tuple[str, str]:
    """A new API key of this account: (sid, secret)."""
    r = await client.post(
        f"/2010-04-01/Accounts/{account_sid}/Keys.json", data={"FriendlyName": "ci"}
    )
    assert r.status_code == 201, r.text
    return r.json()["sid"], r.json()["secret"]


async def test_owner_creates_an_account_that_can_call_the_api(client: httpx.AsyncClient) -> None:
    r = await client.post("/2010-04-01/Accounts.json", data={"FriendlyName": "Team B"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["sid"].startswith("AC") and len(body["auth_token"]) == 32
    assert body["friendly_name"] == "Team B" and body["status"] == "active"
    assert body["date_created"].endswith("+0000")
    r = await client.get("/v1/Services", auth=(body["sid"], body["auth_token"]))
    assert r.status_code == 200 and r.json()["services"] == []
    listed = (await client.get("/2010-04-01/Accounts.json")).json()["accounts"]
    assert body["sid"] in [a["sid"] for a in listed]


async def test_a_sub_account_cannot_create_accounts(client: httpx.AsyncClient) -> None:
    sub = (await client.post("/2010-04-01/Accounts.json", data={"FriendlyName": "x"})).json()
    r = await client.post(
        "/2010-04-01/Accounts.json",
        data={"FriendlyName": "y"},
        auth=(sub["sid"], sub["auth_token"]),
    )
    assert r.status_code == 403 and r.json()["code"] == 20403


async def test_api_keys_authenticate_as_their_account(
    client: httpx.AsyncClient, owner: tuple[str, str]
) -> None:
    r = await client.post(f"/2010-04-01/Accounts/{owner[0]}/Keys.json", data={"FriendlyName": "ci"})
    assert r.status_code == 201, r.text
    key = r.json()
    assert key["sid"].startswith("SK") and key["secret"]
    made = await client.post(
        "/v1/Services",
        data={"UniqueName": "k", "FriendlyName": "k"},
        auth=(key["sid"], key["secret"]),
    )
    assert made.status_code == 201 and made.json()["account_sid"] == owner[0]
    listed = (await client.get(f"/2010-04-01/Accounts/{owner[0]}/Keys.json")).json()["keys"]
    assert [k["sid"] for k in listed] == [key["sid"]] and "secret" not in listed[0]
    r = await client.delete(f"/2010-04-01/Accounts/{owner[0]}/Keys/{key['sid']}.json")
    assert r.status_code == 204
    r = await client.get("/v1/Services", auth=(key["sid"], key["secret"]))
    assert r.status_code == 401
    r = await client.get("/v1/Services", auth=(key["sid"], "wrong"))
    assert r.status_code == 401


async def test_other_accounts_are_invisible(
    client: httpx.AsyncClient, other: httpx.AsyncClient, owner: tuple[str, str]
) -> None:
    assert (await other.get(f"/2010-04-01/Accounts/{owner[0]}.json")).status_code == 404
    r = await other.post(f"/2010-04-01/Accounts/{owner[0]}/Keys.json", data={"FriendlyName": "x"})
    assert r.status_code == 404
    r = await client.get("/2010-04-01/Accounts/ACnope.json")
    assert r.status_code == 404
    r = await client.get(f"/2010-04-01/Accounts/{owner[0]}/Keys/SKnope.json")
    assert r.status_code == 404


async def test_an_api_key_cannot_read_the_auth_token(
    client: httpx.AsyncClient, owner: tuple[str, str]
) -> None:
    # From the review: a key (revocable) read the account's token (not revocable) here.
    r = await client.get(f"/2010-04-01/Accounts/{owner[0]}.json", auth=await key(client, owner[0]))
    assert r.status_code == 403 and r.json()["code"] == 20403
    assert owner[1] not in r.text
    assert r.json()["message"].startswith("API keys cannot manage accounts or keys")


async def test_an_api_key_lists_only_its_own_account_without_the_token(
    client: httpx.AsyncClient, owner: tuple[str, str]
) -> None:
    # How a key learns its account (the toolkit needs it), never with the auth token.
    r = await client.get("/2010-04-01/Accounts.json", auth=await key(client, owner[0]))
    assert r.status_code == 200
    [account] = r.json()["accounts"]
    assert account["sid"] == owner[0] and account["auth_token"] is None
    assert owner[1] not in r.text


async def test_an_api_key_cannot_mint_keys(
    client: httpx.AsyncClient, owner: tuple[str, str]
) -> None:
    # From the review: a leaked key could copy itself, so revoking it revoked nothing.
    as_key = await key(client, owner[0])
    r = await client.post(f"/2010-04-01/Accounts/{owner[0]}/Keys.json", data={}, auth=as_key)
    assert r.status_code == 403 and r.json()["code"] == 20403
    listed = (await client.get(f"/2010-04-01/Accounts/{owner[0]}/Keys.json")).json()["keys"]
    assert [k["sid"] for k in listed] == [as_key[0]]
