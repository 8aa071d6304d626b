"""The function contract, the same for both workers: each test starts the real Python or Node.js
worker process (``harness.py``: fd 3 a socketpair, fd 4 the spec), sends the same invoke frames
and expects the same result frames. The sample functions are twins in
tests/functions/worker_contract/{python,node}/functions/; node/functions/node-only/ holds what
only JavaScript can do (uncaught exceptions, unhandled rejections, require)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from harness import EXTENSIONS, WorkerProcess, build_spec, frame_problems

from callbox.worker.protocol import MAX_HEADER_BYTES

ROOT = Path(__file__).resolve().parents[1] / "functions" / "worker_contract"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"
XML = "text/xml; charset=utf-8"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f" * 32
Start = Callable[..., WorkerProcess]

node_only = pytest.mark.parametrize("runtime", ["node"], indirect=True)


@pytest.fixture(scope="module", params=["python", "node"])
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def start(runtime: str, request: pytest.FixtureRequest) -> Iterator[Start]:
    """Start a worker of this runtime on the sample project (spec settings as keywords)."""
    folders = [str(ROOT / runtime / "site")]
    if runtime == "node":
        folders.append(str(request.getfixturevalue("node_modules")))
    workers: list[WorkerProcess] = []

    def start(**settings: Any) -> WorkerProcess:
        settings.setdefault("site_packages", folders)
        worker = WorkerProcess(runtime, build_spec(ROOT / runtime, runtime, **settings))
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.close()


@pytest.fixture(scope="module")
def worker(start: Start) -> WorkerProcess:
    """One worker per runtime for the tests that leave it as they found it."""
    return start()


def raw_frame(header: bytes) -> bytes:
    """A frame built by hand, so a header can break the contract."""
    return struct.pack(">II", len(header), 0) + header


def body_json(frame: tuple[dict[str, Any], bytes]) -> Any:
    header, body = frame
    assert header["headers"][-1] == ["Content-Type", JSON], header
    return json.loads(body)


def error_of(frame: tuple[dict[str, Any], bytes]) -> dict[str, Any]:
    header, body = frame
    assert header["status"] == 500, (header, body)
    assert header["headers"] == [["Content-Type", JSON]]
    error: dict[str, Any] = json.loads(body)
    return error


def lines(header: dict[str, Any]) -> list[tuple[str, str]]:
    return [(line["level"], line["message"]) for line in header["logs"]]


def quiet_for(worker: WorkerProcess, invocation_id: str, seconds: float) -> list[dict[str, Any]]:
    """The frames of an invocation after waiting ``seconds`` for anything more to arrive."""
    time.sleep(seconds)
    return worker.frames_of(invocation_id)


def test_both_runtimes_have_the_same_sample_functions() -> None:
    def routes(runtime: str) -> set[str]:
        spec = build_spec(ROOT / runtime, runtime)
        return {path for path in spec["functions"] if not path.startswith("/node-only/")}

    assert routes("python") == routes("node")
    assert len(routes("python")) > 40


# -- the worker process ---------------------------------------------------------------------


def test_hello_is_the_first_frame(runtime: str, start: Start) -> None:
    worker = start()
    assert worker.frames[0][0] == {
        "type": "hello",
        "worker_id": worker.spec["worker_id"],
        "pid": worker.pid,
        "runtime": runtime,
    }


def test_the_worker_exits_when_the_gateway_closes_its_socket(start: Start) -> None:
    worker = start()
    assert worker.invoke("/text")[1] == b"Hello, text"
    assert worker.close() == 0


# -- the frames themselves (frames.py) --------------------------------------------------------


def test_the_frame_checker_finds_what_breaks_the_contract() -> None:
    """The checker every frame passes through (harness.frame_problems) does catch mistakes."""
    good = {"type": "cancelled", "id": "RQ1", "logs": [], "thread_running": False}
    assert frame_problems(good) == []
    assert frame_problems({**good, "thread_running": None, "extra": 1}) == [
        "cancelled: unexpected field 'extra'",
        "cancelled.thread_running: expected bool, found None",
    ]
    assert frame_problems({"type": "hello", "worker_id": "w", "pid": "1", "runtime": "go"}) == [
        "hello.pid: expected int, found '1'",
        "hello.runtime: 'go' is not one of ('python', 'node')",
    ]
    line = {"level": "DEBUG", "message": "m", "time": 1}
    assert frame_problems({"type": "cancelled", "id": "RQ1", "logs": [line]}) == [
        "cancelled.logs[0].level: 'DEBUG' is not one of ('INFO', 'WARN', 'ERROR')",
        "cancelled: missing field 'thread_running'",
    ]
    assert frame_problems({"type": "invoke"}) == ["unknown frame type 'invoke'"]


def test_a_frame_of_an_unknown_type_is_ignored(worker: WorkerProcess) -> None:
    worker.send({"type": "future-kind", "id": "RQunknown", "whatever": [1, 2]})
    assert worker.invoke("/text")[1] == b"Hello, text"
    assert worker.frames_of("RQunknown") == []


def test_a_body_on_a_gateway_frame_is_skipped(worker: WorkerProcess) -> None:
    invocation = uuid.uuid4().hex
    frame = {"type": "invoke", "id": invocation, "path": "/echo", "context": {}, "timeout": 10}
    worker.send({**frame, "event": {"a": "1"}}, b"x" * 100_000)
    header, body = worker.result(invocation)
    assert (header["status"], json.loads(body)) == (200, {"a": "1"})
    assert worker.invoke("/text")[1] == b"Hello, text"  # the stream stayed aligned


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (raw_frame(b"{not json"), "frame header is not JSON"),
        (raw_frame(b'{"id": "no type"}'), "JSON object with a string 'type'"),
        (raw_frame(b'["invoke"]'), "JSON object with a string 'type'"),
        (raw_frame(b'{"type": 7}'), "JSON object with a string 'type'"),
        (struct.pack(">II", MAX_HEADER_BYTES + 1, 0), "bytes is over the limit"),
    ],
    ids=["not-json", "no-type", "array", "type-not-text", "header-over-limit"],
)
def test_a_frame_that_breaks_the_wire_format_stops_the_worker(
    start: Start, raw: bytes, message: str
) -> None:
    """The stream cannot be trusted after it: the worker says why and exits non-zero."""
    worker = start()
    worker.send_raw(raw)
    deadline = time.monotonic() + 10
    while worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert worker.returncode == 1, worker.output()
    assert message in worker.output()


# -- what callback(null, payload) becomes ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/text", TEXT, b"Hello, text"),
        ("/unicode", TEXT, "Grüße, 世界 ☃".encode()),
        ("/json", JSON, {"kind": "json", "items": [1, 2], "nested": {"ok": True, "none": None}}),
        ("/json-array", JSON, [1, "two", {"three": 3}]),
        ("/json-scalar", JSON, 42),
        ("/bytes", "application/octet-stream", bytes([0, 1, 98, 105, 110, 255])),
    ],
)
def test_payload_kinds(worker: WorkerProcess, path: str, content_type: str, body: Any) -> None:
    header, received = worker.invoke(path)
    assert header["type"] == "result"
    assert (header["status"], header["headers"]) == (200, [["Content-Type", content_type]])
    assert (json.loads(received) if content_type == JSON else received) == body
    assert header["logs"] == []
    assert header["retire"] is False


def test_a_falsy_error_is_no_error(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/falsy-error")
    assert (header["status"], header["headers"], body) == (
        200,
        [["Content-Type", TEXT]],
        b"zero is no error",
    )


def test_nothing_is_200_with_no_headers_and_no_body(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/empty")
    assert (header["status"], header["headers"], body) == (200, [], b"")


def twiml(body: bytes) -> list[tuple[str, dict[str, str], str]]:
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(body)
    assert root.tag == "Response"
    return [(child.tag, dict(child.attrib), child.text or "") for child in root]


def test_messaging_twiml_is_xml(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/twiml-messaging")
    assert (header["status"], header["headers"]) == (200, [["Content-Type", XML]])
    assert twiml(body) == [("Message", {}, "Hi there")]


def test_voice_twiml_is_xml(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/twiml-voice")
    assert (header["status"], header["headers"]) == (200, [["Content-Type", XML]])
    assert twiml(body) == [
        ("Say", {"voice": "alice"}, "Never gonna give you up"),
        ("Play", {}, "https://demo.twilio.com/docs/classic.mp3"),
    ]


def test_event_arrives_as_sent(worker: WorkerProcess) -> None:
    event = {
        "Body": "Ahoy",
        "list": ["1", "2"],
        "nested": {"x": None, "y": [1, {"z": True}]},
        "request": {"headers": {"x-test": ["a", "b"]}, "cookies": {"flavour": "choc chip"}},
    }
    assert body_json(worker.invoke("/echo", event)) == event


# -- Twilio.Response --------------------------------------------------------------------------


def test_response_status_headers_and_json_body(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/teapot")
    assert header["status"] == 418
    assert header["headers"] == [
        ["X-Custom", "yes"],
        ["X-Multi", "a"],
        ["X-Multi", "b"],
        ["Content-Type", JSON],
    ]
    assert json.loads(body) == {"teapot": True}


@pytest.mark.parametrize(
    ("path", "status", "headers", "body"),
    [
        ("/response-text", 200, [["Content-Type", TEXT]], b"This is fine"),
        (
            "/response-json-type",
            200,
            [["Content-Type", "application/json"]],
            b'{"everything":"is alright"}',
        ),
        ("/response-no-body", 204, [], b""),
        (
            "/response-options",
            201,
            [["X-From", "options"], ["Content-Type", TEXT]],
            b"created",
        ),
    ],
)
def test_response_bodies(
    worker: WorkerProcess, path: str, status: int, headers: list[list[str]], body: bytes
) -> None:
    header, received = worker.invoke(path)
    assert (header["status"], header["headers"], received) == (status, headers, body)


def test_header_values_are_spelled_as_in_javascript(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/header-values")
    assert header["headers"] == [
        ["X-Int", "5"],
        ["X-Bool", "true"],
        ["X-Float", "1.5"],
        ["X-List", "a"],
        ["X-List", "b"],
        ["Content-Type", JSON],
    ]
    assert json.loads(body) == ["not", "text"]


def test_response_bodies_of_twiml_and_bytes(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/response-twiml")
    assert (header["status"], header["headers"]) == (202, [["Content-Type", XML]])
    assert twiml(body) == [("Hangup", {}, "")]
    header, body = worker.invoke("/response-bytes")
    assert header["headers"] == [["Content-Type", "application/octet-stream"]]
    assert body == b"\x89PNG"


def test_cookies_get_domain_httponly_and_secure(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/cookie")
    assert header["status"] == 200
    assert header["headers"] == [
        ["Set-Cookie", "flavor=oat;Path=/;Domain=unit.test;HttpOnly;Secure"],
        ["Set-Cookie", "old=;Max-Age=0;Domain=unit.test;HttpOnly;Secure"],
        ["Content-Type", TEXT],
    ]
    assert body == b"cookies set"


def http_date(delta: timedelta) -> str:
    return format_datetime(datetime.now(UTC) + delta, usegmt=True)


@pytest.mark.parametrize(
    ("attribute", "cookie"),
    [
        ("Max-Age=3600", "flavor=oat;Max-Age=3600;Domain=unit.test;HttpOnly;Secure"),
        ("Max-Age=-1", "flavor=oat;Max-Age=-1;Domain=unit.test;HttpOnly;Secure"),
        ("Secure", "flavor=oat;Secure;Domain=unit.test;HttpOnly"),
        ("httponly", "flavor=oat;httponly;Domain=unit.test;Secure"),
        ("Domain=other.example", "flavor=oat;Domain=unit.test;HttpOnly;Secure"),
    ],
)
def test_cookie_rules_that_pass(worker: WorkerProcess, attribute: str, cookie: str) -> None:
    header, _ = worker.invoke("/cookie-attribute", {"attribute": attribute})
    assert header["status"] == 200
    assert header["headers"][0] == ["Set-Cookie", cookie]


def test_a_cookie_expiring_within_a_day_passes(worker: WorkerProcess) -> None:
    expires = http_date(timedelta(hours=1))
    header, _ = worker.invoke("/cookie-attribute", {"attribute": f"Expires={expires}"})
    assert header["status"] == 200
    assert header["headers"][0] == [
        "Set-Cookie",
        f"flavor=oat;Expires={expires};Domain=unit.test;HttpOnly;Secure",
    ]


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ("Max-Age=90000", "Cookies max-age cannot be greater than a day"),
        ("Max-Age=86401", "Cookies max-age cannot be greater than a day"),
        ("Max-Age=" + "9" * 40, "Cookies max-age cannot be greater than a day"),
        ("Max-Age=soon", "Cookie has an invalid Max-Age attribute: 'soon'"),
        ("Expires=someday", "Cookie has an invalid Expires attribute: 'someday'"),
        (
            "Expires=Fri, 01 Jan 2100 00:00:00 GMT",
            "Cookies max-age cannot be greater than a day",
        ),
    ],
)
def test_cookie_rules_that_answer_400(worker: WorkerProcess, attribute: str, message: str) -> None:
    header, body = worker.invoke("/cookie-attribute", {"attribute": attribute})
    assert (header["status"], header["headers"]) == (400, [["Content-Type", TEXT]])
    assert body.decode() == message


def test_a_cookie_expiring_in_two_days_is_400(worker: WorkerProcess) -> None:
    expires = http_date(timedelta(days=2))
    header, body = worker.invoke("/cookie-attribute", {"attribute": f"Expires={expires}"})
    assert (header["status"], body) == (400, b"Cookies max-age cannot be greater than a day")


@pytest.mark.parametrize("status", [100, 199, 600])
def test_a_status_outside_200_599_is_a_500(worker: WorkerProcess, status: int) -> None:
    header, body = worker.invoke("/status", {"status": str(status)})
    message = f"The function answered status {status}; a response status must be 200-599."
    assert error_of((header, body)) == {"message": message, "name": "Error"}
    # A failure like any other: its ERROR line, with the function's path.
    assert [(line["level"], line["message"]) for line in header["logs"]] == [
        ("ERROR", f"/status failed: {message}")
    ]


def test_a_status_given_as_text_is_a_500(worker: WorkerProcess) -> None:
    error = error_of(worker.invoke("/status-text"))
    assert error["message"] == (
        "The function answered status '201'; a response status must be 200-599."
    )


def test_an_object_header_value_is_refused(worker: WorkerProcess) -> None:
    error = error_of(worker.invoke("/header-object"))
    assert error["message"] == "Header value cannot be an object"


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/error-str", {"message": "Something broke", "name": "Error"}),
        ("/error-exception", {"message": "bad value from the function", "name": "BadValue"}),
        ("/error-object", {"code": 123, "detail": "object error"}),
        ("/raise-sync", {"message": "sync failure", "name": "SyncFailure"}),
        ("/raise-async", {"message": "async failure", "name": "AsyncFailure"}),
    ],
)
def test_errors_are_500_json_without_a_stack(
    worker: WorkerProcess, path: str, error: dict[str, Any]
) -> None:
    frame = worker.invoke(path)
    assert error_of(frame) == error
    # The body carries no stack, the log does: one ERROR line naming the function and the error.
    (line,) = frame[0]["logs"]
    assert line["level"] == "ERROR" and line["message"].startswith(f"{path} failed: ")
    assert str(error.get("message", "object error")) in line["message"]


@pytest.mark.parametrize("path", ["/raise-sync", "/raise-async"])
def test_an_exception_line_has_the_functions_own_stack(worker: WorkerProcess, path: str) -> None:
    (line,) = worker.invoke(path)[0]["logs"]
    assert "raise" in line["message"].split(" failed: ", 1)[1]  # a line of the function's code
    assert "callbox/worker" not in line["message"]  # none of callbox's own frames
    assert str(worker.spec["root"]) not in line["message"]  # paths relative to the build


@pytest.mark.parametrize(
    ("path", "first_line"),
    [
        ("/error-exception", "BadValue: bad value from the function"),
        ("/raise-sync", "SyncFailure: sync failure"),
        ("/raise-async", "AsyncFailure: async failure"),
    ],
)
def test_debug_errors_add_the_stack(start: Start, path: str, first_line: str) -> None:
    worker = start(debug_errors=True)
    error = error_of(worker.invoke(path))
    stack_lines = error["stack"].splitlines()
    # Python's traceback ends with the error (its name qualified by the module); JavaScript's
    # stack starts with it.
    assert any(line.endswith(first_line) for line in (stack_lines[0], stack_lines[-1]))
    if path.startswith("/raise"):  # raised, so there are frames (an unraised Python error has none)
        assert len(stack_lines) > 1


def test_a_function_that_ends_the_process_gets_a_500_and_the_worker_lives_on(
    worker: WorkerProcess,
) -> None:
    error = error_of(worker.invoke("/exit"))
    assert "3" in error["message"]
    assert worker.invoke("/text")[1] == b"Hello, text"
    assert worker.poll() is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/syntax-error", "functions/syntax-error{ext} failed to import: SyntaxError: "),
        ("/import-error", "functions/import-error{ext} failed to import: "),
        ("/no-handler", "functions/no-handler{ext} has no `handler`; found: CONSTANT, handle, "),
    ],
)
def test_load_errors_say_which_file_and_why(
    runtime: str, worker: WorkerProcess, path: str, expected: str
) -> None:
    for _ in range(2):  # the failure is kept: a second call says the same
        error = error_of(worker.invoke(path))
        assert error["name"] == "LoadError"
        assert error["message"].startswith(expected.format(ext=EXTENSIONS[runtime]))
    if path == "/syntax-error":
        assert error["message"].endswith("(line 1)")
    if path == "/import-error":
        assert "'callbox_no_such_module_xyz'" in error["message"]
    assert worker.invoke("/text")[1] == b"Hello, text"


# -- callback semantics -----------------------------------------------------------------------


def test_a_second_callback_is_ignored_with_a_warning(worker: WorkerProcess) -> None:
    invocation = worker.start("/callback-twice")
    header, body = worker.result(invocation)
    assert (header["status"], body) == (200, b"first")
    # A Python handler thread may call back again after the result left: then the line is a
    # log frame of its own. Either way it is the invocation's only line.
    if not header["logs"]:
        worker.wait_for(lambda h, _: h["type"] == "log" and h["id"] == invocation)
    found = header["logs"] + [h for h in worker.frames_of(invocation) if h["type"] == "log"]
    assert [(line["level"], line["message"]) for line in found] == [
        ("WARN", "callback() was called again after the invocation ended; ignored.")
    ]


def test_invocations_run_concurrently(worker: WorkerProcess) -> None:
    started = time.monotonic()
    slow = worker.start("/async-sleep", {"ms": "400", "tag": "slow"})
    fast = worker.start("/async-sleep", {"ms": "10", "tag": "fast"})
    assert body_json(worker.result(fast)) == {"tag": "fast"}
    assert not [h for h in worker.frames_of(slow) if h["type"] == "result"]
    assert body_json(worker.result(slow)) == {"tag": "slow"}
    many = [worker.start("/async-sleep", {"ms": "300", "tag": str(n)}) for n in range(30)]
    assert [body_json(worker.result(i))["tag"] for i in many] == [str(n) for n in range(30)]
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("path", ["/pending-before", "/pending-after"])
def test_work_pending_at_the_callback_is_cut_off(worker: WorkerProcess, path: str) -> None:
    invocation = worker.start(path)
    header, body = worker.result(invocation)
    assert (header["status"], body, header["logs"]) == (200, b"called back", [])
    assert quiet_for(worker, invocation, 0.5) == [header]  # no LEAK line, nothing else


# -- logs -------------------------------------------------------------------------------------


def test_log_levels(worker: WorkerProcess) -> None:
    before = time.time()
    header, body = worker.invoke("/logs")
    assert body == b"logged"
    assert lines(header) == [
        ("INFO", "a print line"),
        ("INFO", "an info line"),
        ("WARN", "a warning line"),
        ("ERROR", "an error line"),
    ]
    assert all(before - 1 <= line["time"] <= time.time() + 1 for line in header["logs"])


def test_each_invocation_gets_its_own_lines(worker: WorkerProcess) -> None:
    tags = [f"tag{n}" for n in range(5)]
    ids = [worker.start("/logs-tagged", {"tag": tag}) for tag in tags]
    for tag, invocation in zip(tags, ids, strict=True):
        header, body = worker.result(invocation)
        assert body.decode() == tag
        assert lines(header) == [("INFO", f"{tag} start"), ("INFO", f"{tag} end")]


def test_lines_after_the_result_are_log_frames(worker: WorkerProcess) -> None:
    tag = uuid.uuid4().hex
    first = worker.start("/late", {"tag": tag})
    header, body = worker.result(first)
    assert (body, header["logs"]) == (b"done", [])
    assert worker.invoke("/late", {"release": tag})[1] == b"released"
    late, _ = worker.wait_for(lambda h, _: h["type"] == "log" and h["id"] == first)
    assert (late["level"], late["message"]) == ("INFO", "printed after the result")
    assert isinstance(late["time"], float)


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_answers_with_the_logs_and_stops_the_invocation(worker: WorkerProcess) -> None:
    invocation = worker.start("/never")
    time.sleep(0.1)
    worker.send({"type": "cancel", "id": invocation})
    cancelled, _ = worker.wait_for(lambda h, _: h["type"] == "cancelled" and h["id"] == invocation)
    assert cancelled == {
        "type": "cancelled",
        "id": invocation,
        "logs": [{"level": "INFO", "message": "started", "time": cancelled["logs"][0]["time"]}],
        "thread_running": False,
    }
    assert quiet_for(worker, invocation, 0.5) == [cancelled]  # no LEAK, no result
    assert worker.invoke("/text")[1] == b"Hello, text"


def test_cancel_of_a_finished_invocation_is_still_answered(worker: WorkerProcess) -> None:
    invocation = worker.start("/text")
    worker.result(invocation)
    worker.send({"type": "cancel", "id": invocation})
    cancelled, _ = worker.wait_for(lambda h, _: h["type"] == "cancelled" and h["id"] == invocation)
    assert cancelled == {"type": "cancelled", "id": invocation, "logs": [], "thread_running": False}


# -- Runtime and context ----------------------------------------------------------------------


def test_runtime_get_assets_lists_private_assets(worker: WorkerProcess) -> None:
    assert body_json(worker.invoke("/assets")) == {
        "keys": ["/data.json", "/secret.txt"],
        "data": {"office": "Paris", "open": ["09:00", "17:00"]},
    }


def test_runtime_get_functions_loads_a_private_helper(worker: WorkerProcess) -> None:
    assert body_json(worker.invoke("/functions")) == {
        "lib": ["lib/helper"],
        "has_self": True,
        "shout": "HELLO!",
    }


def test_runtime_get_sync_is_not_there_yet(worker: WorkerProcess) -> None:
    error = error_of(worker.invoke("/sync"))
    assert "is not available yet: callbox does not ship Sync." in error["message"]


def test_a_package_from_site_packages(runtime: str, worker: WorkerProcess) -> None:
    assert body_json(worker.invoke("/uses-package")) == {
        "package": "contractdep",
        "runtime": runtime,
    }


def test_context_holds_the_variables(worker: WorkerProcess) -> None:
    variables = {"GREETING": "Bonjour", "SERVICE_SID": "ZS" + "1" * 32, "ENVIRONMENT_SID": None}
    header, body = worker.invoke("/context", **variables)
    assert json.loads(body) == {
        "DOMAIN_NAME": "unit.test:8080",
        "PATH": "/context",
        **variables,
    }
    assert header["logs"] == []  # deployed: an unset SID is not worth a warning


def test_unset_sids_warn_once_per_worker_in_local_development(start: Start) -> None:
    worker = start(local=True)
    header, body = worker.invoke("/context", GREETING="hi")
    assert json.loads(body)["SERVICE_SID"] is None
    assert lines(header) == [
        (
            "WARN",
            f"The {name} variable is undefined in local development; it is set when your "
            "functions are deployed.",
        )
        for name in ("SERVICE_SID", "ENVIRONMENT_SID")
    ]
    assert worker.invoke("/context", GREETING="hi")[0]["logs"] == []


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, "Missing Account SID: add ACCOUNT_SID=AC... to your .env file"),
        ({"ACCOUNT_SID": "SK" + "0" * 32}, "Invalid Account SID: ACCOUNT_SID must be 'AC'"),
        ({"ACCOUNT_SID": ACCOUNT_SID}, "Missing Auth Token: add AUTH_TOKEN=... to your .env"),
    ],
)
def test_get_twilio_client_needs_credentials(
    worker: WorkerProcess, variables: dict[str, str], message: str
) -> None:
    error = error_of(worker.invoke("/client", **variables))
    assert error["name"] == "TwilioClientError"
    assert error["message"].startswith(message)


def test_get_twilio_client_with_credentials(worker: WorkerProcess) -> None:
    frame = worker.invoke("/client", ACCOUNT_SID=ACCOUNT_SID, AUTH_TOKEN=AUTH_TOKEN)
    assert body_json(frame) == {"account_sid": ACCOUNT_SID}


def test_twilio_jwt_makes_a_signed_access_token(worker: WorkerProcess) -> None:
    key, secret = "SK" + "2" * 32, "the-api-key-secret"
    frame = worker.invoke("/jwt", ACCOUNT_SID=ACCOUNT_SID, API_KEY=key, API_SECRET=secret)
    head, payload, signature = body_json(frame)["token"].split(".")

    def decode(part: str) -> Any:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    expected = hmac.new(secret.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == signature
    assert decode(head)["alg"] == "HS256"
    claims = decode(payload)
    assert (claims["iss"], claims["sub"]) == (key, ACCOUNT_SID)
    assert claims["grants"] == {
        "identity": "alice",
        "chat": {"service_sid": "IS00000000000000000000000000000000"},
    }
    assert 590 <= claims["exp"] - time.time() <= 610


# -- JavaScript only --------------------------------------------------------------------------


@node_only
def test_an_uncaught_exception_is_an_error_line_and_a_500(worker: WorkerProcess) -> None:
    frame = worker.invoke("/node-only/uncaught")
    assert error_of(frame) == {"message": "boom from a timer", "name": "Error"}
    [(level, message)] = lines(frame[0])
    assert level == "ERROR"
    assert message.startswith(
        "/node-only/uncaught failed: Uncaught exception: Error: boom from a timer\n    at "
    )
    # The function's frames only, relative to its build: not callbox's runtime, not Node's.
    frames = message.splitlines()[1:]
    assert frames and all("callbox/node/" not in f and "node:" not in f for f in frames), frames
    assert all(not f.split("(")[-1].startswith("/") for f in frames), frames
    assert worker.invoke("/text")[1] == b"Hello, text"


@node_only
def test_an_unhandled_rejection_is_an_error_line_and_a_500(worker: WorkerProcess) -> None:
    frame = worker.invoke("/node-only/unhandled")
    assert error_of(frame) == {"message": "rejected and unhandled", "name": "Error"}
    [(level, message)] = lines(frame[0])
    assert level == "ERROR"
    assert message.startswith(
        "/node-only/unhandled failed: Unhandled promise rejection: Error: rejected and unhandled\n"
    )


@node_only
def test_a_rejection_after_the_callback_is_a_late_error_line(worker: WorkerProcess) -> None:
    invocation = worker.start("/node-only/unhandled-after")
    header, body = worker.result(invocation)
    assert (header["status"], body, header["logs"]) == (200, b"answered", [])
    late, _ = worker.wait_for(lambda h, _: h["type"] == "log" and h["id"] == invocation)
    assert late["level"] == "ERROR"
    assert late["message"].startswith(
        "/node-only/unhandled-after failed: Unhandled promise rejection: Error: rejected after"
    )


@node_only
def test_a_returned_promise_that_rejects_is_a_500(worker: WorkerProcess) -> None:
    frame = worker.invoke("/node-only/returned-promise")
    assert error_of(frame) == {"message": "rejected chain", "name": "TypeError"}
    (line,) = frame[0]["logs"]
    assert line["level"] == "ERROR" and "TypeError: rejected chain" in line["message"]


@node_only
def test_a_value_the_handler_resolves_to_is_not_an_answer(worker: WorkerProcess) -> None:
    invocation = worker.start("/node-only/returned-value")
    assert quiet_for(worker, invocation, 0.3) == []
    worker.send({"type": "cancel", "id": invocation})
    cancelled, _ = worker.wait_for(lambda h, _: h["type"] == "cancelled" and h["id"] == invocation)
    assert cancelled == {"type": "cancelled", "id": invocation, "logs": [], "thread_running": False}


@node_only
def test_require_by_relative_path_and_through_runtime_is_one_module(
    worker: WorkerProcess,
) -> None:
    assert body_json(worker.invoke("/node-only/relative-require")) == {
        "same": True,
        "shout": "RELATIVE!",
    }


@node_only
def test_twiml_of_a_required_twilio_is_xml(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/node-only/twiml-require")
    assert header["headers"] == [["Content-Type", XML]]
    assert twiml(body) == [("Message", {}, "required")]


@node_only
def test_globals_are_twilios(worker: WorkerProcess) -> None:
    found = body_json(worker.invoke("/node-only/globals"))
    assert {"Response", "twiml", "jwt", "Twilio", "validateRequest", "webhook"} <= set(
        found.pop("twilioKeys")
    )
    assert found == {"spread": True, "responseIsGlobal": True, "functions": True, "client": None}
    with_client = worker.invoke(
        "/node-only/globals", ACCOUNT_SID=ACCOUNT_SID, AUTH_TOKEN=AUTH_TOKEN
    )
    assert body_json(with_client)["client"] == ACCOUNT_SID


@node_only
def test_response_class_behaves_as_twilios(worker: WorkerProcess) -> None:
    # The cases of @twilio/runtime-handler's own response tests (spec section 8, 30-44).
    assert body_json(worker.invoke("/node-only/response-class")) == {
        "fresh": [200, None, {"Set-Cookie": []}],
        "options": [400, "Error", {"A": "1", "Set-Cookie": ["Hi=Bye"]}],
        "lower": {"Set-Cookie": ["a=1", "b=2"]},
        "kept": {"X": "y", "Set-Cookie": []},
        "appended": {
            "Access-Control-Allow-Origin": ["dkundel.com", "philna.sh"],
            "Set-Cookie": [],
            "Access-Control-Allow-Methods": ["GET", "DELETE", "PUT", "POST"],
        },
        "cookies": {
            "Set-Cookie": [
                "Hello=World;HttpOnly;Secure;SameSite=Strict;Max-Age=86400",
                "name=value",
            ]
        },
        "removed": {"Set-Cookie": ["Hello=;Max-Age=0"]},
        "objectError": "Header value cannot be an object",
    }


@node_only
def test_console_formats_and_stream_writes_become_lines(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/node-only/console-format")
    assert body == b"written"
    assert lines(header) == [
        ("INFO", "answer is 42 { deep: true }"),
        ("INFO", "a debug line"),
        ("INFO", "written"),
        ("ERROR", "to stderr"),
        ("INFO", "and more"),
    ]


@node_only
def test_a_build_without_twilio_serves_and_says_what_is_missing(start: Start) -> None:
    worker = start(site_packages=[str(ROOT / "node" / "site")])
    assert worker.invoke("/text")[1] == b"Hello, text"
    error = error_of(worker.invoke("/node-only/no-twilio"))
    assert error["message"].startswith("The twilio package is not installed for this build")
    assert worker.invoke("/uses-package")[1] == b'{"package":"contractdep","runtime":"node"}'


def test_context_tells_the_time_left_before_the_execution_limit(worker: WorkerProcess) -> None:
    frame = worker.invoke("/remaining")
    seen = json.loads(frame[1])
    limit_ms = 10_000  # the harness's invoke frames say "timeout": 10
    assert limit_ms - 2000 < seen["remaining"] <= limit_ms  # measured from the invoke frame
    assert seen["alias"] <= seen["remaining"]


@node_only
def test_a_process_warning_is_a_warn_line(worker: WorkerProcess) -> None:
    header, body = worker.invoke("/node-only/emit-warning")
    assert body == b"warned"
    assert [(line["level"], line["message"]) for line in header["logs"]] == [
        ("WARN", "DeprecationWarning: this API is deprecated")
    ]
