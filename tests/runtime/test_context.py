"""The ``context`` argument: variables by attribute and item, the local warnings, the client."""

from __future__ import annotations

import logging

import pytest
from twilio.rest import Client

from callbox.runtime import context as context_module
from callbox.runtime.context import Context, TwilioClientError

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "unit-auth-token"


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context_module, "_warned", set())


def test_attribute_and_item_access_are_the_same() -> None:
    ctx = Context({"GREETING": "hello", "PATH": "/hi", "DOMAIN_NAME": "example.test"})
    assert ctx.GREETING == ctx["GREETING"] == "hello"
    assert ctx.PATH == "/hi"
    assert ctx.DOMAIN_NAME == "example.test"
    assert ctx.get("GREETING") == "hello"
    assert ctx.get("MISSING", "fallback") == "fallback"
    assert "GREETING" in ctx
    assert dict(ctx) == {"GREETING": "hello", "PATH": "/hi", "DOMAIN_NAME": "example.test"}


def test_unknown_attribute_is_an_attribute_error_naming_it() -> None:
    ctx = Context({"GREETING": "hello"})
    with pytest.raises(AttributeError, match="context has no variable 'NOPE'"):
        _ = ctx.NOPE
    assert getattr(ctx, "NOPE", "default") == "default"
    assert not hasattr(ctx, "NOPE")


def test_unknown_item_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        _ = Context({})["NOPE"]


def test_variables_keep_their_values_and_types() -> None:
    ctx = Context({"EMPTY": "", "SERVICE_SID": "ZS123", "NUMBER": "42"})
    assert ctx.EMPTY == ""
    assert ctx.SERVICE_SID == "ZS123"
    assert ctx.NUMBER == "42"


def test_service_sid_none_locally_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    ctx = Context({"SERVICE_SID": None, "ENVIRONMENT_SID": None}, local=True)
    with caplog.at_level(logging.WARNING, logger="callbox.context"):
        assert ctx.SERVICE_SID is None
        assert ctx["SERVICE_SID"] is None
        assert Context({"SERVICE_SID": None}, local=True).SERVICE_SID is None
    warnings = [r for r in caplog.records if r.name == "callbox.context"]
    assert [r.getMessage() for r in warnings] == [
        "The SERVICE_SID variable is undefined in local development; it is set when your "
        "functions are deployed."
    ]
    assert warnings[0].levelno == logging.WARNING


def test_environment_sid_gets_its_own_single_warning(caplog: pytest.LogCaptureFixture) -> None:
    ctx = Context({"SERVICE_SID": None, "ENVIRONMENT_SID": None}, local=True)
    with caplog.at_level(logging.WARNING, logger="callbox.context"):
        _ = ctx.SERVICE_SID
        _ = ctx.ENVIRONMENT_SID
        _ = ctx.ENVIRONMENT_SID
    messages = [r.getMessage() for r in caplog.records if r.name == "callbox.context"]
    assert len(messages) == 2
    assert "SERVICE_SID" in messages[0] and "ENVIRONMENT_SID" in messages[1]


def test_no_warning_when_deployed_or_when_the_sid_is_set(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="callbox.context"):
        assert Context({"SERVICE_SID": None}, local=False).SERVICE_SID is None
        assert Context({"SERVICE_SID": "ZS1"}, local=True).SERVICE_SID == "ZS1"
        assert Context({"OTHER": None}, local=True).OTHER is None
    assert [r for r in caplog.records if r.name == "callbox.context"] == []


# --- get_twilio_client ------------------------------------------------------------------


def test_missing_account_sid() -> None:
    for values in ({}, {"ACCOUNT_SID": "", "AUTH_TOKEN": AUTH_TOKEN}, {"ACCOUNT_SID": None}):
        with pytest.raises(TwilioClientError) as caught:
            Context(values).get_twilio_client()
        assert str(caught.value) == (
            "Missing Account SID: add ACCOUNT_SID=AC... to your .env file, or deploy the "
            "service with credentials included."
        )


@pytest.mark.parametrize(
    "sid", ["ACshort", "XX" + "0" * 32, "AC" + "0" * 33, "ac" + "0" * 32, 12345]
)
def test_invalid_account_sid(sid: object) -> None:
    with pytest.raises(TwilioClientError) as caught:
        Context({"ACCOUNT_SID": sid, "AUTH_TOKEN": AUTH_TOKEN}).get_twilio_client()
    assert str(caught.value) == (
        f"Invalid Account SID: ACCOUNT_SID must be 'AC' followed by 32 characters; found {sid!r}."
    )


@pytest.mark.parametrize("token", [None, ""])
def test_missing_auth_token(token: str | None) -> None:
    values = {"ACCOUNT_SID": ACCOUNT_SID}
    if token is not None:
        values["AUTH_TOKEN"] = token
    with pytest.raises(TwilioClientError) as caught:
        Context(values).get_twilio_client()
    assert str(caught.value) == (
        "Missing Auth Token: add AUTH_TOKEN=... to your .env file, or deploy the "
        "service with credentials included."
    )


def test_twilio_client_error_is_a_runtime_error() -> None:
    assert issubclass(TwilioClientError, RuntimeError)


def test_valid_credentials_give_a_twilio_client() -> None:
    client = Context({"ACCOUNT_SID": ACCOUNT_SID, "AUTH_TOKEN": AUTH_TOKEN}).get_twilio_client()
    assert isinstance(client, Client)
    assert client.username == ACCOUNT_SID
    assert client.password == AUTH_TOKEN
    assert client.account_sid == ACCOUNT_SID


def test_client_options_pass_through() -> None:
    ctx = Context({"ACCOUNT_SID": ACCOUNT_SID, "AUTH_TOKEN": AUTH_TOKEN})
    client = ctx.get_twilio_client(region="au1", edge="sydney")
    assert (client.region, client.edge) == ("au1", "sydney")


def test_camel_case_alias() -> None:
    ctx = Context({"ACCOUNT_SID": ACCOUNT_SID, "AUTH_TOKEN": AUTH_TOKEN})
    client = ctx.getTwilioClient()
    assert isinstance(client, Client)
    assert client.account_sid == ACCOUNT_SID
    assert Context.getTwilioClient is Context.get_twilio_client
    with pytest.raises(TwilioClientError, match="Missing Account SID"):
        Context({}).getTwilioClient()
