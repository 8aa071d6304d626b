"""The route table: every resource module's ``ROUTES``, as (path, method, handler).

Both the application (app.py) and the OpenAPI document (openapi.py) read it; each handler is an
``Operation`` declaring what it takes and answers.
"""

from __future__ import annotations

from callbox.api import (
    accounts,
    alerts,
    builds,
    deployments,
    environments,
    functions,
    logs,
    services,
    variables,
    versions,
)
from callbox.api.endpoint import Handler

RouteSpec = tuple[str, str, Handler]


def resource_routes() -> list[RouteSpec]:
    return [
        *services.ROUTES,
        *environments.ROUTES,
        *variables.ROUTES,
        *deployments.ROUTES,
        *functions.ROUTES,
        *versions.ROUTES,
        *builds.ROUTES,
        *accounts.ROUTES,
        *logs.ROUTES,
        *alerts.ROUTES,
    ]
