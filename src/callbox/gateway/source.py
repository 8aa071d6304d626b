"""What the gateway serves: a deployment source maps a Host to the build that answers it.

The local development server hands the gateway a source that reads a project folder; the
control plane will hand it one that reads the store. The gateway never knows which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from callbox.routes import Kind, Route
from callbox.worker.frames import FileEntry, Runtime, WorkerSpec


@dataclass
class Deployment:
    """One build being served: its routes and what every invocation's context starts from."""

    build_key: str
    service_key: str
    root: Path
    routes: dict[str, Route]
    variables: dict[str, str] = field(default_factory=dict)
    domain: str | None = None  # None: the Host the client used
    service_sid: str | None = None
    environment_sid: str | None = None
    auth_token: str | None = None
    site_packages: list[str] = field(default_factory=list)
    local: bool = False
    # Copied into every invocation's log metadata (account, service, environment, deployment).
    log_tags: dict[str, str | None] = field(default_factory=dict)
    # The sandbox slot of the service: its workers' uid (slot 0 is `callbox start`'s).
    slot: int = 0
    # The language its workers run (``frames.RUNTIME_*``).
    runtime: Runtime = "python"
    # Per route path: the context and log metadata every invocation starts from (the gateway
    # fills it as it goes; a deployment is replaced, never changed, when anything changes).
    invocation_bases: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def route_for(self, path: str) -> Route | None:
        route = self.routes.get(path)
        if route is None and path == "/":
            route = self.routes.get("/assets/index.html")
        return route

    def worker_spec(self, *, memory_limit_mb: int, debug_errors: bool, threads: int) -> WorkerSpec:
        """The build as a worker sees it."""

        def entries(kind: Kind) -> dict[str, FileEntry]:
            return {
                r.path: {"file": str(r.file), "visibility": r.visibility}
                for r in self.routes.values()
                if r.kind == kind
            }

        return {
            "root": str(self.root),
            "functions": entries("function"),
            "assets": entries("asset"),
            "site_packages": self.site_packages,
            "memory_limit_mb": memory_limit_mb,
            "debug_errors": debug_errors,
            "local": self.local,
            "threads": threads,
            "slot": self.slot,
            "runtime": self.runtime,
        }


class DeploymentSource(Protocol):
    async def resolve(self, host: str) -> Deployment | None:
        """The deployment serving ``host`` (the Host header without port), or None."""
        ...

    def cached(self, host: str) -> Deployment | None:
        """The deployment serving ``host`` if it is known now, with nothing to read or wait
        for; None sends the request the way of ``resolve`` (the fast lane asks this)."""
        ...
