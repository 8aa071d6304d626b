"""The gateway in-process: httpx's ASGITransport in front, a real Supervisor and PoolSet behind,
serving the sample project tests/functions/unit_gateway/."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from callbox.config import Config
from callbox.errors import FunctionError
from callbox.gateway.app import Gateway, Served
from callbox.gateway.pool import PoolSet
from callbox.gateway.source import Deployment
from callbox.gateway.supervisor import Supervisor
from callbox.toolkit.project import Layout, discover

ROOT = Path(__file__).resolve().parents[1] / "functions" / "unit_gateway"
HOST = "unit.test"
AUTH_TOKEN = "unit-test-auth-token"
DEPLOYMENT = Deployment(
    build_key="unit-gateway",
    service_key="unit-service",
    root=ROOT,
    routes=discover(Layout.find(ROOT)),
    variables={"GREETING": "hi from the environment"},
    auth_token=AUTH_TOKEN,
)
JSON_TYPE = "application/json; charset=utf-8"


class Source:
    """A deployment source serving one deployment at one host."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.hosts: list[str] = []

    async def resolve(self, host: str) -> Deployment | None:
        self.hosts.append(host)
        return self.deployment if host == HOST else None


@dataclass
class Events:
    done: list[tuple[str, str, int, float]] = field(default_factory=list)
    logs: list[tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=list)
    served: list[Served] = field(default_factory=list)
    failures: list[tuple[dict[str, Any], int, str]] = field(default_factory=list)

    counts_requests = True

    def request_done(self, served: Served) -> None:
        self.done.append((served.method, served.path, served.status, served.duration_ms))
        self.served.append(served)

    def function_logs(self, meta: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        self.logs.append((meta, lines))

    def invocation_failed(self, meta: dict[str, Any], code: int, text: str) -> None:
        self.failures.append((meta, code, text))


@dataclass
class App:
    client: httpx.AsyncClient
    events: Events
    pools: PoolSet
    source: Source

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and check the events sink got its request_done."""
        response = await self.client.request(method, url, **kwargs)
        path = httpx.URL(url).path
        assert self.events.done[-1][:3] == (method, path, response.status_code)
        assert self.events.done[-1][3] >= 0
        return response


MakeApp = Callable[..., Awaitable[App]]


# Warm parents are shared by the module (one per response-body limit); each test gets its own
# gateway, pools and workers, and kills its workers afterwards.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def supervisors() -> AsyncIterator[dict[int, Supervisor]]:
    started: dict[int, Supervisor] = {}
    yield started
    for supervisor in started.values():
        await supervisor.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def make_app(supervisors: dict[int, Supervisor]) -> AsyncIterator[MakeApp]:
    made: list[App] = []

    async def make(
        deployment: Deployment = DEPLOYMENT, *, supervisor_max_body: int | None = None, **settings
    ) -> App:
        config = Config(**{"execution_timeout": 5.0, "cancel_grace": 0.3, **settings})
        max_body = supervisor_max_body or config.max_response_bytes
        if max_body not in supervisors:
            supervisors[max_body] = Supervisor(max_body=max_body)
            await supervisors[max_body].start()
        events = Events()
        pools = PoolSet(supervisors[max_body], config, events.function_logs)
        source = Source(deployment)
        gateway = Gateway(config, source, pools, events)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url=f"http://{HOST}"
        )
        made.append(App(client, events, pools, source))
        return made[-1]

    yield make
    for app in made:
        await app.client.aclose()
        for pool in list(app.pools._pools.values()):
            pool.close()
            for worker in list(pool.workers):
                worker.kill()


def sign(url: str, params: list[tuple[str, str]] | None = None, token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature computed independently: HMAC-SHA1 of the URL and the sorted params."""
    data = url + "".join(key + value for key, value in sorted(params or []))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == JSON_TYPE
    return response.json()


# --- functions --------------------------------------------------------------------------


async def test_get_runs_the_function_and_reports_its_logs(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "/hello?name=Ada")
    assert response.status_code == 200
    assert response.text == "Hello Ada"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "9"
    [(meta, lines)] = app.events.logs
    assert meta["path"] == "/hello"
    assert meta["build"] == "unit-gateway"
    assert meta["request_sid"].startswith("RQ")
    assert [(line["level"], line["message"]) for line in lines] == [("INFO", "hello ran for Ada")]


async def test_post_merges_query_and_json_body_and_passes_the_context(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request(
        "POST", "/echo?From=query&only=query", json={"From": "body", "nested": {"a": [1, 2]}}
    )
    assert response.status_code == 200
    assert response.json() == {
        "event": {"From": "body", "only": "query", "nested": {"a": [1, 2]}},
        "path": "/echo",
        "domain": HOST,
        "greeting": "hi from the environment",
    }


@pytest.mark.parametrize(
    ("host", "domain_name"),
    [
        (HOST, "shop-1234.example"),
        (f"{HOST}:8080", "shop-1234.example:8080"),
        (f"{HOST}:443", "shop-1234.example:443"),
    ],
)
async def test_a_deployed_domain_name_keeps_the_port_of_the_host(
    make_app: MakeApp, host: str, domain_name: str
) -> None:
    # From issue 13: a deployment's DOMAIN_NAME dropped the port, so URLs built from it failed.
    deployed = replace(DEPLOYMENT, build_key="unit-gateway-domain", domain="shop-1234.example")
    app = await make_app(deployed)
    app.source.resolve = lambda _host: _resolved(deployed)  # type: ignore[method-assign]
    response = await app.request("POST", "/echo", json={}, headers={"Host": host})
    assert response.json()["domain"] == domain_name


async def test_two_host_headers_are_a_400(make_app: MakeApp) -> None:
    # From issue 13: the first one chose the deployment.
    app = await make_app()
    response = await app.request("GET", "/hello", headers=[("Host", HOST), ("Host", "other.test")])
    assert response.status_code == 400
    assert error_of(response)["message"].startswith("The request has 2 Host headers")
    assert app.source.hosts == []


async def _resolved(deployment: Deployment) -> Deployment:
    return deployment


async def test_form_body_with_repeated_keys_becomes_lists(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("POST", "/echo", data={"To": ["a", "b"], "Body": "hi"})
    assert response.json()["event"] == {"To": ["a", "b"], "Body": "hi"}


async def test_private_helper_is_importable_through_runtime(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "/uses_helper?name=Bob")
    assert (response.status_code, response.text) == (200, "Hi Bob from a private helper")


async def test_function_exception_is_a_500_json_error(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "/raises")
    assert response.status_code == 500
    assert response.json() == {
        "message": "the gateway sample failed on purpose",
        "name": "RuntimeError",
    }


async def test_module_without_handler_is_a_500_naming_the_file(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "/no_handler")
    assert response.status_code == 500
    assert response.json()["message"].startswith(
        "functions/no_handler.py has no `handler`; found: ANSWER, helper."
    )


async def test_timeout_is_a_504(make_app: MakeApp) -> None:
    app = await make_app(execution_timeout=0.5)
    response = await app.request("GET", "/sleep_forever")
    assert response.status_code == 504
    assert error_of(response) == {
        "code": 82006,
        "message": "runtime application timed out",
        "more_info": "https://www.twilio.com/docs/errors/82006",
        "status": 504,
    }
    assert (await app.request("GET", "/hello")).status_code == 200


# --- method, routing, CORS --------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405(make_app: MakeApp, method: str) -> None:
    app = await make_app()
    response = await app.request(method, "/hello")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, OPTIONS"
    assert error_of(response) == {
        "code": 20405,
        "message": f"Method {method} is not supported; functions answer GET, POST and OPTIONS.",
        "more_info": "https://www.twilio.com/docs/errors/20405",
        "status": 405,
    }
    assert app.events.logs == []


async def test_head_on_a_function_is_405(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("HEAD", "/hello")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, OPTIONS"
    assert app.events.logs == []  # the function did not run


async def test_other_methods_on_an_asset_are_405_naming_head(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("PUT", "/style.css")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST, OPTIONS"
    assert error_of(response)["message"] == (
        "Method PUT is not supported; assets answer GET, HEAD, POST and OPTIONS."
    )


async def test_unknown_path_is_a_404_json_error(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "/nope")
    assert error_of(response) == {
        "code": 20404,
        "message": "The requested resource /nope was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
    }


@pytest.mark.parametrize("path", ["/lib/helper", "/data.json"])
async def test_private_function_and_asset_are_404(make_app: MakeApp, path: str) -> None:
    app = await make_app()
    response = await app.request("GET", path)
    assert response.status_code == 404
    assert error_of(response)["message"] == f"The requested resource {path} was not found"


async def test_unknown_host_is_a_404(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "http://other.test:8080/hello")
    assert response.status_code == 404
    assert error_of(response)["message"] == "No environment is served at other.test:8080."
    assert app.source.hosts == ["other.test"]


@pytest.mark.parametrize("path", ["/hello", "/secret", "/style.css"])
async def test_options_answers_204_with_cors_without_running_anything(
    make_app: MakeApp, path: str
) -> None:
    app = await make_app()
    response = await app.request("OPTIONS", path)
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-headers"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert app.events.logs == []
    assert app.pools._pools == {}  # no worker was even asked for


async def test_options_on_an_unknown_path_is_404(make_app: MakeApp) -> None:
    app = await make_app()
    assert (await app.request("OPTIONS", "/nope")).status_code == 404


# --- request limits ---------------------------------------------------------------------


async def test_body_over_the_limit_is_413(make_app: MakeApp) -> None:
    app = await make_app(max_request_bytes=2048)
    response = await app.request("POST", "/echo", content=b"x" * 3000)
    assert response.status_code == 413
    assert error_of(response) == {
        "code": 82007,
        "message": "The request is too large: body, headers and cookies together may be at "
        "most 2048 bytes.",
        "more_info": "https://www.twilio.com/docs/errors/82007",
        "status": 413,
    }
    assert app.events.logs == []


async def test_body_over_the_default_1_mb_is_413(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("POST", "/echo", content=b"x" * (1024 * 1024))
    assert response.status_code == 413
    assert response.json()["message"].endswith("may be at most 1 MB.")


async def chunks(total: int, size: int = 500) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


async def test_streamed_body_without_content_length_over_the_limit_is_413(
    make_app: MakeApp,
) -> None:
    app = await make_app(max_request_bytes=2048)
    response = await app.request("POST", "/echo", content=chunks(3000))
    assert response.status_code == 413
    assert error_of(response)["code"] == 82007
    ok = await app.request("POST", "/echo", content=chunks(1000))
    assert ok.status_code == 200


async def test_streamed_413_message_states_the_configured_limit(make_app: MakeApp) -> None:
    app = await make_app(max_request_bytes=2048)
    response = await app.request("POST", "/echo", content=chunks(3000))
    assert response.json()["message"].endswith("may be at most 2048 bytes.")


async def test_headers_count_towards_the_request_limit(make_app: MakeApp) -> None:
    app = await make_app(max_request_bytes=2048)
    fits = await app.request("POST", "/echo", content=b"x" * 1500)
    assert fits.status_code == 200
    padding = {"x-padding": "p" * 600}
    response = await app.request("POST", "/echo", content=b"x" * 1500, headers=padding)
    assert response.status_code == 413


async def extra_headers_for(app: App, total: int) -> dict[str, str]:
    """Custom headers so that the request carries exactly ``total`` header lines."""
    default = len(app.client.build_request("GET", "/hello").headers)
    return {f"x-extra-{n}": "v" for n in range(total - default)}


async def test_90_request_headers_pass_and_91_are_431(make_app: MakeApp) -> None:
    app = await make_app()
    ok = await app.request("GET", "/hello", headers=await extra_headers_for(app, 90))
    assert ok.status_code == 200
    response = await app.request("GET", "/hello", headers=await extra_headers_for(app, 91))
    assert response.status_code == 431
    assert error_of(response) == {
        "code": 82008,
        "message": "Request headers or cookies too long",
        "more_info": "https://www.twilio.com/docs/errors/82008",
        "status": 431,
    }


async def test_request_headers_over_15_kb_are_431(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "/hello", headers={"x-big": "b" * (15 * 1024)})
    assert response.status_code == 431
    assert response.json()["message"] == "Request headers or cookies too long"


async def test_many_cookies_count_as_headers(make_app: MakeApp) -> None:
    app = await make_app()
    cookies = "; ".join(f"c{n}=1" for n in range(90))
    response = await app.request("GET", "/hello", headers={"cookie": cookies})
    assert response.status_code == 431


async def test_header_limits_apply_before_the_method_and_route(make_app: MakeApp) -> None:
    app = await make_app(max_header_count=3)
    response = await app.request("GET", "/nope", headers={"x-a": "1", "x-b": "2", "x-c": "3"})
    assert response.status_code == 431


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            b"{bad",
            "application/json",
            "Malformed JSON body: Expecting property name enclosed in double quotes "
            "at line 1 column 2",
        ),
        (
            b'"just a string"',
            "application/json",
            "JSON body must be an object or an array, got a string",
        ),
        (
            b"a=%ff",
            "application/x-www-form-urlencoded",
            "Malformed form body: a %-escape decodes to invalid UTF-8 (byte 0xff)",
        ),
    ],
)
async def test_malformed_bodies_are_400(
    make_app: MakeApp, body: bytes, content_type: str, message: str
) -> None:
    app = await make_app()
    response = await app.request(
        "POST", "/echo", content=body, headers={"content-type": content_type}
    )
    assert response.status_code == 400
    assert error_of(response) == {
        "code": 20001,
        "message": message,
        "more_info": "https://www.twilio.com/docs/errors/20001",
        "status": 400,
    }
    assert app.events.logs == []


async def test_concurrency_limit_answers_429(make_app: MakeApp) -> None:
    app = await make_app(concurrency_limit=1)
    first, second = await asyncio.gather(
        app.client.get("/slow?delay=0.5"), app.client.get("/slow?delay=0.5")
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 429]
    rejected = first if first.status_code == 429 else second
    assert error_of(rejected) == {
        "code": 20429,
        "message": "Too many concurrent invocations: the limit is 1 per service.",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }
    assert sorted(status for _, _, status, _ in app.events.done) == [200, 429]
    # The slot is free again once the first finished.
    assert (await app.request("GET", "/slow?delay=0")).status_code == 200


# --- response limits --------------------------------------------------------------------


async def test_response_with_too_many_headers_is_431(make_app: MakeApp) -> None:
    app = await make_app()
    ok = await app.request("GET", "/many_headers?count=80")
    assert ok.status_code == 200
    response = await app.request("GET", "/many_headers?count=100")
    assert response.status_code == 431
    assert error_of(response)["message"] == "Response headers or cookies too long"


async def test_response_with_a_header_over_15_kb_is_431(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", f"/big_header?size={16 * 1024}")
    assert response.status_code == 431
    assert error_of(response)["message"] == "Response headers or cookies too long"


@pytest.mark.parametrize("supervisor_max_body", [None, 10 * 1024 * 1024])
async def test_response_over_the_limit_is_500(
    make_app: MakeApp, supervisor_max_body: int | None
) -> None:
    # None: the worker connection itself refuses the body (oversize); else the gateway measures.
    app = await make_app(max_response_bytes=1000, supervisor_max_body=supervisor_max_body)
    ok = await app.request("GET", "/big_body?size=1000")
    assert (ok.status_code, len(ok.content)) == (200, 1000)
    response = await app.request("GET", "/big_body?size=5000")
    assert response.status_code == 500
    assert error_of(response) == {
        "code": 82005,
        "message": "The function's response is 5000 bytes; responses may be at most 1000 bytes.",
        "more_info": "https://www.twilio.com/docs/errors/82005",
        "status": 500,
    }
    assert (await app.request("GET", "/hello")).status_code == 200


async def test_response_over_the_default_4_mb_is_500(make_app: MakeApp) -> None:
    app = await make_app()
    size = 4 * 1024 * 1024 + 1
    response = await app.request("GET", f"/big_body?size={size}")
    assert response.status_code == 500
    assert response.json()["message"] == (
        f"The function's response is {size} bytes; responses may be at most 4 MB."
    )


async def test_response_header_that_cannot_be_encoded_is_a_json_500(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "/unicode_header")
    assert response.status_code == 500
    assert error_of(response)["code"] == 82005


async def test_latin_1_response_header_values_are_sent(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "/unicode_header?value=caf%C3%A9")
    assert response.status_code == 200
    assert response.headers.raw[0] == (b"X-Greeting", "café".encode("latin-1"))


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("Bad Name", "v", "header name 'Bad Name' is not valid"),
        ("X:Colon", "v", "is not valid"),
        ("X(paren)", "v", "is not valid"),
        ("", "v", "header name '' is not valid"),
        ("X-Evil", "a\r\nSet-Cookie: x=y", "control character"),
        ("X-Nul", "a\x00b", "control character"),
        ("X-Del", "a\x7fb", "control character"),
        ("X-Lf", "a\nb", "control character"),
    ],
)
async def test_invalid_response_headers_are_a_clear_500(
    make_app: MakeApp, name: str, value: str, problem: str
) -> None:
    # From issue 13: a space in a name dropped the connection and was logged as 200.
    app = await make_app()
    response = await app.request("GET", "/any_header", params={"name": name, "value": value})
    assert response.status_code == 500
    assert error_of(response)["code"] == 82005
    assert problem in error_of(response)["message"]
    assert app.events.done[-1][2] == 500


@pytest.mark.parametrize(
    ("name", "value"), [("X-Tab", "a\tb"), ("x!#$%&'*+-.^_`|~9", "v"), ("X-Empty", "")]
)
async def test_valid_unusual_response_headers_are_sent(
    make_app: MakeApp, name: str, value: str
) -> None:
    app = await make_app()
    response = await app.request("GET", "/any_header", params={"name": name, "value": value})
    assert response.status_code == 200, response.text
    assert response.headers[name] == value


@pytest.mark.parametrize(
    ("name", "value"), [("a;b", "c d"), ("a b", "c"), ("a", 'say "hi"'), ("a", "x,y"), ("", "v")]
)
async def test_invalid_cookies_are_a_clear_500(make_app: MakeApp, name: str, value: str) -> None:
    app = await make_app()
    params = {"name": name, "value": value, "cookie": "1"}
    response = await app.request("GET", "/any_header", params=params)
    assert response.status_code == 500
    assert "RFC 6265" in response.json()["message"]
    assert "set-cookie" not in response.headers


# --- protected resources ----------------------------------------------------------------


async def test_protected_without_signature_is_403(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("POST", "/secret", data={"Body": "hi"})
    assert response.status_code == 403
    assert error_of(response) == {
        "code": 80625,
        "message": "Unauthorized Request. Signature is missing or is invalid.",
        "more_info": "https://www.twilio.com/docs/errors/80625",
        "status": 403,
    }
    assert app.events.logs == [] and app.pools._pools == {}


async def test_protected_with_a_bad_signature_is_403(make_app: MakeApp) -> None:
    app = await make_app()
    params = [("Body", "hi"), ("To", "+15550001")]
    wrong = sign(f"http://{HOST}/secret", params, token="another-token")
    response = await app.request(
        "POST", "/secret", data=dict(params), headers={"x-twilio-signature": wrong}
    )
    assert response.status_code == 403
    tampered = sign(f"http://{HOST}/secret", [("Body", "other"), ("To", "+15550001")])
    response = await app.request(
        "POST", "/secret", data=dict(params), headers={"x-twilio-signature": tampered}
    )
    assert response.status_code == 403


async def test_protected_with_a_valid_form_signature_is_200(make_app: MakeApp) -> None:
    app = await make_app()
    params = [("Body", "hi"), ("To", "+15550001"), ("To", "+15550002")]
    signature = sign(f"http://{HOST}/secret?From=q", params)
    response = await app.request(
        "POST",
        "/secret?From=q",
        content="&".join(f"{k}={v.replace('+', '%2B')}" for k, v in params),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": signature,
        },
    )
    assert response.status_code == 200
    assert response.json() == {
        "secret": "revealed",
        "Body": "hi",
        "To": ["+15550001", "+15550002"],
    }


async def test_protected_with_a_json_body_sha256_signature(make_app: MakeApp) -> None:
    app = await make_app()
    body = json.dumps({"Body": "json hi"}).encode()
    digest = hashlib.sha256(body).hexdigest()
    url = f"/secret?bodySHA256={digest}"
    headers = {
        "content-type": "application/json",
        "x-twilio-signature": sign(f"http://{HOST}{url}"),
    }
    response = await app.request("POST", url, content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["Body"] == "json hi"
    other = json.dumps({"Body": "changed"}).encode()
    response = await app.request("POST", url, content=other, headers=headers)
    assert response.status_code == 403


async def test_protected_signature_with_the_port_in_the_host(make_app: MakeApp) -> None:
    app = await make_app()
    params = [("Body", "hi")]
    for signed_url in (f"http://{HOST}:8080/secret", f"http://{HOST}/secret"):
        response = await app.request(
            "POST",
            f"http://{HOST}:8080/secret",
            data=dict(params),
            headers={"x-twilio-signature": sign(signed_url, params)},
        )
        assert response.status_code == 200, signed_url
    wrong_port = sign(f"http://{HOST}:9090/secret", params)
    response = await app.request(
        "POST",
        f"http://{HOST}:8080/secret",
        data=dict(params),
        headers={"x-twilio-signature": wrong_port},
    )
    assert response.status_code == 403


async def test_protected_asset_needs_a_signature(make_app: MakeApp) -> None:
    app = await make_app()
    assert (await app.request("GET", "/notes.txt")).status_code == 403
    signature = sign(f"http://{HOST}/notes.txt")
    response = await app.request("GET", "/notes.txt", headers={"x-twilio-signature": signature})
    assert (response.status_code, response.text) == (200, "protected notes\n")


async def test_protected_without_an_auth_token_is_403_unless_checks_are_skipped(
    make_app: MakeApp,
) -> None:
    no_token = replace(DEPLOYMENT, auth_token=None)
    app = await make_app(no_token)
    response = await app.request("GET", "/secret")
    assert response.status_code == 403
    assert "no AUTH_TOKEN is configured" in response.json()["message"]
    app = await make_app(no_token, skip_signature_check=True)
    response = await app.request("GET", "/secret")
    assert response.status_code == 200


# --- assets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "file", "content_type"),
    [
        ("/style.css", "style.css", "text/css; charset=utf-8"),
        ("/logo.png", "logo.png", "image/png"),
        ("/assets/index.html", "assets/index.html", "text/html; charset=utf-8"),
    ],
)
async def test_assets_are_served_with_their_content_type(
    make_app: MakeApp, path: str, file: str, content_type: str
) -> None:
    app = await make_app()
    response = await app.request("GET", path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == (ROOT / "assets" / file).read_bytes()
    assert "last-modified" in response.headers
    assert app.pools._pools == {}


async def test_an_asset_answers_head_conditional_and_range_requests(make_app: MakeApp) -> None:
    # From issue 13: HEAD was a 405 and there was no ETag, 304 or Range.
    app = await make_app()
    content = (ROOT / "assets" / "logo.png").read_bytes()
    head = await app.request("HEAD", "/logo.png")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(content))
    etag = head.headers["etag"]
    again = await app.request("GET", "/logo.png", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert "content-length" not in again.headers
    since = head.headers["last-modified"]
    again = await app.request("GET", "/logo.png", headers={"If-Modified-Since": since})
    assert again.status_code == 304
    part = await app.request("GET", "/logo.png", headers={"Range": "bytes=1-3"})
    assert part.status_code == 206 and part.content == content[1:4]
    assert part.headers["content-range"] == f"bytes 1-3/{len(content)}"
    assert part.headers["content-length"] == "3"


async def test_javascript_asset(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "/app.js")
    assert response.headers["content-type"] in {
        "text/javascript; charset=utf-8",
        "application/javascript; charset=utf-8",
    }


async def test_root_serves_assets_index_html(make_app: MakeApp) -> None:
    app = await make_app()
    response = await app.request("GET", "/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == (ROOT / "assets" / "assets" / "index.html").read_bytes()


async def test_every_request_reached_the_events_sink(make_app: MakeApp) -> None:
    app = await make_app()
    await app.client.get("/hello")
    await app.client.get("/nope")
    await app.client.options("/hello")
    await app.client.put("/hello")
    await app.client.get("/")
    assert [(m, p, s) for m, p, s, _ in app.events.done] == [
        ("GET", "/hello", 200),
        ("GET", "/nope", 404),
        ("OPTIONS", "/hello", 204),
        ("PUT", "/hello", 405),
        ("GET", "/", 200),
    ]


# --- what a function answers, checked before it is sent ---------------------------------


def checked(status: int, headers: list[tuple[str, str]], body: bytes) -> Any:
    # The check runs on the worker's reply; no pool is involved.
    pools: Any = None
    gateway = Gateway(Config(), Source(DEPLOYMENT), pools, Events())
    return gateway._check_response(status, headers, body, None)


@pytest.mark.parametrize(
    "framing",
    [
        [("Content-Length", "2")],
        [("content-length", "abc")],
        [("Transfer-Encoding", "chunked")],
        [("Connection", "close"), ("Keep-Alive", "timeout=1"), ("Upgrade", "h2c")],
        [("Trailer", "X-Checksum")],
    ],
)
async def test_a_functions_own_framing_headers_are_dropped(framing: list[tuple[str, str]]) -> None:
    answer = checked(200, [("X-Kept", "yes"), *framing], b"hello world")
    assert (answer.status, answer.headers, answer.body) == (
        200,
        [("X-Kept", "yes")],
        b"hello world",
    )


@pytest.mark.parametrize("status", [100, 101, 199, 600])
async def test_a_status_outside_200_599_is_refused(status: int) -> None:
    with pytest.raises(FunctionError) as refused:
        checked(status, [], b"")
    assert refused.value.status == 500
    assert refused.value.message == (
        f"The function answered status {status}; a response status must be 200-599."
    )


@pytest.mark.parametrize("status", [204, 304])
async def test_204_and_304_are_sent_without_a_body(status: int) -> None:
    answer = checked(status, [("X-Kept", "yes")], b"some body")
    assert (answer.status, answer.headers, answer.body) == (status, [("X-Kept", "yes")], b"")
