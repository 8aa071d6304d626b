"""The seed pages' JavaScript examples, unmodified, give the responses the pages state: through
``callbox start`` (the examples merged into one project) and deployed to ``callbox serve``
through the API (one build, one environment). The tables are ``tests/functions/seeds/*/
cases.json``; TwiML and JSON are parsed, never compared as strings."""

from __future__ import annotations

import json
import shutil
import time
import xml.etree.ElementTree as ET
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploying import deploy

from callbox.builds.runtimes import newest_node_runtime

SEEDS = Path(__file__).resolve().parent.parent / "functions" / "seeds"
EXAMPLES = sorted(p.name for p in SEEDS.iterdir() if (p / "cases.json").is_file())
NODE = newest_node_runtime() or "node22"


def cases(name: str) -> list[dict[str, Any]]:
    return list(json.loads((SEEDS / name / "cases.json").read_text())["cases"])


def merged_project(parent: Path) -> Path:
    """Every example in one project: their functions, assets and .env side by side (no two
    examples share a file name). Not ``parent`` itself: a test's temporary folder is private
    to root, and `callbox start` runs functions as another user."""
    root = parent / "project"
    root.mkdir()
    env_lines: list[str] = []
    for name in EXAMPLES:
        for kind in ("functions", "assets"):
            if (SEEDS / name / kind).is_dir():
                shutil.copytree(SEEDS / name / kind, root / kind, dirs_exist_ok=True)
        if (SEEDS / name / ".env").is_file():
            env_lines += (SEEDS / name / ".env").read_text().splitlines()
    (root / ".env").write_text("\n".join(env_lines) + "\n")
    manifest = {"name": "seeds", "private": True, "dependencies": {"twilio": "^5.0.0"}}
    (root / "package.json").write_text(json.dumps(manifest))
    return root


def twiml(element: ET.Element) -> list[Any]:
    """The children of a TwiML element as [tag, attributes, text, [children]] (children only
    when there are any), as cases.json writes them."""
    found: list[Any] = []
    for child in element:
        text = child.text.strip() if child.text and child.text.strip() else None
        entry: list[Any] = [child.tag, dict(child.attrib), text]
        if len(child):
            entry.append(twiml(child))
        found.append(entry)
    return found


def send(client: httpx.Client, request: dict[str, Any]) -> httpx.Response:
    headers = dict(request.get("headers") or {})
    if request.get("cookies"):
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in request["cookies"].items())
    return client.request(
        request["method"],
        request["path"],
        params=request.get("query"),
        data=request.get("form"),
        content=request.get("body"),
        headers=headers,
    )


def set_cookies(response: httpx.Response) -> dict[str, str | None]:
    """name -> value of each Set-Cookie; None when it removes the cookie (Max-Age=0)."""
    found: dict[str, str | None] = {}
    for line in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(line)
        for name, morsel in cookie.items():
            found[name] = None if morsel["max-age"] == "0" else morsel.value
    return found


def check(response: httpx.Response, expected: dict[str, Any], domain: str, assets: Path) -> None:
    where = f"{response.request.method} {response.request.url.path}: {response.text[:300]!r}"
    assert response.status_code == expected["status"], where
    content_type = response.headers.get("content-type", "")
    if "content_type" in expected:
        assert content_type.startswith(expected["content_type"]), where
    if "text" in expected:
        assert response.text == expected["text"].replace("{domain}", domain), where
    if "json" in expected:
        assert content_type.startswith("application/json") and response.json() == expected["json"]
    for key, value in (expected.get("json_fields") or {}).items():
        assert response.json()[key] == value, where
    if "twiml" in expected:
        assert content_type.startswith("text/xml"), where
        root = ET.fromstring(response.content)
        assert root.tag == "Response" and twiml(root) == expected["twiml"], where
    for name, value in (expected.get("headers") or {}).items():
        assert response.headers.get(name) == value, (name, where)
    for name, value in (expected.get("cookies") or {}).items():
        assert set_cookies(response).get(name, "absent") == value, (name, where)
    if "asset" in expected:
        name = expected["asset"].lstrip("/")
        stem, _, extension = name.rpartition(".")
        assert response.content == (assets / f"{stem}.private.{extension}").read_bytes()


def run_cases(client: httpx.Client, name: str, domain: str, lines: list[str] | None) -> None:
    for case in cases(name):
        started = time.monotonic()
        response = send(client, case["request"])
        check(response, case["response"], domain, SEEDS / name / "assets")
        assert time.monotonic() - started >= case.get("min_seconds", 0)
        if lines is not None and ("logs" in case or "logs_start" in case):
            assert_logs(lines, case)


def assert_logs(lines: list[str], case: dict[str, Any]) -> None:
    if "logs" in case:
        assert lines[-len(case["logs"]) :] == case["logs"], lines
    for prefix in case.get("logs_start", []):
        assert any(line.startswith(prefix) for line in lines), lines


# -- callbox start ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local(module_servers, tmp_path_factory):  # type: ignore[no-untyped-def]
    root = merged_project(tmp_path_factory.mktemp("seeds"))
    return module_servers.start(root)


@pytest.mark.parametrize("name", EXAMPLES)
def test_seed_example_locally(local, name: str) -> None:  # type: ignore[no-untyped-def]
    mark = local.mark()
    run_cases(local.client, name, local.client.base_url.netloc.decode(), None)
    if any("logs" in c or "logs_start" in c for c in cases(name)):
        local.settle(mark)
        prefix = f"  [INFO] /{name}: "
        lines = [
            line.removeprefix(prefix)
            for line in local.stdout_lines()[mark:]
            if line.startswith(prefix)
        ]
        for case in cases(name):
            if "logs" in case or "logs_start" in case:
                assert_logs(lines, case)


# -- callbox serve ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployed(module_servers, tmp_path_factory):  # type: ignore[no-untyped-def]
    root = merged_project(tmp_path_factory.mktemp("seeds-deployed"))
    server = module_servers.serve()
    functions = {
        f"/{p.stem}": (p.read_text(), "public") for p in sorted((root / "functions").glob("*.js"))
    }
    assets = {}
    for file in sorted((root / "assets").rglob("*")):
        if file.is_file():
            stem, _, extension = file.name.rpartition(".")
            visibility = "private" if stem.endswith(".private") else "public"
            name = f"{stem.removesuffix('.private')}.{extension}"
            assets[f"/{name}"] = (file.read_bytes(), visibility)
    variables = dict(
        line.split("=", 1) for line in (root / ".env").read_text().splitlines() if "=" in line
    )
    done = deploy(server, functions, assets, service="seeds", runtime=NODE, variables=variables)
    return server, done


@pytest.mark.parametrize("name", EXAMPLES)
def test_seed_example_deployed(deployed, name: str) -> None:  # type: ignore[no-untyped-def]
    server, done = deployed
    with server.environment(done["domain"]) as client:
        run_cases(client, name, f"{done['domain']}:{server.port}", None)
