"""The execution model: deadlines, crashed and stuck workers, the memory cap, concurrency."""

from __future__ import annotations

import asyncio
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
    server = servers.start(SCENARIO, env={**ENV, "CALLBOX_MAX_WORKERS": str(workers)})
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
