"""The toolkit's client of the API (client.py): the server URL as users write it, one readable
ApiError for every refused or foreign answer, lists followed across pages, and the calls
several commands share: waiting for a build, finding an environment as Twilio's toolkit names
them, and replacing an environment's variables. Only the client builds the API's URLs.

A unit test of the client: answers come from an ``httpx.MockTransport`` in place of a server
(the commands against a real ``callbox serve`` are in tests/e2e/test_e2e_toolkit_*.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from callbox.toolkit.client import REFUSED, ApiClient, api_error, server_url
from callbox.toolkit.errors import ApiError, DeployError
from callbox.toolkit.printer import Printer

BASE = "http://callbox.test:8080"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def client() -> Iterator[Callable[[Handler], ApiClient]]:
    """``client(handler)``: an ApiClient whose requests ``handler`` answers."""
    made: list[ApiClient] = []

    def make(handler: Handler) -> ApiClient:
        api = ApiClient(BASE, "AC" + "1" * 32, "token", source="--username/--password")
        api.http.close()
        api.http = httpx.Client(
            base_url=BASE, auth=("AC" + "1" * 32, "token"), transport=httpx.MockTransport(handler)
        )
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


def answer(status: int, **kwargs: object) -> httpx.Response:
    """A response as it arrives: tied to its request, body read."""
    response = httpx.Response(status, request=httpx.Request("GET", f"{BASE}/v1/Services"), **kwargs)  # type: ignore[arg-type]
    response.read()
    return response


# --- server_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("  http://127.0.0.1:8080/v1/ ", "http://127.0.0.1:8080"),  # the README prints .../v1
        ("https://callbox.example.com/v1", "https://callbox.example.com"),
        ("https://callbox.example.com/prefix", "https://callbox.example.com/prefix"),
    ],
)
def test_server_url_is_normalised(given: str, url: str) -> None:
    assert server_url(given) == url


@pytest.mark.parametrize("given", ["notaurl", "127.0.0.1:8080", "ftp://x", "http://", ""])
def test_server_url_refuses_what_is_not_one(given: str) -> None:
    with pytest.raises(ApiError) as caught:
        server_url(given)
    assert str(caught.value) == (
        f'"{given}" is not a server URL: give http(s)://host[:port], e.g. http://127.0.0.1:8080 '
        "(--url, CALLBOX_URL or the profile)."
    )
    assert caught.value.status == 0


def test_a_client_refuses_a_bad_url_before_any_request() -> None:
    with pytest.raises(ApiError, match="is not a server URL"):
        ApiClient("ftp://x", "AC", "t")


# --- api_error ----------------------------------------------------------------------------------


def test_api_error_keeps_the_servers_message_and_code() -> None:
    error = api_error(answer(404, json={"code": 20404, "message": "Service ZS1 not found"}))
    assert (str(error), error.status, error.code) == ("Service ZS1 not found", 404, 20404)


def test_api_error_without_a_code() -> None:
    error = api_error(answer(409, json={"message": "taken"}))
    assert (str(error), error.status, error.code) == ("taken", 409, 0)


def test_a_401_says_where_the_credentials_came_from() -> None:
    error = api_error(
        answer(401, json={"code": 20003, "message": "Authenticate"}), "$TWILIO_API_KEY"
    )
    assert str(error) == f"{REFUSED} (they came from $TWILIO_API_KEY)."
    assert (error.status, error.code) == (401, 20003)


def test_a_401_with_credentials_from_env_hints_they_may_be_twilios() -> None:
    # A project made for Twilio's toolkit holds Twilio's ACCOUNT_SID and AUTH_TOKEN in .env.
    error = api_error(answer(401, json={"code": 20003}), ".env (/p/.env)")
    assert str(error) == (
        f"{REFUSED} (they came from .env (/p/.env)). If they are Twilio's, use callbox's: "
        "-p PROFILE or --username/--password."
    )


def test_a_401_without_a_source_is_the_bare_sentence() -> None:
    # Whatever the body: a proxy's HTML 401 is refused credentials too.
    error = api_error(answer(401, text="<html>nope</html>"))
    assert str(error) == f"{REFUSED}."


@pytest.mark.parametrize(
    "body",
    [
        {"text": "<html><body>404 Not Found</body></html>"},  # another web server
        {"json": ["not", "an", "object"]},
        {"json": {"detail": "no message field"}},
        {"json": {"message": ""}},
    ],
    ids=["html", "json-list", "no-message", "empty-message"],
)
def test_an_answer_that_is_not_the_apis_says_check_the_url(body: dict[str, object]) -> None:
    error = api_error(answer(404, **body))
    assert str(error) == (
        f"HTTP 404 from {BASE}/v1/Services: the answer is not callbox's API (no JSON error). "
        "Check --url: it is the server's address, e.g. http://127.0.0.1:8080."
    )
    assert (error.status, error.code) == (404, 0)


# --- ApiClient._request -------------------------------------------------------------------------


def test_request_returns_the_json_object(client: Callable[[Handler], ApiClient]) -> None:
    api = client(lambda request: httpx.Response(200, json={"sid": "ZS1"}))
    assert api.service("ZS1") == {"sid": "ZS1"}


def test_no_content_is_an_empty_object(client: Callable[[Handler], ApiClient]) -> None:
    api = client(lambda request: httpx.Response(204))
    assert api._request("DELETE", "/v1/Services/ZS1") == {}


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>welcome</html>"),
        httpx.Response(200, json=[1, 2]),
    ],
    ids=["html", "json-list"],
)
def test_a_200_that_is_not_a_json_object_is_an_error(
    client: Callable[[Handler], ApiClient], response: httpx.Response
) -> None:
    api = client(lambda request: response)
    with pytest.raises(ApiError) as caught:
        api._get("/v1/Services")
    assert str(caught.value) == (
        f"The answer from {BASE}/v1/Services is not callbox's API (not a JSON object). Check "
        "--url: it is the server's address, e.g. http://127.0.0.1:8080."
    )


def test_a_refused_request_raises_with_the_clients_source(
    client: Callable[[Handler], ApiClient],
) -> None:
    api = client(lambda request: httpx.Response(401, json={"message": "Authenticate"}))
    with pytest.raises(ApiError) as caught:
        api._get("/v1/Services")
    assert str(caught.value) == f"{REFUSED} (they came from --username/--password)."


def test_a_transport_failure_says_the_server_cannot_be_reached(
    client: Callable[[Handler], ApiClient],
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(ApiError) as caught:
        client(refuse)._get("/v1/Services")
    assert str(caught.value) == (
        f"Cannot reach the callbox server at {BASE}: [Errno 111] Connection refused. Is it "
        "running (callbox serve), and is the URL right?"
    )
    assert caught.value.status == 0


# --- _each(): every page ------------------------------------------------------------------------


def test_each_follows_next_page_url_across_pages(client: Callable[[Handler], ApiClient]) -> None:
    asked: list[httpx.URL] = []
    pages = {
        "0": ([{"sid": "ZE1"}, {"sid": "ZE2"}], f"{BASE}/v1/Services/ZS1/Environments?Page=1"),
        "1": ([{"sid": "ZE3"}], f"{BASE}/v1/Services/ZS1/Environments?Page=2"),
        "2": ([], None),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        items, next_url = pages[request.url.params.get("Page", "0")]
        return httpx.Response(
            200, json={"environments": items, "meta": {"next_page_url": next_url}}
        )

    found = client(handler).environments("ZS1")

    assert [item["sid"] for item in found] == ["ZE1", "ZE2", "ZE3"]
    assert [str(url) for url in asked] == [
        f"{BASE}/v1/Services/ZS1/Environments?PageSize=1000",  # as few pages as the server allows
        f"{BASE}/v1/Services/ZS1/Environments?Page=1",
        f"{BASE}/v1/Services/ZS1/Environments?Page=2",
    ]


def test_each_of_a_single_page_without_meta(client: Callable[[Handler], ApiClient]) -> None:
    api = client(lambda request: httpx.Response(200, json={"builds": [{"sid": "ZB1"}]}))
    assert api.builds("ZS1") == [{"sid": "ZB1"}]


# --- the calls several commands share, against a recording fake API ---------------------------

BASE_URL = "http://callbox.test"
SERVICE = "/v1/Services/ZS1"
ENV_BASE = f"{SERVICE}/Environments/ZE1"
ZE = "ZE" + "a" * 32


class FakeApi:
    """Answers from ``routes`` ("GET /path" -> JSON, or a callable of the request; a write not
    in ``routes`` succeeds, a read is the API's 404); records every request as "METHOD /path"
    and the form it sent."""

    DEFAULTS: dict[str, dict[str, Any]] = {
        "GET": {"__status": 404, "code": 20404, "message": "The requested resource was not found"},
        "POST": {"__status": 201, "sid": "ZV" + "0" * 32},
        "DELETE": {"__status": 204},
    }

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.requests: list[str] = []
        self.forms: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        line = f"{request.method} {request.url.path}"
        self.requests.append(line)
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.forms.append(form)
        route = self.routes.get(line, self.DEFAULTS[request.method])
        if callable(route):
            route = route(request)
        if isinstance(route, httpx.Response):
            return route
        status = route.get("__status", 200)
        body = {k: v for k, v in route.items() if k != "__status"}
        return httpx.Response(status, json=body) if body else httpx.Response(status)


@pytest.fixture
def api() -> Iterator[Callable[[dict[str, Any]], tuple[ApiClient, FakeApi]]]:
    clients: list[ApiClient] = []

    def make(routes: dict[str, Any]) -> tuple[ApiClient, FakeApi]:
        fake = FakeApi(routes)
        client = ApiClient(BASE_URL, "AC" + "1" * 32, "token")
        client.http.close()
        client.http = httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(fake))
        clients.append(client)
        return client, fake

    yield make
    for client in clients:
        client.close()


Api = Callable[[dict[str, Any]], tuple[ApiClient, FakeApi]]


# --- wait_for_build ----------------------------------------------------------------------------


def statuses(*states: str) -> Callable[[httpx.Request], dict[str, Any]]:
    """The build's /Status answers in turn; the last one repeats."""
    remaining = list(states)

    def next_status(_request: httpx.Request) -> dict[str, Any]:
        return {"status": remaining.pop(0) if len(remaining) > 1 else remaining[0]}

    return next_status


def test_wait_for_build_shows_each_new_state_and_returns_the_build(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = api(
        {
            f"GET {SERVICE}/Builds/ZB1/Status": statuses("building", "building", "completed"),
            f"GET {SERVICE}/Builds/ZB1": {"sid": "ZB1", "status": "completed"},
        }
    )

    build = client.wait_for_build("ZS1", "ZB1", Printer("info"))

    assert build == {"sid": "ZB1", "status": "completed"}
    assert capsys.readouterr().err.splitlines() == ["Build ZB1: building", "Build ZB1: completed"]


def test_a_failed_build_is_one_line_with_its_reason(api: Api) -> None:
    reason = "functions/bad.py does not compile:\n  line 1\n\n    def handler(:\n"
    client, _ = api(
        {
            f"GET {SERVICE}/Builds/ZB1/Status": {"status": "failed"},
            f"GET {SERVICE}/Builds/ZB1": {"sid": "ZB1", "status": "failed", "error": reason},
        }
    )

    with pytest.raises(DeployError) as caught:
        client.wait_for_build("ZS1", "ZB1", Printer("none"))

    assert str(caught.value) == (
        "Build ZB1 failed: functions/bad.py does not compile:; line 1; def handler(:"
    )


def test_a_failed_build_without_a_reason_says_so(api: Api) -> None:
    client, _ = api(
        {
            f"GET {SERVICE}/Builds/ZB1/Status": {"status": "failed"},
            f"GET {SERVICE}/Builds/ZB1": {"sid": "ZB1", "status": "failed", "error": None},
        }
    )

    with pytest.raises(DeployError, match="^Build ZB1 failed: no reason was recorded$"):
        client.wait_for_build("ZS1", "ZB1", Printer("none"))


def test_a_build_that_does_not_finish_in_time_says_what_to_do(api: Api) -> None:
    client, fake = api({f"GET {SERVICE}/Builds/ZB1/Status": {"status": "building"}})

    with pytest.raises(DeployError) as caught:
        client.wait_for_build("ZS1", "ZB1", Printer("none"), timeout=0.05)

    assert re.fullmatch(
        r"Build ZB1 did not finish within \d+ s; its status is still building and nothing was "
        r"activated\. Check it later with `callbox list builds`\.",
        str(caught.value),
    )
    assert set(fake.requests) == {f"GET {SERVICE}/Builds/ZB1/Status"}  # nothing activated


# --- find_environment --------------------------------------------------------------------------


def environment(sid: str, unique_name: str, suffix: str | None) -> dict[str, Any]:
    return {"sid": sid, "unique_name": unique_name, "domain_suffix": suffix}


def listing(*environments: dict[str, Any]) -> dict[str, Any]:
    return {"environments": list(environments), "meta": {"next_page_url": None}}


def test_the_conventionally_named_environment_wins_among_the_same_suffix(api: Api) -> None:
    client, _ = api(
        {
            f"GET {SERVICE}/Environments": listing(
                environment("ZE1", "stage-by-hand", "stage"),
                environment("ZE2", "stage-environment", "stage"),  # as `callbox deploy` names it
                environment("ZE3", "dev-environment", "dev"),
            )
        }
    )

    assert client.find_environment("ZS1", "stage")["sid"] == "ZE2"  # type: ignore[index]


def test_without_a_conventional_name_the_first_match_is_taken(api: Api) -> None:
    client, _ = api(
        {
            f"GET {SERVICE}/Environments": listing(
                environment("ZE1", "stage-a", "stage"), environment("ZE2", "stage-b", "stage")
            )
        }
    )

    assert client.find_environment("ZS1", "stage")["sid"] == "ZE1"  # type: ignore[index]
    assert client.find_environment("ZS1", "qa") is None


def test_production_is_the_empty_suffix(api: Api) -> None:
    client, _ = api(
        {
            f"GET {SERVICE}/Environments": listing(
                environment("ZE1", "dev-environment", "dev"),
                environment("ZE2", "live", None),
                environment("ZE3", "production", ""),
            )
        }
    )

    assert client.find_environment("ZS1", "")["sid"] == "ZE3"  # type: ignore[index]


def test_an_environment_sid_is_fetched_directly(api: Api) -> None:
    client, fake = api({f"GET {SERVICE}/Environments/{ZE}": environment(ZE, "x", "x")})

    assert client.find_environment("ZS1", ZE) == environment(ZE, "x", "x")
    assert fake.requests == [f"GET {SERVICE}/Environments/{ZE}"]
    missing = "ZE" + "b" * 32
    assert client.find_environment("ZS1", missing) is None  # the API's 404


def test_other_errors_on_a_sid_are_not_taken_for_missing(api: Api) -> None:
    refused = {"__status": 401, "code": 20003, "message": "Authenticate"}
    client, _ = api({f"GET {SERVICE}/Environments/{ZE}": refused})

    with pytest.raises(ApiError) as caught:
        client.find_environment("ZS1", ZE)
    assert caught.value.status == 401


@pytest.mark.parametrize("text", ["ZE123", "ZE" + "A" * 32, "ZE" + "a" * 33])
def test_text_that_is_not_an_environment_sid_is_a_suffix(api: Api, text: str) -> None:
    client, fake = api(
        {f"GET {SERVICE}/Environments": listing(environment("ZE1", "odd", text.lower()))}
    )

    assert client.find_environment("ZS1", text) is None  # suffixes compare as written
    assert fake.requests == [f"GET {SERVICE}/Environments"]  # listed, never fetched by SID


# --- set_variables -----------------------------------------------------------------------------


def variables(**values: str) -> dict[str, Any]:
    items = [{"sid": f"ZV{key}", "key": key, "value": v} for key, v in values.items()]
    return {"variables": items, "meta": {"next_page_url": None}}


def test_set_variables_creates_updates_and_leaves_the_rest(api: Api) -> None:
    client, fake = api({f"GET {ENV_BASE}/Variables": variables(SAME="1", OLD="x", KEPT="k")})

    client.set_variables("ZS1", "ZE1", {"SAME": "1", "OLD": "y", "NEW": "n"})

    assert fake.requests == [
        f"GET {ENV_BASE}/Variables",
        f"POST {ENV_BASE}/Variables/ZVOLD",
        f"POST {ENV_BASE}/Variables",
    ]
    assert fake.forms[1:] == [{"Value": "y"}, {"Key": "NEW", "Value": "n"}]


def test_remove_others_deletes_first(api: Api) -> None:
    # The deletions go first: the old and the new set never count together against 3 KB.
    client, fake = api({f"GET {ENV_BASE}/Variables": variables(A="old", B="b", C="c")})

    client.set_variables("ZS1", "ZE1", {"A": "new", "D": "d"}, remove_others=True)

    assert fake.requests == [
        f"GET {ENV_BASE}/Variables",
        f"DELETE {ENV_BASE}/Variables/ZVB",
        f"DELETE {ENV_BASE}/Variables/ZVC",
        f"POST {ENV_BASE}/Variables/ZVA",
        f"POST {ENV_BASE}/Variables",
    ]


def test_variables_over_the_limits_change_nothing(api: Api) -> None:
    client, fake = api({f"GET {ENV_BASE}/Variables": variables(A="a")})

    with pytest.raises(DeployError, match="^.env.import: the value of BIG is 451 bytes"):
        client.set_variables(
            "ZS1", "ZE1", {"BIG": "x" * 451}, source=".env.import", remove_others=True
        )

    assert fake.requests == []


def test_shrinking_changes_go_before_growing_ones(api: Api) -> None:
    # The server checks the 3 KB total after each request: a set that fits as a whole must
    # not fail half way because a value grew before the others shrank.
    client, fake = api(
        {f"GET {ENV_BASE}/Variables": variables(GROWS="g", SHRINKS="s" * 300, SAME="same")}
    )

    client.set_variables(
        "ZS1", "ZE1", {"GROWS": "g" * 400, "SHRINKS": "s", "SAME": "same", "NEW": "n"}
    )

    assert fake.requests == [
        f"GET {ENV_BASE}/Variables",
        f"POST {ENV_BASE}/Variables/ZVSHRINKS",
        f"POST {ENV_BASE}/Variables",
        f"POST {ENV_BASE}/Variables/ZVGROWS",
    ]


def test_growth_is_measured_as_the_server_counts_json_bytes(api: Api) -> None:
    # "é" is 6 bytes of JSON ("\u00e9"): 60 of them shrink to 300 "a"s (360 -> 300 bytes),
    # so that change must go before the new variable grows the set.
    client, fake = api({f"GET {ENV_BASE}/Variables": variables(X="é" * 60)})

    client.set_variables("ZS1", "ZE1", {"X": "a" * 300, "Y": "b" * 100})

    assert fake.requests == [
        f"GET {ENV_BASE}/Variables",
        f"POST {ENV_BASE}/Variables/ZVX",
        f"POST {ENV_BASE}/Variables",
    ]


# --- one client owns every URL ------------------------------------------------------------------

TOOLKIT = Path(__file__).resolve().parents[2] / "src" / "callbox" / "toolkit"
API_PATH = re.compile(r"/v1/|/2010-04-01/")


def test_only_the_client_builds_the_apis_urls() -> None:
    # Every Serverless URL and call is ApiClient's: a command asks it for what it needs.
    elsewhere = sorted(
        f"{file.relative_to(TOOLKIT)}:{number}"
        for file in TOOLKIT.rglob("*.py")
        if file.name != "client.py" and "templates" not in file.parts
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1)
        if API_PATH.search(line) and not line.lstrip().startswith("#")
    )
    assert elsewhere == []
