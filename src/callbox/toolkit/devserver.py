"""The local development server (what ``callbox start`` runs): a project folder served through
the same gateway, pool and workers that deployed environments use. Every request first checks
whether the project changed on disk, so an edit, a new file or a deleted one takes effect on the
very next request."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from callbox.asgi import Receive, Scope, Send, run_lifespan
from callbox.builds import npm
from callbox.builds.dependencies import DependencyError, install
from callbox.builds.runtimes import node_executable
from callbox.builds.validate import BuildFailure
from callbox.config import Config
from callbox.errors import FunctionError
from callbox.gateway.app import Answer, Encoded, Gateway, Request, Respond, Served, Ticket
from callbox.gateway.pool import PoolSet
from callbox.gateway.source import Deployment
from callbox.gateway.supervisor import Supervisor
from callbox.sandbox.policy import Sandbox
from callbox.toolkit import packagejson
from callbox.toolkit.errors import ProjectError
from callbox.toolkit.project import (
    RUNTIME_LANGUAGES,
    Layout,
    discover,
    project_language,
    read_env,
)
from callbox.toolkit.watch import ChangeDetector
from callbox.worker.frames import LogLine

SITE_PACKAGES = Path(".callbox") / "site-packages"
NODE_PACKAGES = Path(".callbox")  # npm installs package.json's dependencies into node_modules/


class DevConsole:
    """Prints what the dev server does: one line per request, the functions' own lines."""

    # --log-level: which of the functions' lines are printed (start-up lines always are).
    LEVELS = {"debug": 0, "info": 0, "warn": 1, "error": 2, "none": 3}
    LINE_LEVELS = {"INFO": 0, "WARN": 1, "ERROR": 2}

    def __init__(self, log_level: str = "info", logs: bool = True, out: TextIO | None = None):
        self.out = out or sys.stdout
        self.threshold = self.LEVELS.get(log_level, 0)
        self.logs = logs  # --no-logs: no line per request

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    counts_requests = True

    def request_done(self, served: Served) -> None:
        if self.logs and self.threshold == 0:
            self.say(f"{served.status} {served.method} {served.path} {served.duration_ms:.1f} ms")

    def invocation_failed(self, meta: dict[str, Any], code: int, text: str) -> None:
        pass  # its ERROR line, with the traceback, is printed among the function's lines

    def function_logs(self, meta: dict[str, Any], lines: list[LogLine]) -> None:
        for line in lines:
            level = line.get("level", "INFO")
            if self.LINE_LEVELS.get(level, 0) >= self.threshold:
                self.say(f"  [{level}] {meta.get('path', '?')}: {line['message']}")


class LocalProject:
    """A deployment source reading a project folder; a change on disk makes a new build."""

    def __init__(
        self,
        find_layout: Callable[[], Layout],
        env_file: Path,
        config: Config,
        console: DevConsole,
        on_replaced: Callable[[str], None],
        base_variables: dict[str, str] | None = None,
    ) -> None:
        # The folders are looked up on every reload: an assets/ created later must count.
        self.base_variables = base_variables or {}  # --load-local-env: the shell's, under .env
        self.find_layout = find_layout
        layout = self.layout = find_layout()
        self.env_file = env_file
        self.config = config
        self.console = console
        self.on_replaced = on_replaced
        self.requirements = layout.root / "requirements.txt"
        self.package_json = layout.root / "package.json"
        self._generation = 0
        self.changes = ChangeDetector(layout, [env_file, self.requirements, self.package_json])
        self._deployment: Deployment | None = None
        self._error: str | None = None
        self._lock = asyncio.Lock()

    def load(self) -> Deployment:
        """Read the project now; raises ProjectError or DependencyError when it cannot serve."""
        self._watch()
        return self._activate(self._read())

    def _watch(self) -> None:
        """Start watching (again) before reading, so no later edit is missed."""
        self.layout = self.changes.layout = self.find_layout()
        self.changes.reset()

    def _read(self) -> Deployment:
        routes = discover(self.layout)  # functions of both languages: a ProjectError
        language = RUNTIME_LANGUAGES[project_language(self.layout, routes.values()) or "python"]
        if language == "node":
            site_packages = self._install_packages()
        else:
            site_packages = self._install_requirements()
        variables = {**self.base_variables, **read_env(self.env_file)}
        self._generation += 1
        return Deployment(
            build_key=f"local-{self._generation}",
            service_key="local",
            root=self.layout.root,
            routes=routes,
            variables=variables,
            auth_token=variables.get("AUTH_TOKEN") or None,
            site_packages=site_packages,
            local=True,
            runtime=language,
        )

    def _activate(self, deployment: Deployment) -> Deployment:
        # On the event loop's thread: draining the old pool touches its sockets.
        old, self._deployment, self._error = self._deployment, deployment, None
        if old is not None:
            self.on_replaced(old.build_key)
        return deployment

    @property
    def current(self) -> Deployment | None:
        """The build being served now (None before the first load)."""
        return self._deployment

    def _install_requirements(self) -> list[str]:
        if not self.requirements.is_file():
            return []
        target = self.layout.root / SITE_PACKAGES
        if install(self.requirements.read_text(), target, self.config):
            self.console.say(f"Installed requirements.txt into {target}")
        return [str(target)] if target.is_dir() else []

    def _install_packages(self) -> list[str]:
        """package.json's dependencies (with Twilio's defaults, under the API's rules, so what
        runs here deploys) installed with npm into .callbox/node_modules."""
        node = node_executable()
        if node is None:
            raise ProjectError(
                "This project's functions are JavaScript, and there is no `node` on the PATH: "
                "install Node.js 18 or newer."
            )
        entries = packagejson.dependencies(self.layout.root)  # deploy's reading, and check
        try:
            specs, provided = npm.parse(npm.defaults(entries))
        except BuildFailure as exc:
            raise ProjectError(f"{self.package_json.name}: {exc}") from None
        target = self.layout.root / NODE_PACKAGES
        dependencies = npm.Dependencies(specs, provided, entries)
        if npm.install(dependencies, target, self.config, node, cache=None):
            self.console.say(f"Installed {', '.join(specs)} into {target / 'node_modules'}")
        return [str(target / "node_modules")]

    def cached(self, host: str) -> Deployment | None:
        if self._lock.locked() or self._error is not None or self.changes.changed():
            return None
        return self._deployment

    async def resolve(self, host: str) -> Deployment | None:
        if self.changes.changed() or self._lock.locked():
            async with self._lock:  # requests arriving during a reload wait for it
                if self.changes.changed():
                    await self._reload()
        if self._error is not None:
            raise FunctionError(self._error)
        return self._deployment

    async def _reload(self) -> None:
        try:
            self._watch()
            deployment = self._activate(await asyncio.to_thread(self._read))
        except (ProjectError, DependencyError) as exc:
            self._error = f"The project cannot be served: {exc}"
            self.console.say(self._error)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. an unreadable file: say so, keep serving
            self._error = f"The project cannot be read: {type(exc).__name__}: {exc}"
            self.console.say(self._error)
            return
        functions = sum(1 for r in deployment.routes.values() if r.kind == "function")
        self.console.say(
            f"Project changed: serving {functions} functions and "
            f"{len(deployment.routes) - functions} assets."
        )


def route_listing(deployment: Deployment, base_url: str) -> list[str]:
    """The start-up summary: every function and asset URL with its visibility."""
    lines: list[str] = []
    for kind, title in (("function", "Functions"), ("asset", "Assets")):
        routes = sorted(
            (r for r in deployment.routes.values() if r.kind == kind), key=lambda r: r.path
        )
        lines.append(f"{title}:" if routes else f"No {title.lower()} found")
        for route in routes:
            if route.visibility == "private":
                node = deployment.runtime == "node"
                assets, functions = (
                    ("getAssets", "getFunctions") if node else ("get_assets", "get_functions")
                )
                hint = (
                    f"Runtime.{assets}()['{route.path}']"
                    if kind == "asset"
                    else f"Runtime.{functions}()['{route.path.lstrip('/')}']"
                )
                lines.append(f"  [private]   {route.path}  ({hint})")
            else:
                tag = "[protected]" if route.visibility == "protected" else "[public]   "
                lines.append(f"  {tag} {base_url}{route.path}")
        if kind == "asset" and "/assets/index.html" in deployment.routes:
            lines.append(f"  (the root {base_url}/ serves /assets/index.html)")
    return lines


class DevServer:
    """The ASGI app of ``callbox start``: lifespan starts and stops the worker processes."""

    def __init__(
        self,
        config: Config,
        find_layout: Callable[[], Layout],
        env_file: Path,
        console: DevConsole,
        base_variables: dict[str, str] | None = None,
        own_ports: Sequence[int] = (),
    ) -> None:
        self.config = config
        self.console = console
        sandbox = Sandbox(config.sandbox_settings(), own_ports=own_ports)
        self.supervisor = Supervisor(max_body=config.max_response_bytes, sandbox=sandbox)
        self.pools = PoolSet(self.supervisor, config, console.function_logs)
        self.source = LocalProject(
            find_layout, env_file, config, console, self.pools.retire, base_variables
        )
        self.gateway = Gateway(config, self.source, self.pools, console)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await run_lifespan(receive, send, self.startup, self.shutdown)
        else:
            await self.gateway(scope, receive, send)

    # The fast lane (listener.py): every Host is the project's, so the gateway decides alone.

    def admit(self, request: Request) -> Ticket | None:
        return self.gateway.admit(request)

    def begin(self, ticket: Ticket, body: bytes, respond: Respond) -> None:
        self.gateway.begin(ticket, body, respond)

    def answered(self, ticket: Ticket, answer: Answer) -> Encoded:
        return self.gateway.answered(ticket.request, answer, ticket.started)

    async def startup(self) -> None:
        await self.supervisor.start()
        deployment = self.source.current
        if deployment is not None:
            await self.pools.pool_for(deployment).warm()

    async def shutdown(self) -> None:
        self.pools.close()
        with contextlib.suppress(Exception):
            await self.supervisor.stop()
        await asyncio.to_thread(self.supervisor.sandbox.close)
