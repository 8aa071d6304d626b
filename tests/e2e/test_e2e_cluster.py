"""Several ``callbox serve`` nodes on one PostgreSQL, behind a real HAProxy.

Three nodes, each with its own data folder (as on separate machines), share a throwaway
PostgreSQL cluster (tests/postgres.py) started for this module; HAProxy (Debian's package)
balances them, sending requests only to nodes whose ``/ready`` answers 200. Everything is
deployed through one node's API and checked through the balancer and through each node.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from deploying import build, deploy, ensure_environment, upload, wait_for_build
from packages import make_sdist
from processes import processes_mentioning

from balancer import Balancer, available
from conftest import free_port, wait_until
from postgres import Cluster

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions" / "serve_builds" / "functions"
# Every node serves a change within this long (issue 12: 1 s at p99).
CONVERGE = 1.0
NODES = 3
# Nodes poll the change feed this often when no notification wakes them (the default).
SETTINGS = {
    "CALLBOX_CHANGE_POLL_INTERVAL": "0.5",
    "CALLBOX_ACCESS_LOG": "off",
    "CALLBOX_NODE_TIMEOUT": "4",
    # As docs/deploy.md says: the balancer's forwarded headers are believed.
    "CALLBOX_TRUSTED_PROXIES": "127.0.0.1",
}

# CI installs HAProxy (.ci/run): there a missing one fails the tests instead of skipping them.
pytestmark = pytest.mark.skipif(
    not available() and not os.environ.get("CI"),
    reason="HAProxy is not installed (apt-get install haproxy)",
)


def source(name: str) -> bytes:
    return (FUNCTIONS / f"{name}.py").read_bytes()


VARIABLE_FUNCTION = b"""\
def handler(context, event, callback):
    return callback(None, getattr(context, "GREETING", "unset"))
"""


class Cluster3:
    def __init__(self, servers, postgres: Cluster, nodes: list, balancer: Balancer) -> None:
        self.servers = servers
        self.postgres = postgres
        self.nodes = nodes
        self.balancer = balancer

    def restart(self, index: int, env: dict[str, str] | None = None):
        """Start node ``index`` again on its data folder and port (after it was killed)."""
        old = self.nodes[index]
        self.nodes[index] = self.servers.serve(
            data=old.data, port=old.port, env={**self.env, **(env or {})}
        )
        return self.nodes[index]

    env: dict[str, str] = {}


@pytest.fixture(scope="module")
def cluster(module_servers, tmp_path_factory) -> Iterator[Cluster3]:
    postgres = Cluster()
    url = postgres.database()
    # One secret key for all: each node opens the secrets the others sealed (docs/deploy.md).
    key = Fernet.generate_key().decode()
    env = {**SETTINGS, "CALLBOX_DATABASE_URL": url, "CALLBOX_SECRET_KEY": key}
    nodes = [module_servers.serve(env=env) for _ in range(NODES)]
    front = Balancer(tmp_path_factory.mktemp("haproxy"), free_port(), [node.port for node in nodes])
    made = Cluster3(module_servers, postgres, nodes, front)
    made.env = env
    try:
        # Ready once the balancer passes a request on (its health checks found a node).
        assert wait_until(lambda: _health(front.url) == 200, timeout=15)
        yield made
    finally:
        front.stop()
        module_servers.stop_all()
        postgres.stop()


def _health(url: str) -> int:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code
    except httpx.HTTPError:
        return 0


def answer(base_url: str, domain: str, path: str, **params: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, headers={"Host": domain}, timeout=10) as client:
        return client.get(path, params=params)


def everywhere(cluster: Cluster3, domain: str, path: str) -> list[tuple[int, str]]:
    """(status, body) from each node directly, then through the balancer (twice: two nodes)."""
    urls = [node.base_url for node in cluster.nodes] + [cluster.balancer.url] * 2
    found = []
    for url in urls:
        try:
            response = answer(url, domain, path)
            found.append((response.status_code, response.text))
        except httpx.HTTPError as exc:
            found.append((0, repr(exc)))
    return found


def converged(cluster: Cluster3, domain: str, path: str, expected) -> float:
    """Seconds until every node (and the balancer) answers as ``expected`` says, polling; the
    test fails if that takes longer than CONVERGE plus the time one round of checks takes."""
    started = time.monotonic()
    seen: list[tuple[int, str]] = []
    while time.monotonic() - started < CONVERGE + 2:
        round_started = time.monotonic()
        seen = everywhere(cluster, domain, path)
        if all(expected(status, body) for status, body in seen):
            # Counted from the round that first saw them all right: before it some were not.
            return round_started - started
        time.sleep(0.02)
    logs = "\n".join(
        f"--- node {n} ---\n" + "\n".join(node.stderr_lines()[-30:])
        for n, node in enumerate(cluster.nodes, 1)
    )
    raise AssertionError(f"not every node serves it after {CONVERGE + 2} s: {seen}\n{logs}")


def test_a_deployment_through_one_node_is_served_by_every_node(cluster):
    one, two, three = cluster.nodes
    first = deploy(one, {"/which": (source("which_build"), "public")}, service="spread")
    domain = first["domain"]
    took = converged(cluster, domain, "/which", lambda s, b: s == 200 and first["build_sid"] in b)
    assert took <= CONVERGE

    # Redeployed through another node: every node moves to the new build.
    second = deploy(two, {"/which": (source("which_build"), "public")}, service="spread")
    assert second["build_sid"] != first["build_sid"]
    took = converged(cluster, domain, "/which", lambda s, b: s == 200 and second["build_sid"] in b)
    assert took <= CONVERGE
    # The build's files reached the other nodes through the database, not a shared folder.
    for node in (one, three):
        assert (node.data / "builds" / second["build_sid"]).is_dir()


def test_new_and_deleted_functions_environments_and_services_everywhere(cluster):
    one, two, three = cluster.nodes
    deployed = deploy(
        three, {"/which": (source("which_build"), "public")}, service="reshape", suffix="prod"
    )
    domain = deployed["domain"]
    converged(cluster, domain, "/which", lambda s, b: s == 200)
    # A build with /greeting and without /which, deployed through node 1.
    greeting = deploy(
        one, {"/greeting": (source("print_lines"), "public")}, service="reshape", suffix="prod"
    )
    assert greeting["build_sid"] != deployed["build_sid"]
    assert converged(cluster, domain, "/greeting", lambda s, b: s == 200) <= CONVERGE
    assert converged(cluster, domain, "/which", lambda s, b: s == 404) <= CONVERGE

    # The environment deleted through node 2: gone everywhere.
    env = (
        two.sdk()
        .serverless.v1.services(deployed["service_sid"])
        .environments(deployed["environment_sid"])
    )
    assert env.delete()
    assert converged(cluster, domain, "/greeting", lambda s, b: s == 404) <= CONVERGE

    # A whole service deleted through node 3: its environments are gone everywhere.
    other = deploy(one, {"/which": (source("which_build"), "public")}, service="doomed")
    converged(cluster, other["domain"], "/which", lambda s, b: s == 200)
    assert three.sdk().serverless.v1.services(other["service_sid"]).delete()
    assert converged(cluster, other["domain"], "/which", lambda s, b: s == 404) <= CONVERGE


def test_a_variable_changed_through_one_node_is_seen_by_every_node(cluster):
    one, two, three = cluster.nodes
    deployed = deploy(
        one,
        {"/greet": (VARIABLE_FUNCTION, "public")},
        service="variables",
        variables={"GREETING": "hello"},
    )
    domain = deployed["domain"]
    converged(cluster, domain, "/greet", lambda s, b: (s, b) == (200, "hello"))
    variables = (
        three.sdk()
        .serverless.v1.services(deployed["service_sid"])
        .environments(deployed["environment_sid"])
        .variables
    )
    (greeting,) = [v for v in variables.list() if v.key == "GREETING"]
    variables(greeting.sid).update(value="bonjour")
    assert converged(cluster, domain, "/greet", lambda s, b: (s, b) == (200, "bonjour")) <= CONVERGE
    variables(greeting.sid).delete()
    assert converged(cluster, domain, "/greet", lambda s, b: (s, b) == (200, "unset")) <= CONVERGE


def test_a_live_log_stream_on_one_node_gets_every_nodes_lines_in_order(cluster):
    one, two, three = cluster.nodes
    deployed = deploy(two, {"/print": (source("print_lines"), "public")}, service="logs")
    domain = deployed["domain"]
    converged(cluster, domain, "/print", lambda s, b: s == 200)
    path = (
        f"/v1/Services/{deployed['service_sid']}/Environments/"
        f"{deployed['environment_sid']}/Logs/Stream"
    )
    events: queue.Queue[str] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        try:
            with one.client.stream("GET", path, timeout=httpx.Timeout(30.0, read=10.0)) as r:
                events.put(f"status {r.status_code}")
                for line in r.iter_lines():
                    events.put(line)
                    if stop.is_set():
                        return
        except httpx.HTTPError as exc:
            events.put(f"error {exc!r}")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert events.get(timeout=10) == "status 200"
    assert events.get(timeout=10) == ": connected"

    # Lines produced on every node, one request after another (so their order is known).
    sent = []
    for n in range(12):
        node = cluster.nodes[n % NODES]
        line = f"line {n} from node {n % NODES + 1}"
        response = answer(node.base_url, domain, "/print", line=line)
        assert response.status_code == 200, response.text
        sent.append(line)
    got: list[str] = []
    deadline = time.monotonic() + 10
    while len(got) < len(sent) and time.monotonic() < deadline:
        try:
            line = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line.startswith("data:"):
            got.append(json.loads(line.removeprefix("data:"))["message"])
    stop.set()
    # Every line, each once; each node's lines in the order that node wrote them. (Across
    # nodes the stream's order is the order their batches were committed, docs/deploy.md.)
    assert sorted(got) == sorted(sent), got
    for node in range(1, NODES + 1):
        mine = [line for line in sent if line.endswith(f"node {node}")]
        assert [line for line in got if line.endswith(f"node {node}")] == mine
    answer(one.base_url, domain, "/print", line="bye")  # wakes the reader so it can end
    reader.join(10)


def test_one_node_builds_and_the_others_fail_its_build_when_it_dies(cluster, tmp_path, e2e):
    one, two, three = cluster.nodes
    # A dependency whose build backend sleeps a minute: the build stays "building".
    links = tmp_path / "links"
    make_sdist(
        links,
        "slowdep",
        "0.1",
        {
            "pyproject.toml": (
                '[build-system]\nrequires = []\nbuild-backend = "slowbackend"\n'
                'backend-path = ["."]\n\n[project]\nname = "slowdep"\nversion = "0.1"\n'
            ),
            "slowbackend.py": (
                "import time\n\ndef get_requires_for_build_wheel(config_settings=None):\n"
                "    time.sleep(60)\n    return []\n"
            ),
        },
    )
    offline = {"CALLBOX_FIND_LINKS": str(links), "CALLBOX_NO_INDEX": "1"}
    # Node 3 again, with the packages folder (node 3's builds find slowdep there).
    three.stopped_by_test = True
    three.send_stop(signal.SIGINT)
    three = cluster.restart(2, env=offline)
    deployed = deploy(three, {"/which": (source("which_build"), "public")}, service="orphan")
    service_sid = deployed["service_sid"]
    slow = build(
        three,
        service_sid,
        [deployed["versions"]["/which"]],
        dependencies=[{"name": "slowdep", "version": "0.1"}],
    )
    backend = str(three.data / "cache")

    def installing() -> list[int]:
        return [pid for pid in e2e.session_members(three.process.pid) if pid != three.process.pid]

    assert e2e.wait_until(lambda: _status(one, service_sid, slow) == "building", timeout=5)
    assert e2e.wait_until(lambda: processes_mentioning(backend), timeout=30), "uv never started"

    # kill -9 of the node alone (not its process group): its install dies with it.
    session = three.process.pid
    three.send_stop(signal.SIGKILL)
    assert e2e.wait_until(lambda: not processes_mentioning(backend), timeout=5), (
        processes_mentioning(backend)
    )
    assert e2e.wait_until(lambda: not e2e.session_members(session), timeout=5), e2e.session_members(
        session
    )
    # Another node notices that the build's node stopped and fails the build.
    started = time.monotonic()
    assert e2e.wait_until(lambda: _status(one, service_sid, slow) == "failed", timeout=20)
    failed_after = time.monotonic() - started
    body = one.client.get(f"/v1/Services/{service_sid}/Builds/{slow}").json()
    assert "stopped" in body["error"], body
    assert failed_after < 4 + 2 + 3  # node timeout, heartbeat, a margin

    # The node comes back on its data folder and serves again (the balancer includes it).
    three = cluster.restart(2)
    assert answer(three.base_url, deployed["domain"], "/which").status_code == 200
    del installing


def _status(node, service_sid: str, build_sid: str) -> str:
    response = node.client.get(f"/v1/Services/{service_sid}/Builds/{build_sid}")
    return str(response.json().get("status")) if response.status_code == 200 else ""


class Load:
    """Requests sent one after another by a few threads through the balancer, each outcome
    recorded with its time."""

    def __init__(self, url: str, domain: str, path: str, threads: int = 4) -> None:
        self.outcomes: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(url, domain, path), daemon=True)
            for _ in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, url: str, domain: str, path: str) -> None:
        with httpx.Client(base_url=url, headers={"Host": domain}, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    status = client.get(path).status_code
                except httpx.HTTPError:
                    status = 0
                with self._lock:
                    self.outcomes.append((time.monotonic(), status))

    def stop(self) -> list[tuple[float, int]]:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)
        return self.outcomes


def test_kill_9_of_a_node_under_load(cluster, e2e):
    one, two, three = cluster.nodes
    deployed = deploy(one, {"/which": (source("which_build"), "public")}, service="underload")
    domain = deployed["domain"]
    converged(cluster, domain, "/which", lambda s, b: s == 200)
    load = Load(cluster.balancer.url, domain, "/which")
    time.sleep(1.0)
    killed_at = time.monotonic()
    two.send_stop(signal.SIGKILL)
    time.sleep(2.0)
    restarted_at = time.monotonic()
    two = cluster.restart(1)
    # Back in the balancer's rotation: answered through it (its checks need a moment).
    time.sleep(1.5)
    outcomes = load.stop()
    before = [s for t, s in outcomes if t < killed_at]
    during = [s for t, s in outcomes if killed_at <= t < restarted_at]
    after = [s for t, s in outcomes if t >= restarted_at]
    assert before and during and after
    assert set(before) == {200}
    assert set(after) == {200}
    # Only requests the dead node held fail: those in flight, and those HAProxy had just passed
    # over a kept-alive connection to it (it closes the client's connection so the client may
    # send them again). Then the balancer retries connection failures and stops sending to it
    # (two checks 300 ms apart): nothing fails after the first second.
    failed = [t - killed_at for t, s in outcomes if killed_at <= t < restarted_at and s != 200]
    assert all(delay < 1.0 for delay in failed), failed
    assert len(failed) <= 3 * 4, failed  # a few per load thread at most
    assert answer(two.base_url, domain, "/which").status_code == 200


SLOW_FUNCTION = b"""\
import time


def handler(context, event, callback):
    print("started", event.get("n"))
    time.sleep(8)
    return callback(None, "ran")
"""


def in_rotation(cluster: Cluster3, wanted: dict[str, str], timeout: float = 15) -> None:
    """Wait until HAProxy's ready backend shows each node in ``wanted`` in that state."""
    assert wait_until(
        lambda: all(cluster.balancer.states().get(k) == v for k, v in wanted.items()),
        timeout=timeout,
    ), cluster.balancer.states()


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_request_in_flight_on_a_node_that_dies_is_not_run_again(cluster, method):
    one, two, three = cluster.nodes
    deployed = deploy(one, {"/slow": (SLOW_FUNCTION, "public")}, service=f"once-{method.lower()}")
    domain = deployed["domain"]
    # Only node 1 in the balancer's rotation (the others paused until its checks drop them),
    # so the request goes to node 1; then the others come back and node 1 dies mid-request.
    for node in (two, three):
        os.kill(node.process.pid, signal.SIGSTOP)
    outcome: queue.Queue[httpx.Response | Exception] = queue.Queue()
    try:
        in_rotation(cluster, {"node2": "DOWN", "node3": "DOWN"})

        def send() -> None:
            try:
                with httpx.Client(timeout=30) as client:
                    url = f"{cluster.balancer.url}/slow"
                    outcome.put(client.request(method, url, headers={"Host": domain}))
            except httpx.HTTPError as exc:
                outcome.put(exc)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        time.sleep(0.5)
    finally:
        for node in (two, three):
            os.kill(node.process.pid, signal.SIGCONT)
    in_rotation(cluster, {"node2": "UP", "node3": "UP"})
    assert sender.is_alive(), outcome.get()  # still running on node 1
    one.send_stop(signal.SIGKILL)
    sender.join(30)
    response = outcome.get(timeout=1)
    # Sent again, another node would have run it a second time and answered 200 "ran".
    assert isinstance(response, httpx.Response) and response.status_code == 502, response
    one = cluster.restart(0)
    in_rotation(cluster, {"node1": "UP"})
    assert answer(cluster.balancer.url, domain, "/health").status_code == 404  # serving again


def test_a_client_cannot_pick_an_environment_with_x_forwarded_host(cluster):
    one = cluster.nodes[0]
    mine = deploy(one, {"/which": (source("which_build"), "public")}, service="mine")
    theirs = deploy(one, {"/which": (VARIABLE_FUNCTION, "public")}, service="theirs")
    converged(cluster, mine["domain"], "/which", lambda s, b: s == 200)
    converged(cluster, theirs["domain"], "/which", lambda s, b: s == 200)
    with httpx.Client(base_url=cluster.balancer.url, timeout=10) as client:
        headers = {"Host": mine["domain"], "X-Forwarded-Host": theirs["domain"]}
        response = client.get("/which", headers=headers)
        assert response.status_code == 200 and mine["build_sid"] in response.text
        # Nor the API's own URLs.
        api = client.get(
            "/v1/Services",
            headers={"Host": "127.0.0.1", "X-Forwarded-Host": "evil.example"},
            auth=one.client.auth,
        )
        assert api.status_code == 200 and "evil.example" not in api.text


def test_postgresql_stopped_and_restarted_under_load(cluster, e2e):
    one, two, three = cluster.nodes
    deployed = deploy(one, {"/which": (source("which_build"), "public")}, service="dbaway")
    domain = deployed["domain"]
    converged(cluster, domain, "/which", lambda s, b: s == 200)
    # An environment no request reaches after a change to it: every node has dropped its
    # cached lookup when the database goes, and serves what it last knew.
    quiet = deploy(
        one,
        {"/greet": (VARIABLE_FUNCTION, "public")},
        service="quiet",
        variables={"GREETING": "hello"},
    )
    converged(cluster, quiet["domain"], "/greet", lambda s, b: (s, b) == (200, "hello"))
    (
        two.sdk()
        .serverless.v1.services(quiet["service_sid"])
        .environments(quiet["environment_sid"])
        .variables.create(key="OTHER", value="x")
    )
    load = Load(cluster.balancer.url, domain, "/which")
    time.sleep(1.0)  # every node has heard of the change (tested at 1 s above)
    cluster.postgres.checkpoint()  # the test server commits asynchronously: keep the deployment
    cluster.postgres.halt()
    try:
        halted_at = time.monotonic()
        # The API says the database is away: 503 with a Twilio error body, not a traceback.
        response = one.client.get("/v1/Services", timeout=15)
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == 503 and body["code"] == 20503, body
        assert response.headers["Retry-After"]
        ready = one.client.get("/ready", timeout=15)
        assert ready.status_code == 503
        # Each node directly (the balancer takes not-ready nodes out; directly, they serve).
        for node in cluster.nodes:
            assert answer(node.base_url, domain, "/which").status_code == 200
            last_known = answer(node.base_url, quiet["domain"], "/greet")
            assert (last_known.status_code, last_known.text) == (200, "hello")
        time.sleep(1.0)
    finally:
        cluster.postgres.resume()
    resumed_at = time.monotonic()
    assert e2e.wait_until(lambda: one.client.get("/v1/Services").status_code == 200, timeout=20)
    time.sleep(1.0)
    outcomes = load.stop()
    # Served throughout, through the balancer: while no node was ready it used the live ones.
    assert set(s for _, s in outcomes) == {200}, [o for o in outcomes if o[1] != 200][:10]
    assert [t for t, _ in outcomes if halted_at < t < resumed_at]
    # And everything works again: a new deployment reaches every node.
    again = deploy(two, {"/which": (source("which_build"), "public")}, service="dbaway")
    converged(cluster, domain, "/which", lambda s, b: s == 200 and again["build_sid"] in b)


def test_a_fresh_node_serves_what_is_deployed(cluster):
    one = cluster.nodes[0]
    deployed = deploy(one, {"/which": (source("which_build"), "public")}, service="fresh")
    # A fourth node with an empty data folder: everything comes from the database.
    fourth = cluster.servers.serve(env=cluster.env)
    try:
        response = answer(fourth.base_url, deployed["domain"], "/which")
        assert response.status_code == 200, response.text
        assert response.text.startswith(deployed["build_sid"])
        assert (fourth.data / "builds" / deployed["build_sid"]).is_dir()
        assert fourth.send_stop(signal.SIGINT) == -signal.SIGINT, fourth.output()
    finally:
        fourth.stopped_by_test = True


def test_a_node_with_another_secret_key_refuses_to_start(cluster, callbox_cli, tmp_path):
    wrong = {**cluster.env, "CALLBOX_SECRET_KEY": Fernet.generate_key().decode()}
    result = callbox_cli(
        ["serve", "--data", str(tmp_path / "data"), "--port", "0"], env=wrong, timeout=60
    )
    assert result.returncode == 1, result
    assert "secret key cannot open the secrets in the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_health_and_ready(cluster):
    for node in cluster.nodes:
        assert node.client.get("/health").json() == {"status": "ok"}
        assert node.client.get("/ready").json() == {"status": "ready"}
        # Its name, as the nodes table and the build claims use it, is on its output.
        (named,) = [line for line in node.stdout_lines() if line.startswith("This node is ")]
        name = (node.data / "node-name").read_text().strip()
        database = cluster.env["CALLBOX_DATABASE_URL"]
        assert named == f"This node is {name} (database: {database})"


del ensure_environment, upload, wait_for_build
