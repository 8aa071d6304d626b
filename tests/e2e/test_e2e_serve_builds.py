"""Builds and deployments on a real ``callbox serve``: failures, dependencies, many builds at
once, the switch between builds while requests are in flight, and the logs they write.

Nothing touches the network: the package index is off and packages come from a folder of
wheels written here. Sample functions are in ``tests/functions/serve_builds/functions/``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from deploying import build, deploy, ensure_service, upload, wait_for_build
from packages import make_wheel
from twilio.base.exceptions import TwilioRestException

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions" / "serve_builds" / "functions"
TINYDEP_VALUE = "tinydep from a local wheel"
# A stream line must reach its reader within this many seconds of the invocation's answer.
LIVE_WITHIN = 1.0


def source(name: str) -> bytes:
    return (FUNCTIONS / f"{name}.py").read_bytes()


def markers(server) -> Path:
    return server.tmp_root_markers


@pytest.fixture(scope="module")
def server(module_servers, tmp_path_factory):
    """One server for the module; each test uses a service of its own."""
    folder = tmp_path_factory.mktemp("offline")
    # Where functions leave marker files: made before any worker starts, since a sandboxed
    # worker cannot create entries in folders created after it (see worker/sandbox.py).
    (folder / "markers").mkdir()
    make_wheel(folder / "wheels", "tinydep", "0.1", f"VALUE = {TINYDEP_VALUE!r}\n")
    started = module_servers.serve(
        env={
            "CALLBOX_FIND_LINKS": str(folder / "wheels"),
            "CALLBOX_NO_INDEX": "1",
            "UV_CACHE_DIR": str(folder / "uv-cache"),
        }
    )
    started.tmp_root_markers = folder / "markers"
    return started


def answer(server, domain, path, **params):
    with server.environment(domain) as env:
        response = env.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.text


def environment_build(server, deployed):
    sdk = server.sdk().serverless.v1.services(deployed["service_sid"])
    return sdk.environments(deployed["environment_sid"]).fetch().build_sid


def build_of(server, service_sid, files, dependencies=None):
    """Upload ``files`` (path -> sample name) as public functions, build, wait for the end."""
    versions = []
    for path, name in files.items():
        resource = (
            server.sdk().serverless.v1.services(service_sid).functions.create(friendly_name=path)
        )
        versions.append(
            upload(server, service_sid, "Functions", resource.sid, path, source(name), "public")
        )
    build_sid = build(server, service_sid, versions, dependencies=dependencies)
    return wait_for_build(server, service_sid, build_sid)


# -- failing builds ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken_syntax", "Function /broken does not compile: line 2: expected ':'"),
        (
            "no_handler",
            "Function /broken has no `handler`; found: GREETING, respond. "
            "Define `def handler(context, event, callback)` (or `async def`).",
        ),
    ],
    ids=["syntax-error", "no-handler"],
)
def test_a_bad_function_fails_the_build_with_its_path_and_reason(server, name, reason):
    service_sid = ensure_service(server, f"fails-{name.replace('_', '-')}")
    finished = build_of(server, service_sid, {"/fine": "which_build", "/broken": name})
    assert finished["status"] == "failed"
    assert finished["error"] == reason
    assert finished["log"].endswith("The build failed.")
    status = server.sdk().serverless.v1.services(service_sid).builds(finished["sid"])
    assert status.build_status().fetch().status == "failed"
    assert not (server.data / "builds" / finished["sid"]).exists()


def test_every_bad_function_of_a_build_is_named(server):
    service_sid = ensure_service(server, "fails-both")
    finished = build_of(
        server, service_sid, {"/syntax": "broken_syntax", "/nohandler": "no_handler"}
    )
    assert finished["status"] == "failed"
    assert "Function /syntax does not compile" in finished["error"]
    assert "Function /nohandler has no `handler`" in finished["error"]


def test_a_failed_build_is_not_deployed_and_the_environment_keeps_its_build(server):
    deployed = deploy(server, {"/which": (source("which_build"), "public")}, service="keeps")
    failed = build_of(server, deployed["service_sid"], {"/which": "broken_syntax"})
    assert failed["status"] == "failed"
    environment = (
        server.sdk()
        .serverless.v1.services(deployed["service_sid"])
        .environments(deployed["environment_sid"])
    )
    with pytest.raises(TwilioRestException) as refused:
        environment.deployments.create(build_sid=failed["sid"])
    assert refused.value.status == 400
    assert failed["sid"] in refused.value.msg and "failed" in refused.value.msg
    assert environment_build(server, deployed) == deployed["build_sid"]
    assert [d.build_sid for d in environment.deployments.list()] == [deployed["build_sid"]]
    assert answer(server, deployed["domain"], "/which").startswith(deployed["build_sid"] + " ")


# -- dependencies from a local wheel -----------------------------------------------------


def test_a_dependency_from_a_local_wheel_is_installed_once_and_importable(server):
    tinydep = [{"name": "tinydep", "version": "0.1"}]
    files = {"/tinydep": (source("uses_tinydep"), "public")}
    first = deploy(server, files, service="wheel", dependencies=tinydep)
    assert answer(server, first["domain"], "/tinydep") == TINYDEP_VALUE
    log = wait_for_build(server, first["service_sid"], first["build_sid"])["log"]
    assert "Installed 1 dependency: tinydep==0.1." in log.splitlines()

    # Same set, spelled differently (PEP 503 names): the installed folder is reused.
    again = [{"name": "TinyDep", "version": "0.1"}]
    second = deploy(server, files, service="wheel", dependencies=again)
    assert second["build_sid"] != first["build_sid"]
    log = wait_for_build(server, second["service_sid"], second["build_sid"])["log"]
    assert "Installed 1 dependency: tinydep==0.1 (cached)." in log.splitlines()
    assert answer(server, second["domain"], "/tinydep") == TINYDEP_VALUE


def test_a_build_without_the_dependency_cannot_import_it(server):
    deployed = deploy(server, {"/tinydep": (source("uses_tinydep"), "public")}, service="nodep")
    with server.environment(deployed["domain"]) as env:
        response = env.get("/tinydep")
    assert response.status_code == 500
    assert "No module named 'tinydep'" in response.text


def test_an_unknown_package_fails_the_build_with_a_readable_error(server):
    service_sid = ensure_service(server, "unknown-package")
    missing = [{"name": "callbox-no-such-package-xyz", "version": "1.0"}]
    finished = build_of(server, service_sid, {"/which": "which_build"}, dependencies=missing)
    assert finished["status"] == "failed"
    error = finished["error"]
    assert error.startswith("Installing callbox-no-such-package-xyz==1.0 failed:\n")
    assert "callbox-no-such-package-xyz" in error.split("\n", 1)[1]  # uv's own explanation
    assert "Traceback" not in error and "\x1b[" not in error
    assert len(error) <= 3000


# -- many builds --------------------------------------------------------------------------


def test_many_builds_created_back_to_back_all_complete(server):
    first = deploy(server, {"/which": (source("which_build"), "public")}, service="many")
    service_sid = first["service_sid"]
    version = first["versions"]["/which"]
    sids = [build(server, service_sid, [version]) for _ in range(6)]
    assert len(set(sids)) == 6
    finished = [wait_for_build(server, service_sid, sid) for sid in sids]
    assert [f["status"] for f in finished] == ["completed"] * 6, [f["error"] for f in finished]
    for sid in sids:
        assert (server.data / "builds" / sid / "functions" / "which.py").is_file()
    environment = (
        server.sdk().serverless.v1.services(service_sid).environments(first["environment_sid"])
    )
    environment.deployments.create(build_sid=sids[-1])
    assert answer(server, first["domain"], "/which").startswith(sids[-1] + " ")


# -- a deployment while a request is running ---------------------------------------------


def test_in_flight_request_finishes_on_the_old_build_whose_workers_then_stop(
    servers, tmp_path, e2e
):
    # The function reports its pid and leaves a marker file where this test reads it: both need
    # the sandbox off (inside it a worker is PID 1 and writes only its own /tmp). The sandbox's
    # own tests check that workers of a replaced build stop (tests/e2e/test_e2e_hostile.py).
    server = servers.serve(env={"CALLBOX_SANDBOX": "off"})
    server.tmp_root_markers = tmp_path
    files = {
        "/slow": (source("slow"), "public"),
        "/which": (source("which_build"), "public"),
    }
    # Taken before the deployment: it starts the build's first worker.
    old_workers_before = set(server.worker_pids())
    old = deploy(server, files, service="inflight")
    service_sid, domain = old["service_sid"], old["domain"]
    old_pid = int(answer(server, domain, "/which").split()[1])
    # The next build, ready before the slow request starts: only the switch happens during it.
    new_sid = build(server, service_sid, list(old["versions"].values()))
    assert wait_for_build(server, service_sid, new_sid)["status"] == "completed"

    started = markers(server) / f"started-{time.monotonic_ns()}"
    results: list[httpx.Response | BaseException] = []

    def slow_request():
        try:
            with server.environment(domain) as env:
                results.append(env.get("/slow", params={"started": str(started), "seconds": "1.5"}))
        except BaseException as exc:  # reported by the test thread
            results.append(exc)

    thread = threading.Thread(target=slow_request)
    thread.start()
    assert e2e.wait_until(started.exists, timeout=10), "the slow request never started"
    old_workers = set(server.worker_pids()) - old_workers_before
    assert old_pid in old_workers

    environment = (
        server.sdk().serverless.v1.services(service_sid).environments(old["environment_sid"])
    )
    environment.deployments.create(build_sid=new_sid)
    assert thread.is_alive(), "the slow request ended before the deployment"
    new_build, new_pid = answer(server, domain, "/which").split()
    assert new_build == new_sid
    assert int(new_pid) not in old_workers

    thread.join(15)
    (response,) = results
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 200, response.text
    assert response.text == f"{old['build_sid']} {int(started.read_text())}"

    def drained():
        return not old_workers & set(server.worker_pids())

    assert e2e.wait_until(drained, timeout=5), (
        f"old workers {old_workers & set(server.worker_pids())} still running"
    )
    assert answer(server, domain, "/slow", started=str(started), seconds="0").startswith(new_sid)


# -- logs -----------------------------------------------------------------------------------


def stream_reader(server, deployed, events: queue.Queue, stop: threading.Event):
    """Read the environment's live stream on a thread: (arrival time, line) into ``events``."""
    path = (
        f"/v1/Services/{deployed['service_sid']}/Environments/"
        f"{deployed['environment_sid']}/Logs/Stream"
    )

    def read():
        try:
            with server.client.stream("GET", path, timeout=httpx.Timeout(20.0, read=5.0)) as r:
                events.put(
                    (time.monotonic(), f"status {r.status_code} {r.headers['content-type']}")
                )
                for line in r.iter_lines():
                    events.put((time.monotonic(), line))
                    if stop.is_set():
                        return
        except httpx.HTTPError as exc:
            events.put((time.monotonic(), f"error {exc!r}"))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def next_line(events: queue.Queue, predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        try:
            arrived, line = events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(
                f"no matching stream line within {timeout} s; saw {seen}"
            ) from None
        seen.append(line)
        if predicate(line):
            return arrived, line


def test_live_stream_delivers_a_new_line_within_a_second(server):
    deployed = deploy(server, {"/print": (source("print_lines"), "public")}, service="live")
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    reader = stream_reader(server, deployed, events, stop)
    _, status = next_line(events, lambda line: line.startswith(("status", "error")))
    assert status == "status 200 text/event-stream; charset=utf-8"
    next_line(events, lambda line: line == ": connected")  # subscribed from here on

    marker = f"live line {time.monotonic_ns()}"
    with server.environment(deployed["domain"]) as env:
        response = env.get("/print", params={"line": marker})
    answered = time.monotonic()
    assert response.status_code == 200, response.text
    arrived, data = next_line(events, lambda line: line.startswith("data:") and marker in line)
    stop.set()
    assert arrived - answered < LIVE_WITHIN, f"the line arrived {arrived - answered:.3f} s late"
    body = json.loads(data.removeprefix("data:"))
    assert body["message"] == marker
    assert body["level"] == "INFO"
    assert body["build_sid"] == deployed["build_sid"]
    assert body["function_sid"] == deployed["resources"]["/print"]
    assert body["sid"].startswith("NO")
    # One more line ends the reader (it stops after the line that follows `stop`).
    with server.environment(deployed["domain"]) as env:
        env.get("/print", params={"line": "bye"})
    reader.join(10)
    assert not reader.is_alive()


def stored_messages(server, deployed, **filters):
    """Messages of the environment's stored lines through the SDK (newest first)."""
    environment = (
        server.sdk()
        .serverless.v1.services(deployed["service_sid"])
        .environments(deployed["environment_sid"])
    )
    return [log.message for log in environment.logs.list(**filters)]


def wait_for_messages(server, deployed, count, e2e):
    assert e2e.wait_until(lambda: len(stored_messages(server, deployed)) >= count, timeout=5)
    return stored_messages(server, deployed)


def test_logs_list_newest_first_and_filter_by_function(server, e2e):
    files = {
        "/print": (source("print_lines"), "public"),
        "/other": (source("print_lines"), "public"),
    }
    deployed = deploy(server, files, service="logs-list")
    with server.environment(deployed["domain"]) as env:
        assert env.get("/print", params={"line": ["first", "second", "third"]}).text == "3"
        assert env.get("/other", params={"line": "from other"}).text == "1"
    assert wait_for_messages(server, deployed, 4, e2e) == ["from other", "third", "second", "first"]
    only_print = stored_messages(server, deployed, function_sid=deployed["resources"]["/print"])
    assert only_print == ["third", "second", "first"]
    only_other = stored_messages(server, deployed, function_sid=deployed["resources"]["/other"])
    assert only_other == ["from other"]


def test_logs_list_filters_by_start_and_end_date(server, e2e):
    """The SDK sends whole seconds, so the two lines are written two seconds apart."""
    deployed = deploy(server, {"/print": (source("print_lines"), "public")}, service="logs-dates")
    env = server.environment(deployed["domain"])
    env.get("/print", params={"line": "early"})
    early_second = datetime.now(UTC).replace(microsecond=0)
    assert e2e.wait_until(
        lambda: datetime.now(UTC) >= early_second + timedelta(seconds=2), timeout=3
    )
    env.get("/print", params={"line": "late"})
    env.close()
    assert wait_for_messages(server, deployed, 2, e2e) == ["late", "early"]
    boundary = early_second + timedelta(seconds=1)
    assert stored_messages(server, deployed, end_date=boundary) == ["early"]
    assert stored_messages(server, deployed, start_date=boundary) == ["late"]
    hour = timedelta(hours=1)
    assert stored_messages(server, deployed, end_date=early_second - hour) == []
    assert stored_messages(
        server,
        deployed,
        function_sid=deployed["resources"]["/print"],
        start_date=early_second - hour,
        end_date=early_second + hour,
    ) == ["late", "early"]
