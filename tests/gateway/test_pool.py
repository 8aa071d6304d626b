"""Worker pools with real worker processes: deadlines, crashes, concurrency, memory, draining."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from callbox.config import Config
from callbox.errors import BadRequest, FunctionError, TimedOut
from callbox.gateway.pool import Pool, PoolSet, Reply
from callbox.gateway.source import Deployment
from callbox.gateway.supervisor import Supervisor, Worker
from callbox.toolkit.project import Layout, discover

ROOT = Path(__file__).resolve().parents[1] / "functions" / "unit_worker"
ROUTES = discover(Layout.find(ROOT))
DEPLOYMENT = Deployment(build_key="unit-pool", service_key="unit", root=ROOT, routes=ROUTES)
SPEC = DEPLOYMENT.worker_spec(memory_limit_mb=256, debug_errors=False, threads=8)
FAST = {"execution_timeout": 0.5, "cancel_grace": 0.3}


# One warm parent for the whole module; every test's pools are closed and their workers killed.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def make_pool(supervisor: Supervisor) -> AsyncIterator[Callable[..., Pool]]:
    pools: list[Pool] = []

    def make(spec: dict[str, Any] | None = None, **settings: Any) -> Pool:
        pool = Pool(supervisor, spec or SPEC, Config(**{**FAST, **settings}))
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()
        for worker in list(pool.workers):
            worker.kill()


async def invoke(pool: Pool, path: str, event: dict[str, Any] | None = None) -> Reply:
    return await pool.invoke(f"RQ-{path}-{id(event)}", path, {"PATH": path}, event or {})


async def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def pid_of(reply: Reply) -> int:
    return int(json.loads(reply.body)["pid"])


# --- the happy path ---------------------------------------------------------------------


async def test_invoke_answers_a_reply_and_reuses_the_worker(make_pool: Callable[..., Pool]) -> None:
    pool = make_pool()
    first = await invoke(pool, "/sync_return", {"name": "one"})
    second = await invoke(pool, "/sync_return", {"name": "two"})
    assert first.status == 200
    assert first.headers == [("Content-Type", "application/json; charset=utf-8")]
    assert json.loads(second.body)["name"] == "two"
    assert first.oversize is None and first.logs == []
    assert pid_of(first) == pid_of(second)
    assert len(pool.workers) == 1


async def test_many_concurrent_async_invocations_share_a_few_workers(
    make_pool: Callable[..., Pool],
) -> None:
    pool = make_pool(max_workers=2, execution_timeout=5.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    running = asyncio.gather(
        *(invoke(pool, "/slow", {"tag": str(n), "delay": "0.3"}) for n in range(60))
    )
    peak = 0
    while not running.done():
        peak = max(peak, len(pool.workers))
        await asyncio.sleep(0.01)
    replies = await running
    elapsed = loop.time() - started
    assert 1 <= peak <= 2
    assert [r.status for r in replies] == [200] * 60
    assert [json.loads(r.body)["tag"] for r in replies] == [str(n) for n in range(60)]
    assert len({pid_of(r) for r in replies}) <= 2
    assert len(pool.workers) <= 2
    assert elapsed < 3.0  # 60 x 0.3 s one after another would take 18 s


# --- timeouts ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sleep_sync", "/sleep_async", "/block_loop", "/spin_sync"])
async def test_timeout_answers_timed_out_and_the_pool_keeps_serving(
    make_pool: Callable[..., Pool], path: str
) -> None:
    pool = make_pool()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimedOut) as caught:
        await invoke(pool, path)
    assert 0.45 <= loop.time() - started < 1.5
    assert caught.value.status == 504
    assert caught.value.message == "runtime application timed out"
    reply = await invoke(pool, "/sync_return", {"name": "after"})
    assert reply.status == 200
    assert json.loads(reply.body)["name"] == "after"


async def test_lines_of_a_timed_out_invocation_reach_the_late_log_sink(
    supervisor: Supervisor,
) -> None:
    late: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    pool = Pool(supervisor, SPEC, Config(**FAST), lambda meta, lines: late.append((meta, lines)))
    try:
        with pytest.raises(TimedOut):
            await pool.invoke("RQstuck", "/print_then_sleep", {}, {}, {"path": "/stuck"})
        await wait_for(lambda: bool(late))
        [(meta, lines)] = late
        assert meta == {"path": "/stuck"}
        assert [(line["level"], line["message"]) for line in lines] == [
            ("INFO", "started, then stuck")
        ]
    finally:
        pool.close()


async def test_a_handler_that_never_calls_back_times_out(make_pool: Callable[..., Pool]) -> None:
    pool = make_pool()
    with pytest.raises(TimedOut):
        await invoke(pool, "/never_calls_back")


async def test_async_timeout_with_an_acknowledged_cancel_keeps_the_worker(
    make_pool: Callable[..., Pool],
) -> None:
    pool = make_pool()
    before = pid_of(await invoke(pool, "/sleep_async", {"delay": "0"}))
    [worker] = pool.workers
    with pytest.raises(TimedOut):
        await invoke(pool, "/sleep_async")
    await wait_for(lambda: worker.load == 0)
    await asyncio.sleep(0.4)  # past the cancel grace
    assert pool.workers == [worker]
    assert not worker.retired and not worker.dead
    assert pid_of(await invoke(pool, "/sleep_async", {"delay": "0"})) == before


async def test_sync_timeout_retires_the_worker_after_a_successful_run(
    make_pool: Callable[..., Pool],
) -> None:
    pool = make_pool()
    before = pid_of(await invoke(pool, "/sleep_sync", {"delay": "0"}))
    [worker] = pool.workers
    with pytest.raises(TimedOut):
        await invoke(pool, "/sleep_sync")
    await wait_for(lambda: worker.retired)
    await wait_for(lambda: worker.dead and worker not in pool.workers)
    after = pid_of(await invoke(pool, "/sleep_sync", {"delay": "0"}))
    assert after != before


@pytest.mark.parametrize("path", ["/sleep_sync", "/spin_sync"])
async def test_first_sync_timeout_retires_the_worker(
    make_pool: Callable[..., Pool], path: str
) -> None:
    pool = make_pool()
    await invoke(pool, "/sync_return")
    [worker] = pool.workers
    with pytest.raises(TimedOut):
        await invoke(pool, path)
    await asyncio.sleep(0.5)  # past the cancel grace
    assert worker.retired
    assert worker.dead
    assert worker not in pool.workers


async def test_blocked_event_loop_retires_and_kills_the_worker(
    make_pool: Callable[..., Pool],
) -> None:
    pool = make_pool()
    await invoke(pool, "/sync_return")
    [worker] = pool.workers
    with pytest.raises(TimedOut):
        await invoke(pool, "/block_loop")
    assert not worker.retired  # an async path: the pool waits for the cancel first
    await wait_for(lambda: worker.dead, timeout=2.0)
    assert worker.retired
    assert worker not in pool.workers


# --- crashes and memory -----------------------------------------------------------------


async def test_crash_is_a_function_error_naming_the_exit_code(
    make_pool: Callable[..., Pool],
) -> None:
    pool = make_pool(execution_timeout=5.0)
    with pytest.raises(FunctionError) as caught:
        await invoke(pool, "/crash")
    assert caught.value.status == 500
    assert caught.value.message == (
        "The worker process running this function exited unexpectedly (exit code 3)."
    )
    assert pool.workers == []
    assert (await invoke(pool, "/sync_return")).status == 200


async def test_crash_fails_the_other_invocations_the_worker_held(
    make_pool: Callable[..., Pool],
) -> None:
    pool = make_pool(max_workers=1, execution_timeout=5.0)
    slow = asyncio.ensure_future(invoke(pool, "/slow", {"delay": "2"}))
    await asyncio.sleep(0.3)
    with pytest.raises(FunctionError, match="exit code 3"):
        await invoke(pool, "/crash")
    with pytest.raises(FunctionError, match="exited unexpectedly"):
        await slow


async def test_memory_error_answers_a_clear_500_and_retires_the_worker(
    make_pool: Callable[..., Pool],
) -> None:
    spec = DEPLOYMENT.worker_spec(memory_limit_mb=32, debug_errors=False, threads=8)
    pool = make_pool(spec, execution_timeout=5.0)
    reply = await invoke(pool, "/memory_hog")
    assert reply.status == 500
    assert json.loads(reply.body) == {
        "message": "The function ran out of memory: it needed more than its 32 MB limit.",
        "name": "MemoryError",
    }
    assert pool.workers == []
    assert (await invoke(pool, "/sync_return")).status == 200


# --- draining ---------------------------------------------------------------------------


async def test_close_kills_idle_workers_and_lets_busy_ones_finish(
    make_pool: Callable[..., Pool],
) -> None:
    pool = make_pool(max_workers=2, execution_timeout=5.0)
    short = asyncio.ensure_future(invoke(pool, "/slow", {"delay": "0.05"}))
    long = asyncio.ensure_future(invoke(pool, "/slow", {"delay": "0.6"}))
    await short
    await asyncio.sleep(0.05)
    assert len(pool.workers) == 2
    idle = next(w for w in pool.workers if w.load == 0)
    busy = next(w for w in pool.workers if w.load == 1)
    pool.close()
    assert idle.dead and idle not in pool.workers
    assert not busy.dead and pool.workers == [busy]
    reply = await long
    assert reply.status == 200
    assert json.loads(reply.body)["pid"] == busy.pid
    await wait_for(lambda: busy.dead)
    assert pool.workers == []


async def test_a_closed_pool_serves_a_straggler_then_keeps_no_worker(
    make_pool: Callable[..., Pool],
) -> None:
    # A request that began before its build was replaced is still answered by that build.
    pool = make_pool()
    pool.close()
    reply = await invoke(pool, "/sync_return")
    assert reply.status == 200
    await wait_for(lambda: pool.workers == [])


async def test_poolset_serves_a_retired_build_without_keeping_its_pool(
    supervisor: Supervisor,
) -> None:
    pools = PoolSet(supervisor, Config(**FAST))
    pools.retire(DEPLOYMENT.build_key)
    pool = pools.pool_for(DEPLOYMENT)
    assert pool.closed and pools.pool_for(DEPLOYMENT) is not pool
    assert (await invoke(pool, "/sync_return")).status == 200
    await wait_for(lambda: pool.workers == [])


async def test_warm_starts_one_idle_worker(make_pool: Callable[..., Pool]) -> None:
    pool = make_pool()
    await pool.warm()
    await pool.warm()
    [worker] = pool.workers
    assert worker.load == 0 and worker.usable
    reply = await invoke(pool, "/sync_return")
    assert pid_of(reply) == worker.pid


async def test_an_event_too_deep_to_send_is_a_400_and_the_worker_keeps_serving(
    make_pool: Callable[..., Pool],
) -> None:
    pool = make_pool()
    first = await invoke(pool, "/sync_return")
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(BadRequest) as refused:
        await invoke(pool, "/sync_return", {"deep": deep})
    assert refused.value.status == 400
    assert refused.value.message == (
        "The request cannot be passed to the function: "
        "the event is nested too deeply to be sent to a worker."
    )
    [worker] = pool.workers
    assert worker.load == 0 and worker.usable
    assert pid_of(await invoke(pool, "/sync_return")) == pid_of(first)


# --- PoolSet ----------------------------------------------------------------------------


async def test_pool_set_keeps_one_pool_per_build_and_retire_drains_it(
    supervisor: Supervisor,
) -> None:
    config = Config(**FAST, memory_limit_mb=64, debug_errors=True)
    pools = PoolSet(supervisor, config)
    other = Deployment(build_key="unit-pool-2", service_key="unit", root=ROOT, routes=ROUTES)
    first = pools.pool_for(DEPLOYMENT)
    assert pools.pool_for(DEPLOYMENT) is first
    assert pools.pool_for(other) is not first
    assert first.spec["memory_limit_mb"] == 64 and first.spec["debug_errors"] is True
    await invoke(first, "/sync_return")
    [worker] = first.workers
    pools.retire(DEPLOYMENT.build_key)
    assert first.closed and worker.dead and first.workers == []
    replacement = pools.pool_for(DEPLOYMENT)
    assert replacement is not first
    assert (await invoke(replacement, "/sync_return")).status == 200
    pools.retire("no-such-build")  # nothing to do, no error
    pools.close()
    assert replacement.closed


async def test_spawned_workers_are_tracked_until_killed(make_pool: Callable[..., Pool]) -> None:
    pool = make_pool()
    await invoke(pool, "/sync_return")
    [worker] = pool.workers
    assert isinstance(worker, Worker)
    assert worker.pid > 0 and worker.load == 0
