"""The execution model: deadlines, crashed and stuck workers, the memory cap, concurrency."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

SCENARIO = "execution"
ENV = {
    "CALLBOX_EXECUTION_TIMEOUT": "1",
    "CALLBOX_MEMORY_LIMIT_MB": "64",
    "CALLBOX_CONCURRENCY_LIMIT": "100",
    # The default is one worker per core; fixed here so results do not depend on the machine.
    "CALLBOX_MAX_WORKERS": "2",
}
# Tests that learn a worker's pid from a file the function writes outside its temporary
# folder: only possible with the sandbox off (inside, a worker is PID 1 of its own namespace and
# writes nothing outside its /tmp). tests/e2e/test_e2e_hostile.py checks the same kills sandboxed.
PIDFILE_ENV = {**ENV, "CALLBOX_SANDBOX": "off"}
TIMED_OUT = "runtime application timed out"
# The pool kills a stuck worker after a 1 s cancel grace; 3 s leaves room for a busy machine.
KILL_WITHIN = 3.0


@pytest.fixture(scope="module")
def server(module_servers):
    return module_servers.start(SCENARIO, env=ENV)


def error_message(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["message"]


def assert_healthy(server):
    response = server.client.get("/ok")
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    return response.json()["pid"]


# -- the deadline --------------------------------------------------------------------------


def run_stuck(servers, tmp_path, path, *, workers=2):
    """Start a fresh server, call a handler that never ends; returns (server, its worker pid)."""
    server = servers.start(SCENARIO, env={**PIDFILE_ENV, "CALLBOX_MAX_WORKERS": str(workers)})
    pidfile = tmp_path / "worker.pid"
    started = time.monotonic()
    response = server.client.get(path, params={"pidfile": str(pidfile)})
    elapsed = time.monotonic() - started
    assert error_message(response, 504) == TIMED_OUT
    assert 0.9 <= elapsed < 5, f"answered after {elapsed:.2f} s; the limit is 1 s"
    return server, int(pidfile.read_text())


def test_async_handler_that_never_calls_back_times_out(servers, tmp_path):
    server, _ = run_stuck(servers, tmp_path, "/never")
    assert_healthy(server)


def test_async_cpu_loop_times_out_and_its_worker_is_replaced(servers, tmp_path, e2e):
    server, stuck_pid = run_stuck(servers, tmp_path, "/aspin")
    assert assert_healthy(server) != stuck_pid
    assert e2e.wait_until(lambda: not e2e.pid_alive(stuck_pid), timeout=KILL_WITHIN), (
        f"worker {stuck_pid} blocked in a CPU loop is still running"
    )


@pytest.mark.parametrize("path", ["/sleep", "/spin"])
def test_stuck_sync_handler_times_out_and_its_worker_is_replaced(servers, tmp_path, e2e, path):
    server, stuck_pid = run_stuck(servers, tmp_path, path)
    started = time.monotonic()
    assert_healthy(server)
    assert time.monotonic() - started < 3
    # A thread cannot be stopped: the worker holding it must go.
    assert e2e.wait_until(lambda: not e2e.pid_alive(stuck_pid), timeout=KILL_WITHIN), (
        f"worker {stuck_pid} stuck in {path} is still running"
    )


class LandedOnStuckWorker(AssertionError):
    """A request made right after a timeout ran on the worker still holding the stuck handler."""


def test_request_after_a_sync_timeout_avoids_the_stuck_worker(servers, tmp_path):
    server, stuck_pid = run_stuck(servers, tmp_path, "/sleep", workers=1)
    if assert_healthy(server) == stuck_pid:
        raise LandedOnStuckWorker(f"/ok ran on worker {stuck_pid}, stuck in /sleep")


def test_single_worker_serves_the_next_request_after_an_async_cpu_loop(servers, tmp_path):
    server, _ = run_stuck(servers, tmp_path, "/aspin", workers=1)
    response = server.client.get("/ok")
    assert response.status_code == 200, response.text


# -- crashes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "how"), [("/exit", "exit code 1"), ("/segfault", "killed by SIGSEGV")]
)
def test_worker_crash_is_5xx_and_the_next_request_works(server, path, how):
    response = server.client.get(path)
    assert 500 <= response.status_code < 600
    message = response.json()["message"]
    assert "exited" in message
    assert how in message
    assert_healthy(server)


@pytest.mark.parametrize("path", ["/memory", "/memory-gradual"])
def test_memory_cap_fails_the_invocation_and_the_next_request_works(server, path):
    response = server.client.get(path)
    message = error_message(response, 500)
    assert "memory" in message
    assert "64 MB" in message
    assert_healthy(server)


def test_crashes_left_no_traceback_on_the_server(server):
    assert_healthy(server)
    assert not [line for line in server.stderr_lines() if "Traceback" in line], server.output()


# -- concurrency ---------------------------------------------------------------------------


async def _fire(base_url, path, count):
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=base_url, timeout=20.0, limits=limits) as client:
        return await asyncio.gather(*(client.get(path) for _ in range(count)))


def test_50_async_sleepers_run_concurrently(server):
    assert_healthy(server)
    started = time.monotonic()
    responses = asyncio.run(_fire(server.base_url, "/async-sleep", 50))
    elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * 50
    assert {r.text for r in responses} == {"done"}
    # Serially this would take 25 s; this bounds concurrency, it is not a benchmark.
    assert elapsed < 5, f"50 concurrent 0.5 s sleeps took {elapsed:.1f} s"


# -- a result is always sent -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "cause"),
    [
        # r.headers = None: the response cannot be converted at all.
        ("/headers-none", "AttributeError"),
    ],
)
def test_unconvertible_response_is_a_quick_500_not_a_timeout(server, path, cause):
    started = time.monotonic()
    response = server.client.get(path)
    elapsed = time.monotonic() - started
    message = error_message(response, 500)
    assert "The function's result could not be sent" in message
    assert cause in message
    assert elapsed < 0.5, f"answered after {elapsed:.2f} s; the execution limit is 1 s"
    assert_healthy(server)


def test_cookie_max_age_with_thousands_of_digits_is_too_old(server):
    # "Max-Age=" + "9" * 5000: more digits than int() accepts, still just "more than a day".
    response = server.client.get("/cookie-huge-max-age")
    assert response.status_code == 400
    assert response.text == "Cookies max-age cannot be greater than a day"
    assert_healthy(server)


# -- a sync handler still running after its callback ----------------------------------------


def test_thread_running_after_the_callback_retires_its_worker_at_the_limit(servers, tmp_path, e2e):
    server = servers.start(SCENARIO, env={**PIDFILE_ENV, "CALLBOX_MAX_WORKERS": "1"})
    pidfile = tmp_path / "linger.pid"
    started = time.monotonic()
    response = server.client.get("/linger", params={"pidfile": str(pidfile)})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.text == "done"
    assert elapsed < 0.5, f"the callback's answer took {elapsed:.2f} s"
    lingering = int(pidfile.read_text())
    # The execution limit is 1 s: the worker is retired then, and killed as it is idle.
    assert e2e.wait_until(lambda: not e2e.pid_alive(lingering), timeout=1 + KILL_WITHIN), (
        f"worker {lingering} still spins after the execution limit; workers: {server.worker_pids()}"
    )
    assert lingering not in server.worker_pids()
    for _ in range(3):
        started = time.monotonic()
        pid = assert_healthy(server)
        assert time.monotonic() - started < 0.5
        assert pid != lingering
    assert server.worker_pids() == [pid]


# -- imports off the worker's event loop ----------------------------------------------------


SLOW_IMPORT_ENV = {**ENV, "CALLBOX_MAX_WORKERS": "1", "CALLBOX_EXECUTION_TIMEOUT": "5"}


def hello_during_slow_import(server):
    """Request /hello-async while /slow-import (2 s at import) loads on the same worker.

    Returns (hello's response, its duration, whether the slow request was still running)."""
    slow: dict[str, httpx.Response] = {}

    def call_slow():
        with httpx.Client(base_url=server.base_url, timeout=20.0) as client:
            slow["response"] = client.get("/slow-import")

    thread = threading.Thread(target=call_slow)
    thread.start()
    try:
        time.sleep(0.3)  # the import has begun: it is 0.3 s into its 2 s
        started = time.monotonic()
        hello = server.client.get("/hello-async")
        elapsed = time.monotonic() - started
        overlapped = thread.is_alive()
    finally:
        thread.join(10)
    assert slow["response"].status_code == 200, slow["response"].text
    assert slow["response"].text == "imported"
    return hello, elapsed, overlapped


def test_slow_import_does_not_stall_a_loaded_async_function(servers):
    server = servers.start(SCENARIO, env=SLOW_IMPORT_ENV)
    pid = server.client.get("/hello-async").json()["pid"]  # loaded before the slow import
    hello, elapsed, overlapped = hello_during_slow_import(server)
    assert hello.status_code == 200, hello.text
    assert hello.json() == {"hello": True, "pid": pid}
    assert overlapped, "the slow import ended before /hello-async answered"
    assert elapsed < 1.0, f"/hello-async took {elapsed:.2f} s during a slow import"


def test_slow_import_does_not_stall_the_first_load_of_another_function(servers):
    server = servers.start(SCENARIO, env=SLOW_IMPORT_ENV)
    hello, elapsed, overlapped = hello_during_slow_import(server)
    assert hello.status_code == 200, hello.text
    assert hello.json()["hello"] is True
    assert overlapped and elapsed < 1.0, f"/hello-async took {elapsed:.2f} s during a slow import"


# -- SystemExit and KeyboardInterrupt from user code ----------------------------------------


@pytest.fixture(scope="module")
def one_worker(module_servers):
    """One worker for every request: whatever a function does happens to the others' worker."""
    return module_servers.start(
        SCENARIO, env={**ENV, "CALLBOX_MAX_WORKERS": "1", "CALLBOX_EXECUTION_TIMEOUT": "2"}
    )


async def _exit_beside_a_sleeper(base_url, exit_params):
    async with httpx.AsyncClient(base_url=base_url, timeout=20.0) as client:

        async def exit_soon():
            await asyncio.sleep(0.1)  # the sleeper is on the worker, 0.1 s into its 0.5 s
            return await client.get("/async-exit", params=exit_params)

        return await asyncio.gather(client.get("/async-sleep"), exit_soon())


@pytest.mark.parametrize(
    ("params", "name", "message"),
    [
        ({}, "SystemExit", "2"),
        ({"kind": "interrupt"}, "KeyboardInterrupt", "interrupted by the function"),
    ],
)
def test_async_handler_raising_system_exit_is_a_500_and_the_worker_survives(
    one_worker, params, name, message
):
    pid = one_worker.client.get("/hello-async").json()["pid"]
    sleeper, failed = asyncio.run(_exit_beside_a_sleeper(one_worker.base_url, params))
    assert failed.status_code == 500, failed.text
    body = failed.json()
    assert (body["name"], body["message"]) == (name, message)
    assert sleeper.status_code == 200, sleeper.text
    assert sleeper.text == "done"
    assert one_worker.client.get("/hello-async").json()["pid"] == pid


def test_module_raising_system_exit_at_import_is_a_load_error(one_worker):
    pid = one_worker.client.get("/hello-async").json()["pid"]
    response = one_worker.client.get("/exit-at-import")
    message = error_message(response, 500)
    assert "functions/exit-at-import.py failed to import: SystemExit: 3" in message
    assert one_worker.client.get("/hello-async").json()["pid"] == pid
