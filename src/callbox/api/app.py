"""The API application: every resource module's routes, behind Basic auth, in one Starlette app.

Each resource module (services.py, environments.py, ...) lists its ``ROUTES`` as
(path, method, handler), gathered in routes.py; this module turns them into endpoints and
answers everything else (unknown paths, wrong methods, CORS preflight) in Twilio's error shape.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from callbox.api import logs
from callbox.api.endpoint import API_CORS, Handler, endpoint, error_response, json_response
from callbox.api.openapi import openapi_document
from callbox.api.routes import RouteSpec, resource_routes
from callbox.config import Config
from callbox.errors import MethodNotAllowed, NotFound, ServiceUnavailable
from callbox.store.accounts import Accounts
from callbox.store.db import Store

if TYPE_CHECKING:
    from callbox.builds.builder import Builder


@dataclass
class Api:
    """What API handlers work with."""

    config: Config
    store: Store
    accounts: Accounts
    builder: Builder | None = None
    logbook: Any = None  # callbox.logs.LogBook: stored lines and the live stream
    webhooks: Any = None  # callbox.monitor.webhook.WebhookSender: forget() a changed webhook
    # Called with a service or environment SID after a change that alters what is served.
    on_change: Callable[[str], None] = field(default=lambda _sid: None)
    # Called (on the handler's thread) after a deployment: returns once the environment's
    # build has a worker ready, or after a few seconds at most.
    on_activate: Callable[[str], None] = field(default=lambda _sid: None)

    def changed(self, sid: str) -> None:
        self.on_change(sid)

    def activated(self, environment_sid: str) -> None:
        self.on_activate(environment_sid)


__all__ = ["Api", "RouteSpec", "create_api", "resource_routes"]


# Async endpoints that hold their response open, so not (call) -> Reply handlers. They are
# mounted before the resource routes: ".../Logs/Stream" must not be read as a Log SID.
STREAM_ROUTES: list[Callable[[Api], Route]] = [logs.stream_route]


# Uploads carry an asset of up to 25 MB (the per-asset limit) plus the form around it.
UPLOAD_LIMIT = 26 * 1024 * 1024


def create_api(api: Api, extra: list[Route] | None = None) -> Starlette:
    by_path: dict[str, dict[str, Handler]] = defaultdict(dict)
    for path, method, handler in resource_routes():
        by_path[path][method] = handler
    routes: list[Route] = [*(make(api) for make in STREAM_ROUTES), *(extra or [])]
    for path, methods in by_path.items():
        for method, handler in methods.items():
            limit = UPLOAD_LIMIT if path.endswith("/Versions") else 1024 * 1024
            routes.append(Route(path, endpoint(api, handler, max_body=limit), methods=[method]))
        routes.append(Route(path, _preflight, methods=["OPTIONS"]))
        allowed = ", ".join(sorted(methods))
        # Any other method (TRACE, PROPFIND, ...): a route without methods matches them all.
        routes.append(Route(path, _NotAllowed(allowed)))
    routes.append(Route("/health", _health, methods=["GET"]))
    routes.append(Route("/ready", partial(_ready, api), methods=["GET"]))
    routes.append(Route("/v1/openapi.json", _openapi, methods=["GET"]))
    return Starlette(
        routes=routes,
        exception_handlers={404: _not_found, 405: _wrong_method},
    )


async def _preflight(_request: Request) -> Response:
    return Response(status_code=204, headers=dict(API_CORS))


class _NotAllowed:
    """An ASGI endpoint (so Starlette matches it for every method): 405 naming ``allowed``."""

    def __init__(self, allowed: str) -> None:
        self.allowed = allowed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.response(scope["method"])(scope, receive, send)

    def response(self, method: str) -> Response:
        response = error_response(
            MethodNotAllowed(f"Method {method} is not allowed here; use {self.allowed}.")
        )
        response.headers["Allow"] = self.allowed
        return response


async def _wrong_method(request: Request, exc: Exception) -> Response:
    """A path outside the resource table (/health, the OpenAPI document) with another method."""
    allowed = (getattr(exc, "headers", None) or {}).get("Allow", "GET")
    return _NotAllowed(allowed).response(request.method)


async def _not_found(request: Request, _exc: Exception) -> Response:
    path = request.url.path
    uri = path[3:] if path.startswith("/v1/") else path
    return error_response(NotFound(f"The requested resource {uri} was not found"))


async def _health(_request: Request) -> Response:
    """Alive: the process answers (a load balancer's liveness check)."""
    return json_response(200, {"status": "ok"})


READY_TIMEOUT = 2.5  # seconds /ready waits for the database before it says no


async def _ready(api: Api, _request: Request) -> Response:
    """Ready: the database answers and its schema is this version's (a load balancer sends
    requests only to ready nodes). 503 with the reason otherwise."""
    try:
        current = await asyncio.wait_for(asyncio.to_thread(api.store.schema_current), READY_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", said as such
        reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        error = ServiceUnavailable(f"Not ready: the database cannot be reached ({reason}).")
        return error_response(error)
    if not current:
        return error_response(
            ServiceUnavailable(
                "Not ready: the database schema is not this version's; run the migrations "
                "(start this version's `callbox serve` once, or see docs/deploy.md)."
            )
        )
    return json_response(200, {"status": "ready"})


async def _openapi(request: Request) -> Response:
    # A public description, like /health: no credentials, servers = this request's base.
    base = f"{request.url.scheme}://{request.headers.get('host', 'localhost')}"
    return json_response(200, openapi_document(base))
