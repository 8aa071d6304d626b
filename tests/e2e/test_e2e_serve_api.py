"""``callbox serve`` driven end to end by the official twilio SDK, as a Twilio user would.

service -> environment -> function -> version upload -> build -> status -> deployment ->
invocation at the environment's domain -> logs; then the deployed context, domains, live
variables, redeploy and rollback, pagination, errors, signatures, and two accounts that cannot
see each other's resources. Sample functions: ``tests/functions/serve_api``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploying import Deployed, build, deploy, upload
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator

SAMPLES = Path(__file__).resolve().parent.parent / "functions" / "serve_api"
MISSING_SERVICE = "ZS" + "0" * 32


def source(name: str) -> bytes:
    return (SAMPLES / "functions" / f"{name}.py").read_bytes()


@pytest.fixture(scope="module")
def server(module_servers):
    return module_servers.serve()


def call(server, domain: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request to an environment: to this server, with ``Host: <domain>:<port>``."""
    with server.environment(domain) as client:
        return client.request(kwargs.pop("method", "GET"), path, **kwargs)


def context_of(server, domain: str) -> dict[str, Any]:
    response = call(server, domain, "/context")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    """Call ``fetch`` every 0.05 s until ``done(result)``; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def sdk_status(action: Callable[[], Any]) -> tuple[int, int | None]:
    """(HTTP status, Twilio code) of an SDK call that must fail.

    Fetch, create, update and delete raise TwilioRestException; a list page that is not 200
    raises a plain TwilioException("Unable to fetch page", response).
    """
    try:
        action()
    except TwilioRestException as exc:
        return exc.status, exc.code
    except TwilioException as exc:
        response = exc.args[1]
        return response.status_code, json.loads(response.text).get("code")
    raise AssertionError("the SDK call succeeded; it should have been refused")


# -- the whole flow -------------------------------------------------------------------------


def test_service_to_logs_through_the_sdk(server):
    sdk = server.sdk().serverless.v1
    service = sdk.services.create(unique_name="flow", friendly_name="The flow")
    assert service.sid.startswith("ZS") and service.account_sid == server.account_sid
    environment = sdk.services(service.sid).environments.create(
        unique_name="dev-environment", domain_suffix="dev"
    )
    assert environment.domain_name == f"{service.domain_base}-dev.localhost"
    assert environment.build_sid is None
    function = sdk.services(service.sid).functions.create(friendly_name="/hello")
    version = upload(
        server, service.sid, "Functions", function.sid, "/hello", source("hello"), "public"
    )
    fetched = sdk.services(service.sid).functions(function.sid).function_versions(version).fetch()
    assert (fetched.path, fetched.visibility) == ("/hello", "public")
    content = fetched.function_version_content().fetch().content
    assert content == source("hello").decode()

    build_sid = build(server, service.sid, [version])
    status = sdk.services(service.sid).builds(build_sid).build_status()
    assert poll(lambda: status.fetch().status, lambda s: s != "building", 60) == "completed"
    built = sdk.services(service.sid).builds(build_sid).fetch()
    assert [v["sid"] for v in built.function_versions] == [version]
    deployment = (
        sdk.services(service.sid)
        .environments(environment.sid)
        .deployments.create(build_sid=build_sid)
    )
    assert deployment.build_sid == build_sid
    env = sdk.services(service.sid).environments(environment.sid).fetch()
    assert env.build_sid == build_sid

    response = call(server, environment.domain_name, "/hello", params={"tag": "t1"})
    assert (response.status_code, response.text) == (200, "hello t1")

    logs = sdk.services(service.sid).environments(environment.sid).logs
    lines = poll(lambda: logs.list(), lambda found: len(found) >= 3)
    by_message = {line.message: line for line in lines}
    assert set(by_message) == {"hello t1 from /hello", "careful t1", "trouble t1"}
    info = by_message["hello t1 from /hello"]
    assert info.level == "INFO"
    assert by_message["careful t1"].level == "WARN"  # logging.warning
    assert by_message["trouble t1"].level == "ERROR"  # sys.stderr
    assert info.sid.startswith("NO") and info.request_sid.startswith("RQ")
    for line in lines:
        assert line.account_sid == server.account_sid
        assert (line.service_sid, line.environment_sid) == (service.sid, environment.sid)
        assert (line.function_sid, line.build_sid) == (function.sid, build_sid)
        assert line.deployment_sid == deployment.sid
        assert line.request_sid == info.request_sid  # one invocation
    assert logs(info.sid).fetch().message == "hello t1 from /hello"
    only_hello = logs.list(function_sid=function.sid)
    assert {line.sid for line in only_hello} == {line.sid for line in lines}


# -- what a deployed function sees ----------------------------------------------------------


def test_context_has_sids_domain_path_variables_and_credentials(server):
    deployed = deploy(
        server,
        {"/context": (source("context"), "public")},
        service="ctx",
        variables={"GREETING": "hi"},
    )
    context = context_of(server, deployed["domain"])
    assert context["SERVICE_SID"] == deployed["service_sid"]
    assert context["ENVIRONMENT_SID"] == deployed["environment_sid"]
    # With the port the server listens on (issue 13: it was dropped, so URLs missed it).
    assert context["DOMAIN_NAME"] == f"{deployed['domain']}:{server.port}"
    assert context["PATH"] == "/context"
    assert context["GREETING"] == "hi"
    assert context["ACCOUNT_SID"] == server.account_sid
    assert context["AUTH_TOKEN"] == server.auth_token


def test_include_credentials_change_applies_without_a_redeploy(server):
    # hosting.py re-reads the service (include_credentials) whenever the API reports a change,
    # and services.update reports one: the next invocation sees it, no new deployment needed.
    deployed = deploy(server, {"/context": (source("context"), "public")}, service="creds")
    service = server.sdk().serverless.v1.services(deployed["service_sid"])
    assert "AUTH_TOKEN" in context_of(server, deployed["domain"])

    assert service.update(include_credentials=False).include_credentials is False
    context = context_of(server, deployed["domain"])
    assert "ACCOUNT_SID" not in context and "AUTH_TOKEN" not in context
    assert context["SERVICE_SID"] == deployed["service_sid"]

    service.update(include_credentials=True)
    assert context_of(server, deployed["domain"])["ACCOUNT_SID"] == server.account_sid
    environment = service.environments(deployed["environment_sid"])
    assert len(environment.deployments.list()) == 1


def test_service_created_without_credentials_gives_none(server):
    deployed = deploy(
        server,
        {"/context": (source("context"), "public")},
        service="nocreds",
        include_credentials=False,
    )
    context = context_of(server, deployed["domain"])
    assert "ACCOUNT_SID" not in context and "AUTH_TOKEN" not in context


# -- domains --------------------------------------------------------------------------------


def test_environment_domains_and_what_answers_there(server):
    files = {"/hello": (source("hello"), "public")}
    production = deploy(server, files, service="domains", suffix=None)
    dev = deploy(server, files, service="domains", suffix="dev")
    sdk = server.sdk().serverless.v1
    base = sdk.services("domains").fetch().domain_base
    assert base.startswith("domains-") and len(base) == len("domains-") + 4
    assert production["domain"] == f"{base}.localhost"
    assert dev["domain"] == f"{base}-dev.localhost"
    for domain in (production["domain"], dev["domain"]):
        assert call(server, domain, "/hello", params={"tag": "d"}).text == "hello d"

    stage = sdk.services("domains").environments.create(
        unique_name="stage-environment", domain_suffix="stage"
    )
    assert stage.domain_name == f"{base}-stage.localhost"
    undeployed = call(server, stage.domain_name, "/hello")
    assert undeployed.status_code == 404
    assert undeployed.json()["status"] == 404
    assert call(server, "nothing-1234.localhost", "/hello").status_code == 404
    assert call(server, dev["domain"], "/not-deployed").status_code == 404

    # No environment in the Host: the API answers.
    health = server.client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert httpx.get(f"{server.base_url}/health").json() == {"status": "ok"}
    assert server.client.get("/hello").json()["code"] == 20404  # an API 404, not a function


# -- variables, redeploy, rollback ----------------------------------------------------------


def test_variable_changes_reach_the_next_invocation(server):
    deployed = deploy(server, {"/context": (source("context"), "public")}, service="live-vars")
    domain = deployed["domain"]
    environment = (
        server.sdk()
        .serverless.v1.services(deployed["service_sid"])
        .environments(deployed["environment_sid"])
    )
    assert "COLOR" not in context_of(server, domain)

    variable = environment.variables.create(key="COLOR", value="red")
    assert context_of(server, domain)["COLOR"] == "red"
    assert environment.variables(variable.sid).update(value="blue").value == "blue"
    assert context_of(server, domain)["COLOR"] == "blue"
    assert environment.variables(variable.sid).delete() is True
    assert "COLOR" not in context_of(server, domain)

    assert environment.fetch().build_sid == deployed["build_sid"]
    assert [d.sid for d in environment.deployments.list()] == [deployed["deployment_sid"]]


def test_redeploy_serves_the_new_build_and_rollback_serves_the_old(server):
    first_source = source("release")
    second_source = first_source.replace(b'RELEASE = "first"', b'RELEASE = "second"')
    assert second_source != first_source
    first = deploy(server, {"/release": (first_source, "public")}, service="releases")
    domain = first["domain"]
    assert call(server, domain, "/release").text == "release first"

    second = deploy(server, {"/release": (second_source, "public")}, service="releases")
    assert second["environment_sid"] == first["environment_sid"]
    assert second["build_sid"] != first["build_sid"]
    assert call(server, domain, "/release").text == "release second"

    environment = (
        server.sdk()
        .serverless.v1.services(first["service_sid"])
        .environments(first["environment_sid"])
    )
    rollback = environment.deployments.create(build_sid=first["build_sid"])
    assert call(server, domain, "/release").text == "release first"
    assert environment.fetch().build_sid == first["build_sid"]
    deployments = environment.deployments.list()
    assert {d.sid for d in deployments} == {
        first["deployment_sid"],
        second["deployment_sid"],
        rollback.sid,
    }


# -- pagination -----------------------------------------------------------------------------


def test_sixty_functions_page_through_the_sdk(server):
    service = server.sdk().serverless.v1.services.create(unique_name="many", friendly_name="Many")
    functions = server.sdk().serverless.v1.services(service.sid).functions
    created = [functions.create(friendly_name=f"/f{i:02d}").sid for i in range(60)]

    listed = functions.list()
    assert len(listed) == 60
    assert sorted(f.sid for f in listed) == sorted(created)

    first = functions.page(page_size=50)
    first_sids = [f.sid for f in first]  # a page iterates its records once
    assert len(first_sids) == 50
    assert first.next_page_url.startswith(f"{server.base_url}/v1/Services/{service.sid}/Functions?")
    second = first.next_page()
    assert second is not None
    second_sids = [f.sid for f in second]
    assert len(second_sids) == 10
    assert second.next_page() is None
    assert set(first_sids) | set(second_sids) == set(created)
    assert len({f.sid for f in functions.stream(page_size=7)}) == 60
    assert len(functions.list(limit=55)) == 55


# -- errors ---------------------------------------------------------------------------------


def test_unknown_service_is_404_20404(server):
    services = server.sdk().serverless.v1.services
    with pytest.raises(TwilioRestException) as raised:
        services(MISSING_SERVICE).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)
    assert MISSING_SERVICE in raised.value.msg
    assert sdk_status(lambda: services("no-such-service").fetch()) == (404, 20404)
    assert sdk_status(lambda: services(MISSING_SERVICE).delete()) == (404, 20404)
    environments = services(MISSING_SERVICE).environments
    assert sdk_status(lambda: environments.list()) == (404, 20404)


def test_unknown_children_of_a_real_service_are_404(server):
    service = server.sdk().serverless.v1.services.create(unique_name="sparse", friendly_name="S")
    api = server.sdk().serverless.v1.services(service.sid)
    assert sdk_status(lambda: api.environments("ZE" + "0" * 32).fetch()) == (404, 20404)
    assert sdk_status(lambda: api.functions("ZH" + "0" * 32).fetch()) == (404, 20404)
    assert sdk_status(lambda: api.builds("ZB" + "0" * 32).build_status().fetch()) == (404, 20404)
    assert sdk_status(lambda: api.environments("not-a-sid").fetch()) == (404, 20404)


def test_bad_unique_name_is_400_20001(server):
    services = server.sdk().serverless.v1.services
    with pytest.raises(TwilioRestException) as raised:
        services.create(unique_name="not a valid name!", friendly_name="Bad")
    assert (raised.value.status, raised.value.code) == (400, 20001)
    assert "UniqueName" in raised.value.msg


def test_wrong_credentials_are_401_20003(server):
    wrong = server.sdk(server.account_sid, "not-the-token").serverless.v1.services
    with pytest.raises(TwilioRestException) as raised:
        wrong(MISSING_SERVICE).fetch()
    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert sdk_status(lambda: wrong.list()) == (401, 20003)
    unknown = server.sdk("AC" + "1" * 32, "whatever").serverless.v1.services
    assert sdk_status(lambda: unknown.create(unique_name="x", friendly_name="x")) == (401, 20003)


# -- protected functions --------------------------------------------------------------------


def test_protected_function_needs_a_signature_with_the_owner_token(server):
    deployed = deploy(server, {"/protected": (source("protected"), "protected")}, service="guarded")
    domain = deployed["domain"]
    params = {"Body": "hello"}
    unsigned = call(server, domain, "/protected", method="POST", data=params)
    assert unsigned.status_code == 403, unsigned.text

    url = f"http://{domain}:{server.port}/protected"
    signature = RequestValidator(server.auth_token).compute_signature(url, params)
    signed = call(
        server,
        domain,
        "/protected",
        method="POST",
        data=params,
        headers={"X-Twilio-Signature": signature},
    )
    assert (signed.status_code, signed.text) == (200, "signed hello")

    other = RequestValidator("some-other-token").compute_signature(url, params)
    forged = call(
        server,
        domain,
        "/protected",
        method="POST",
        data=params,
        headers={"X-Twilio-Signature": other},
    )
    assert forged.status_code == 403


# -- two accounts ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def owned(server) -> dict[str, Any]:
    """Account A's service with every kind of resource, and one log line."""
    deployed: Deployed = deploy(
        server,
        {"/hello": (source("hello"), "public")},
        {"/note.txt": ((SAMPLES / "assets" / "note.txt").read_bytes(), "public")},
        service="owned-by-a",
        variables={"SECRET": "a-only"},
    )
    assert call(server, deployed["domain"], "/hello", params={"tag": "a"}).status_code == 200
    env = (
        server.sdk()
        .serverless.v1.services(deployed["service_sid"])
        .environments(deployed["environment_sid"])
    )
    logs = poll(lambda: env.logs.list(), lambda found: len(found) >= 3)
    assert logs, "account A's invocation left no log line"
    return {
        **deployed,
        "variable_sid": env.variables.list()[0].sid,
        "log_sid": logs[0].sid,
        "function_sid": deployed["resources"]["/hello"],
        "function_version_sid": deployed["versions"]["/hello"],
        "asset_sid": deployed["resources"]["/note.txt"],
        "asset_version_sid": deployed["versions"]["/note.txt"],
    }


@pytest.fixture(scope="module")
def account_b(server) -> dict[str, str]:
    """A second account (made by the owner) and an API key of it."""
    created = server.client.post("/2010-04-01/Accounts.json", data={"FriendlyName": "B"})
    assert created.status_code == 201, created.text
    sid, token = created.json()["sid"], created.json()["auth_token"]
    assert sid != server.account_sid and token
    key = httpx.post(
        f"{server.base_url}/2010-04-01/Accounts/{sid}/Keys.json",
        data={"FriendlyName": "B's key"},
        auth=(sid, token),
    )
    assert key.status_code == 201, key.text
    assert key.json()["sid"].startswith("SK")
    return {
        "sid": sid,
        "token": token,
        "key_sid": key.json()["sid"],
        "key_secret": key.json()["secret"],
    }


@pytest.fixture(params=["auth token", "api key"])
def as_b(request, server, account_b) -> tuple[Any, tuple[str, str]]:
    """Account B's SDK client (serverless v1) and its httpx credentials."""
    if request.param == "auth token":
        credentials = (account_b["sid"], account_b["token"])
    else:
        credentials = (account_b["key_sid"], account_b["key_secret"])
    return server.sdk(*credentials).serverless.v1, credentials


def test_other_account_sees_none_of_the_resources(server, owned, as_b):
    sdk, credentials = as_b
    service = sdk.services(owned["service_sid"])
    env = service.environments(owned["environment_sid"])
    function = service.functions(owned["function_sid"])
    asset = service.assets(owned["asset_sid"])
    build = service.builds(owned["build_sid"])
    reads = {
        "service by sid": lambda: service.fetch(),
        "service by unique name": lambda: sdk.services("owned-by-a").fetch(),
        "environment": lambda: env.fetch(),
        "environments": lambda: service.environments.list(),
        "function": lambda: function.fetch(),
        "functions": lambda: service.functions.list(),
        "function version": lambda: function.function_versions(
            owned["function_version_sid"]
        ).fetch(),
        "function versions": lambda: function.function_versions.list(),
        "content": lambda: (
            function.function_versions(owned["function_version_sid"])
            .function_version_content()
            .fetch()
        ),
        "asset": lambda: asset.fetch(),
        "assets": lambda: service.assets.list(),
        "asset version": lambda: asset.asset_versions(owned["asset_version_sid"]).fetch(),
        "asset versions": lambda: asset.asset_versions.list(),
        "build": lambda: build.fetch(),
        "builds": lambda: service.builds.list(),
        "build status": lambda: build.build_status().fetch(),
        "deployment": lambda: env.deployments(owned["deployment_sid"]).fetch(),
        "deployments": lambda: env.deployments.list(),
        "variable": lambda: env.variables(owned["variable_sid"]).fetch(),
        "variables": lambda: env.variables.list(),
        "log": lambda: env.logs(owned["log_sid"]).fetch(),
        "logs": lambda: env.logs.list(),
    }
    writes = {
        "update service": lambda: service.update(friendly_name="taken"),
        "update function": lambda: function.update(friendly_name="/taken"),
        "update asset": lambda: asset.update(friendly_name="/taken.txt"),
        "update variable": lambda: env.variables(owned["variable_sid"]).update(value="b"),
        "create environment": lambda: service.environments.create(unique_name="b-env"),
        "create function": lambda: service.functions.create(friendly_name="/b"),
        "create build": lambda: service.builds.create(
            function_versions=[owned["function_version_sid"]]
        ),
        "create variable": lambda: env.variables.create(key="B", value="b"),
        "create deployment": lambda: env.deployments.create(build_sid=owned["build_sid"]),
        "delete variable": lambda: env.variables(owned["variable_sid"]).delete(),
        "delete build": lambda: build.delete(),
        "delete function": lambda: function.delete(),
        "delete asset": lambda: asset.delete(),
        "delete environment": lambda: env.delete(),
        "delete service": lambda: service.delete(),
    }
    outcomes = {name: sdk_status(action) for name, action in {**reads, **writes}.items()}
    assert outcomes == dict.fromkeys(outcomes, (404, 20404))

    upload_as_b = httpx.post(
        f"{server.base_url}/v1/Services/{owned['service_sid']}/Functions/"
        f"{owned['function_sid']}/Versions",
        data={"Path": "/hello", "Visibility": "public"},
        files={"Content": ("hello.py", b"def handler(c, e, cb): cb(None, 'b')", "text/x-python")},
        auth=credentials,
    )
    assert upload_as_b.status_code == 404, upload_as_b.text
    assert sdk.services.list() == []


def test_resources_of_a_are_untouched_after_b_tried(server, owned, account_b):
    b = server.sdk(account_b["sid"], account_b["token"]).serverless.v1
    sdk_status(lambda: b.services(owned["service_sid"]).delete())
    service = server.sdk().serverless.v1.services(owned["service_sid"])
    assert service.fetch().friendly_name == "owned-by-a"
    env = service.environments(owned["environment_sid"])
    assert env.variables(owned["variable_sid"]).fetch().value == "a-only"
    assert env.fetch().build_sid == owned["build_sid"]
    assert len(service.functions.list()) == 1
    assert call(server, owned["domain"], "/hello", params={"tag": "still"}).text == "hello still"


def test_other_account_has_its_own_namespace(server, owned, account_b):
    # Unique names are per account: B may use A's name and gets its own service and domain.
    b = server.sdk(account_b["sid"], account_b["token"]).serverless.v1
    mine = b.services.create(unique_name="owned-by-a", friendly_name="B's")
    assert mine.sid != owned["service_sid"]
    assert mine.account_sid == account_b["sid"]
    assert [s.sid for s in b.services.list()] == [mine.sid]
    assert [
        s.sid for s in server.sdk().serverless.v1.services.list() if s.unique_name == "owned-by-a"
    ] == [owned["service_sid"]]
