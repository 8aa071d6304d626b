"""``callbox logs`` against a real ``callbox serve``: the recent lines (format, order, filter,
JSON), ``--tail`` in a real process (a new invocation's line shows up; Ctrl+C ends it cleanly),
and the stream follower's reconnect (no gap, no duplicate)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from callbox.toolkit.logstream import Follower

LINE = re.compile(r"^\[(INFO|WARN|ERROR)\]\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\]: (.*)$")


def write_project(root: Path) -> Path:
    (root / "functions").mkdir(parents=True)
    (root / "functions" / "echo.py").write_text(
        "def handler(context, event, callback):\n"
        '    print(event.get("n", "line"))\n'
        '    callback(None, "ok")\n'
    )
    (root / "functions" / "other.py").write_text(
        "def handler(context, event, callback):\n"
        '    print("other line")\n'
        '    callback(None, "ok")\n'
    )
    return root


@pytest.fixture(scope="module")
def deployed(toolkit: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    project = write_project(tmp_path_factory.mktemp("logs") / "logs-project")
    info = toolkit.deploy(project)
    listed = toolkit.run("list", "functions", "-o", "json", cwd=project)
    functions = {f["path"]: f["function_sid"] for f in json.loads(listed.stdout)["functions"]}
    with toolkit.server.environment(info["domain"]) as web:
        yield {**info, "project": project, "function_sids": functions, "web": web}


def tag() -> str:
    return uuid.uuid4().hex[:8]


def invoke(deployed: dict[str, Any], *messages: str) -> None:
    for message in messages:
        assert deployed["web"].get("/echo", params={"n": message}).text == "ok"


def json_lines(toolkit: Any, deployed: dict[str, Any], *args: str) -> list[dict[str, Any]]:
    result = toolkit.run("logs", *args, "-o", "json", cwd=deployed["project"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def wait_for_messages(toolkit: Any, deployed: dict[str, Any], e2e: Any, *wanted: str) -> None:
    """Lines reach the database in batches (every 0.1 s): wait until the list shows them."""

    def there() -> bool:
        messages = {item["message"] for item in json_lines(toolkit, deployed)}
        return set(wanted) <= messages

    assert e2e.wait_until(there, timeout=10.0, interval=0.1), f"no log lines {wanted}"


def test_recent_lines_oldest_first(toolkit: Any, deployed: dict[str, Any], e2e: Any) -> None:
    t = tag()
    invoke(deployed, f"{t}-1", f"{t}-2", f"{t}-3")
    wait_for_messages(toolkit, deployed, e2e, f"{t}-3")
    result = toolkit.run("logs", cwd=deployed["project"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    mine = [m.group(2) for line in lines if (m := LINE.match(line)) and t in line]
    assert mine == [f"{t}-1", f"{t}-2", f"{t}-3"]
    assert "[INFO]" in lines[-1]


def test_json_lines(toolkit: Any, deployed: dict[str, Any], e2e: Any) -> None:
    t = tag()
    invoke(deployed, t)
    wait_for_messages(toolkit, deployed, e2e, t)
    items = json_lines(toolkit, deployed)
    [mine] = [item for item in items if item["message"] == t]
    assert mine["sid"].startswith("NO") and mine["level"] == "INFO"
    assert mine["function_sid"] == deployed["function_sids"]["/echo"]
    assert mine["environment_sid"] == deployed["environmentSid"]


def test_function_filter_by_sid_or_path(toolkit: Any, deployed: dict[str, Any], e2e: Any) -> None:
    t = tag()
    invoke(deployed, t)
    assert deployed["web"].get("/other").text == "ok"
    wait_for_messages(toolkit, deployed, e2e, t, "other line")
    echo = deployed["function_sids"]["/echo"]
    by_sid = json_lines(toolkit, deployed, "--function-sid", echo)
    assert t in [item["message"] for item in by_sid]
    assert {item["function_sid"] for item in by_sid} == {echo}
    by_path = json_lines(toolkit, deployed, "--function-sid", "/other")
    assert {item["message"] for item in by_path} == {"other line"}
    assert json_lines(toolkit, deployed, "--function-sid", "other") == by_path
    missing = toolkit.run("logs", "--function-sid", "/nope", cwd=deployed["project"])
    assert missing.exit_code == 1
    assert "has no function at path /nope" in missing.stderr


def test_production_wins_over_environment(toolkit: Any, deployed: dict[str, Any]) -> None:
    # Spec case 74: --production means '' even with --environment given (none deployed here).
    result = toolkit.run("logs", "--environment", "dev", "--production", cwd=deployed["project"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Could not find environment production in service")
    assert toolkit.run("logs", "--environment", "dev", cwd=deployed["project"]).exit_code == 0


def test_an_unknown_environment_is_one_line(toolkit: Any, deployed: dict[str, Any]) -> None:
    missing = toolkit.run("logs", "--environment", "nope", cwd=deployed["project"])
    assert missing.exit_code == 1
    assert missing.stderr.strip().splitlines() == [
        f'Error: Could not find environment "nope" in service {deployed["serviceSid"]}: check '
        "--environment (a domain suffix or ZE... SID) or --production, or deploy to it first."
    ]


class _CutAfter(httpx.SyncByteStream):
    """A response body that counts its log events, and drops the connection after
    ``events`` of them (None: never)."""

    def __init__(self, inner: Any, events: int | None) -> None:
        self.inner = inner
        self.events = events
        self.messages: list[str] = []

    def __iter__(self) -> Iterator[bytes]:
        buffer = b""
        for chunk in self.inner:
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                yield block + b"\n\n"
                if b"event: log" in block:
                    data = block.split(b"data: ", 1)[1]
                    self.messages.append(json.loads(data)["message"])
                if len(self.messages) == self.events:
                    raise httpx.ReadError("connection dropped by the test")

    def close(self) -> None:
        self.inner.close()


class _DropFirstConnection(httpx.BaseTransport):
    """Cuts the first stream; on the next, forgets Last-Event-ID and asks to replay from
    ``since`` instead, so the server sends lines again and the client must drop them."""

    def __init__(self, since: str) -> None:
        self.inner = httpx.HTTPTransport()
        self.since = since
        self.sent: list[httpx.Request] = []
        self.streams: list[_CutAfter] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if len(self.sent) > 1:
            headers = {k: v for k, v in request.headers.items() if k != "last-event-id"}
            url = request.url.copy_set_param("Since", self.since)
            request = httpx.Request(request.method, url, headers=headers)
        response = self.inner.handle_request(request)
        stream = _CutAfter(response.stream, 2 if len(self.sent) == 1 else None)
        self.streams.append(stream)
        response.stream = stream
        return response

    def close(self) -> None:
        self.inner.close()


def test_follower_reconnects_without_gap_or_duplicate(
    toolkit: Any, deployed: dict[str, Any], e2e: Any
) -> None:
    t = tag()
    since = (datetime.now(UTC) - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    invoke(deployed, f"{t}-1", f"{t}-2", f"{t}-3")
    wait_for_messages(toolkit, deployed, e2e, f"{t}-3")
    server = toolkit.server
    transport = _DropFirstConnection(since)
    http = httpx.Client(
        base_url=server.base_url,
        auth=(server.account_sid, server.auth_token),
        transport=transport,
    )
    got: list[dict[str, Any]] = []
    follower = Follower(
        http,
        f"/v1/Services/{deployed['serviceSid']}/Environments/{deployed['environmentSid']}"
        "/Logs/Stream",
        emit=got.append,
        since=since,
        function_sid=deployed["function_sids"]["/echo"],
        retry_delay=0.05,
    )

    def emit(item: dict[str, Any]) -> None:
        got.append(item)
        if item["message"] == f"{t}-4":
            follower.stop()

    follower.emit = emit
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    try:
        assert e2e.wait_until(lambda: follower.connections == 2, timeout=10.0)
        invoke(deployed, f"{t}-4")  # a live line, after the reconnect
        thread.join(15.0)
        assert not thread.is_alive(), [item["message"] for item in got]
    finally:
        follower.stop()
        http.close()
    mine = [item["message"] for item in got if item["message"].startswith(t)]
    assert mine == [f"{t}-1", f"{t}-2", f"{t}-3", f"{t}-4"]
    sids = [item["sid"] for item in got]
    assert len(sids) == len(set(sids))
    # The server did send the first two lines again (replay from Since): the client dropped them.
    first, second = transport.streams
    assert len(first.messages) == 2
    assert second.messages[:2] == first.messages
    # The reconnect asked for what followed the last line received.
    assert transport.sent[1].headers["last-event-id"] == got[1]["sid"]


def test_tail_in_a_real_process(toolkit: Any, deployed: dict[str, Any], e2e: Any) -> None:
    t = tag()
    invoke(deployed, f"{t}-old")
    wait_for_messages(toolkit, deployed, e2e, f"{t}-old")
    with toolkit.tail("logs", "--tail", cwd=deployed["project"]) as tail:
        assert e2e.wait_until(lambda: any(f"{t}-old" in line for line in tail.lines), timeout=15.0)
        invoke(deployed, f"{t}-new")
        assert e2e.wait_until(lambda: any(f"{t}-new" in line for line in tail.lines), timeout=10.0)
        assert tail.stop() == 0  # Ctrl+C ends a tail: not an error
    assert "Traceback" not in tail.stderr, tail.stderr
    mine = [match.group(2) for line in tail.lines if t in line and (match := LINE.match(line))]
    assert mine == [f"{t}-old", f"{t}-new"]
