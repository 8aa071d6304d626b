"""The worker loop, driven for real: a Supervisor forks workers that run the sample functions in
tests/functions/unit_worker/, and the test speaks frames to them (or goes through a Pool)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from callbox.config import Config
from callbox.gateway.pool import Pool
from callbox.gateway.source import Deployment
from callbox.gateway.supervisor import Supervisor, Worker
from callbox.toolkit.project import Layout, discover
from callbox.worker.frames import InvokeFrame, LogLine, ResultFrame

ROOT = Path(__file__).resolve().parents[1] / "functions" / "unit_worker"
DEPLOYMENT = Deployment(
    build_key="unit-worker",
    service_key="unit",
    root=ROOT,
    routes=discover(Layout.find(ROOT)),
)
SPEC = DEPLOYMENT.worker_spec(memory_limit_mb=256, debug_errors=False, threads=8)
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


# One warm parent for the whole module (starting it is most of a test's cost); every test
# gets its own workers and kills them afterwards.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def spawn(supervisor: Supervisor) -> AsyncIterator[Callable[..., Awaitable[Worker]]]:
    workers: list[Worker] = []

    async def start(spec: dict[str, Any] | None = None) -> Worker:
        worker = await supervisor.spawn(spec or SPEC)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.kill()


@pytest_asyncio.fixture(loop_scope="module")
async def worker(spawn: Callable[..., Awaitable[Worker]]) -> Worker:
    return await spawn()


@pytest_asyncio.fixture(loop_scope="module")
async def make_pool(supervisor: Supervisor) -> AsyncIterator[Callable[..., Pool]]:
    pools: list[Pool] = []

    def make(spec: dict[str, Any] | None = None, **settings: Any) -> Pool:
        sink = settings.pop("on_late_logs", None)
        config = Config(**{"execution_timeout": 5.0, **settings})
        pool = Pool(supervisor, spec or SPEC, config, sink)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()
        for worker in list(pool.workers):
            worker.kill()


def invoke_frame(path: str, invocation_id: str = "", **fields: Any) -> InvokeFrame:
    """A whole invoke frame (frames.py), with ``fields`` over the defaults."""
    frame: InvokeFrame = {
        "type": "invoke",
        "id": invocation_id or uuid.uuid4().hex,
        "path": path,
        "context": {"PATH": path, "DOMAIN_NAME": "unit.test"},
        "event": {},
        "timeout": 10.0,
    }
    return {**frame, **fields}  # type: ignore[typeddict-item]


async def send(worker: Worker, frame: InvokeFrame) -> tuple[ResultFrame, bytes]:
    header, body, _oversize = await asyncio.wait_for(worker.invoke(frame), 5)
    return header, body


async def call(
    worker: Worker, path: str, event: dict[str, Any] | None = None, invocation_id: str = ""
) -> tuple[ResultFrame, bytes]:
    return await send(worker, invoke_frame(path, invocation_id, event=event or {}))


def messages(header: ResultFrame) -> list[tuple[str, str]]:
    return [(line["level"], line["message"]) for line in header["logs"]]


async def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


# --- results: return value, callback, modes ---------------------------------------------


async def test_sync_handler_returning_a_value(worker: Worker) -> None:
    header, body = await call(worker, "/sync_return", {"name": "Ada"}, "RQ1")
    assert header["type"] == "result"
    assert header["id"] == "RQ1"
    assert header["status"] == 200
    assert header["headers"] == [["Content-Type", JSON]]
    assert header["mode"] == "sync"
    assert header["retire"] is False
    assert header["logs"] == []
    assert json.loads(body) == {"kind": "sync-return", "name": "Ada", "pid": worker.pid}


async def test_sync_handler_callback_wins_over_the_return_value(worker: Worker) -> None:
    header, body = await call(worker, "/sync_callback", {"name": "Grace"})
    assert (header["status"], header["headers"]) == (200, [["Content-Type", TEXT]])
    assert body == b"sync callback for Grace"


async def test_async_handler_returning_a_value_sees_the_context(worker: Worker) -> None:
    header, body = await call(worker, "/async_return")
    assert header["mode"] == "async"
    assert header["status"] == 200
    assert json.loads(body) == {"kind": "async-return", "path": "/async_return", "pid": worker.pid}


async def test_async_handler_calling_back_with_a_response(worker: Worker) -> None:
    header, body = await call(worker, "/async_callback", {"name": "Linus"})
    assert header["mode"] == "async"
    assert header["status"] == 201
    assert header["headers"] == [["Content-Type", JSON]]
    assert json.loads(body) == {"created": "Linus"}


@pytest.mark.parametrize(
    ("path", "mode", "content_type", "body"),
    [
        ("/thread_callback", "sync", TEXT, b"called back from a thread"),
        ("/async_thread_callback", "async", JSON, b'{"from":"thread","mode":"async"}'),
    ],
)
async def test_returning_none_then_calling_back_from_a_thread(
    worker: Worker, path: str, mode: str, content_type: str, body: bytes
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    header, received = await call(worker, path)
    assert loop.time() - started >= 0.14  # the answer waited for the timer thread
    assert (header["status"], header["mode"]) == (200, mode)
    assert header["headers"] == [["Content-Type", content_type]]
    assert received == body


async def test_one_worker_serves_many_invocations(worker: Worker) -> None:
    for name in ("a", "b", "c"):
        header, body = await call(worker, "/sync_return", {"name": name})
        assert json.loads(body)["name"] == name
    assert worker.usable and worker.load == 0


# --- failures become results ------------------------------------------------------------


async def test_sync_exception_is_a_500_without_a_stack(worker: Worker) -> None:
    header, body = await call(worker, "/raises")
    assert header["status"] == 500
    assert header["headers"] == [["Content-Type", JSON]]
    assert json.loads(body) == {"message": "sync handler failed on purpose", "name": "ValueError"}
    assert worker.usable


async def test_async_exception_is_a_500(worker: Worker) -> None:
    header, body = await call(worker, "/async_raises")
    assert header["status"] == 500
    assert json.loads(body) == {"message": "'async handler failed on purpose'", "name": "KeyError"}


async def test_a_response_that_cannot_be_converted_is_still_answered(worker: Worker) -> None:
    header, body = await call(worker, "/unconvertible")
    assert header["status"] == 500
    error = json.loads(body)
    assert error["name"] == "RuntimeError"
    assert error["message"].startswith("The function's result could not be sent: AttributeError")
    assert worker.usable


@pytest.mark.parametrize(
    ("event", "name", "message"),
    [
        ({}, "SystemExit", "2"),
        ({"code": "bye"}, "SystemExit", "bye"),
        ({"kind": "interrupt"}, "KeyboardInterrupt", "interrupted"),
    ],
)
async def test_system_exit_from_an_async_handler_is_a_500_and_the_worker_lives_on(
    worker: Worker, event: dict[str, Any], name: str, message: str
) -> None:
    sleeper = asyncio.ensure_future(call(worker, "/sleep_async", {"delay": "0.3"}))
    await asyncio.sleep(0.05)
    header, body = await call(worker, "/async_exit", event)
    assert header["status"] == 500
    assert json.loads(body) == {"message": message, "name": name}
    sleeper_header, _ = await sleeper
    assert sleeper_header["status"] == 200
    assert not worker.dead and worker.usable
    assert (await call(worker, "/sync_return"))[0]["status"] == 200


async def test_debug_errors_add_the_stack(spawn: Callable[..., Awaitable[Worker]]) -> None:
    worker = await spawn({**SPEC, "debug_errors": True})
    header, body = await call(worker, "/raises")
    error = json.loads(body)
    assert header["status"] == 500
    assert error["message"] == "sync handler failed on purpose"
    assert "Traceback" in error["stack"]
    assert "raises.py" in error["stack"]


async def test_callback_with_an_error_is_a_500(worker: Worker) -> None:
    header, body = await call(worker, "/callback_error")
    assert header["status"] == 500
    assert json.loads(body) == {"message": "the function reported an error", "name": "Error"}


async def test_module_without_handler_is_a_500_naming_the_file(worker: Worker) -> None:
    header, body = await call(worker, "/no_handler")
    assert header["status"] == 500
    error = json.loads(body)
    assert error["name"] == "LoadError"
    assert error["message"].startswith(
        "functions/no_handler.py has no `handler`; found: GREETING, Thing, helper."
    )


# --- callback semantics -----------------------------------------------------------------


async def test_first_callback_wins_and_a_second_logs_a_warning(worker: Worker) -> None:
    header, body = await call(worker, "/double_callback")
    assert (header["status"], body) == (200, b"first")
    assert messages(header) == [
        ("WARN", "callback() was called again after the invocation ended; ignored.")
    ]


async def test_a_late_second_callback_reaches_the_late_log_sink(
    make_pool: Callable[..., Pool],
) -> None:
    late: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    pool = make_pool(on_late_logs=lambda meta, lines: late.append((meta, lines)))
    reply = await pool.invoke("RQlate", "/late_callback", {}, {}, {"path": "/late_callback"})
    assert (reply.status, reply.body, reply.logs) == (200, b"first wins", [])
    await wait_for(lambda: bool(late))
    meta, lines = late[0]
    assert meta == {"path": "/late_callback"}
    assert [(line["level"], line["message"]) for line in lines] == [
        ("WARN", "callback() was called again after the invocation ended; ignored.")
    ]
    assert isinstance(lines[0]["time"], float)


async def test_a_print_after_the_response_is_a_late_log_line(worker: Worker) -> None:
    late: list[tuple[str, LogLine]] = []
    worker.on_late_log = lambda invocation_id, line: late.append((invocation_id, line))
    header, body = await call(worker, "/late_print", {"tag": "T1"}, "RQprint")
    assert (header["status"], body, header["logs"]) == (200, b"answered", [])
    await wait_for(lambda: bool(late))
    invocation_id, line = late[0]
    assert invocation_id == "RQprint"
    # The log frame's line, without its type and id: what the pool hands to the log sink.
    assert line == {
        "level": "INFO",
        "message": "written after the response by T1",
        "time": line["time"],
    }
    assert isinstance(line["time"], float)


async def test_tasks_of_an_async_handler_are_cancelled_after_the_callback(
    worker: Worker, tmp_path: Path
) -> None:
    marker = tmp_path / "marker.txt"
    header, body = await call(worker, "/background_task", {"marker": str(marker)})
    assert (header["status"], body) == (200, b"done")
    await wait_for(marker.exists)
    await asyncio.sleep(0.4)  # past the point where the task would have finished
    assert marker.read_text() == "cancelled"


# --- logs -------------------------------------------------------------------------------


async def test_print_logging_and_stderr_map_to_levels(worker: Worker) -> None:
    header, body = await call(worker, "/log_levels")
    assert body == b"logged"
    assert messages(header) == [
        ("INFO", "printed line"),
        ("INFO", "info through logging"),
        ("WARN", "warning through logging"),
        ("ERROR", "error through logging"),
        ("ERROR", "critical through logging"),
        ("ERROR", "written to stderr"),
        ("INFO", "unterminated last line"),
    ]
    assert all(isinstance(line["time"], float) for line in header["logs"])


@pytest.mark.parametrize("path", ["/interleave", "/sync_interleave"])
async def test_lines_of_concurrent_invocations_stay_with_their_invocation(
    worker: Worker, path: str
) -> None:
    (header_a, body_a), (header_b, body_b) = await asyncio.gather(
        call(worker, path, {"tag": "A"}), call(worker, path, {"tag": "B"})
    )
    assert (body_a, body_b) == (b"A", b"B")
    assert messages(header_a) == [("INFO", f"A step {step}") for step in range(4)]
    assert messages(header_b) == [("INFO", f"B step {step}") for step in range(4)]
    # Both ran at once in the same worker: each one's lines were written while the other ran.
    times_a = [line["time"] for line in header_a["logs"]]
    times_b = [line["time"] for line in header_b["logs"]]
    assert times_a[0] < times_b[-1] and times_b[0] < times_a[-1]


async def test_undefined_service_sid_warns_once_per_worker_in_local_development(
    spawn: Callable[..., Awaitable[Worker]],
) -> None:
    worker = await spawn({**SPEC, "local": True})
    context = {"PATH": "/service_sid", "SERVICE_SID": None, "ENVIRONMENT_SID": None}
    first, body = await send(worker, invoke_frame("/service_sid", "RQsid1", context=context))
    second, _ = await send(worker, invoke_frame("/service_sid", "RQsid2", context=context))
    assert json.loads(body) == {"service_sid": None, "environment_sid": None}
    assert messages(first) == [
        (
            "WARN",
            "The SERVICE_SID variable is undefined in local development; it is set when your "
            "functions are deployed.",
        )
    ]
    assert messages(second) == []


async def test_no_service_sid_warning_when_deployed(worker: Worker) -> None:
    context = {"PATH": "/service_sid", "SERVICE_SID": None}
    header, _ = await send(worker, invoke_frame("/service_sid", "RQd", context=context))
    assert header["logs"] == []


# --- cancel -----------------------------------------------------------------------------


async def test_cancel_is_acknowledged_and_the_worker_keeps_serving(worker: Worker) -> None:
    pending = worker.invoke(invoke_frame("/sleep_async", "RQsleep"))
    await asyncio.sleep(0.1)
    ack = await asyncio.wait_for(worker.cancel("RQsleep"), 2)
    assert ack == {"type": "cancelled", "id": "RQsleep", "logs": [], "thread_running": False}
    assert pending.cancelled()
    assert worker.load == 0
    header, _ = await call(worker, "/sync_return")
    assert header["status"] == 200


async def test_cancel_of_an_unknown_invocation_does_not_disturb_the_worker(
    worker: Worker,
) -> None:
    worker.cancel("RQunknown")
    header, _ = await call(worker, "/sync_return")
    assert header["status"] == 200


async def test_cancel_of_a_finished_invocation_is_answered(worker: Worker) -> None:
    await call(worker, "/sync_return", invocation_id="RQdone")
    ack = await asyncio.wait_for(worker.cancel("RQdone"), 1.0)
    assert ack == {"type": "cancelled", "id": "RQdone", "logs": [], "thread_running": False}


# --- a sync handler that goes on after its callback ---------------------------------------


async def test_a_thread_still_running_at_the_limit_asks_to_retire_its_worker(
    worker: Worker,
) -> None:
    header, body = await send(worker, invoke_frame("/linger", "RQlinger", timeout=0.5))
    assert (header["status"], body) == (200, b"done")
    assert not worker.retired  # the execution limit has not passed yet
    await wait_for(lambda: worker.retired, timeout=3)
    assert not worker.usable


async def test_a_thread_that_ended_in_time_keeps_its_worker(worker: Worker) -> None:
    header, _ = await send(worker, invoke_frame("/sync_return", "RQquick", timeout=0.2))
    assert header["status"] == 200
    await asyncio.sleep(0.4)  # past the limit: no retire request came
    assert worker.usable


async def test_lines_written_outside_the_invocation_are_its_own_marked_so(
    worker: Worker,
) -> None:
    late: list[tuple[str, LogLine]] = []
    worker.on_late_log = lambda invocation_id, line: late.append((invocation_id, line))
    header, body = await call(worker, "/outside", {}, "RQoutside")
    assert (header["status"], body) == (200, b"answered")
    lines = [(line["level"], line["message"]) for line in header["logs"]]
    lines += [(line["level"], line["message"]) for _, line in late]
    # Never the worker's own output (the server's: a function could forge its log lines).
    assert ("INFO", "(outside an invocation) from a thread of my own") in lines
    assert (
        "ERROR",
        '(outside an invocation) forged 127.0.0.1 - - [05/Dec/2026] "GET /admin" 200',
    ) in lines
    assert ("ERROR", "(outside an invocation) ValueError: thread blew up") in lines
    # The loop reports a task's exception no one retrieved: an ERROR line, with its traceback.
    await wait_for(
        lambda: (
            ("ERROR", "RuntimeError: unawaited task failed")
            in [
                (level, m.removeprefix("(outside an invocation) "))
                for level, m in lines + lines_of(late)
            ]
        )
    )
    assert all(invocation_id == "RQoutside" for invocation_id, _ in late)


def lines_of(late: list[tuple[str, LogLine]]) -> list[tuple[str, str]]:
    return [(line["level"], line["message"]) for _, line in late]
