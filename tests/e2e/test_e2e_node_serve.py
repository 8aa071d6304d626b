"""Node.js builds deployed to a real ``callbox serve``: built with node and npm, served by one
warm Node.js worker per build, through the API and the twilio SDK as a client would."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from deploying import deploy

from callbox.builds.runtimes import newest_node_runtime, node_version

NODE = newest_node_runtime() or "node22"
HELLO = """exports.handler = function (context, event, callback) {
  const twiml = new Twilio.twiml.MessagingResponse();
  twiml.message(`Hello ${event.From || 'there'}`);
  callback(null, twiml);
};
"""


@pytest.fixture(scope="module")
def server(module_servers):  # type: ignore[no-untyped-def]
    return module_servers.serve()


def test_a_javascript_function_deploys_and_answers_twiml(server) -> None:  # type: ignore[no-untyped-def]
    deployed = deploy(server, {"/hello": (HELLO, "public")}, service="nodehello", runtime=NODE)
    with server.environment(deployed["domain"]) as client:
        r = client.get("/hello", params={"From": "Ada"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(r.content)
    assert [(m.tag, m.text) for m in root] == [("Message", "Hello Ada")]
    built = server.client.get(
        f"/v1/Services/{deployed['service_sid']}/Builds/{deployed['build_sid']}"
    ).json()
    assert built["runtime"] == NODE
    names = {d["name"]: d["version"] for d in built["dependencies"]}
    assert names == {"twilio": "^5.0.0", "@twilio/runtime-handler": "2.0.1"}
    assert f"Runtime {NODE} on Node.js {node_version()}." in built["log"]


def node_workers(server) -> list[int]:  # type: ignore[no-untyped-def]
    found = []
    for pid in server.worker_pids():
        try:
            if b"worker.js" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def test_the_deployment_answers_once_the_builds_node_worker_is_up(server) -> None:  # type: ignore[no-untyped-def]
    before = set(node_workers(server))
    source = HELLO.replace("Hello", "Warm")
    deployed = deploy(server, {"/hello": (source, "public")}, service="nodewarm", runtime=NODE)
    # No request was sent yet: the deployment itself started the build's one worker.
    started = set(node_workers(server)) - before
    assert len(started) == 1, (before, node_workers(server))
    with server.environment(deployed["domain"]) as client:
        for _ in range(5):
            assert client.get("/hello").status_code == 200
    assert set(node_workers(server)) - before == started  # one process serves the build


def find_processes(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_processes_an_invocation_started_are_killed_once_the_worker_is_idle(server) -> None:  # type: ignore[no-untyped-def]
    marker = f"{time.time_ns() % 1000}.{time.time_ns() % 997}"  # sleep's argument: unique
    source = f"""const {{ spawn }} = require('node:child_process');
exports.handler = (context, event, callback) => {{
  const child = spawn('sleep', ['{marker}'], {{ detached: true, stdio: 'ignore' }});
  child.unref();
  callback(null, String(child.pid));
}};
"""
    deployed = deploy(server, {"/spawn": (source, "public")}, service="nodereap", runtime=NODE)
    with server.environment(deployed["domain"]) as client:
        assert client.get("/spawn").status_code == 200
    deadline = time.monotonic() + 10
    while find_processes(f"sleep\x00{marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert find_processes(f"sleep\x00{marker}") == []
