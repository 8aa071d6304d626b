"""The OpenAPI 3.1 description of the API, served without credentials at ``/v1/openapi.json``.

Paths and methods come from the route table (``app.resource_routes()`` and the Logs stream),
so a route added or removed there shows up here with no edit. Names follow Twilio's own spec
(``CreateService``, ``ListFunctionVersion``, ``FetchBuildStatus``) and are read off the path.
What a path cannot tell comes from each handler's declaration (``endpoint.Operation``): its
parameters (``params.Param``, the same objects that check requests) and the JSON it answers
with (``shapes.Shape``, next to the resource's ``render()``). Nothing is restated here, so the
document cannot drift from the server; a schema-driven fuzz run holds the two together.
"""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any

from callbox import __version__
from callbox.api import logs
from callbox.api import routes as routes_module
from callbox.api.endpoint import Handler, Operation, declared
from callbox.api.params import Param
from callbox.api.routes import RouteSpec

PLACEHOLDER = re.compile(r"\{(\w+)\}")
_VERSION = re.compile(r"v\d+|\d{4}-\d{2}-\d{2}")
# Collections named after their parent, as Twilio does: a Function's Versions are
# FunctionVersions (a bare "Version" would name two resources).
QUALIFIED = {"Versions"}
VERBS = {
    ("collection", "GET"): "List",
    ("collection", "POST"): "Create",
    ("instance", "GET"): "Fetch",
    ("instance", "POST"): "Update",
    ("instance", "DELETE"): "Delete",
    ("singleton", "GET"): "Fetch",
    ("singleton", "POST"): "Update",
}

STR: dict[str, Any] = {"type": "string"}
STR_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}
INT: dict[str, Any] = {"type": "integer"}
DATE: dict[str, Any] = {"type": "string", "format": "date-time"}
URL: dict[str, Any] = {"type": "string", "format": "uri"}
URL_OR_NULL: dict[str, Any] = {"type": ["string", "null"], "format": "uri"}


def _object(fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": fields, "required": list(fields)}


def schemas(routes: list[RouteSpec]) -> dict[str, dict[str, Any]]:
    """Each resource's JSON schema, by name, from the shapes its operations answer with."""
    found: dict[str, dict[str, Any]] = {}
    for _path, _method, handler in routes:
        shape = declared(handler).returns
        if shape is not None:
            found.setdefault(shape.name, shape.schema())
    return found


def forms(routes: list[RouteSpec]) -> dict[str, dict[str, Any]]:
    """Each write's form parameters (properties, required), by operationId."""
    return {
        operation_id(path, method): _form_fields(declared(handler))
        for path, method, handler in routes
        if method == "POST"
    }


SHARED: dict[str, dict[str, Any]] = {
    "Error": _object({"code": INT, "message": STR, "more_info": URL, "status": INT}),
    "ListMeta": _object(
        {
            "first_page_url": URL,
            "key": STR,
            "next_page_url": URL_OR_NULL,
            "page": INT,
            "page_size": INT,
            "previous_page_url": URL_OR_NULL,
            "url": URL,
        }
    ),
}
ENVELOPE_2010 = {
    "first_page_uri": STR,
    "next_page_uri": STR_OR_NULL,
    "previous_page_uri": STR_OR_NULL,
    "page": INT,
    "page_size": INT,
    "start": INT,
    "end": INT,
    "uri": STR,
}
ERRORS = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "404": "NotFound",
    "409": "Conflict",
    "413": "PayloadTooLarge",
}


def openapi_document(base_url: str) -> dict[str, Any]:
    """The whole document; ``base_url`` (scheme://host of the request) is the one server."""
    # app.py serves this document, so its route table is read when called, not at import.
    from callbox.api.app import resource_routes

    routes = resource_routes()
    found = schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for path, method, handler in routes:
        paths.setdefault(path, {})[method.lower()] = _operation(path, method, handler, found)
    paths.setdefault(logs.STREAM_PATH, {})["get"] = _stream_operation(logs.STREAM_PATH, found)
    paths["/health"] = {"get": _public("FetchHealth", "Whether the server is up.")}
    paths["/ready"] = {
        "get": _public(
            "FetchReady",
            "Whether this node can serve: its database answers with this version's schema "
            "(503 otherwise).",
        )
    }
    paths["/v1/openapi.json"] = {"get": _public("FetchOpenApi", "This document.")}
    # The shorthand schemas above are shared by many operations: hand out a copy of its own.
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "callbox API",
                "version": __version__,
                "description": "A self-hosted Twilio Serverless v1 API (Functions & Assets).",
            },
            "servers": [{"url": base_url}],
            "security": [{"basicAuth": []}],
            "paths": paths,
            "components": {
                "securitySchemes": {
                    "basicAuth": {
                        "type": "http",
                        "scheme": "basic",
                        "description": "Account SID and auth token, or API key SID and secret.",
                    }
                },
                "schemas": {**found, **SHARED},
                "responses": {
                    name: {
                        "description": name,
                        "content": _json({"$ref": "#/components/schemas/Error"}),
                    }
                    for name in ERRORS.values()
                },
            },
        }
    )


def describe(path: str) -> tuple[str, str]:
    """(shape, resource name) of a path: ``collection``, ``instance`` or ``singleton``."""
    segments = [s.removesuffix(".json") for s in path.split("/") if s]
    # After the version: /v1/..., /monitor/v1/..., /2010-04-01/...
    versions = [i for i, s in enumerate(segments) if _VERSION.fullmatch(s)]
    segments = segments[versions[0] + 1 :] if versions else segments[1:]
    name, shape = "", "singleton"
    for segment in segments:
        if PLACEHOLDER.fullmatch(segment):
            shape = "instance"
        elif _plural(segment):
            single = segment[:-1]
            name, shape = (name + single if segment in QUALIFIED else single), "collection"
        else:
            name, shape = name + segment, "singleton"
    return shape, name


def operation_id(path: str, method: str) -> str:
    shape, name = describe(path)
    return VERBS.get((shape, method), method.capitalize()) + name


def _plural(segment: str) -> bool:
    return segment.endswith("s") and not segment.endswith(("ss", "us"))


def _operation(
    path: str, method: str, handler: Handler, found: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    shape, name = describe(path)
    declaration = declared(handler)
    op_id = operation_id(path, method)
    summary, description = _doc(declaration, op_id, name)
    parameters = _path_parameters(path, found)
    listing = shape == "collection" and method == "GET"
    operation: dict[str, Any] = {"operationId": op_id, "summary": summary}
    if description:
        operation["description"] = description
    upload = False
    if method == "POST":
        media, body, required = _form(declaration)
        upload = media == "multipart/form-data"
        operation["parameters"] = parameters
        needed = bool(required or declaration.any_of)
        operation["requestBody"] = {"required": needed, "content": {media: {"schema": body}}}
    else:
        operation["parameters"] = parameters + [_query(p) for p in declaration.params]
    operation["responses"] = {
        **_success(path, method, shape, declaration),
        **_errors(path, method, listing or bool(declaration.params), upload),
    }
    return operation


def _form(declaration: Operation) -> tuple[str, dict[str, Any], list[str]]:
    """(media type, schema, required names) of a write's form body."""
    params = declaration.params
    upload = any(p.type == "file" for p in params)
    media = "multipart/form-data" if upload else "application/x-www-form-urlencoded"
    required = [p.name for p in params if p.required]
    body: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: p.schema() for p in params},
        "required": required,
    }
    if declaration.any_of:
        # At least one of them, with at least one non-empty item (empty items are left out).
        body["anyOf"] = [
            {"required": [name], "properties": {name: {"contains": {"minLength": 1}}}}
            for name in declaration.any_of
        ]
    return media, body, required


def _form_fields(declaration: Operation) -> dict[str, Any]:
    return _form(declaration)[1]


def _doc(declaration: Operation, op_id: str, name: str) -> tuple[str, str]:
    """The docstring's first paragraph as summary, the rest as description; or a made-up one."""
    doc = inspect.getdoc(declaration.function) or ""
    first, _, rest = doc.partition("\n\n")
    if first:
        return " ".join(first.split()), rest.strip()
    verb = op_id.removesuffix(name)
    words = _words(name)
    if verb == "List":
        return f"List {words}s", ""
    return f"{verb} {'an' if words[:1] in 'AEIOU' else 'a'} {words}", ""


def _path_parameters(path: str, found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    parts = path.split("/")
    for index, part in enumerate(parts):
        placeholder = PLACEHOLDER.search(part)
        if placeholder is None:
            continue
        # A placeholder names an instance of the collection just before it: its SID pattern is
        # that resource's own (a Service is named by SID or unique name, so it has none).
        owner = describe("/".join(parts[: index + 1]))[1]
        sid = found.get(owner, {}).get("properties", {}).get("sid", {})
        schema = {**STR, "pattern": sid["pattern"]} if "pattern" in sid else dict(STR)
        if owner == "Service":
            about, schema = "The SID or unique name of the Service", dict(STR)
        else:
            about = f"The SID of the {_words(owner)}"
        result.append(
            {
                "name": placeholder[1],
                "in": "path",
                "required": True,
                "schema": schema,
                "description": about,
            }
        )
    return result


def _words(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r" \1", name)


def _query(param: Param) -> dict[str, Any]:
    query = {
        "name": param.name,
        "in": "query",
        "required": param.required,
        "schema": param.schema(),
    }
    if param.when_empty == "absent":
        query["allowEmptyValue"] = True
    return query


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _success(path: str, method: str, shape: str, declaration: Operation) -> dict[str, Any]:
    returns = declaration.returns
    item = _ref(returns.name) if returns is not None else {"type": "object"}
    if method == "DELETE":
        return {"204": {"description": "Deleted; the body is empty."}}
    name = returns.name if returns is not None else describe(path)[1]
    if method == "POST" and shape == "collection":
        return {"201": {"description": f"The new {name}.", "content": _json(item)}}
    if shape == "collection":
        key = returns.key if returns is not None else _words(name).lower().replace(" ", "_") + "s"
        page = {key: {"type": "array", "items": item}}
        if "/v1/" in path:  # Serverless v1 and Monitor v1: a meta envelope
            envelope = _object({**page, "meta": _ref("ListMeta")})
        else:
            envelope = _object({**page, **ENVELOPE_2010})
        return {"200": {"description": f"One page of {key}.", "content": _json(envelope)}}
    return {"200": {"description": f"The {name}.", "content": _json(item)}}


def _errors(path: str, method: str, checked: bool, upload: bool) -> dict[str, Any]:
    codes = ["401"]
    if method == "POST" or checked:
        codes.append("400")
    if PLACEHOLDER.search(path):
        codes.append("404")
    if method in ("POST", "DELETE"):
        codes.append("409")
    if upload:
        codes.append("413")
    return {code: {"$ref": f"#/components/responses/{ERRORS[code]}"} for code in sorted(codes)}


def _stream_operation(path: str, found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "operationId": operation_id(path, "GET"),
        "summary": "Live log lines of an environment, as server-sent events.",
        "description": (
            "Each event is `event: log`, `id: <Log SID>` and `data: <Log JSON>` (the Log "
            "schema). `Since` or a `Last-Event-ID` header first replays stored lines newer "
            "than it, so a reconnecting client misses nothing."
        ),
        "parameters": [
            *_path_parameters(path, found),
            *(_query(p) for p in logs.STREAM_PARAMS),
            {"name": "Last-Event-ID", "in": "header", "required": False, "schema": STR},
        ],
        "responses": {
            "200": {
                "description": "The event stream; it stays open.",
                "content": {"text/event-stream": {"schema": STR}},
            },
            **_errors(path, "GET", True, False),
        },
    }


def _public(op_id: str, summary: str) -> dict[str, Any]:
    return {
        "operationId": op_id,
        "summary": summary,
        "security": [],
        "parameters": [],
        "responses": {"200": {"description": summary, "content": _json({"type": "object"})}},
    }


# The route table's own, for tests and readers (the document reads the table when served).
SCHEMAS = schemas(routes_module.resource_routes())
FORMS = forms(routes_module.resource_routes())
