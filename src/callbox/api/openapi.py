"""The OpenAPI 3.1 description of the API, served without credentials at ``/v1/openapi.json``.

Paths and methods come from the route table (``app.resource_routes()`` and the Logs stream),
so a route added or removed there shows up here with no edit. Names follow Twilio's own spec
(``CreateService``, ``ListFunctionVersion``, ``FetchBuildStatus``) and are read off the path.
What a path cannot tell — each resource's JSON fields and each write's form parameters — is
written down once per resource below; tests compare the fields with real responses.
"""

from __future__ import annotations

import copy
import inspect
import re
from functools import partial
from typing import Any

from callbox import __version__
from callbox.api import logs
from callbox.api.endpoint import Handler
from callbox.builds.runtimes import RUNTIMES

PLACEHOLDER = re.compile(r"\{(\w+)\}")
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

# -- JSON-schema shorthands ----------------------------------------------------------------

STR: dict[str, Any] = {"type": "string"}
STR_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}
BOOL: dict[str, Any] = {"type": "boolean"}
INT: dict[str, Any] = {"type": "integer"}
DATE: dict[str, Any] = {"type": "string", "format": "date-time"}
URL: dict[str, Any] = {"type": "string", "format": "uri"}
URL_OR_NULL: dict[str, Any] = {"type": ["string", "null"], "format": "uri"}
VISIBILITY: dict[str, Any] = {"type": "string", "enum": ["public", "protected", "private"]}
STATUS: dict[str, Any] = {"type": "string", "enum": ["building", "completed", "failed"]}


def _object(fields: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    required = [name for name in fields if name not in optional]
    return {"type": "object", "properties": fields, "required": required}


def _links(*names: str) -> dict[str, Any]:
    return _object(dict.fromkeys(names, URL))


def _version(parent: str) -> dict[str, Any]:
    """A version as embedded in a build."""
    return _object(
        {
            "sid": STR,
            "account_sid": STR,
            "service_sid": STR,
            f"{parent}_sid": STR,
            "date_created": DATE,
            "path": STR,
            "visibility": VISIBILITY,
            "content_sha256": STR,
        }
    )


# -- each resource's JSON (spec section 2), written down once -------------------------------

OWNED = {"sid": STR, "account_sid": STR, "service_sid": STR}
DATES = {"date_created": DATE, "date_updated": DATE}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Service": _object(
        {
            "sid": STR,
            "account_sid": STR,
            "friendly_name": STR,
            "unique_name": STR,
            "include_credentials": BOOL,
            "ui_editable": BOOL,
            "domain_base": STR,
            **DATES,
            "url": URL,
            "links": _links("environments", "functions", "assets", "builds"),
        }
    ),
    "Environment": _object(
        {
            **OWNED,
            "build_sid": STR_OR_NULL,
            "unique_name": STR,
            "domain_suffix": STR_OR_NULL,
            "domain_name": STR,
            **DATES,
            "url": URL,
            "links": _links("variables", "deployments", "logs"),
        }
    ),
    "Function": _object(
        {**OWNED, "friendly_name": STR, **DATES, "url": URL, "links": _links("function_versions")}
    ),
    "FunctionVersion": _object(
        {
            **OWNED,
            "function_sid": STR,
            "path": STR,
            "visibility": VISIBILITY,
            "content_sha256": STR,
            "date_created": DATE,
            "url": URL,
            "links": _links("function_version_content"),
        }
    ),
    "FunctionVersionContent": _object({**OWNED, "function_sid": STR, "content": STR, "url": URL}),
    "Asset": _object(
        {**OWNED, "friendly_name": STR, **DATES, "url": URL, "links": _links("asset_versions")}
    ),
    "AssetVersion": _object(
        {
            **OWNED,
            "asset_sid": STR,
            "path": STR,
            "visibility": VISIBILITY,
            "content_sha256": STR,
            "date_created": DATE,
            "url": URL,
        }
    ),
    "Build": _object(
        {
            **OWNED,
            "status": STATUS,
            "asset_versions": {"type": "array", "items": _version("asset")},
            "function_versions": {"type": "array", "items": _version("function")},
            "dependencies": {
                "type": "array",
                "items": _object({"name": STR, "version": STR}),
            },
            "runtime": STR,
            # Not Twilio's: why a failed build failed (null otherwise), and the build log.
            "error": STR_OR_NULL,
            "log": STR,
            **DATES,
            "url": URL,
            "links": _links("build_status"),
        }
    ),
    "BuildStatus": _object({**OWNED, "status": STATUS, "url": URL}),
    "Deployment": _object({**OWNED, "environment_sid": STR, "build_sid": STR, **DATES, "url": URL}),
    "Variable": _object(
        {**OWNED, "environment_sid": STR, "key": STR, "value": STR, **DATES, "url": URL}
    ),
    "Log": _object(
        {
            **OWNED,
            "environment_sid": STR,
            "build_sid": STR_OR_NULL,
            "deployment_sid": STR_OR_NULL,
            "function_sid": STR_OR_NULL,
            "request_sid": STR_OR_NULL,
            "level": {"type": "string", "enum": ["INFO", "WARN", "ERROR"]},
            "message": STR,
            "date_created": DATE,
            "url": URL,
        }
    ),
    # The 2010 API's accounts and keys: RFC 2822 dates, relative uris.
    "Account": _object(
        {
            "sid": STR,
            "friendly_name": STR,
            "owner_account_sid": STR,
            "auth_token": STR_OR_NULL,
            "status": STR,
            "type": STR,
            "date_created": STR,
            "date_updated": STR,
            "uri": STR,
            "subresource_uris": _object({"keys": STR}),
        }
    ),
    "Key": _object(
        {"sid": STR, "friendly_name": STR, "date_created": STR, "date_updated": STR, "secret": STR},
        optional=("secret",),  # only in the create answer
    ),
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

# -- each write's form parameters (PascalCase, application/x-www-form-urlencoded) -----------

FRIENDLY = {"FriendlyName": {**STR, "maxLength": 255}}
SID_LIST = {"type": "array", "items": STR}

FORMS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "CreateService": (
        {
            "UniqueName": {**STR, "maxLength": 49, "pattern": "^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$"},
            **FRIENDLY,
            "IncludeCredentials": {**BOOL, "default": True},
            "UiEditable": {**BOOL, "default": False},
        },
        ("UniqueName", "FriendlyName"),
    ),
    "UpdateService": ({**FRIENDLY, "IncludeCredentials": BOOL, "UiEditable": BOOL}, ()),
    "CreateEnvironment": (
        {
            "UniqueName": {**STR, "maxLength": 100},
            "DomainSuffix": {**STR, "maxLength": 16, "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
        },
        ("UniqueName",),
    ),
    "CreateFunction": (FRIENDLY, ("FriendlyName",)),
    "UpdateFunction": (FRIENDLY, ("FriendlyName",)),
    "CreateAsset": (FRIENDLY, ("FriendlyName",)),
    "UpdateAsset": (FRIENDLY, ("FriendlyName",)),
    "CreateBuild": (
        {
            "FunctionVersions": SID_LIST,
            "AssetVersions": SID_LIST,
            "Dependencies": {**STR, "description": 'JSON: [{"name": ..., "version": ...}]'},
            "Runtime": {**STR, "enum": list(RUNTIMES)},
        },
        (),
    ),
    "CreateDeployment": ({"BuildSid": STR, "IsPlugin": BOOL}, ("BuildSid",)),
    "CreateVariable": (
        {"Key": {**STR, "maxLength": 128}, "Value": {**STR, "description": "At most 450 bytes"}},
        ("Key", "Value"),
    ),
    "UpdateVariable": ({"Key": {**STR, "maxLength": 128}, "Value": STR}, ()),
    "CreateAccount": (FRIENDLY, ()),
    "CreateKey": (FRIENDLY, ()),
}
UPLOAD_FORM = (
    {
        "Path": {**STR, "maxLength": 255},
        "Visibility": VISIBILITY,
        "Content": {"type": "string", "format": "binary"},
    },
    ("Path", "Visibility", "Content"),
)

PAGING = [
    ("PageSize", {**INT, "minimum": 1, "maximum": 1000, "default": 50}),
    ("Page", {**INT, "minimum": 0}),
    ("PageToken", STR),
]
LIST_FILTERS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "Log": [("FunctionSid", STR), ("StartDate", DATE), ("EndDate", DATE)],
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

    paths: dict[str, dict[str, Any]] = {}
    for path, method, handler in resource_routes():
        paths.setdefault(path, {})[method.lower()] = _operation(path, method, handler)
    stream = getattr(logs, "STREAM_PATH", None)
    if stream:
        paths.setdefault(stream, {})["get"] = _stream_operation(stream)
    paths["/health"] = {"get": _public("FetchHealth", "Whether the server is up.")}
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
                "schemas": {**SCHEMAS, **SHARED},
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
    segments = [s.removesuffix(".json") for s in path.split("/") if s][1:]  # after /v1
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


def _operation(path: str, method: str, handler: Handler) -> dict[str, Any]:
    shape, name = describe(path)
    op_id = operation_id(path, method)
    summary, description = _doc(handler, op_id, name)
    parameters = _path_parameters(path)
    listing = shape == "collection" and method == "GET"
    if listing and path.startswith("/v1/"):
        parameters += [_query(n, s) for n, s in [*PAGING, *LIST_FILTERS.get(name, [])]]
    operation: dict[str, Any] = {"operationId": op_id, "summary": summary}
    if description:
        operation["description"] = description
    operation["parameters"] = parameters
    upload = method == "POST" and path.endswith("/Versions")
    if method == "POST":
        fields, required = UPLOAD_FORM if upload else FORMS.get(op_id, ({}, ()))
        media = "multipart/form-data" if upload else "application/x-www-form-urlencoded"
        body = {"type": "object", "properties": fields, "required": list(required)}
        operation["requestBody"] = {
            "required": bool(required),
            "content": {media: {"schema": body}},
        }
    operation["responses"] = {
        **_success(path, method, shape, name),
        **_errors(path, method, listing, upload),
    }
    return operation


def _doc(handler: Handler, op_id: str, name: str) -> tuple[str, str]:
    """The docstring's first paragraph as summary, the rest as description; or a made-up one."""
    target: Any = handler
    while isinstance(target, partial):
        target = target.func
    doc = inspect.getdoc(target) or ""
    first, _, rest = doc.partition("\n\n")
    if first:
        return " ".join(first.split()), rest.strip()
    verb = op_id.removesuffix(name)
    words = _words(name)
    if verb == "List":
        return f"List {words}s", ""
    return f"{verb} {'an' if words[:1] in 'AEIOU' else 'a'} {words}", ""


def _path_parameters(path: str) -> list[dict[str, Any]]:
    result = []
    parts = path.split("/")
    for index, part in enumerate(parts):
        found = PLACEHOLDER.search(part)
        if found is None:
            continue
        # A placeholder names an instance of the collection just before it.
        owner = describe("/".join(parts[: index + 1]))[1]
        about = (
            "The SID or unique name of the Service"
            if owner == "Service"
            else f"The SID of the {_words(owner)}"
        )
        result.append(
            {"name": found[1], "in": "path", "required": True, "schema": STR, "description": about}
        )
    return result


def _words(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r" \1", name)


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _success(path: str, method: str, shape: str, name: str) -> dict[str, Any]:
    item = _ref(name) if name in SCHEMAS else {"type": "object"}
    if method == "DELETE":
        return {"204": {"description": "Deleted; the body is empty."}}
    if method == "POST" and shape == "collection":
        return {"201": {"description": f"The new {name}.", "content": _json(item)}}
    if shape == "collection":
        key = re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower() + "s"
        page = {key: {"type": "array", "items": item}}
        if path.startswith("/v1/"):
            envelope = _object({**page, "meta": _ref("ListMeta")})
        else:
            envelope = _object({**page, **ENVELOPE_2010})
        return {"200": {"description": f"One page of {key}.", "content": _json(envelope)}}
    return {"200": {"description": f"The {name}.", "content": _json(item)}}


def _errors(path: str, method: str, listing: bool, upload: bool) -> dict[str, Any]:
    codes = ["401"]
    if method == "POST" or listing:
        codes.append("400")
    if PLACEHOLDER.search(path):
        codes.append("404")
    if method in ("POST", "DELETE"):
        codes.append("409")
    if upload:
        codes.append("413")
    return {code: {"$ref": f"#/components/responses/{ERRORS[code]}"} for code in sorted(codes)}


def _stream_operation(path: str) -> dict[str, Any]:
    return {
        "operationId": operation_id(path, "GET"),
        "summary": "Live log lines of an environment, as server-sent events.",
        "description": (
            "Each event is `event: log`, `id: <Log SID>` and `data: <Log JSON>` (the Log "
            "schema). `Since` or a `Last-Event-ID` header first replays stored lines newer "
            "than it, so a reconnecting client misses nothing."
        ),
        "parameters": [
            *_path_parameters(path),
            _query("FunctionSid", STR),
            _query("Since", DATE),
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
