"""Node.js builds deployed to a real ``callbox serve``: built with node and npm, served by one
warm Node.js worker per build, through the API and the twilio SDK as a client would."""

from __future__ import annotations

import xml.etree.ElementTree as ET

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
