"""Restart safety of ``callbox serve``: a server killed mid-build or mid-deployment, or stopped
cleanly, starts again on the same data folder with every environment serving a complete build.

A slow build comes from a dependency that takes a minute to build: a local sdist whose in-tree
build backend sleeps (uv runs it; no package index is involved). Sample functions are in
``tests/functions/serve_builds/functions/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path

import httpx
import pytest
from deploying import build, deploy, wait_for_build
from packages import make_sdist
from processes import processes_mentioning

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions" / "serve_builds" / "functions"
SLOW_BACKEND = """\
import time


def get_requires_for_build_wheel(config_settings=None):
    time.sleep(60)  # "building" for a minute: long enough to stop the server meanwhile
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("slowdep is never built")
"""
SLOW_PYPROJECT = """\
[build-system]
requires = []
build-backend = "slowbackend"
backend-path = ["."]

[project]
name = "slowdep"
version = "0.1"
"""


def source(name: str) -> bytes:
    return (FUNCTIONS / f"{name}.py").read_bytes()


def make_slow_sdist(folder: Path) -> Path:
    """slowdep-0.1.tar.gz: an sdist whose build backend sleeps before it does anything."""
    files = {"pyproject.toml": SLOW_PYPROJECT, "slowbackend.py": SLOW_BACKEND}
    return make_sdist(folder, "slowdep", "0.1", files)


@pytest.fixture
def offline(tmp_path):
    """Server settings: packages only from a folder holding the slow sdist; a private uv cache."""
    make_slow_sdist(tmp_path / "links")
    return {
        "CALLBOX_FIND_LINKS": str(tmp_path / "links"),
        "CALLBOX_NO_INDEX": "1",
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
    }


def get(server, domain, path):
    with server.environment(domain) as env:
        return env.get(path)


def served_build(server, domain, path="/which"):
    """The build SID a which_build-style function answers from."""
    response = get(server, domain, path)
    assert response.status_code == 200, response.text
    return response.text.split()[0]


def environment(server, deployed):
    sdk = server.sdk().serverless.v1.services(deployed["service_sid"])
    return sdk.environments(deployed["environment_sid"])


def build_json(server, service_sid, build_sid):
    response = server.client.get(f"/v1/Services/{service_sid}/Builds/{build_sid}")
    assert response.status_code == 200, response.text
    return response.json()


# -- killed while building --------------------------------------------------------------------


def test_a_build_interrupted_by_a_kill_is_failed_after_restart(servers, offline, e2e):
    first = servers.serve(env=offline)
    # uv runs the sleeping build backend from its cache folder: the account's, in the data.
    backend = str(first.data / "cache")
    deployed = deploy(first, {"/which": (source("which_build"), "public")}, service="midbuild")
    service_sid = deployed["service_sid"]
    slow = build(
        first,
        service_sid,
        [deployed["versions"]["/which"]],
        dependencies=[{"name": "slowdep", "version": "0.1"}],
    )
    assert e2e.wait_until(lambda: processes_mentioning(backend), timeout=20), (
        "uv never started building slowdep"
    )
    assert build_json(first, service_sid, slow)["status"] == "building"

    session = first.process.pid
    first.send_stop(signal.SIGKILL, whole_group=True)
    # Nothing of the killed server goes on sleeping: not uv, not the build backend.
    assert e2e.wait_until(lambda: not e2e.session_members(session), timeout=5)
    assert e2e.wait_until(lambda: not processes_mentioning(backend), timeout=5), (
        processes_mentioning(backend)
    )

    second = servers.serve(data=first.data, env=offline)
    assert e2e.wait_until(
        lambda: any("interrupted" in line and slow in line for line in second.stderr_lines()),
        timeout=5,
    ), second.output()  # the restart says which builds it marked failed
    interrupted = build_json(second, service_sid, slow)
    assert interrupted["status"] == "failed"
    assert interrupted["error"] == (
        "The build was interrupted by a server restart; create it again."
    )
    status = second.sdk().serverless.v1.services(service_sid).builds(slow).build_status()
    assert status.fetch().status == "failed"
    builds = second.data / "builds"
    assert sorted(p.name for p in builds.iterdir()) == [deployed["build_sid"]]

    assert environment(second, deployed).fetch().build_sid == deployed["build_sid"]
    assert served_build(second, deployed["domain"]) == deployed["build_sid"]

    again = deploy(second, {"/which": (source("which_build"), "public")}, service="midbuild")
    assert again["build_sid"] not in (slow, deployed["build_sid"])
    assert served_build(second, deployed["domain"]) == again["build_sid"]


# -- killed while deploying -------------------------------------------------------------------

PATHS = ("/which", "/one", "/two")


@pytest.mark.parametrize("moment", ["while-deploying", "after-the-answer"])
def test_a_deployment_interrupted_by_a_kill_is_all_or_nothing(servers, e2e, moment):
    first = servers.serve()
    files = {path: (source("which_build"), "public") for path in PATHS}
    old = deploy(first, files, service="middeploy")
    service_sid, domain = old["service_sid"], old["domain"]
    new = build(first, service_sid, list(old["versions"].values()))
    assert wait_for_build(first, service_sid, new)["status"] == "completed"
    assert {served_build(first, domain, path) for path in PATHS} == {old["build_sid"]}

    answers: list[httpx.Response | BaseException] = []

    def create_deployment():
        url = f"/v1/Services/{service_sid}/Environments/{old['environment_sid']}/Deployments"
        try:
            answers.append(first.client.post(url, data={"BuildSid": new}))
        except BaseException as exc:  # the server dies under it
            answers.append(exc)

    sender = threading.Thread(target=create_deployment)
    sender.start()
    if moment == "after-the-answer":
        sender.join(10)
    first.send_stop(signal.SIGKILL, whole_group=True)
    sender.join(10)
    (answer,) = answers
    if moment == "after-the-answer":
        assert isinstance(answer, httpx.Response) and answer.status_code == 201, answer

    second = servers.serve(data=first.data)
    current = environment(second, old).fetch().build_sid
    deployed_builds = [d.build_sid for d in environment(second, old).deployments.list()]
    if isinstance(answer, httpx.Response) and answer.status_code == 201:
        assert current == new
    assert current in (old["build_sid"], new)
    # The deployment row and the environment's pointer changed together or not at all.
    assert sorted(deployed_builds) == sorted(
        [old["build_sid"], new] if current == new else [old["build_sid"]]
    )
    for path in PATHS:  # every function answers from the one build the environment names
        assert served_build(second, domain, path) == current
    assert (second.data / "builds" / current / "functions" / "two.py").is_file()


# -- stopped cleanly ---------------------------------------------------------------------------

GREETING = "Grüß dich, ✓ 'quoted' & =signs="


def snapshot(server, deployed):
    """What the API says about the service, as plain data to compare across restarts."""
    service = server.sdk().serverless.v1.services(deployed["service_sid"])
    env = service.environments(deployed["environment_sid"])
    return {
        "services": sorted(s.sid for s in server.sdk().serverless.v1.services.list()),
        "service": service.fetch().unique_name,
        "environments": sorted(
            (e.sid, e.domain_name, e.build_sid) for e in service.environments.list()
        ),
        "functions": sorted((f.sid, f.friendly_name) for f in service.functions.list()),
        "variables": sorted((v.key, v.value) for v in env.variables.list()),
        "builds": sorted(
            (b["sid"], b["status"], b["log"], b["error"])
            for b in (
                build_json(server, deployed["service_sid"], x.sid) for x in service.builds.list()
            )
        ),
        "deployments": sorted(d.sid for d in env.deployments.list()),
        "logs": [(log.sid, log.message) for log in env.logs.list()],
    }


def test_a_clean_restart_keeps_everything_and_serves_without_a_new_deployment(servers, e2e):
    first = servers.serve()
    files = {
        "/greeting": (source("greeting"), "public"),
        "/print": (source("print_lines"), "public"),
    }
    deployed = deploy(first, files, service="kept", variables={"GREETING": GREETING})
    build_sid, domain = deployed["build_sid"], deployed["domain"]
    expected = f"{GREETING} from {build_sid}"
    assert get(first, domain, "/greeting").text == expected
    with first.environment(domain) as env:
        assert env.get("/print", params={"line": ["kept one", "kept two"]}).text == "2"
    logs = environment(first, deployed).logs
    assert e2e.wait_until(lambda: len(logs.list()) == 2, timeout=5)
    before = snapshot(first, deployed)
    assert before["variables"] == [("GREETING", GREETING)]
    assert [message for _, message in before["logs"]] == ["kept two", "kept one"]
    greeting_file = first.data / "builds" / build_sid / "functions" / "greeting.py"
    inode = greeting_file.stat().st_ino

    first.send_stop(signal.SIGINT)
    second = servers.serve(data=first.data)
    assert snapshot(second, deployed) == before
    assert get(second, domain, "/greeting").text == expected
    assert greeting_file.stat().st_ino == inode  # the build folder was reused, not rewritten

    # A lost build folder is written again from the blobs when the environment is next served.
    second.send_stop(signal.SIGINT)
    shutil.rmtree(first.data / "builds" / build_sid)
    third = servers.serve(data=first.data)
    assert get(third, domain, "/greeting").text == expected
    assert greeting_file.read_bytes() == source("greeting")
    assert snapshot(third, deployed) == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_clean_stop_right_after_an_answer_keeps_its_log_lines(servers, sig):
    # Issue 13: what README promises for logs --tail. The answer does not wait for the
    # database; a clean stop writes every queued line before the server exits.
    first = servers.serve()
    deployed = deploy(first, {"/print": (source("print_lines"), "public")}, service="flushed")
    lines = [f"line {i}" for i in range(50)]
    with first.environment(deployed["domain"]) as env:
        assert env.get("/print", params={"line": lines}).text == "50"
    first.send_stop(sig)  # at once: the lines are still queued (written about 0.1 s later)
    second = servers.serve(data=first.data)
    stored = environment(second, deployed).logs.list()
    assert sorted(log.message for log in stored) == sorted(lines)


def test_a_server_with_an_open_log_stream_stops_on_ctrl_c(servers, e2e):
    server = servers.serve()
    deployed = deploy(server, {"/print": (source("print_lines"), "public")}, service="streaming")
    path = (
        f"/v1/Services/{deployed['service_sid']}/Environments/"
        f"{deployed['environment_sid']}/Logs/Stream"
    )
    session = server.process.pid
    with server.client.stream("GET", path) as response:
        assert response.status_code == 200
        lines = response.iter_lines()  # kept: a dropped iterator would close the connection
        assert next(lines) == ": connected"
        server.stopped_by_test = True
        os.killpg(session, signal.SIGINT)  # Ctrl+C in the server's terminal
        stopped = e2e.wait_until(lambda: server.process.poll() is not None, timeout=5)
    # Leaving the block closed the stream: a server stuck on it stops now, and the test fails.
    assert stopped, "the server was still running 5 s after Ctrl+C"
    assert e2e.wait_until(lambda: not e2e.session_members(session), timeout=5)
