"""Every shipped template's JavaScript version really works: `callbox new` copies all of them
into one JavaScript project, whose functions then run in the real Node.js worker
(src/callbox/node/, started as a launcher starts it: tests/worker/harness.py), with the
`twilio` and `jsonwebtoken` packages from npm. The same cases as the Python versions
(test_templates_run.py), at the worker's frame level: the gateway in front of it (signatures,
CORS preflight) is the same for both languages and tested there."""

from __future__ import annotations

import base64
import json
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from click.testing import CliRunner
from dotenv import dotenv_values

from callbox.toolkit.commands.templates import new
from callbox.toolkit.templating import list_templates

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worker"))
from harness import WorkerProcess, build_spec  # noqa: E402

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
XML = "text/xml; charset=utf-8"

Frame = tuple[dict[str, Any], bytes]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JavaScript project holding every template, each under a namespace named after it."""
    root = tmp_path_factory.mktemp("templates-js") / "project"
    (root / "functions").mkdir(parents=True)
    (root / "assets").mkdir()
    (root / "package.json").write_text('{"name": "templates", "dependencies": {}}\n')
    (root / ".env").write_text("".join(f"{key}={value!r}\n" for key, value in PROJECT_ENV.items()))
    for template in list_templates(language="js"):
        args = [template.id, "--template", template.id, "--cwd", str(root)]
        result = CliRunner().invoke(new, args)
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def worker(project: Path, node_modules: Path) -> Iterator[WorkerProcess]:
    # The build's packages: npm's twilio 5 (with jsonwebtoken, which jwt-auth lists).
    started = WorkerProcess(
        "node", build_spec(project, "node", site_packages=[str(node_modules)], threads=1)
    )
    yield started
    started.close()


def invoke(
    worker: WorkerProcess,
    path: str,
    params: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
    **variables: str,
) -> Frame:
    """Invoke ``path`` with the project's .env (``variables`` replace some), as the gateway
    would for a request with these parameters and (lower-cased) headers."""
    event = {**(params or {}), "request": {"headers": headers or {}, "cookies": {}}}
    if params and "request" in params:  # a parameter called request replaces it, as on Twilio
        event["request"] = params["request"]
    return worker.invoke(path, event, **{**PROJECT_ENV, **variables})


def header(frame: Frame, name: str) -> str | None:
    values = [value for key, value in frame[0]["headers"] if key.lower() == name.lower()]
    assert len(values) <= 1, frame[0]
    return values[0] if values else None


def body_json(frame: Frame, status: int = 200) -> Any:
    head, body = frame
    assert head["status"] == status, (head, body)
    assert (header(frame, "Content-Type") or "").startswith("application/json"), head
    return json.loads(body)


def error_message(frame: Frame) -> str:
    head, body = frame
    assert head["status"] == 500, (head, body)
    return str(json.loads(body)["message"])


def twiml(frame: Frame) -> ET.Element:
    head, body = frame
    assert head["status"] == 200, (head, body)
    assert header(frame, "Content-Type") == XML
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(body)
    assert root.tag == "Response"
    return root


def test_the_project_got_every_javascript_template(project: Path) -> None:
    functions = sorted(p.relative_to(project).as_posix() for p in project.rglob("*.js"))
    assert "functions/jwt-auth/login.js" in functions and "functions/cors/api.js" in functions
    assert not list(project.rglob("*.py"))
    assert dotenv_values(project / ".env") == PROJECT_ENV  # the project's values stay
    packages = json.loads((project / "package.json").read_text())["dependencies"]
    assert packages == {"jsonwebtoken": "^9.0.2"}


# --- hello-world, blank, TwiML ----------------------------------------------------------------


def test_hello_world_answers_text(worker: WorkerProcess) -> None:
    frame = invoke(worker, "/hello-world/hello-world")
    assert (frame[0]["status"], frame[1]) == (200, b"Hello World!")
    assert header(frame, "Content-Type") == TEXT


def test_blank_answers_an_empty_json_object(worker: WorkerProcess) -> None:
    assert body_json(invoke(worker, "/blank/blank", {"anything": "goes"})) == {}


def test_hello_messaging_replies_hello_world(worker: WorkerProcess) -> None:
    root = twiml(invoke(worker, "/hello-messaging/hello-messaging", {"Body": "hi", "From": "+1"}))
    [message] = list(root)
    assert (message.tag, message.text, message.attrib) == ("Message", "Hello World", {})


def test_hello_voice_says_hello_world(worker: WorkerProcess) -> None:
    root = twiml(invoke(worker, "/hello-voice/hello-voice", {"From": "+15550001111"}))
    [say] = list(root)
    assert (say.tag, say.text) == ("Say", "Hello World")


def test_forward_message_sends_from_and_body_to_my_phone_number(worker: WorkerProcess) -> None:
    params = {"From": "+15550001111", "Body": "Are you <there> & awake?"}
    root = twiml(invoke(worker, "/forward-message/forward-message", params))
    [message] = list(root)
    assert message.tag == "Message"
    assert message.attrib == {"to": "+15551234567"}
    assert message.text == "From: +15550001111. Body: Are you <there> & awake?"


def test_forward_message_without_my_phone_number_says_what_to_set(worker: WorkerProcess) -> None:
    frame = invoke(worker, "/forward-message/forward-message", {"Body": "x"}, MY_PHONE_NUMBER="")
    assert "MY_PHONE_NUMBER is not set" in error_message(frame)


def test_protected_webhook_acknowledges_and_logs_the_parameters(worker: WorkerProcess) -> None:
    # The signature is checked by the gateway before the worker is asked (test_templates_run).
    params = {"From": "+15550001111", "Body": "hello", "MessageSid": "SM" + "0" * 32}
    frame = invoke(worker, "/protected-webhook/webhook", params)
    assert body_json(frame) == {"received": True, "parameters": ["Body", "From", "MessageSid"]}
    lines = [(line["level"], line["message"]) for line in frame[0]["logs"]]
    assert lines == [("INFO", "Signed webhook received with parameters: Body, From, MessageSid")]


# --- basic-auth -------------------------------------------------------------------------------

BASIC = "/basic-auth/basic-auth"


def basic(credentials: str | bytes, scheme: str = "Basic") -> dict[str, str]:
    raw = credentials.encode() if isinstance(credentials, str) else credentials
    return {"authorization": f"{scheme} {base64.b64encode(raw).decode()}"}


@pytest.mark.parametrize("scheme", ["Basic", "basic"])
def test_basic_auth_answers_the_right_credentials(worker: WorkerProcess, scheme: str) -> None:
    frame = invoke(worker, BASIC, headers=basic("ada:correct:horse battery", scheme))
    assert body_json(frame) == {"message": "Hello ada, you are signed in."}


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
        {"authorization": "Basic not-base64!!"},
        basic(b"ada:\xff"),
        {"authorization": "Basic"},
        {"authorization": ""},
        {"authorization": [basic("ada:correct:horse battery")["authorization"]] * 2},
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
        "sent-twice",
    ],
)
def test_basic_auth_refuses_anything_else_with_401(
    worker: WorkerProcess, headers: dict[str, Any]
) -> None:
    frame = invoke(worker, BASIC, headers=headers)
    assert frame[0]["status"] == 401
    assert header(frame, "WWW-Authenticate") == 'Basic realm="callbox", charset="UTF-8"'
    assert header(frame, "Content-Type") == TEXT
    assert frame[1].startswith(b"Unauthorized")


def test_basic_auth_refuses_a_request_parameter_hiding_the_headers(worker: WorkerProcess) -> None:
    frame = invoke(worker, BASIC, {"request": "x"}, headers=basic("ada:correct:horse battery"))
    assert frame[0]["status"] == 401


def test_basic_auth_without_configured_credentials_is_a_500(worker: WorkerProcess) -> None:
    frame = invoke(worker, BASIC, headers=basic("ada:"), PASSWORD="")
    assert "USERNAME and PASSWORD are not set" in error_message(frame)


# --- jwt-auth ---------------------------------------------------------------------------------

LOGIN = "/jwt-auth/login"
DATA = "/jwt-auth/data"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_jwt_login_then_data(worker: WorkerProcess) -> None:
    body = body_json(
        invoke(worker, LOGIN, {"password": "correct:horse battery", "username": "ada"})
    )
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = pyjwt.decode(body["token"], JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "ada" and claims["iss"] == "callbox-jwt-auth"
    assert 3590 <= claims["exp"] - time.time() <= 3600
    answer = body_json(invoke(worker, DATA, headers=bearer(body["token"])))
    assert answer == {"message": "Hello ada!", "expires": claims["exp"]}
    # The scheme is case-insensitive, as RFC 7235 says.
    lower = invoke(worker, DATA, headers={"authorization": f"bearer {body['token']}"})
    assert lower[0]["status"] == 200


def test_jwt_login_without_username_issues_a_demo_token(worker: WorkerProcess) -> None:
    token = body_json(invoke(worker, LOGIN, {"password": "correct:horse battery"}))["token"]
    assert body_json(invoke(worker, DATA, headers=bearer(token)))["message"] == "Hello demo!"


@pytest.mark.parametrize(
    "params", [{}, {"password": "wrong"}, {"password": ""}, {"password": ["a", "b"]}]
)
def test_jwt_login_refuses_a_wrong_password(worker: WorkerProcess, params: dict[str, Any]) -> None:
    frame = invoke(worker, LOGIN, params)
    assert body_json(frame, 401) == {
        "error": "invalid_grant",
        "error_description": "Wrong password.",
    }


def forged_tokens() -> dict[str, str]:
    now = int(time.time())
    good = {"iss": "callbox-jwt-auth", "sub": "ada", "nbf": now, "exp": now + 600}
    return {
        "expired": pyjwt.encode({**good, "nbf": now - 120, "exp": now - 60}, JWT_SECRET, "HS256"),
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
def test_jwt_data_refuses_bad_tokens_with_401(worker: WorkerProcess, kind: str) -> None:
    frame = invoke(worker, DATA, headers=bearer(forged_tokens()[kind]))
    body = body_json(frame, 401)
    assert header(frame, "WWW-Authenticate") == 'Bearer realm="callbox", error="invalid_token"'
    assert body["error"] == "invalid_token"
    if kind == "expired":
        assert "expired" in body["error_description"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer"}, {"authorization": "Bearer   "}, {"authorization": "Token x"}],
    ids=["missing", "empty", "blank", "other-scheme"],
)
def test_jwt_data_refuses_a_missing_token_with_401(
    worker: WorkerProcess, headers: dict[str, str]
) -> None:
    body = body_json(invoke(worker, DATA, headers=headers), 401)
    assert "Authorization: Bearer" in body["error_description"]


def test_jwt_functions_refuse_to_run_with_a_short_secret(worker: WorkerProcess) -> None:
    token = forged_tokens()["expired"]
    assert "JWT_SECRET" in error_message(
        invoke(worker, DATA, headers=bearer(token), JWT_SECRET="short")
    )
    assert "JWT_SECRET" in error_message(
        invoke(worker, LOGIN, {"password": "correct:horse battery"}, JWT_SECRET="short")
    )


# --- cors -------------------------------------------------------------------------------------

API = "/cors/api"


@pytest.mark.parametrize("origin", ["https://app.example.com", "http://localhost:8080"])
def test_cors_allows_a_listed_origin(worker: WorkerProcess, origin: str) -> None:
    frame = invoke(worker, API, {"name": "Ada"}, headers={"origin": origin})
    assert body_json(frame) == {"message": "Hello Ada!"}
    assert header(frame, "Access-Control-Allow-Origin") == origin
    assert header(frame, "Vary") == "Origin"


@pytest.mark.parametrize("headers", [{"origin": "https://evil.example.com"}, {}])
def test_cors_gives_no_allow_origin_to_others(
    worker: WorkerProcess, headers: dict[str, str]
) -> None:
    frame = invoke(worker, API, {"name": "Bob"}, headers=headers)
    assert body_json(frame) == {"message": "Hello Bob!"}
    assert header(frame, "Access-Control-Allow-Origin") is None
    assert header(frame, "Vary") == "Origin"


def test_cors_star_allows_any_origin(worker: WorkerProcess) -> None:
    frame = invoke(worker, API, headers={"origin": "https://anywhere.example"}, ALLOWED_ORIGIN="*")
    assert body_json(frame) == {"message": "Hello World!"}
    assert header(frame, "Access-Control-Allow-Origin") == "*"
    assert header(frame, "Vary") is None


def test_cors_demo_page_is_an_asset(project: Path) -> None:
    page = (project / "assets" / "cors" / "index.html").read_text()
    assert 'const API_URL = "api";' in page and "fetch(url)" in page


# --- the project `callbox init --language js` makes ---------------------------------------------


@pytest.fixture(scope="module")
def scaffold_worker(
    tmp_path_factory: pytest.TempPathFactory, node_modules: Path
) -> Iterator[WorkerProcess]:
    from callbox.toolkit.scaffolding import init_project

    root = init_project("web", tmp_path_factory.mktemp("scaffold-js"), language="js")
    started = WorkerProcess("node", build_spec(root, "node", site_packages=[str(node_modules)]))
    yield started
    started.close()


def test_the_javascript_scaffold_says_hello_world(scaffold_worker: WorkerProcess) -> None:
    [say] = list(twiml(scaffold_worker.invoke("/hello-world", {})))
    assert (say.tag, say.text) == ("Say", "Hello World!")


def test_the_javascript_scaffold_reads_its_private_asset(scaffold_worker: WorkerProcess) -> None:
    [message] = list(twiml(scaffold_worker.invoke("/private-message", {"Body": "hi"})))
    assert (message.tag, message.text) == ("Message", "This is private!")


def test_the_javascript_scaffold_replies_to_sms(scaffold_worker: WorkerProcess) -> None:
    [message] = list(twiml(scaffold_worker.invoke("/sms/reply", {"Body": "hi"})))
    assert message.text == "Hello World!"
