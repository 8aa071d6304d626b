"""The OpenAPI document against the server it describes: a bounded, schema-driven fuzz run.

Schemathesis reads ``/v1/openapi.json`` from a real ``callbox serve`` (real SQLite, real
builder) and sends every operation requests the document calls valid (positive) and invalid
(negative), from its boundary values (the coverage phase) and from Hypothesis (fuzzing).
Every answer must be:

- never a 5xx;
- for an invalid request, a refusal (400, or 404 for a path that names nothing);
- for a valid request, not a 400 that names its form: a request the document accepts may only be
  refused for what the document cannot know (``REFUSED_FOR_STATE`` below says what and why);
- a documented status, with the documented content type and JSON.

Valid requests on instances use real SIDs (a deployed service, its environment, function,
asset, versions, build, deployment, variable and log line), so the checks reach the handlers and
not only the 404 of an unknown SID. The run is deterministic (fixed seed, derandomised, no
example database) and bounded to a few examples per operation.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from deploying import deploy
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from callbox.api.openapi import openapi_document
from conftest import ACCOUNT

SAMPLES = Path(__file__).resolve().parent.parent / "functions" / "serve_api"
SEED = 20260513
PLACEHOLDER = "http://fuzz.invalid"
MAX_EXAMPLES = 25  # per operation, in the fuzzing phase (the coverage phase has its own count)

# Requests the document calls valid that Twilio, too, refuses with a 400: what decides is the
# state of the account or a grammar the document can only name. Each is (message, reason).
REFUSED_FOR_STATE = [
    (r"version \S+ was not found in this service", "a ZN SID of the right form, not there"),
    (r"^Build \S+ was not found in this service", "a ZB SID of the right form, not there"),
    (r"^Build \S+ failed and cannot be deployed", "the build's outcome"),
    (r"^Version \S+ in \w+ is an? \w+ version", "a version of the other kind"),
    (r"^Version \S+ is listed twice", "the same SID in FunctionVersions and AssetVersions"),
    (r"^Two versions in the build have the path", "the versions' paths"),
    (r"^Services are limited to", "the account's 50 services"),
    (r"^The domain label \S+ would be \d+ characters", "the service's domain base"),
    (r"^StartDate must not be after EndDate", "two parameters together"),
    (r"^PageToken .* is not one this server issued", "a token is opaque"),
    (r"^(Dependencies|Dependency |The version of dependency |@twilio/runtime-handler )", "JSON"),
    (r"^Function source must be UTF-8 text", "a file's bytes"),
    (r"^Path segment .* bytes long", "a limit in UTF-8 bytes"),
    (r"^Variable value is [\d,]+ bytes", "a limit in UTF-8 bytes"),
    (r"^All variables of this environment would be", "the environment's other variables"),
]


@pytest.fixture(scope="module")
def server(module_servers: Any) -> Any:
    return module_servers.serve()


@pytest.fixture(scope="module")
def world(server: Any) -> dict[str, str]:
    """Real SIDs by path placeholder: a deployed function and asset, and all around them."""
    hello = (SAMPLES / "functions" / "hello.py").read_bytes()
    deployed = deploy(
        server,
        {"/hello": (hello, "public")},
        assets={"/style.css": (b"body { color: red }\n", "public")},
        variables={"GREETING": "hi"},
        service="fuzz",
    )
    with server.environment(deployed["domain"]) as client:
        assert client.get("/hello").status_code == 200
    env = f"/v1/Services/{deployed['service_sid']}/Environments/{deployed['environment_sid']}"
    deadline = time.monotonic() + 10
    lines: list[dict[str, Any]] = []
    while not lines and time.monotonic() < deadline:
        lines = server.client.get(f"{env}/Logs").json()["logs"]
        time.sleep(0.1)
    assert lines, "the function's log lines never arrived"
    variable = server.client.get(f"{env}/Variables").json()["variables"][0]
    alerts: list[dict[str, Any]] = []  # hello's WARN and ERROR lines made alerts of the Debugger
    while not alerts and time.monotonic() < deadline + 10:
        alerts = server.client.get("/monitor/v1/Alerts").json()["alerts"]
        time.sleep(0.1)
    assert alerts, "the failed invocation's alerts never arrived"
    account = server.account_sid
    key = server.client.post(f"/2010-04-01/Accounts/{account}/Keys.json").json()
    return {
        "Services": deployed["service_sid"],
        "Environments": deployed["environment_sid"],
        "Functions": deployed["resources"]["/hello"],
        "Assets": deployed["resources"]["/style.css"],
        "Functions/Versions": deployed["versions"]["/hello"],
        "Assets/Versions": deployed["versions"]["/style.css"],
        "Builds": deployed["build_sid"],
        "Deployments": deployed["deployment_sid"],
        "Variables": variable["sid"],
        "Logs": lines[0]["sid"],
        "Accounts": account,
        "Keys": key["sid"],
        "Alerts": alerts[0]["sid"],
    }


# The document as the server builds it, so that pytest can list one test per operation before
# any server runs; test_the_served_document_is_the_one_fuzzed checks that it is the one served.
schema = schemathesis.openapi.from_dict(
    openapi_document(PLACEHOLDER),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            # Stateful runs follow links the document does not have; examples it has none of.
            "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False}},
            "auth": {"basic": {"username": ACCOUNT[0], "password": ACCOUNT[1]}},
        }
    ),
)


def owner_of(path: str, placeholder: str) -> str:
    """Which resource a placeholder names: the collection before it (Versions: of what)."""
    parts = path.strip("/").split("/")
    index = next(i for i, part in enumerate(parts) if f"{{{placeholder}}}" in part)
    collection = parts[index - 1]
    if collection == "Versions":
        return f"{parts[index - 3]}/Versions"
    return collection.removesuffix(".json")


def refused_for_state(response: Any) -> bool:
    if response.status_code != 400:
        return False
    message = response.json()["message"]
    return any(re.search(pattern, message) for pattern, _reason in REFUSED_FOR_STATE)


def test_the_served_document_is_the_one_fuzzed(server: Any) -> None:
    served = server.client.get("/v1/openapi.json").json()
    assert served == openapi_document(server.base_url)
    assert openapi_document(PLACEHOLDER) == {**served, "servers": [{"url": PLACEHOLDER}]}


@schema.parametrize()
def test_the_document_and_the_server_agree(case: Any, server: Any, world: dict[str, str]) -> None:
    positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    # A DELETE would take the world away from the cases after it; the stream never ends.
    reaches_world = case.method != "DELETE" and not case.path.endswith("/Stream")
    if positive and reaches_world and case.path_parameters:
        for name in case.path_parameters:
            case.path_parameters[name] = world[owner_of(case.path, name)]
    response = case.call(base_url=server.base_url, timeout=30)
    excluded = [positive_data_acceptance] if positive and refused_for_state(response) else []
    case.validate_response(response, excluded_checks=excluded)
