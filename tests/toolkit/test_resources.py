"""What several commands share (resources.py): waiting for a build, finding an environment as
Twilio's toolkit names them, the variable limits said before any change, and replacing an
environment's variables.

Unit tests: the API is an ``httpx.MockTransport`` that records each request; the commands that
use these against a real ``callbox serve`` are in tests/e2e/test_e2e_toolkit_*.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from callbox.toolkit.client import ApiClient
from callbox.toolkit.errors import ApiError, DeployError
from callbox.toolkit.printer import Printer
from callbox.toolkit.resources import (
    check_variables,
    find_environment,
    set_variables,
    wait_for_build,
)

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


# --- wait_for_build -----------------------------------------------------------------------------


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

    build = wait_for_build(client, SERVICE, "ZB1", Printer("info"))

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
        wait_for_build(client, SERVICE, "ZB1", Printer("none"))

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
        wait_for_build(client, SERVICE, "ZB1", Printer("none"))


def test_a_build_that_does_not_finish_in_time_says_what_to_do(api: Api) -> None:
    client, fake = api({f"GET {SERVICE}/Builds/ZB1/Status": {"status": "building"}})

    with pytest.raises(DeployError) as caught:
        wait_for_build(client, SERVICE, "ZB1", Printer("none"), timeout=0.05)

    assert re.fullmatch(
        r"Build ZB1 did not finish within \d+ s; its status is still building and nothing was "
        r"activated\. Check it later with `callbox list builds`\.",
        str(caught.value),
    )
    assert set(fake.requests) == {f"GET {SERVICE}/Builds/ZB1/Status"}  # nothing activated


# --- find_environment ---------------------------------------------------------------------------


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

    assert find_environment(client, SERVICE, "stage")["sid"] == "ZE2"  # type: ignore[index]


def test_without_a_conventional_name_the_first_match_is_taken(api: Api) -> None:
    client, _ = api(
        {
            f"GET {SERVICE}/Environments": listing(
                environment("ZE1", "stage-a", "stage"), environment("ZE2", "stage-b", "stage")
            )
        }
    )

    assert find_environment(client, SERVICE, "stage")["sid"] == "ZE1"  # type: ignore[index]
    assert find_environment(client, SERVICE, "qa") is None


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

    assert find_environment(client, SERVICE, "")["sid"] == "ZE3"  # type: ignore[index]


def test_an_environment_sid_is_fetched_directly(api: Api) -> None:
    client, fake = api({f"GET {SERVICE}/Environments/{ZE}": environment(ZE, "x", "x")})

    assert find_environment(client, SERVICE, ZE) == environment(ZE, "x", "x")
    assert fake.requests == [f"GET {SERVICE}/Environments/{ZE}"]
    missing = "ZE" + "b" * 32
    assert find_environment(client, SERVICE, missing) is None  # the API's 404


def test_other_errors_on_a_sid_are_not_taken_for_missing(api: Api) -> None:
    refused = {"__status": 401, "code": 20003, "message": "Authenticate"}
    client, _ = api({f"GET {SERVICE}/Environments/{ZE}": refused})

    with pytest.raises(ApiError) as caught:
        find_environment(client, SERVICE, ZE)
    assert caught.value.status == 401


@pytest.mark.parametrize("text", ["ZE123", "ZE" + "A" * 32, "ZE" + "a" * 33])
def test_text_that_is_not_an_environment_sid_is_a_suffix(api: Api, text: str) -> None:
    client, fake = api(
        {f"GET {SERVICE}/Environments": listing(environment("ZE1", "odd", text.lower()))}
    )

    assert find_environment(client, SERVICE, text) is None  # suffixes compare as written
    assert fake.requests == [f"GET {SERVICE}/Environments"]  # listed, never fetched by SID


# --- check_variables ----------------------------------------------------------------------------

ENV_FILE = Path("/project/.env")


@pytest.mark.parametrize(
    "values",
    [
        {"_private": "v", "A1": "v", "k" * 128: "v"},
        {"BIG": "x" * 450},
        {"UTF8": "é" * 225},  # 450 bytes
        {f"K{i}": "v" * 400 for i in range(7)},  # about 2.9 KB of JSON
        {},
    ],
    ids=["names", "value-at-the-limit", "utf8-at-the-limit", "total-under-3k", "none"],
)
def test_variables_within_the_limits_pass(values: dict[str, str]) -> None:
    check_variables(values, ENV_FILE)


@pytest.mark.parametrize(
    "key",
    [
        "1BAD",
        "a-b",
        "has space",
        "k" * 129,
        "",
        "KEY\n",  # "$" would let a final newline through
    ],
)
def test_a_name_that_cannot_be_a_variable_names_the_file(key: str) -> None:
    with pytest.raises(DeployError) as caught:
        check_variables({"OK": "v", key: "v"}, ENV_FILE)
    assert str(caught.value) == (
        f'{ENV_FILE}: "{key}" cannot be a variable name: use letters, digits and _, not starting '
        "with a digit, at most 128 characters."
    )


@pytest.mark.parametrize(("value", "size"), [("x" * 451, "451"), ("é" * 226, "452")])
def test_a_value_over_450_bytes_is_refused(value: str, size: str) -> None:
    with pytest.raises(DeployError) as caught:
        check_variables({"BIG": value}, ENV_FILE)
    assert str(caught.value) == (
        f"{ENV_FILE}: the value of BIG is {size} bytes; a variable holds at most 450 bytes. "
        "Keep large data in a private asset instead."
    )


def test_all_variables_over_3_kb_are_refused() -> None:
    values = {f"K{i}": "v" * 440 for i in range(7)}
    with pytest.raises(DeployError) as caught:
        check_variables(values, "--key/--value")
    assert str(caught.value) == (
        "--key/--value: all variables together are 3,150 bytes as JSON; an environment holds "
        "at most 3,072. Keep large data in a private asset instead."
    )


# --- set_variables ------------------------------------------------------------------------------


def variables(**values: str) -> dict[str, Any]:
    items = [{"sid": f"ZV{key}", "key": key, "value": v} for key, v in values.items()]
    return {"variables": items, "meta": {"next_page_url": None}}


def test_set_variables_creates_updates_and_leaves_the_rest(api: Api) -> None:
    client, fake = api({f"GET {ENV_BASE}/Variables": variables(SAME="1", OLD="x", KEPT="k")})

    set_variables(client, ENV_BASE, {"SAME": "1", "OLD": "y", "NEW": "n"})

    assert fake.requests == [
        f"GET {ENV_BASE}/Variables",
        f"POST {ENV_BASE}/Variables/ZVOLD",
        f"POST {ENV_BASE}/Variables",
    ]
    assert fake.forms[1:] == [{"Value": "y"}, {"Key": "NEW", "Value": "n"}]


def test_remove_others_deletes_first(api: Api) -> None:
    # The deletions go first: the old and the new set never count together against 3 KB.
    client, fake = api({f"GET {ENV_BASE}/Variables": variables(A="old", B="b", C="c")})

    set_variables(client, ENV_BASE, {"A": "new", "D": "d"}, remove_others=True)

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
        set_variables(
            client, ENV_BASE, {"BIG": "x" * 451}, source=".env.import", remove_others=True
        )

    assert fake.requests == []


def test_shrinking_changes_go_before_growing_ones(api: Api) -> None:
    # The server checks the 3 KB total after each request: a set that fits as a whole must
    # not fail half way because a value grew before the others shrank.
    client, fake = api(
        {f"GET {ENV_BASE}/Variables": variables(GROWS="g", SHRINKS="s" * 300, SAME="same")}
    )

    set_variables(
        client, ENV_BASE, {"GROWS": "g" * 400, "SHRINKS": "s", "SAME": "same", "NEW": "n"}
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

    set_variables(client, ENV_BASE, {"X": "a" * 300, "Y": "b" * 100})

    assert fake.requests == [
        f"GET {ENV_BASE}/Variables",
        f"POST {ENV_BASE}/Variables/ZVX",
        f"POST {ENV_BASE}/Variables",
    ]
