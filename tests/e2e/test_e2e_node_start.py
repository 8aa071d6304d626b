"""``callbox start`` on a JavaScript project: package.json's dependencies installed with npm into
.callbox/, live reload of edited and new .js files, and a project mixing languages refused."""

from __future__ import annotations

import json
import time


def test_an_edited_function_is_served_on_the_next_request(servers) -> None:  # type: ignore[no-untyped-def]
    server = servers.start("node_start")
    assert server.client.get("/hello").text == "version 1"
    (server.root / "functions" / "hello.js").write_text(
        "exports.handler = (context, event, callback) => callback(null, 'version 2');\n"
    )
    assert server.client.get("/hello").text == "version 2"
    (server.root / "functions" / "added.js").write_text(
        "exports.handler = (context, event, callback) => callback(null, { added: true });\n"
    )
    assert server.client.get("/added").json() == {"added": True}
    assert (server.root / ".callbox" / "node_modules" / "twilio" / "package.json").is_file()


def test_a_dependency_added_to_package_json_is_installed_and_required(servers) -> None:  # type: ignore[no-untyped-def]
    server = servers.start("node_start")
    manifest = json.loads((server.root / "package.json").read_text())
    manifest["dependencies"]["ms"] = "2.1.3"
    (server.root / "package.json").write_text(json.dumps(manifest))
    (server.root / "functions" / "ms.js").write_text(
        "const ms = require('ms');\n"
        "exports.handler = (context, event, callback) => callback(null, String(ms('2h')));\n"
    )
    deadline = time.monotonic() + 60
    while True:  # npm runs during the reload
        response = server.client.get("/ms", timeout=60)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.text == "7200000", response.text


def test_a_project_mixing_python_and_javascript_is_refused(tmp_path, callbox_cli) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "a.js").write_text("exports.handler = (c, e, cb) => cb();\n")
    (tmp_path / "functions" / "b.py").write_text("def handler(c, e, cb):\n    cb(None)\n")
    done = callbox_cli(["start", str(tmp_path), "--port", "0"], timeout=30)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Found JavaScript: functions/a.js; Python: functions/b.py" in output, output
