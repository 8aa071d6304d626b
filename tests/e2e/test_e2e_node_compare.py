"""Python and JavaScript functions compared case by case through real servers: the twins in
``tests/functions/compare/{python,node}`` get the same requests and must get the same
answers (status and parsed body), limits, timeouts, crashes and log lines included; first
through ``callbox start``, then deployed to ``callbox serve`` through the API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploying import deploy

from callbox.builds.runtimes import newest_node_runtime

ENV = {
    "CALLBOX_EXECUTION_TIMEOUT": "2",
    "CALLBOX_CANCEL_GRACE": "0.5",
    "CALLBOX_MEMORY_LIMIT_MB": "64",
    "CALLBOX_CONCURRENCY_LIMIT": "3",
}
LANGUAGES = ("python", "node")
SCENARIOS = Path(__file__).resolve().parent.parent / "functions"
NODE = newest_node_runtime() or "node22"


def answer(response: httpx.Response) -> tuple[int, Any]:
    """Status and body, parsed; a stack trace (local debug errors) is left out."""
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict):
            body.pop("stack", None)
        return response.status_code, body
    return response.status_code, response.text


# (request path, expected status, what the body must satisfy)
CASES: list[tuple[str, int, Callable[[Any], bool]]] = [
    ("/ok?name=Ada", 200, lambda b: b == {"hello": "Ada", "path": "/ok"}),
    ("/throw", 500, lambda b: b == {"message": "boom", "name": "BadValue"}),
    ("/sleep", 504, lambda b: "runtime application timed out" in b["message"]),
    ("/crash", 500, lambda b: "exited unexpectedly (exit code 3)" in b["message"]),
    ("/big", 500, lambda b: str(5 * 1024 * 1024) in b["message"]),
    ("/headers", 431, lambda b: "Response headers" in b["message"]),
    ("/logs", 200, lambda b: b == "logged"),
]


def check_cases(clients: dict[str, httpx.Client]) -> None:
    seen: dict[str, dict[str, tuple[int, Any]]] = {}
    for path, status, body_ok in CASES:
        seen[path] = {language: answer(client.get(path)) for language, client in clients.items()}
        for language, (got, body) in seen[path].items():
            assert got == status, (language, path, body)
            assert body_ok(body), (language, path, body)
        python, node = seen[path]["python"], seen[path]["node"]
        assert python == node, (path, python, node)


def check_busy_loop_replaces_the_worker(client: httpx.Client) -> None:
    before = client.get("/pid").json()["worker"]
    started = time.monotonic()
    spun = client.get("/spin")
    assert spun.status_code == 504, spun.text
    assert time.monotonic() - started < 8
    # The blocked worker does not answer `cancel`: a new one serves the next requests.
    after = client.get("/ok")
    assert after.status_code == 200, after.text
    assert client.get("/pid").json()["worker"] != before


async def _burst(client: httpx.Client, count: int) -> list[int]:
    async with httpx.AsyncClient(
        base_url=str(client.base_url), headers=dict(client.headers), timeout=20
    ) as burst:
        replies = await asyncio.gather(
            *(burst.get("/sleep", params={"seconds": "1"}) for _ in range(count))
        )
    return sorted(r.status_code for r in replies)


def check_concurrency_limit(client: httpx.Client) -> list[int]:
    return asyncio.run(_burst(client, 5))


def check_memory(client: httpx.Client) -> tuple[int, str]:
    response = client.get("/memory")
    message = response.json()["message"]
    assert client.get("/ok").status_code == 200  # and the next request is served
    return response.status_code, message


# -- callbox start ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local(module_servers) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {lang: module_servers.start(f"compare/{lang}", env=ENV) for lang in LANGUAGES}


def test_start_same_requests_same_answers(local: dict[str, Any]) -> None:
    check_cases({lang: server.client for lang, server in local.items()})


def test_start_log_lines_are_the_same(local: dict[str, Any]) -> None:
    lines = {}
    for lang, server in local.items():
        mark = server.mark()
        assert server.client.get("/logs").text == "logged"
        server.settle(mark)
        lines[lang] = server.lines_matching(r"^  \[(INFO|WARN|ERROR)\] /logs:", since=mark)
    assert (
        lines["python"]
        == lines["node"]
        == [
            "  [INFO] /logs: an info line",
            "  [WARN] /logs: a warning line",
            "  [ERROR] /logs: an error line",
        ]
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_start_busy_loop_times_out_and_the_worker_is_replaced(
    local: dict[str, Any], language: str
) -> None:
    check_busy_loop_replaces_the_worker(local[language].client)


def test_start_concurrency_limit_is_the_same(local: dict[str, Any]) -> None:
    statuses = {lang: check_concurrency_limit(server.client) for lang, server in local.items()}
    assert statuses["python"] == statuses["node"] == [200, 200, 200, 429, 429]


def test_start_memory_limit_is_a_500_in_both(local: dict[str, Any]) -> None:
    found = {lang: check_memory(server.client) for lang, server in local.items()}
    assert found["python"][0] == found["node"][0] == 500, found
    for _lang, (_status, message) in found.items():
        assert "memory" in message or "heap" in message, found


def test_start_request_limits_are_the_gateways(local: dict[str, Any]) -> None:
    for server in local.values():
        assert server.client.post("/ok", content=b"x" * (1024 * 1024 + 1)).status_code == 413
        assert server.client.get("/ok", headers={"X-Big": "y" * 16000}).status_code == 431


# -- callbox serve ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployed(module_servers) -> dict[str, httpx.Client]:  # type: ignore[no-untyped-def]
    server = module_servers.serve(env=ENV)
    clients = {}
    for lang in LANGUAGES:
        folder = SCENARIOS / "compare" / lang / "functions"
        files = {f"/{p.stem}": (p.read_text(), "public") for p in sorted(folder.iterdir())}
        runtime = NODE if lang == "node" else "python3.11"
        done = deploy(server, files, service=f"compare-{lang}", runtime=runtime)
        clients[lang] = server.environment(done["domain"])
    clients["server"] = server  # type: ignore[assignment]
    return clients


def test_serve_same_requests_same_answers(deployed: dict[str, Any]) -> None:
    check_cases({lang: deployed[lang] for lang in LANGUAGES})


@pytest.mark.parametrize("language", LANGUAGES)
def test_serve_busy_loop_times_out_and_the_worker_is_replaced(
    deployed: dict[str, Any], language: str
) -> None:
    check_busy_loop_replaces_the_worker(deployed[language])


def test_serve_concurrency_limit_is_the_same(deployed: dict[str, Any]) -> None:
    statuses = {lang: check_concurrency_limit(deployed[lang]) for lang in LANGUAGES}
    assert statuses["python"] == statuses["node"] == [200, 200, 200, 429, 429]


def test_serve_log_lines_are_the_same(deployed: dict[str, Any]) -> None:
    server = deployed["server"]
    found = {}
    for lang in LANGUAGES:
        assert deployed[lang].get("/logs").text == "logged"
        service = server.sdk().serverless.v1.services(f"compare-{lang}")
        environment = service.environments.list()[0]
        deadline = time.monotonic() + 10
        while True:
            logs = environment.logs.list()
            lines = sorted(
                (log.level, log.message) for log in logs if log.message.endswith(" line")
            )
            if len(lines) >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        found[lang] = lines
    assert (
        found["python"]
        == found["node"]
        == [
            ("ERROR", "an error line"),
            ("INFO", "an info line"),
            ("WARN", "a warning line"),
        ]
    )
