"""The ``Twilio`` and ``Runtime`` globals: TwiML, JWT, Response, assets, functions, sync."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import callbox.runtime
from callbox.config import Config
from callbox.gateway.pool import Pool
from callbox.gateway.source import Deployment
from callbox.gateway.supervisor import Supervisor
from callbox.runtime.globals import AssetInfo, FunctionInfo, Runtime, Twilio
from callbox.runtime.response import Response
from callbox.toolkit.project import Layout, discover

ROOT = Path(__file__).resolve().parents[1] / "functions" / "unit_globals"
ROUTES = discover(Layout.find(ROOT))
ACCOUNT_SID = "AC" + "a" * 32
API_KEY = "SK" + "b" * 32
API_SECRET = "unit-api-secret-long-enough-for-hs256"


@pytest.fixture
def installed() -> Iterator[None]:
    """Runtime installed in this process as a worker installs it: functions + private assets."""
    saved = (Runtime._functions, Runtime._assets)
    Runtime.install(
        {r.path: str(r.file) for r in ROUTES.values() if r.kind == "function"},
        {
            r.path: str(r.file)
            for r in ROUTES.values()
            if r.kind == "asset" and r.visibility == "private"
        },
    )
    yield
    Runtime._functions, Runtime._assets = saved
    for name in [n for n in sys.modules if n.startswith("callbox_functions.")]:
        del sys.modules[name]


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    header, payload, signature = token.split(".")
    signed = f"{header}.{payload}".encode()
    return json.loads(decode(header)), json.loads(decode(payload)), decode(signature), signed


# --- Twilio -----------------------------------------------------------------------------


def test_messaging_response() -> None:
    twiml = Twilio.twiml.MessagingResponse()
    twiml.message("Hello there")
    assert str(twiml) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hello there</Message></Response>'
    )


def test_voice_response() -> None:
    twiml = Twilio.twiml.VoiceResponse()
    twiml.say("Welcome")
    twiml.hangup()
    assert str(twiml).endswith("<Response><Say>Welcome</Say><Hangup /></Response>")


def test_fax_response() -> None:
    twiml = Twilio.twiml.FaxResponse()
    twiml.receive(action="/fax/received")
    assert str(twiml).endswith('<Response><Receive action="/fax/received" /></Response>')


def test_twiml_classes_are_the_twilio_librarys() -> None:
    from twilio.twiml.messaging_response import MessagingResponse
    from twilio.twiml.voice_response import VoiceResponse

    assert Twilio.twiml.MessagingResponse is MessagingResponse
    assert Twilio.twiml.VoiceResponse is VoiceResponse


def test_access_token_with_a_voice_grant_through_the_node_spelling() -> None:
    token = Twilio.jwt.AccessToken(ACCOUNT_SID, API_KEY, API_SECRET, identity="alice", ttl=600)
    grant = Twilio.jwt.AccessToken.VoiceGrant(
        outgoing_application_sid="AP" + "c" * 32, incoming_allow=True
    )
    token.add_grant(grant)
    jwt = token.to_jwt()
    header, payload, signature, signed = jwt_parts(jwt)
    assert header["alg"] == "HS256"
    assert header["cty"] == "twilio-fpa;v=1"
    assert payload["iss"] == API_KEY
    assert payload["sub"] == ACCOUNT_SID
    assert payload["exp"] - payload["nbf"] == 600
    assert payload["grants"] == {
        "identity": "alice",
        "voice": {
            "incoming": {"allow": True},
            "outgoing": {"application_sid": "AP" + "c" * 32},
        },
    }
    assert signature == hmac.new(API_SECRET.encode(), signed, hashlib.sha256).digest()


def test_access_token_grants_are_also_under_jwt_grants() -> None:
    from twilio.jwt.access_token import AccessToken
    from twilio.jwt.access_token.grants import ChatGrant, VideoGrant, VoiceGrant

    assert issubclass(Twilio.jwt.AccessToken, AccessToken)
    assert Twilio.jwt.grants.VoiceGrant is VoiceGrant
    assert Twilio.jwt.AccessToken.ChatGrant is ChatGrant
    assert Twilio.jwt.AccessToken.VideoGrant is VideoGrant
    token = Twilio.jwt.AccessToken(ACCOUNT_SID, API_KEY, API_SECRET, identity="bob")
    token.add_grant(Twilio.jwt.grants.ChatGrant(service_sid="IS" + "d" * 32))
    _, payload, _, _ = jwt_parts(token.to_jwt())
    assert payload["grants"]["chat"] == {"service_sid": "IS" + "d" * 32}


def test_twilio_response_is_the_callbox_response() -> None:
    assert Twilio.Response is Response
    response = Twilio.Response().set_status_code(201).set_body({"ok": True})
    assert (response.status_code, response.body) == (201, {"ok": True})
    assert Twilio.Response().setStatusCode(418).status_code == 418


def test_request_validator_and_client_are_the_twilio_librarys() -> None:
    from twilio.request_validator import RequestValidator
    from twilio.rest import Client

    assert Twilio.RequestValidator is RequestValidator
    assert Twilio.Client is Client


def test_explicit_import_gives_the_same_objects() -> None:
    from callbox.runtime import Runtime as ImportedRuntime
    from callbox.runtime import Twilio as ImportedTwilio

    assert ImportedTwilio is Twilio
    assert ImportedRuntime is Runtime
    assert {"Twilio", "Runtime", "Response", "Context"} <= set(callbox.runtime.__all__)


# --- Runtime.get_assets -----------------------------------------------------------------


def test_get_assets_keys_and_open(installed: None) -> None:
    assets = Runtime.get_assets()
    assert sorted(assets) == ["/data.json", "/logo.png", "/notes.txt"]
    assert isinstance(assets["/data.json"], AssetInfo)
    assert assets["/data.json"].path == str(ROOT / "assets" / "data.private.json")
    assert json.loads(assets["/data.json"].open()) == {"secret": "value"}
    assert assets["/notes.txt"].open() == "private notes\n"
    logo = assets["/logo.png"].open("rb")
    assert isinstance(logo, bytes)
    assert logo == (ROOT / "assets" / "logo.private.png").read_bytes()
    assert logo.startswith(b"\x89PNG")


def test_get_assets_returns_a_copy(installed: None) -> None:
    Runtime.get_assets().clear()
    assert "/data.json" in Runtime.get_assets()


def test_get_assets_camel_case_alias(installed: None) -> None:
    assert Runtime.getAssets() == Runtime.get_assets()


def test_opening_a_binary_asset_as_text_fails_clearly(installed: None) -> None:
    with pytest.raises(UnicodeDecodeError):
        Runtime.get_assets()["/logo.png"].open()


# --- Runtime.get_functions --------------------------------------------------------------


def test_get_functions_keys_have_no_leading_slash(installed: None) -> None:
    functions = Runtime.get_functions()
    assert sorted(functions) == [
        "explicit_import",
        "lib/counter",
        "list_assets",
        "list_functions",
        "twiml",
    ]
    info = functions["lib/counter"]
    assert isinstance(info, FunctionInfo)
    assert info.path == str(ROOT / "functions" / "lib" / "counter.private.py")
    assert Runtime.getFunctions().keys() == functions.keys()


def test_load_returns_the_module_once(installed: None) -> None:
    info = Runtime.get_functions()["lib/counter"]
    module = info.load()
    assert module.greet("Ada") == "counter greets Ada"
    assert module.LOADS == ["loaded"]
    assert Runtime.get_functions()["lib/counter"].load() is module
    assert module.LOADS == ["loaded"]  # the file ran once
    assert sys.modules[module.__name__] is module


def test_function_info_by_route_with_or_without_slash(installed: None) -> None:
    assert Runtime.function_info("/lib/counter") is Runtime.function_info("lib/counter")


def test_loaded_modules_see_the_globals(installed: None) -> None:
    module = Runtime.get_functions()["twiml"].load()
    assert module.Twilio is Twilio and module.Runtime is Runtime and module.Response is Response
    result = module.handler({}, {"From": "Ada"}, lambda error, value: value)
    assert str(result).endswith("<Message>Hello Ada</Message></Response>")


def test_load_of_a_broken_file_leaves_nothing_behind_and_can_be_retried(tmp_path: Path) -> None:
    file = tmp_path / "broken.py"
    file.write_text("raise ValueError('broken at import')\n")
    info = FunctionInfo(path=str(file), route="/unit-broken")
    with pytest.raises(ValueError, match="broken at import"):
        info.load()
    assert "callbox_functions.unit_broken" not in sys.modules
    file.write_text("VALUE = 1\n")
    assert info.load().VALUE == 1


def test_helpers_loading_each_other_do_not_deadlock(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("B = Runtime.get_functions()['unit-b'].load()\nNAME = 'a'\n")
    (tmp_path / "b.py").write_text("A = Runtime.get_functions()['unit-a'].load()\nNAME = 'b'\n")
    Runtime.install({"/unit-a": str(tmp_path / "a.py"), "/unit-b": str(tmp_path / "b.py")}, {})
    module_a = Runtime.get_functions()["unit-a"].load()
    assert module_a.B.NAME == "b" and module_a.B.A is module_a


# --- Runtime.get_sync -------------------------------------------------------------------


def test_get_sync_is_not_available_yet() -> None:
    with pytest.raises(NotImplementedError) as caught:
        Runtime.get_sync()
    assert str(caught.value) == (
        "Runtime.get_sync() is not available yet: callbox does not ship Sync. "
        "Keep shared state in an external store for now."
    )
    with pytest.raises(NotImplementedError, match="not available yet"):
        Runtime.getSync(serviceName="default")


# --- in a real worker -------------------------------------------------------------------


@pytest.fixture
async def pool() -> AsyncIterator[Pool]:
    supervisor = Supervisor(max_body=1024 * 1024)
    await supervisor.start()
    deployment = Deployment(build_key="unit-globals", service_key="unit", root=ROOT, routes=ROUTES)
    spec = deployment.worker_spec(memory_limit_mb=256, debug_errors=False, threads=8)
    pool = Pool(supervisor, spec, Config(execution_timeout=5.0))
    yield pool
    pool.close()
    await supervisor.stop()


async def test_in_a_worker_get_assets_holds_only_private_assets(pool: Pool) -> None:
    reply = await pool.invoke("RQassets", "/list_assets", {}, {})
    assert reply.status == 200
    assert json.loads(reply.body) == {
        "keys": ["/data.json", "/logo.png", "/notes.txt"],
        "camel_keys": ["/data.json", "/logo.png", "/notes.txt"],
        "data": '{"secret": "value"}\n',
        "logo_size": (ROOT / "assets" / "logo.private.png").stat().st_size,
    }


async def test_in_a_worker_functions_load_once_across_invocations(pool: Pool) -> None:
    first = json.loads((await pool.invoke("RQf1", "/list_functions", {}, {"name": "A"})).body)
    second = json.loads((await pool.invoke("RQf2", "/list_functions", {}, {"name": "B"})).body)
    assert first == {
        "keys": ["explicit_import", "lib/counter", "list_assets", "list_functions", "twiml"],
        "same_module": True,
        "loads": ["loaded"],
        "greeting": "counter greets A",
    }
    assert second["loads"] == ["loaded"]
    assert second["greeting"] == "counter greets B"


async def test_in_a_worker_twiml_and_explicit_imports(pool: Pool) -> None:
    reply = await pool.invoke("RQt", "/twiml", {}, {"From": "Ada"})
    assert reply.headers == [("Content-Type", "text/xml; charset=utf-8")]
    assert reply.body.endswith(b"<Response><Message>Hello Ada</Message></Response>")
    reply = await pool.invoke("RQi", "/explicit_import", {}, {})
    assert json.loads(reply.body) == {"same_twilio": True, "same_runtime": True}
