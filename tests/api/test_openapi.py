"""The OpenAPI document: its shape, its coverage of the route table, and its truth.

``openapi-spec-validator`` is not a dependency, so the shape checks are written here: the
version, path parameters against the ``{Name}`` placeholders, unique operationIds, and every
``$ref`` resolving. Truth: every resource schema is compared with real API answers.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from factories import BASE, connect

from callbox.api import app as app_module
from callbox.api.app import Api, resource_routes
from callbox.api.endpoint import Call, Reply, declared
from callbox.api.openapi import FORMS, SCHEMAS, openapi_document, operation_id
from callbox.monitor.alerts import row as alert_row
from callbox.store.db import Store, utcnow
from callbox.store.sids import LOG, REQUEST, new_sid
from callbox.store.tables import alerts, builds, logs

PLACEHOLDER = re.compile(r"\{(\w+)\}")
METHODS = ("get", "post", "put", "patch", "delete", "options", "head", "trace")


@pytest.fixture
def doc() -> dict[str, Any]:
    return openapi_document(BASE)


@pytest.fixture
async def anonymous(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with connect(api) as c:
        yield c


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


# -- shape ---------------------------------------------------------------------------------


def test_top_level_shape(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["servers"] == [{"url": BASE}]
    assert doc["components"]["securitySchemes"]["basicAuth"] == {
        "type": "http",
        "scheme": "basic",
        "description": "Account SID and auth token, or API key SID and secret.",
    }
    assert doc["security"] == [{"basicAuth": []}]
    assert all(path.startswith("/") for path in doc["paths"])


def test_path_parameters_match_placeholders(doc: dict[str, Any]) -> None:
    for path, method, operation in operations(doc):
        declared = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
        assert declared == PLACEHOLDER.findall(path), (method, path)
        for parameter in operation["parameters"]:
            assert parameter["in"] in ("path", "query", "header", "cookie")
            assert "schema" in parameter, parameter
            if parameter["in"] == "path":
                assert parameter["required"] is True
        names = [(p["name"], p["in"]) for p in operation["parameters"]]
        assert len(names) == len(set(names)), (method, path)


def test_operation_ids_are_unique_and_operations_complete(doc: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(doc)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for path, method, operation in operations(doc):
        assert re.fullmatch(r"[A-Z][A-Za-z]+", operation["operationId"])
        assert operation["summary"].strip(), (method, path)
        assert operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", status)
            assert "description" in response or "$ref" in response


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    found = list(refs(doc))
    assert found
    for ref in found:
        resolve(doc, ref)


# -- coverage of the route table -------------------------------------------------------------


def test_every_route_appears(doc: dict[str, Any]) -> None:
    routes = resource_routes()
    assert routes
    for path, method, _handler in routes:
        assert method.lower() in doc["paths"].get(path, {}), f"{method} {path} is missing"
    described = {(path, method.upper()) for path, method, _ in operations(doc)}
    public = {
        ("/health", "GET"),
        ("/ready", "GET"),
        ("/v1/openapi.json", "GET"),
        ("/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Logs/Stream", "GET"),
    }
    assert described == {(path, method) for path, method, _ in routes} | public


def test_routes_come_from_the_route_table(monkeypatch: pytest.MonkeyPatch) -> None:
    def fetch_widget(call: Call) -> Reply:
        """Fetch a widget, the test's own."""
        return Reply(200, {})

    kept = [r for r in resource_routes() if not r[0].startswith("/v1/Services/{ServiceSid}/Builds")]
    added = ("/v1/Services/{ServiceSid}/Widgets/{Sid}", "GET", fetch_widget)
    monkeypatch.setattr(app_module, "resource_routes", lambda: [*kept, added])
    doc = openapi_document(BASE)
    operation = doc["paths"]["/v1/Services/{ServiceSid}/Widgets/{Sid}"]["get"]
    assert operation["operationId"] == "FetchWidget"
    assert operation["summary"] == "Fetch a widget, the test's own."
    assert [p["name"] for p in operation["parameters"]] == ["ServiceSid", "Sid"]
    assert not [path for path in doc["paths"] if "/Builds" in path]


def test_twilio_operation_names() -> None:
    expected = {
        ("/v1/Services", "GET"): "ListService",
        ("/v1/Services", "POST"): "CreateService",
        ("/v1/Services/{Sid}", "GET"): "FetchService",
        ("/v1/Services/{Sid}", "POST"): "UpdateService",
        ("/v1/Services/{Sid}", "DELETE"): "DeleteService",
        ("/v1/Services/{ServiceSid}/Environments/{Sid}", "GET"): "FetchEnvironment",
        ("/v1/Services/{ServiceSid}/Functions/{FunctionSid}/Versions", "GET"): (
            "ListFunctionVersion"
        ),
        ("/v1/Services/{ServiceSid}/Assets/{AssetSid}/Versions", "POST"): "CreateAssetVersion",
        ("/v1/Services/{ServiceSid}/Functions/{FunctionSid}/Versions/{Sid}/Content", "GET"): (
            "FetchFunctionVersionContent"
        ),
        ("/v1/Services/{ServiceSid}/Builds/{Sid}/Status", "GET"): "FetchBuildStatus",
        ("/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Logs", "GET"): "ListLog",
        ("/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Variables/{Sid}", "POST"): (
            "UpdateVariable"
        ),
        ("/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json", "DELETE"): "DeleteKey",
    }
    for (path, method), name in expected.items():
        assert operation_id(path, method) == name


def test_summaries_come_from_docstrings(doc: dict[str, Any]) -> None:
    delete = doc["paths"]["/v1/Services/{Sid}"]["delete"]
    assert delete["summary"] == (
        "Deleting a service deletes everything in it: environments stop serving at once."
    )
    fetch = doc["paths"]["/v1/Services/{Sid}"]["get"]  # no docstring: a generated summary
    assert fetch["summary"] == "Fetch a Service"


def test_request_bodies(doc: dict[str, Any]) -> None:
    create = doc["paths"]["/v1/Services"]["post"]["requestBody"]
    form = create["content"]["application/x-www-form-urlencoded"]["schema"]
    assert set(form["properties"]) == {
        "UniqueName",
        "FriendlyName",
        "IncludeCredentials",
        "UiEditable",
    }
    assert form["required"] == ["UniqueName", "FriendlyName"] and create["required"] is True
    for collection in ("Functions/{FunctionSid}", "Assets/{AssetSid}"):
        upload = doc["paths"][f"/v1/Services/{{ServiceSid}}/{collection}/Versions"]["post"]
        schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert set(schema["properties"]) == {"Path", "Visibility", "Content"}
        assert schema["properties"]["Content"] == {"type": "string", "format": "binary"}
        assert "413" in upload["responses"]
    build = doc["paths"]["/v1/Services/{ServiceSid}/Builds"]["post"]["requestBody"]
    fields = build["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert fields["FunctionVersions"]["type"] == "array"


def test_every_write_documents_its_parameters(doc: dict[str, Any]) -> None:
    # A POST route without an entry in openapi.FORMS would be described with an empty form.
    for path, method, operation in operations(doc):
        if method != "post":
            continue
        content = operation["requestBody"]["content"]
        (schema,) = (media["schema"] for media in content.values())
        assert schema["properties"], (
            f"{operation['operationId']} ({path}) has no form parameters: add them to "
            "callbox.api.openapi.FORMS"
        )
    assert set(FORMS) <= {op["operationId"] for _, _, op in operations(doc)}, "stale FORMS"


def test_list_query_parameters(doc: dict[str, Any]) -> None:
    for path, _method, operation in operations(doc):
        if operation["operationId"].startswith("List") and path.startswith("/v1/"):
            query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            assert {"PageSize", "Page", "PageToken"} <= query, path
    log_list = doc["paths"]["/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Logs"]
    query = [p["name"] for p in log_list["get"]["parameters"] if p["in"] == "query"]
    assert query == ["PageSize", "Page", "PageToken", "FunctionSid", "StartDate", "EndDate"]


def test_responses_and_errors(doc: dict[str, Any]) -> None:
    error = doc["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "message", "more_info", "status"}
    service = doc["paths"]["/v1/Services"]
    assert set(service["post"]["responses"]) == {"201", "400", "401", "409"}
    assert set(service["get"]["responses"]) == {"200", "400", "401"}
    instance = doc["paths"]["/v1/Services/{Sid}"]
    assert set(instance["get"]["responses"]) == {"200", "401", "404"}
    assert set(instance["post"]["responses"]) == {"200", "400", "401", "404", "409"}
    assert instance["delete"]["responses"]["204"] == {"description": "Deleted; the body is empty."}
    for _path, _method, operation in operations(doc):
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                resolved = resolve(doc, response["$ref"])
                schema = resolved["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}
    for public in ("/health", "/ready", "/v1/openapi.json"):
        assert doc["paths"][public]["get"]["security"] == []


# -- served ----------------------------------------------------------------------------------


async def test_served_without_credentials(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get("/v1/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == openapi_document(BASE)
    r = await anonymous.get("/v1/openapi.json", headers={"Host": "callbox.example:8443"})
    assert r.json()["servers"] == [{"url": "http://callbox.example:8443"}]
    # Wrong credentials do not matter either: the document is public.
    r = await anonymous.get("/v1/openapi.json", auth=("AC" + "0" * 32, "wrong"))
    assert r.status_code == 200
    assert (await anonymous.get("/v1/Services")).status_code == 401


# -- truth: the schemas against real answers -------------------------------------------------


class World:
    """Every resource, made through the API; each answer kept with the route that gave it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.routed = {(path, method) for path, method, _ in resource_routes()}
        self.answers: list[tuple[str, str, int, Any]] = []  # (template, method, status, body)

    async def send(self, method: str, template: str, **values: Any) -> Any:
        """The answer's JSON, or None when no route answers ``template`` yet."""
        if (template, method) not in self.routed:
            return None
        path = template.format(**values.pop("at", {}))
        r = await self.client.request(method, path, **values)
        assert r.status_code < 300, (method, path, r.text)
        body = r.json() if r.content else None
        self.answers.append((template, method, r.status_code, body))
        return body


async def make_world(client: httpx.AsyncClient, store: Store, owner: tuple[str, str]) -> World:
    world = World(client)
    svc = await world.send(
        "POST", "/v1/Services", data={"UniqueName": "docs", "FriendlyName": "Docs"}
    )
    assert svc is not None, "the Services routes are the model every other module follows"
    s = {"ServiceSid": svc["sid"], "Sid": svc["sid"]}
    await world.send("GET", "/v1/Services")
    await world.send("GET", "/v1/Services/{Sid}", at=s)
    env = await world.send(
        "POST", "/v1/Services/{ServiceSid}/Environments", at=s, data={"UniqueName": "production"}
    )
    await world.send("GET", "/v1/Services/{ServiceSid}/Environments", at=s)
    versions: dict[str, str] = {}
    for collection, parent, filename in (
        ("Functions", "FunctionSid", "hello.py"),
        ("Assets", "AssetSid", "style.css"),
    ):
        made = await world.send(
            "POST", f"/v1/Services/{{ServiceSid}}/{collection}", at=s, data={"FriendlyName": "x"}
        )
        if made is None:
            continue
        at = {**s, parent: made["sid"]}
        await world.send("GET", f"/v1/Services/{{ServiceSid}}/{collection}", at=s)
        base = f"/v1/Services/{{ServiceSid}}/{collection}/{{{parent}}}/Versions"
        version = await world.send(
            "POST",
            base,
            at=at,
            data={"Path": f"/{filename}", "Visibility": "public"},
            files={"Content": (filename, b"def handler(context, event, callback): ...\n")},
        )
        if version is None:
            continue
        versions[collection] = version["sid"]
        await world.send("GET", base, at=at)
        await world.send("GET", base + "/{Sid}", at={**at, "Sid": version["sid"]})
        await world.send("GET", base + "/{Sid}/Content", at={**at, "Sid": version["sid"]})
    form = {"FunctionVersions": versions.get("Functions"), "AssetVersions": versions.get("Assets")}
    build = await world.send(
        "POST",
        "/v1/Services/{ServiceSid}/Builds",
        at=s,
        data={k: v for k, v in form.items() if v},
    )
    if build is not None:
        b = {**s, "Sid": build["sid"]}
        await world.send("GET", "/v1/Services/{ServiceSid}/Builds", at=s)
        await world.send("GET", "/v1/Services/{ServiceSid}/Builds/{Sid}/Status", at=b)
        with store.begin() as conn:  # no builder runs here: finish the build by hand
            conn.execute(
                builds.update().where(builds.c.sid == build["sid"]).values(status="completed")
            )
    if env is not None:
        e = {**s, "EnvironmentSid": env["sid"]}
        under = "/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}"
        if build is not None:
            await world.send("POST", under + "/Deployments", at=e, data={"BuildSid": build["sid"]})
            await world.send("GET", under + "/Deployments", at=e)
        variable = await world.send(
            "POST", under + "/Variables", at=e, data={"Key": "API_KEY", "Value": "s3cret"}
        )
        if variable is not None:
            await world.send("GET", under + "/Variables", at=e)
            await world.send(
                "POST",
                under + "/Variables/{Sid}",
                at={**e, "Sid": variable["sid"]},
                data={"Value": "other"},
            )
        log_sid = new_sid(LOG)
        with store.begin() as conn:  # logs are written by the gateway, not through the API
            conn.execute(
                logs.insert().values(
                    sid=log_sid,
                    account_sid=svc["account_sid"],
                    service_sid=svc["sid"],
                    environment_sid=env["sid"],
                    build_sid=build and build["sid"],
                    deployment_sid=None,
                    function_sid=None,
                    request_sid=new_sid(REQUEST),
                    level="INFO",
                    message="hello",
                    date_created=utcnow(),
                )
            )
        await world.send("GET", under + "/Logs", at=e)
        await world.send("GET", under + "/Logs/{Sid}", at={**e, "Sid": log_sid})
        meta = {
            "account_sid": svc["account_sid"],
            "service_sid": svc["sid"],
            "environment_sid": env["sid"],
            "request_sid": new_sid(REQUEST),
            "request_url": "http://docs-1234.localhost/hello",
            "request_method": "GET",
        }
        alert = alert_row(meta, "error", 82002, "/hello failed: boom", utcnow())
        with store.begin() as conn:  # alerts are written by the log book, not through the API
            conn.execute(alerts.insert().values(**alert))
        await world.send("GET", "/monitor/v1/Alerts")
        await world.send("GET", "/monitor/v1/Alerts/{Sid}", at={"Sid": alert["sid"]})
        await world.send("GET", "/monitor/v1/Alerts/Grouped", params={"By": "url"})
    await world.send("POST", "/monitor/v1/Webhook", data={"Url": "https://example.com/hook"})
    await world.send("GET", "/monitor/v1/Webhook")
    accounts = "/2010-04-01/Accounts"
    me = {"Sid": owner[0], "AccountSid": owner[0]}
    await world.send("POST", accounts + ".json", data={"FriendlyName": "Child"})
    await world.send("GET", accounts + ".json")
    await world.send("GET", accounts + "/{Sid}.json", at=me)
    key = await world.send("POST", accounts + "/{AccountSid}/Keys.json", at=me, data={})
    await world.send("GET", accounts + "/{AccountSid}/Keys.json", at=me)
    if key is not None:
        await world.send(
            "GET", accounts + "/{AccountSid}/Keys/{Sid}.json", at={**me, "Sid": key["sid"]}
        )
    return world


def check(doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> list[str]:
    """Where ``value`` breaks ``schema``: the subset of JSON Schema the document uses."""
    if "$ref" in schema:
        return check(doc, resolve(doc, schema["$ref"]), value, where)
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    found = "integer" if type(value) is int else names.get(type(value), type(value).__name__)
    if types and found not in types:
        return [f"{where}: expected {'/'.join(types)}, found {found} {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    problems: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        missing = set(schema.get("required", [])) - set(value)
        extra = set(value) - set(schema["properties"])
        if missing or extra:
            problems.append(f"{where}: missing {sorted(missing)}, undocumented {sorted(extra)}")
        for name, sub in schema["properties"].items():
            if name in value:
                problems += check(doc, sub, value[name], f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += check(doc, schema["items"], item, f"{where}[{index}]")
    return problems


@pytest.fixture
async def world(client: httpx.AsyncClient, store: Store, owner: tuple[str, str]) -> World:
    return await make_world(client, store, owner)


async def test_every_answer_matches_its_documented_response(
    world: World, doc: dict[str, Any]
) -> None:
    assert len(world.answers) > 20
    problems: list[str] = []
    for template, method, status, body in world.answers:
        response = doc["paths"][template][method.lower()]["responses"][str(status)]
        if body is None:
            assert "content" not in response
            continue
        schema = response["content"]["application/json"]["schema"]
        problems += check(doc, schema, body, f"{method} {template}")
    assert not problems, "\n".join(problems)


def _answers_with(world: World, doc: dict[str, Any], name: str) -> list[Any]:
    found = []
    for template, method, status, body in world.answers:
        response = doc["paths"][template][method.lower()]["responses"][str(status)]
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema == {"$ref": f"#/components/schemas/{name}"}:
            found.append(body)
    return found


@pytest.mark.parametrize("name", sorted(SCHEMAS))
async def test_schema_fields_equal_a_real_answer(
    name: str, world: World, doc: dict[str, Any]
) -> None:
    answers = _answers_with(world, doc, name)
    if not answers:
        pytest.skip(f"no route in resource_routes() answers with a {name} yet")
    fields = set(SCHEMAS[name]["properties"])
    # The fullest answer (a Key's secret comes only on create) has exactly the documented keys.
    assert max((set(a) for a in answers), key=len) == fields
    for answer in answers:
        assert set(SCHEMAS[name]["required"]) <= set(answer) <= fields


async def test_error_answers_match_the_error_schema(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, doc: dict[str, Any]
) -> None:
    error = {"$ref": "#/components/schemas/Error"}
    r = await client.get("/v1/Services/ZS" + "0" * 32)
    assert r.status_code == 404 and not check(doc, error, r.json(), "404")
    r = await client.post("/v1/Services", data={})
    assert r.status_code == 400 and not check(doc, error, r.json(), "400")
    r = await anonymous.get("/v1/Services")
    assert r.status_code == 401 and not check(doc, error, r.json(), "401")


# -- one declaration: what checks requests is what the document says -------------------------


def test_parameters_are_the_declarations(doc: dict[str, Any]) -> None:
    for path, method, handler in resource_routes():
        declaration = declared(handler)
        operation = doc["paths"][path][method.lower()]
        if method == "POST":
            (media,) = operation["requestBody"]["content"].values()
            properties = media["schema"]["properties"]
            assert properties == {p.name: p.schema() for p in declaration.params}, path
        else:
            query = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
            assert query == {p.name: p.schema() for p in declaration.params}, (method, path)
        returns = declaration.returns
        if returns is not None and method != "DELETE":
            assert SCHEMAS[returns.name] == returns.schema()


def test_path_parameters_carry_the_sid_pattern_of_their_resource(doc: dict[str, Any]) -> None:
    variable = doc["paths"][
        "/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Variables/{Sid}"
    ]
    schemas = {p["name"]: p["schema"] for p in variable["get"]["parameters"]}
    assert schemas["ServiceSid"] == {"type": "string"}  # a SID or a unique name
    assert schemas["EnvironmentSid"]["pattern"] == "^ZE[0-9a-fA-F]{32}$"
    assert schemas["Sid"]["pattern"] == "^ZV[0-9a-fA-F]{32}$"
    key = doc["paths"]["/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json"]["get"]
    schemas = {p["name"]: p["schema"] for p in key["parameters"]}
    assert schemas["AccountSid"]["pattern"].startswith("^AC")
    assert schemas["Sid"]["pattern"].startswith("^SK")


def test_rules_the_issue_found_missing_are_documented(doc: dict[str, Any]) -> None:
    # From issue 13: a fuzzer found PageSize=1001 accepted and valid values refused because the
    # document left out lengths and formats.
    services = doc["paths"]["/v1/Services"]
    size = next(p for p in services["get"]["parameters"] if p["name"] == "PageSize")
    assert size["schema"]["minimum"] == 1 and "read as 1000" in size["schema"]["description"]
    form = services["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    unique = form["schema"]["properties"]["UniqueName"]
    assert unique["maxLength"] == 49 and unique["pattern"].startswith("^")
    variables = doc["paths"]["/v1/Services/{ServiceSid}/Environments/{EnvironmentSid}/Variables"]
    fields = variables["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    value = fields["schema"]["properties"]["Value"]
    assert value["maxLength"] == 450 and "450 bytes" in value["description"]
    builds = doc["paths"]["/v1/Services/{ServiceSid}/Builds"]["post"]["requestBody"]
    body = builds["content"]["application/x-www-form-urlencoded"]["schema"]
    assert [branch["required"] for branch in body["anyOf"]] == [
        ["FunctionVersions"],
        ["AssetVersions"],
    ]
    assert builds["required"] is True
    update = doc["paths"]["/v1/Services/{Sid}"]["post"]["requestBody"]
    refused = update["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert refused["UniqueName"]["not"] == {}
