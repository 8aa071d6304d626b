"""The toolkit as a user drives it, every step a real `callbox` process against a real server:
init -> deploy -> fetch the printed URLs -> edit -> redeploy -> promote -> logs --tail -> env set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx


def get(toolkit: Any, url: str, **params: str) -> httpx.Response:
    """GET a printed URL the way curl does with *.localhost: connect to 127.0.0.1, send the
    URL's host."""
    parts = urlsplit(url)
    with httpx.Client(base_url=toolkit.server.base_url, headers={"Host": parts.netloc}) as client:
        return client.get(parts.path, params=params)


def test_init_deploy_edit_promote_tail_and_set(toolkit: Any, tmp_path: Path, e2e: Any) -> None:
    created = toolkit.run_process("init", "flow", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    root = tmp_path / "flow"

    deployed = toolkit.run_process("deploy", cwd=root)
    assert deployed.returncode == 0, deployed.stderr
    printed = [
        line.split("] ", 1)[1]
        for line in deployed.stdout.splitlines()
        if line.strip().startswith("[public]")
    ]
    assert len(printed) == 5  # hello-world, greet, data, index.html, style.css
    for url in printed:
        assert get(toolkit, url).status_code == 200, url
    hello = next(url for url in printed if url.endswith("/hello-world"))
    assert get(toolkit, hello).text == "Hello World!"

    (root / "functions/greet.py").write_text(
        "def handler(context, event, callback):\n    callback(None, {'message': 'edited'})\n"
    )
    redeployed = toolkit.run_process("deploy", "-l", "info", cwd=root)
    assert redeployed.returncode == 0, redeployed.stderr
    assert "(1 uploaded, 7 unchanged)" in redeployed.stderr
    greet = next(url for url in printed if url.endswith("/greet"))
    assert get(toolkit, greet).json() == {"message": "edited"}

    promoted = toolkit.run_process(
        "promote",
        "--source-environment",
        "dev",
        "--production",
        "--create-environment",
        "-o",
        "json",
        cwd=root,
    )
    assert promoted.returncode == 0, promoted.stderr
    production = json.loads(promoted.stdout)["url"]
    assert get(toolkit, f"{production}/greet").json() == {"message": "edited"}

    with toolkit.tail("logs", "--production", "--tail", cwd=root) as tail:
        # No waiting for the tail to connect: it starts from the moment it started (Since, or
        # the last recent line's Last-Event-ID), so a line logged meanwhile is shown once.
        assert get(toolkit, f"{production}/hello-world", name="Tailed").status_code == 200
        assert e2e.wait_until(
            lambda: any("name='Tailed'" in line for line in tail.lines), timeout=15.0
        ), (tail.lines, tail.stderr)
        tailed = [line for line in tail.lines if "name='Tailed'" in line]
        assert len(tailed) == 1, tail.lines
        assert tailed[0].startswith("[INFO][")
        assert tail.stop() == 0
    assert "Traceback" not in tail.stderr, tail.stderr

    assert get(toolkit, f"{production}/hello-world").text == "Hello World!"
    set_ = toolkit.run_process(
        "env", "set", "--key", "GREETING", "--value", "Hej", "--production", cwd=root
    )
    assert set_.returncode == 0, set_.stderr
    assert "GREETING has been set" in set_.stdout
    assert get(toolkit, f"{production}/hello-world").text == "Hej World!"
    assert get(toolkit, hello).text == "Hello World!"  # dev keeps its own variables
