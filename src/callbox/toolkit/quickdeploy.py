"""``callbox serve --deploy DIR``: once the server answers, deploy projects as the owner.

It goes through the HTTP API like any client, so it is exactly what ``callbox deploy`` does.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import click
import httpx

from callbox.toolkit.client import ApiClient
from callbox.toolkit.deployer import DeployRequest, deploy_project, service_name_from
from callbox.toolkit.project import Layout, read_env
from callbox.toolkit.variables import check_variables, uploadable


def deploy_in_background(server: Any, api_url: str, folders: list[Path]) -> threading.Thread:
    owner = server.accounts.owner()
    port = api_url.rsplit(":", 1)[1]

    def run() -> None:
        if not _wait_healthy(api_url):
            click.echo("The server did not come up; nothing was deployed.", err=True)
            return
        # The server's own socket: its certificate, if any, is for the names clients use.
        client = ApiClient(api_url, owner[0], owner[1], verify=False)
        try:
            for folder in folders:
                _deploy_one(client, folder.absolute(), port)
        finally:
            client.close()

    thread = threading.Thread(target=run, name="callbox-deploy", daemon=True)
    thread.start()
    return thread


def _deploy_one(client: ApiClient, folder: Path, port: str) -> None:
    name = service_name_from(folder.name) or "project"
    try:
        variables = uploadable(read_env(folder / ".env"))
        check_variables(variables, folder / ".env")
        request = DeployRequest(
            Layout.find(folder),
            service_name=name,
            environment="",
            variables=variables,
            override_existing=True,  # the same folder again after a restart: a new build
        )
        result = deploy_project(client, request)
    except Exception as exc:  # this runs in the server's process: one line, never a trace
        click.echo(f"Could not deploy {folder}: {exc}", err=True)
        return
    base = f"{client.base_url.split('://')[0]}://{result.domain}:{port}"
    lines = [f"Deployed {folder.name} to {base}"]
    for route in sorted(result.routes, key=lambda r: (r.kind, r.path)):
        if route.visibility != "private":
            lines.append(f"  [{route.visibility}] {base}{route.path}")
    click.echo("\n".join(lines))  # one write: the summary is never split by other output


def _wait_healthy(api_url: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{api_url}/health", timeout=1.0, trust_env=False, verify=False)
            if answer.status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False
