"""Every shipped template really works: `callbox new` copies all of them into one project, which
is then served in-process by the real gateway, pool and worker processes (httpx ASGITransport),
exactly as `callbox start` would serve it."""

from __future__ import annotations

import base64
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest
import pytest_asyncio
from click.testing import CliRunner
from twilio.jwt import Jwt
from twilio.request_validator import RequestValidator

from callbox.config import Config
from callbox.gateway.app import Gateway, Served
from callbox.gateway.pool import PoolSet
from callbox.gateway.source import Deployment
from callbox.gateway.supervisor import Supervisor
from callbox.toolkit.commands.templates import new
from callbox.toolkit.project import Layout, discover, read_env
from callbox.toolkit.templating import list_templates

HOST = "templates.test"
BASE = f"http://{HOST}"
AUTH_TOKEN = "templates-test-auth-token"
JWT_SECRET = "a-test-secret-of-more-than-32-characters"
PROJECT_ENV = {
    "MY_PHONE_NUMBER": "+15551234567",
    "AUTH_TOKEN": AUTH_TOKEN,
    "USERNAME": "ada",
    "PASSWORD": "correct:horse battery",
    "JWT_SECRET": JWT_SECRET,
    "ALLOWED_ORIGIN": "https://app.example.com, http://localhost:8080",
}
TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"
XML = "text/xml; charset=utf-8"

pytestmark = pytest.mark.asyncio(loop_scope="module")

MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


class Source:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    async def resolve(self, host: str) -> Deployment | None:
        return self.deployment if host == HOST else None


class Events:
    counts_requests = True

    def request_done(self, served: Served) -> None:
        pass

    def function_logs(self, meta: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        pass

    def invocation_failed(self, meta: dict[str, Any], code: int, text: str) -> None:
        pass


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding every template, each under a namespace named after it."""
    root = tmp_path_factory.mktemp("templates") / "project"
    (root / "functions").mkdir(parents=True)
    (root / "assets").mkdir()
    (root / ".env").write_text("".join(f"{key}={value!r}\n" for key, value in PROJECT_ENV.items()))
    for template in list_templates():
        args = [template.id, "--template", template.id, "--cwd", str(root)]
        result = CliRunner().invoke(new, args)
        assert result.exit_code == 0, result.output
    return root


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def make_client(supervisor: Supervisor, project: Path) -> AsyncIterator[MakeClient]:
    """Clients of the project served with its .env, or with some variables replaced."""
    made: dict[tuple[tuple[str, str], ...], tuple[httpx.AsyncClient, PoolSet]] = {}

    async def make(**overrides: str) -> httpx.AsyncClient:
        key = tuple(sorted(overrides.items()))
        if key not in made:
            variables = {**read_env(project / ".env"), **overrides}
            deployment = Deployment(
                build_key=f"templates-{len(made)}",
                service_key=f"templates-{len(made)}",
                root=project,
                routes=discover(Layout.find(project)),
                variables=variables,
                auth_token=variables.get("AUTH_TOKEN") or None,
                local=True,
            )
            config = Config(execution_timeout=10.0, debug_errors=True)
            pools = PoolSet(supervisor, config)
            gateway = Gateway(config, Source(deployment), pools, Events())
            transport = httpx.ASGITransport(app=gateway)
            made[key] = (httpx.AsyncClient(transport=transport, base_url=BASE), pools)
        return made[key][0]

    yield make
    for client, pools in made.values():
        await client.aclose()
        for pool in list(pools._pools.values()):
            pool.close()
            for worker in list(pool.workers):
                worker.kill()


async def test_the_project_env_kept_its_values_and_got_every_template_key(project: Path) -> None:
    env = read_env(project / ".env")
    assert env == {key: value for key, value in PROJECT_ENV.items()}
    text = (project / ".env").read_text()
    assert '# Variables for function "jwt-auth"\n# ---\n' in text
    assert "\n# JWT_SECRET=\n" in text and "\n# ALLOWED_ORIGIN=http://localhost:8080\n" in text


# --- hello-world, blank ---------------------------------------------------------------------


async def test_hello_world_answers_text(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.get("/hello-world/hello-world")
    assert (response.status_code, response.text) == (200, "Hello World!")
    assert response.headers["content-type"] == TEXT


async def test_blank_answers_an_empty_json_object(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/blank/blank", data={"anything": "goes"})
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    assert response.json() == {}


# --- TwiML ----------------------------------------------------------------------------------


def twiml(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XML
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    return root


async def test_hello_messaging_replies_hello_world(make_client: MakeClient) -> None:
    client = await make_client()
    root = twiml(
        await client.post("/hello-messaging/hello-messaging", data={"Body": "hi", "From": "+1"})
    )
    [message] = list(root)
    assert (message.tag, message.text, message.attrib) == ("Message", "Hello World", {})


async def test_hello_voice_says_hello_world(make_client: MakeClient) -> None:
    client = await make_client()
    root = twiml(await client.post("/hello-voice/hello-voice", data={"From": "+15550001111"}))
    [say] = list(root)
    assert (say.tag, say.text) == ("Say", "Hello World")


async def test_forward_message_sends_from_and_body_to_my_phone_number(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    root = twiml(
        await client.post(
            "/forward-message/forward-message",
            data={"From": "+15550001111", "Body": "Are you <there> & awake?"},
        )
    )
    [message] = list(root)
    assert message.tag == "Message"
    assert message.attrib == {"to": "+15551234567"}
    assert message.text == "From: +15550001111. Body: Are you <there> & awake?"


async def test_forward_message_without_my_phone_number_says_what_to_set(
    make_client: MakeClient,
) -> None:
    client = await make_client(MY_PHONE_NUMBER="")
    response = await client.post("/forward-message/forward-message", data={"Body": "x"})
    assert response.status_code == 500
    assert "MY_PHONE_NUMBER is not set" in response.json()["message"]


# --- protected-webhook ----------------------------------------------------------------------

WEBHOOK = "/protected-webhook/webhook"
WEBHOOK_PARAMS = {"From": "+15550001111", "Body": "hello", "MessageSid": "SM" + "0" * 32}


def signature(path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(BASE + path, params)


async def test_protected_webhook_refuses_a_request_without_signature(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    response = await client.post(WEBHOOK, data=WEBHOOK_PARAMS)
    assert response.status_code == 403
    assert "Signature is missing or is invalid" in response.json()["message"]


@pytest.mark.parametrize(
    "headers_for",
    [
        lambda: {"X-Twilio-Signature": signature(WEBHOOK, WEBHOOK_PARAMS, "another-token")},
        lambda: {"X-Twilio-Signature": signature(WEBHOOK, {**WEBHOOK_PARAMS, "Body": "forged"})},
        lambda: {"X-Twilio-Signature": signature("/other/path", WEBHOOK_PARAMS)},
        lambda: {"X-Twilio-Signature": "not base64 at all"},
    ],
    ids=["other-token", "other-body", "other-url", "garbage"],
)
async def test_protected_webhook_refuses_a_wrong_signature(
    make_client: MakeClient, headers_for: Callable[[], dict[str, str]]
) -> None:
    client = await make_client()
    response = await client.post(WEBHOOK, data=WEBHOOK_PARAMS, headers=headers_for())
    assert response.status_code == 403


async def test_protected_webhook_acknowledges_a_signed_request(make_client: MakeClient) -> None:
    client = await make_client()
    headers = {"X-Twilio-Signature": signature(WEBHOOK, WEBHOOK_PARAMS)}
    response = await client.post(WEBHOOK, data=WEBHOOK_PARAMS, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "parameters": ["Body", "From", "MessageSid"]}


async def test_protected_webhook_without_auth_token_is_never_served(
    make_client: MakeClient,
) -> None:
    client = await make_client(AUTH_TOKEN="")
    headers = {"X-Twilio-Signature": signature(WEBHOOK, WEBHOOK_PARAMS)}
    response = await client.post(WEBHOOK, data=WEBHOOK_PARAMS, headers=headers)
    assert response.status_code == 403


# --- basic-auth -----------------------------------------------------------------------------

BASIC = "/basic-auth/basic-auth"


def basic(credentials: str, scheme: str = "Basic") -> dict[str, str]:
    return {"Authorization": f"{scheme} {base64.b64encode(credentials.encode()).decode()}"}


async def test_basic_auth_answers_the_right_credentials(make_client: MakeClient) -> None:
    client = await make_client()
    for headers in (
        basic("ada:correct:horse battery"),
        basic("ada:correct:horse battery", "basic"),
    ):
        response = await client.get(BASIC, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"message": "Hello ada, you are signed in."}
    # httpx's own Basic auth, as a browser or curl -u would send it.
    response = await client.get(BASIC, auth=("ada", "correct:horse battery"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("ada:wrong"),
        basic("bob:correct:horse battery"),
        basic("ada:correct:horse batter"),
        basic("ada"),
        basic(":"),
        basic("ada:correct:horse battery", "Bearer"),
        {"Authorization": "Basic not-base64!!"},
        {"Authorization": "Basic " + base64.b64encode(b"ada:\xff").decode()},
        {"Authorization": "Basic"},
        {"Authorization": ""},
    ],
    ids=[
        "missing",
        "wrong-password",
        "wrong-user",
        "prefix-of-password",
        "no-colon",
        "empty",
        "other-scheme",
        "bad-base64",
        "not-utf8",
        "no-credentials",
        "blank",
    ],
)
async def test_basic_auth_refuses_anything_else_with_401(
    make_client: MakeClient, headers: dict[str, str]
) -> None:
    client = await make_client()
    response = await client.get(BASIC, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="callbox", charset="UTF-8"'
    assert response.headers["content-type"] == TEXT
    assert response.text.startswith("Unauthorized")


async def test_basic_auth_refuses_credentials_sent_twice(make_client: MakeClient) -> None:
    client = await make_client()
    good = basic("ada:correct:horse battery")["Authorization"]
    response = await client.get(BASIC, headers=[("Authorization", good), ("Authorization", good)])
    assert response.status_code == 401


async def test_basic_auth_refuses_a_request_parameter_hiding_the_headers(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    response = await client.get(BASIC + "?request=x", headers=basic("ada:correct:horse battery"))
    assert response.status_code == 401


async def test_basic_auth_without_configured_credentials_is_a_500(make_client: MakeClient) -> None:
    client = await make_client(PASSWORD="")
    response = await client.get(BASIC, headers=basic("ada:"))
    assert response.status_code == 500
    assert "USERNAME and PASSWORD are not set" in response.json()["message"]


# --- jwt-auth -------------------------------------------------------------------------------

LOGIN = "/jwt-auth/login"
DATA = "/jwt-auth/data"


class DemoToken(Jwt):
    """Tokens built in the test, as the login function builds them."""

    def _generate_payload(self) -> dict[str, Any]:
        return {}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_jwt_login_then_data(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post(
        LOGIN, data={"password": "correct:horse battery", "username": "ada"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = pyjwt.decode(body["token"], JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "ada" and claims["iss"] == "callbox-jwt-auth"
    assert 3590 <= claims["exp"] - time.time() <= 3600

    response = await client.get(DATA, headers=bearer(body["token"]))
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "Hello ada!", "expires": claims["exp"]}
    # The scheme is case-insensitive, as RFC 7235 says.
    response = await client.get(DATA, headers={"Authorization": f"bearer {body['token']}"})
    assert response.status_code == 200


async def test_jwt_login_without_username_issues_a_demo_token(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post(LOGIN, json={"password": "correct:horse battery"})
    token = response.json()["token"]
    response = await client.get(DATA, headers=bearer(token))
    assert response.json()["message"] == "Hello demo!"


@pytest.mark.parametrize(
    "data", [{}, {"password": "wrong"}, {"password": ""}, {"password": ["a", "b"]}]
)
async def test_jwt_login_refuses_a_wrong_password(
    make_client: MakeClient, data: dict[str, Any]
) -> None:
    client = await make_client()
    response = await client.post(LOGIN, data=data)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_grant", "error_description": "Wrong password."}


def forged_tokens() -> dict[str, str]:
    now = int(time.time())
    good = {"iss": "callbox-jwt-auth", "sub": "ada", "nbf": now, "exp": now + 600}
    return {
        "expired": DemoToken(
            JWT_SECRET, "callbox-jwt-auth", subject="ada", nbf=now - 120, valid_until=now - 60
        ).to_jwt(),
        "not-yet-valid": pyjwt.encode({**good, "nbf": now + 300}, JWT_SECRET, algorithm="HS256"),
        "other-secret": pyjwt.encode(good, "another-secret-of-more-than-32-chars!", "HS256"),
        "alg-none": pyjwt.encode(good, "", algorithm="none"),
        "hs512": pyjwt.encode(good, JWT_SECRET + JWT_SECRET, algorithm="HS512"),
        "no-expiry": pyjwt.encode(
            {k: v for k, v in good.items() if k != "exp"}, JWT_SECRET, "HS256"
        ),
        "other-issuer": pyjwt.encode({**good, "iss": "someone-else"}, JWT_SECRET, "HS256"),
        "garbage": "not.a.token",
        "tampered": (lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"))(
            pyjwt.encode(good, JWT_SECRET, "HS256")
        ),
    }


@pytest.mark.parametrize("kind", list(forged_tokens()))
async def test_jwt_data_refuses_bad_tokens_with_401(make_client: MakeClient, kind: str) -> None:
    client = await make_client()
    response = await client.get(DATA, headers=bearer(forged_tokens()[kind]))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer realm="callbox", error="invalid_token"'
    body = response.json()
    assert body["error"] == "invalid_token"
    if kind == "expired":
        assert "expired" in body["error_description"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer   "}, {"Authorization": "Token x"}],
    ids=["missing", "empty", "blank", "other-scheme"],
)
async def test_jwt_data_refuses_a_missing_token_with_401(
    make_client: MakeClient, headers: dict[str, str]
) -> None:
    client = await make_client()
    response = await client.get(DATA, headers=headers)
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error_description"]


async def test_jwt_functions_refuse_to_run_with_a_short_secret(make_client: MakeClient) -> None:
    client = await make_client(JWT_SECRET="short")
    response = await client.get(DATA, headers=bearer(forged_tokens()["expired"]))
    assert response.status_code == 500
    assert "JWT_SECRET" in response.json()["message"]
    response = await client.post(LOGIN, data={"password": "correct:horse battery"})
    assert response.status_code == 500
    assert "JWT_SECRET" in response.json()["message"]


# --- cors -----------------------------------------------------------------------------------

API = "/cors/api"


@pytest.mark.parametrize("origin", ["https://app.example.com", "http://localhost:8080"])
async def test_cors_allows_a_listed_origin(make_client: MakeClient, origin: str) -> None:
    client = await make_client()
    response = await client.get(API, params={"name": "Ada"}, headers={"Origin": origin})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["vary"] == "Origin"
    assert response.headers["content-type"] == JSON
    assert response.json() == {"message": "Hello Ada!"}


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example.com"}, {}])
async def test_cors_gives_no_allow_origin_to_others(
    make_client: MakeClient, headers: dict[str, str]
) -> None:
    client = await make_client()
    response = await client.post(API, json={"name": "Bob"}, headers=headers)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["vary"] == "Origin"
    assert response.json() == {"message": "Hello Bob!"}


async def test_cors_star_allows_any_origin(make_client: MakeClient) -> None:
    client = await make_client(ALLOWED_ORIGIN="*")
    response = await client.get(API, headers={"Origin": "https://anywhere.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "vary" not in response.headers
    assert response.json() == {"message": "Hello World!"}


async def test_cors_preflight_and_demo_page(make_client: MakeClient) -> None:
    client = await make_client()
    preflight = await client.options(
        API,
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    page = await client.get("/cors/index.html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'const API_URL = "api";' in page.text and "fetch(url)" in page.text
