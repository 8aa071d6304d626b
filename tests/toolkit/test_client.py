"""The toolkit's client of the API (client.py): the server URL as users write it, one readable
ApiError for every refused or foreign answer, and lists followed across pages.

A unit test of the client: answers come from an ``httpx.MockTransport`` in place of a server
(the commands against a real ``callbox serve`` are in tests/e2e/test_e2e_toolkit_*.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from callbox.toolkit.client import REFUSED, ApiClient, api_error, server_url
from callbox.toolkit.errors import ApiError

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


# --- ApiClient.request --------------------------------------------------------------------------


def test_request_returns_the_json_object(client: Callable[[Handler], ApiClient]) -> None:
    api = client(lambda request: httpx.Response(200, json={"sid": "ZS1"}))
    assert api.get("/v1/Services/ZS1") == {"sid": "ZS1"}


def test_no_content_is_an_empty_object(client: Callable[[Handler], ApiClient]) -> None:
    api = client(lambda request: httpx.Response(204))
    assert api.request("DELETE", "/v1/Services/ZS1") == {}


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
        api.get("/v1/Services")
    assert str(caught.value) == (
        f"The answer from {BASE}/v1/Services is not callbox's API (not a JSON object). Check "
        "--url: it is the server's address, e.g. http://127.0.0.1:8080."
    )


def test_a_refused_request_raises_with_the_clients_source(
    client: Callable[[Handler], ApiClient],
) -> None:
    api = client(lambda request: httpx.Response(401, json={"message": "Authenticate"}))
    with pytest.raises(ApiError) as caught:
        api.get("/v1/Services")
    assert str(caught.value) == f"{REFUSED} (they came from --username/--password)."


def test_a_transport_failure_says_the_server_cannot_be_reached(
    client: Callable[[Handler], ApiClient],
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(ApiError) as caught:
        client(refuse).get("/v1/Services")
    assert str(caught.value) == (
        f"Cannot reach the callbox server at {BASE}: [Errno 111] Connection refused. Is it "
        "running (callbox serve), and is the URL right?"
    )
    assert caught.value.status == 0


# --- each(): every page -------------------------------------------------------------------------


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

    found = list(client(handler).each("/v1/Services/ZS1/Environments", "environments"))

    assert [item["sid"] for item in found] == ["ZE1", "ZE2", "ZE3"]
    assert [str(url) for url in asked] == [
        f"{BASE}/v1/Services/ZS1/Environments?PageSize=1000",  # as few pages as the server allows
        f"{BASE}/v1/Services/ZS1/Environments?Page=1",
        f"{BASE}/v1/Services/ZS1/Environments?Page=2",
    ]


def test_each_of_a_single_page_without_meta(client: Callable[[Handler], ApiClient]) -> None:
    api = client(lambda request: httpx.Response(200, json={"builds": [{"sid": "ZB1"}]}))
    assert list(api.each("/v1/Services/ZS1/Builds", "builds")) == [{"sid": "ZB1"}]
