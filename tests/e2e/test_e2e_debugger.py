"""Failures you can see, on a real ``callbox serve``: every failed invocation leaves an ERROR
line and alerts (the Debugger, through the official SDK's Monitor client), alerts group by
URL and by error code, the Debugger webhook is signed and retried, every request has an access
log line, and /metrics counts it all. ``callbox start`` prints each failure with its traceback.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from deploying import deploy
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions" / "debugger" / "functions"
TOKEN = "metrics-" + "t" * 24
ENV = {
    "CALLBOX_EXECUTION_TIMEOUT": "1",
    "CALLBOX_MEMORY_LIMIT_MB": "96",
    "CALLBOX_METRICS": "token",
    "CALLBOX_METRICS_TOKEN": TOKEN,
    "CALLBOX_WEBHOOK_RETRY_DELAYS": "0.2,0.2",
}
# What each function does, and what must show: (status, words of its ERROR line, alert codes).
FAILURES = {
    "/raise": (500, ["KeyError", "lookup", "functions/raise.py"], {"82005", "82002"}),
    "/error": (500, ["the order service said no"], {"82005", "82002"}),
    "/slow": (504, ["runtime application timed out"], {"82005", "82002"}),
    "/memory": (500, ["out of memory", "96 MB"], {"82005", "82002"}),
    "/crash": (500, ["exited unexpectedly", "exit code 7"], {"82005", "82002"}),
    "/big": (500, ["responses may be at most 4 MB"], {"82005", "82002"}),
    "/bad-header": (500, ["'Bad Name' is not valid"], {"82005", "82002"}),
    "/long-headers": (431, ["Response headers or cookies too long"], {"82005", "82008"}),
}


def source(name: str) -> bytes:
    return (FUNCTIONS / f"{name}.py").read_bytes()


class Receiver:
    """A Debugger webhook receiver: refuses the first ``failures`` posts, records the rest."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                post = {
                    "fields": dict(parse_qsl(body, keep_blank_values=True)),
                    "signature": self.headers.get("X-Twilio-Signature"),
                }
                receiver.attempts.append(post)
                refuse = len(receiver.attempts) <= receiver.failures
                if not refuse:
                    receiver.accepted.append(post)
                self.send_response(500 if refuse else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/debugger"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def lab(module_servers):
    receiver = Receiver(failures=2)
    server = module_servers.serve(env=ENV)
    # The webhook first: the alerts of everything below are posted to it.
    answer = server.client.post("/monitor/v1/Webhook", data={"Url": receiver.url})
    assert answer.status_code == 200, answer.text
    files = {f"/{f.stem}": (f.read_bytes(), "public") for f in FUNCTIONS.glob("*.py")}
    deployed = deploy(server, files, service="debugger")
    seen: dict[str, httpx.Response] = {}
    with server.environment(deployed["domain"]) as env:
        for path in [*FAILURES, "/warn", "/ok"]:
            seen[path] = env.get(path)
    yield server, deployed, seen, receiver
    receiver.close()


def test_every_failure_answers_as_documented(lab) -> None:
    _, _, seen, _ = lab
    for path, (status, _, _) in FAILURES.items():
        assert seen[path].status_code == status, (path, seen[path].text)
    assert seen["/ok"].status_code == 200 and seen["/warn"].text == "warned"


def test_every_failure_leaves_an_error_line_in_the_logs(lab) -> None:
    server, deployed, _, _ = lab
    environment = (
        server.sdk()
        .serverless.v1.services(deployed["service_sid"])
        .environments(deployed["environment_sid"])
    )
    deadline = time.monotonic() + 5
    while True:
        lines = environment.logs.list(limit=500)
        errors = [line.message for line in lines if line.level == "ERROR"]
        if all(any(f"{path} failed" in e for e in errors) for path in FAILURES):
            break
        assert time.monotonic() < deadline, errors
        time.sleep(0.1)
    for path, (_, words, _) in FAILURES.items():
        line = next(e for e in errors if e.startswith(f"{path} failed"))
        for word in words:
            assert word in line, (path, line)
    warns = [line.message for line in lines if line.level == "WARN"]
    assert "stock is low for tea" in warns
    assert any("UserWarning: this API is deprecated" in w for w in warns)  # not ERROR


def alerts_of(server, **filters: Any) -> list[Any]:
    client = server.sdk()
    client.monitor.base_url = f"{server.base_url}/monitor"
    return list(client.monitor.v1.alerts.list(**filters))


def test_the_debugger_lists_alerts_through_the_official_sdk(lab) -> None:
    server, deployed, _, _ = lab
    deadline = time.monotonic() + 5
    while len(alerts_of(server, log_level="error")) < 2 * len(FAILURES):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    errors = alerts_of(server, log_level="error")
    for path, (_, _, codes) in FAILURES.items():
        mine = [a for a in errors if a.request_url and a.request_url.split("?")[0].endswith(path)]
        assert {a.error_code for a in mine} == codes, path
        failed = next(a for a in mine if a.error_code in ("82002", "82008"))
        assert failed.service_sid == deployed["service_sid"]
        assert failed.request_method == "GET"
        assert failed.request_url.startswith(f"http://{deployed['domain']}")
        assert failed.more_info == f"https://www.twilio.com/docs/errors/{failed.error_code}"
    warnings = alerts_of(server, log_level="warning")
    assert {a.error_code for a in warnings} == {"82004"} and len(warnings) == 2
    one = errors[0]
    client = server.sdk()
    client.monitor.base_url = f"{server.base_url}/monitor"
    fetched = client.monitor.v1.alerts(one.sid).fetch()
    assert (fetched.sid, fetched.alert_text) == (one.sid, one.alert_text)
    # Newest first, and a date window narrows them.
    dates = [a.date_created for a in errors]
    assert dates == sorted(dates, reverse=True)
    assert alerts_of(server, start_date=dates[0], log_level="error")[0].sid == errors[0].sid


def test_alerts_are_searchable_and_grouped(lab) -> None:
    server, _, _, _ = lab
    found = server.client.get("/monitor/v1/Alerts", params={"Search": "ORDER service"}).json()
    texts = [a["alert_text"] for a in found["alerts"]]
    assert texts and all("order service" in t.lower() for t in texts)
    by_code = server.client.get("/monitor/v1/Alerts/Grouped", params={"By": "error_code"}).json()
    counts = {g["key"]: g["count"] for g in by_code["groups"]}
    assert counts["82002"] == 7 and counts["82008"] == 1 and counts["82004"] == 2
    assert counts["82005"] == len(FAILURES)
    by_url = server.client.get("/monitor/v1/Alerts/Grouped", params={"By": "url"}).json()
    raise_group = next(g for g in by_url["groups"] if g["key"] and g["key"].endswith("/raise"))
    assert raise_group["count"] == 2 and raise_group["error_codes"] == "82002,82005"
    assert raise_group["log_level"] == "error" and raise_group["last_occurrence"]
    bad = server.client.get("/monitor/v1/Alerts/Grouped", params={"By": "color"})
    assert bad.status_code == 400


def test_another_account_sees_none_of_them(lab) -> None:
    server, _, _, _ = lab
    created = server.client.post("/2010-04-01/Accounts.json", data={"FriendlyName": "other"})
    other = created.json()
    answer = httpx.get(
        f"{server.base_url}/monitor/v1/Alerts", auth=(other["sid"], other["auth_token"])
    )
    assert answer.status_code == 200 and answer.json()["alerts"] == []


def test_the_webhook_is_signed_and_retried(lab) -> None:
    server, _, _, receiver = lab
    deadline = time.monotonic() + 10
    total = 2 * len(FAILURES) + 2
    while len(receiver.accepted) < total:
        assert time.monotonic() < deadline, (len(receiver.accepted), total)
        time.sleep(0.1)
    assert len(receiver.attempts) == total + 2  # the two refused posts were tried again
    validator = RequestValidator(server.auth_token)
    for post in receiver.accepted:
        assert validator.validate(receiver.url, post["fields"], post["signature"])
        assert post["fields"]["AccountSid"] == server.account_sid
        assert post["fields"]["Level"] in ("Error", "Warning")
    codes = sorted(p["fields"]["Payload"].split('"error_code":"')[1][:5] for p in receiver.accepted)
    assert codes.count("82002") == 7 and codes.count("82004") == 2


ACCESS = re.compile(
    r'^(\S+) - - \[[^\]]+\] "(GET|POST|DELETE) (\S+) HTTP/[\d.]+" (\d{3}) (\d+) "([^"]*)" '
    r"([\d.]+) (RQ[0-9a-f]{32}|-)$"
)


def test_every_request_has_an_access_log_line(lab) -> None:
    server, deployed, _, _ = lab
    deadline = time.monotonic() + 3
    while True:
        lines = [m for line in server.stdout_lines() if (m := ACCESS.match(line))]
        functions = [m for m in lines if m.group(6).startswith(deployed["domain"])]
        if len(functions) >= len(FAILURES) + 2:
            break
        assert time.monotonic() < deadline, server.stdout_lines()[-5:]
        time.sleep(0.1)
    slow = next(m for m in functions if m.group(3) == "/slow")
    assert slow.group(4) == "504" and slow.group(8).startswith("RQ")
    assert float(slow.group(7)) >= 900  # milliseconds: the 1 s limit
    api = [m for m in lines if m.group(3).startswith("/v1/Services")]
    assert api and all(m.group(8) == "-" for m in api)


def metric(families: dict[str, Any], name: str, **labels: str) -> float:
    family = families[name]
    return sum(
        s.value
        for s in family.samples
        if s.name.endswith("_total") or s.name == name
        if all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_count_it_all_behind_a_token(lab) -> None:
    server, deployed, _, _ = lab
    assert httpx.get(f"{server.base_url}/metrics").status_code == 401
    wrong = httpx.get(f"{server.base_url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    answer = httpx.get(f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    service = deployed["service_sid"]
    assert metric(families, "callbox_invocations", service=service, status="5xx") == 7
    assert metric(families, "callbox_invocations", service=service, status="4xx") == 1
    assert metric(families, "callbox_invocations", service=service, status="2xx") == 2
    assert metric(families, "callbox_gateway_responses", code="504") == 1
    assert metric(families, "callbox_builds", status="completed") >= 1
    assert metric(families, "callbox_worker_starts", runtime="python") >= 3  # crash, memory...
    duration = families["callbox_invocation_duration_seconds"]
    assert any(
        s.name.endswith("_count") and s.labels["function"] == "/slow" for s in duration.samples
    )
    assert "callbox_log_stream_subscribers" in families and "callbox_workers" in families


def test_metrics_are_off_unless_asked_for(servers) -> None:
    server = servers.serve(env={"CALLBOX_ACCESS_LOG": "off"})
    assert httpx.get(f"{server.base_url}/metrics").status_code == 404
    server.client.get("/v1/Services")
    time.sleep(0.5)
    assert not [line for line in server.stdout_lines() if ACCESS.match(line)]  # log off


def test_callbox_start_prints_each_failure_with_its_traceback(servers) -> None:
    server = servers.start("debugger", env={"CALLBOX_EXECUTION_TIMEOUT": "1"})
    mark = server.mark()
    assert server.client.get("/raise").status_code == 500
    line = server.wait_for_line(r"\[ERROR\] /raise: /raise failed: Traceback", since=mark)
    assert line
    server.wait_for_line(r'File "functions/raise.py", line \d+, in lookup', since=mark)
    server.wait_for_line(r"KeyError: 'missing-key'", since=mark)
    mark = server.mark()
    assert server.client.get("/slow").status_code == 504
    server.wait_for_line(
        r"\[ERROR\] /slow: /slow failed: runtime application timed out", since=mark
    )
    mark = server.mark()
    server.client.get("/warn")
    server.wait_for_line(r"\[WARN\] /warn: UserWarning: this API is deprecated", since=mark)


def test_callbox_debugger_groups_and_lists_them(lab, tmp_path, callbox_cli) -> None:
    run_callbox = callbox_cli  # a real `python -m callbox` process
    server, deployed, _, _ = lab
    auth = ["--url", server.base_url, "-u", server.account_sid, "--password", server.auth_token]
    grouped = run_callbox(
        ["debugger", *auth, "--group-by", "error_code", "-o", "json"], cwd=tmp_path
    )
    assert grouped.returncode == 0, grouped.stderr
    counts = {group["key"]: group["count"] for group in json.loads(grouped.stdout)}
    assert counts["82002"] == 7 and counts["82004"] == 2
    table = run_callbox(["debugger", *auth], cwd=tmp_path)  # by URL, as a table
    assert table.returncode == 0, table.stderr
    assert "KEY" in table.stdout.upper() and f"{deployed['domain']}" in table.stdout
    assert "/raise" in table.stdout
    listed = run_callbox(
        ["debugger", *auth, "--group-by", "none", "--search", "order service", "-o", "json"],
        cwd=tmp_path,
    )
    alerts = json.loads(listed.stdout)
    assert alerts and all("order service" in a["alert_text"] for a in alerts)
    other = run_callbox(
        ["debugger", *auth, "--service-sid", "ZS" + "0" * 32, "-o", "json"], cwd=tmp_path
    )
    assert other.returncode == 0 and json.loads(other.stdout) == []


JS_THROW = b"""exports.handler = (context, event, callback) => {
  const order = undefined;
  callback(null, order.total); // TypeError
};
"""


def test_a_javascript_failure_is_in_the_logs_and_the_debugger_too(lab) -> None:
    server, _, _, _ = lab
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    runtime = f"node{min(22, int(version.strip().lstrip('v').split('.')[0]))}"
    deployed = deploy(
        server, {"/total": (JS_THROW, "public")}, service="debugger-js", runtime=runtime
    )
    with server.environment(deployed["domain"]) as env:
        assert env.get("/total").status_code == 500
    deadline = time.monotonic() + 5
    while True:
        mine = [
            a
            for a in alerts_of(server, log_level="error")
            if a.service_sid == deployed["service_sid"]
        ]
        if len(mine) >= 2:
            break
        assert time.monotonic() < deadline, mine
        time.sleep(0.1)
    assert {a.error_code for a in mine} == {"82002", "82005"}
    line = next(a.alert_text for a in mine if a.error_code == "82005")
    assert line.startswith("/total failed: TypeError") and "functions/total.js" in line
