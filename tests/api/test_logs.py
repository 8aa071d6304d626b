"""Logs: the read-only list and fetch, and the live stream (server-sent events)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from factories import TIMESTAMP, connect, environment, service, walk

from callbox.api import logs as logs_api
from callbox.api.app import Api, create_api
from callbox.api.endpoint import Call
from callbox.api.params import Params
from callbox.config import Config
from callbox.logs.book import LogBook
from callbox.store.accounts import Accounts
from callbox.store.db import Store, utcnow
from callbox.store.sids import ENVIRONMENT, REQUEST, RESOURCE, new_sid
from callbox.store.tables import environments

FIELDS = {
    "sid",
    "account_sid",
    "service_sid",
    "environment_sid",
    "build_sid",
    "deployment_sid",
    "function_sid",
    "request_sid",
    "level",
    "message",
    "date_created",
    "url",
}


pytestmark = pytest.mark.usefixtures("believe_old_times")


@pytest.fixture
def api(store: Store, accounts: Accounts, logbook: LogBook) -> Api:
    return Api(config=Config.load({}), store=store, accounts=accounts, logbook=logbook)


class Env:
    """A service and one environment in it, and how to write lines there."""

    def __init__(self, service: dict[str, Any], sid: str, logbook: LogBook) -> None:
        self.service = service
        self.sid = sid
        self.logbook = logbook
        self.path = f"/v1/Services/{service['sid']}/Environments/{sid}/Logs"
        self.credentials = ("", "")  # who a hand-made stream Call says it is

    def meta(self, **overrides: Any) -> dict[str, Any]:
        return {
            "account_sid": self.service["account_sid"],
            "service_sid": self.service["sid"],
            "environment_sid": self.sid,
            "build_sid": "ZB" + "1" * 32,
            "deployment_sid": "ZD" + "1" * 32,
            "function_sid": "ZH" + "1" * 32,
            "request_sid": new_sid(REQUEST),
            **overrides,
        }

    def line(self, message: str, ago: float = 0.0, level: str = "INFO", **meta: Any) -> None:
        when = time.time() - ago
        self.logbook.record(self.meta(**meta), [{"level": level, "message": message, "time": when}])


async def make_env(client: httpx.AsyncClient, logbook: LogBook, name: str = "my-app") -> Env:
    svc = await service(client, name)
    env = await environment(client, svc["sid"], "production")
    return Env(svc, env["sid"], logbook)


@pytest.fixture
async def env(client: httpx.AsyncClient, logbook: LogBook, owner: tuple[str, str]) -> Env:
    made = await make_env(client, logbook)
    made.credentials = owner
    return made


# -- list ---------------------------------------------------------------------------------


async def test_list_is_newest_first_in_the_wire_format(client: httpx.AsyncClient, env: Env) -> None:
    env.line("first", ago=3)
    env.line("second", ago=2, level="warn")
    env.line("third", ago=1, level="ERROR")
    env.logbook.flush()
    r = await client.get(env.path)
    assert r.status_code == 200
    body = r.json()
    assert [item["message"] for item in body["logs"]] == ["third", "second", "first"]
    assert [item["level"] for item in body["logs"]] == ["ERROR", "WARN", "INFO"]
    item = body["logs"][0]
    assert set(item) == FIELDS
    assert re.match(r"^NO[0-9a-f]{32}$", item["sid"])
    assert re.match(r"^RQ[0-9a-f]{32}$", item["request_sid"])
    assert item["service_sid"] == env.service["sid"] and item["environment_sid"] == env.sid
    assert item["account_sid"] == env.service["account_sid"]
    assert item["function_sid"] == "ZH" + "1" * 32 and item["build_sid"] == "ZB" + "1" * 32
    assert TIMESTAMP.match(item["date_created"])
    assert item["url"] == f"http://api.test{env.path}/{item['sid']}"
    meta = body["meta"]
    assert meta["key"] == "logs" and meta["page"] == 0 and meta["page_size"] == 50
    assert meta["next_page_url"] is None and meta["previous_page_url"] is None
    assert meta["first_page_url"] == f"http://api.test{env.path}?PageSize=50&Page=0"


async def test_the_service_unique_name_works_too(client: httpx.AsyncClient, env: Env) -> None:
    env.line("hello")
    env.logbook.flush()
    r = await client.get(f"/v1/Services/my-app/Environments/{env.sid}/Logs")
    assert r.status_code == 200 and [i["message"] for i in r.json()["logs"]] == ["hello"]


async def test_only_this_environments_lines(client: httpx.AsyncClient, env: Env) -> None:
    elsewhere = await make_env(client, env.logbook, "other-app")
    env.line("mine")
    elsewhere.line("theirs")
    env.logbook.flush()
    r = await client.get(env.path)
    assert [i["message"] for i in r.json()["logs"]] == ["mine"]


async def test_function_sid_filter(client: httpx.AsyncClient, env: Env) -> None:
    wanted = new_sid(RESOURCE)
    env.line("a", function_sid=wanted)
    env.line("b")
    env.line("c", function_sid=None)
    env.logbook.flush()
    r = await client.get(env.path, params={"FunctionSid": wanted})
    assert r.status_code == 200 and [i["message"] for i in r.json()["logs"]] == ["a"]
    assert f"FunctionSid={wanted}" in r.json()["meta"]["first_page_url"]
    r = await client.get(env.path, params={"FunctionSid": ""})  # empty: no filter
    assert len(r.json()["logs"]) == 3


async def test_bad_filters_are_400(client: httpx.AsyncClient, env: Env) -> None:
    for params in (
        {"FunctionSid": "ZHnope"},
        {"FunctionSid": "ZS" + "0" * 32},
        {"FunctionSid": "ZH" + "0" * 31},
        {"StartDate": "yesterday"},
        {"EndDate": "2026-13-01T00:00:00Z"},
        {"StartDate": "2026-01-02T00:00:00Z", "EndDate": "2026-01-01T00:00:00Z"},
        {"PageSize": "0"},
        {"PageSize": "many"},
        {"PageToken": "PTgarbage"},
    ):
        r = await client.get(env.path, params=params)
        assert r.status_code == 400, params
        body = r.json()
        assert body["code"] == 20001 and body["status"] == 400, params
    r = await client.get(env.path, params={"FunctionSid": "ZHnope"})
    assert "ZHnope" in r.json()["message"] and "FunctionSid" in r.json()["message"]
    r = await client.get(
        env.path, params={"StartDate": "2026-01-02T00:00:00Z", "EndDate": "2026-01-01T00:00:00Z"}
    )
    assert "StartDate" in r.json()["message"] and "EndDate" in r.json()["message"]


async def test_default_window_is_the_last_day(client: httpx.AsyncClient, env: Env) -> None:
    env.line("two days old", ago=2 * 86400)
    env.line("an hour old", ago=3600)
    env.logbook.flush()
    r = await client.get(env.path)
    assert [i["message"] for i in r.json()["logs"]] == ["an hour old"]
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = await client.get(env.path, params={"StartDate": three_days_ago})
    assert [i["message"] for i in r.json()["logs"]] == ["an hour old", "two days old"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = await client.get(env.path, params={"EndDate": tomorrow})
    assert [i["message"] for i in r.json()["logs"]] == ["an hour old"]
    r = await client.get(env.path, params={"EndDate": three_days_ago})
    assert r.status_code == 200 and r.json()["logs"] == []  # a day before that EndDate


async def test_an_old_end_date_alone_is_accepted(client: httpx.AsyncClient, env: Env) -> None:
    # From the review: refused as "StartDate must not be after EndDate", though the client sent
    # no StartDate; the default StartDate is a day before EndDate, not a day before now.
    env.line("an hour old", ago=3600)
    env.logbook.flush()
    r = await client.get(env.path, params={"EndDate": "2020-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    assert r.json()["logs"] == []


async def test_an_out_of_range_start_date_is_a_400(client: httpx.AsyncClient, env: Env) -> None:
    # From the review: converting it to UTC overflowed, a 500.
    r = await client.get(env.path, params={"StartDate": "0001-01-01T00:00:00+01:00"})
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 20001 and "StartDate" in r.json()["message"]


async def test_start_and_end_dates_both_formats(client: httpx.AsyncClient, env: Env) -> None:
    base = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    for minute in range(5):
        env.logbook.record(env.meta(), [{"message": f"m{minute}", "time": base + 60 * minute}])
    env.logbook.flush()
    # Python SDK style (seconds) and npm style (milliseconds, toISOString).
    r = await client.get(
        env.path,
        params={"StartDate": "2026-01-01T12:01:00Z", "EndDate": "2026-01-01T12:03:00.000Z"},
    )
    assert r.status_code == 200
    assert [i["message"] for i in r.json()["logs"]] == ["m3", "m2", "m1"]
    # The npm client does not encode the colons.
    r = await client.get(
        f"{env.path}?StartDate=2026-01-01T12:03:30.500Z&EndDate=2026-01-02T00:00:00Z"
    )
    assert [i["message"] for i in r.json()["logs"]] == ["m4"]


async def test_pages_cover_every_line_once(client: httpx.AsyncClient, env: Env) -> None:
    base = time.time() - 600
    for i in range(60):
        # Two requests at the very same instant: ties are broken by sid, still no repeats.
        env.logbook.record(env.meta(), [{"message": f"{i}a", "time": base + i}])
        env.logbook.record(env.meta(), [{"message": f"{i}b", "time": base + i}])
    env.logbook.flush()
    r = await client.get(env.path)
    first = r.json()
    assert len(first["logs"]) == 50 and first["meta"]["next_page_url"]
    # Lines written while a client walks the pages neither repeat nor shift what it sees.
    env.line("late")
    env.logbook.flush()
    rest, _ = await walk(client, first["meta"]["next_page_url"])
    items = first["logs"] + rest
    messages = [item["message"] for item in items]
    assert len(messages) == 120 and len(set(messages)) == 120
    assert len({item["sid"] for item in items}) == 120
    assert messages[0].startswith("59") and messages[-1].startswith("0")
    dates = [item["date_created"] for item in items]
    assert dates == sorted(dates, reverse=True)


async def test_page_urls_repeat_the_filters(client: httpx.AsyncClient, env: Env) -> None:
    function_sid = "ZH" + "1" * 32
    for i in range(5):
        env.line(str(i), ago=10 - i)
    env.logbook.flush()
    start = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = await client.get(
        env.path, params={"FunctionSid": function_sid, "StartDate": start, "PageSize": "2"}
    )
    meta = r.json()["meta"]
    assert meta["page_size"] == 2
    query = parse_qs(urlsplit(meta["next_page_url"]).query)
    assert query["FunctionSid"] == [function_sid] and query["StartDate"] == [start]
    assert query["Page"] == ["1"] and "PageToken" in query
    assert "EndDate" not in query  # only what the client sent
    items, _ = await walk(client, meta["next_page_url"])
    assert [i["message"] for i in r.json()["logs"] + items] == ["4", "3", "2", "1", "0"]
    # previous_page_url leads back to the first page.
    second = (await client.get(meta["next_page_url"])).json()
    back = (await client.get(second["meta"]["previous_page_url"])).json()
    assert [i["message"] for i in back["logs"]] == ["4", "3"]


# -- fetch --------------------------------------------------------------------------------


async def test_fetch_one(client: httpx.AsyncClient, env: Env) -> None:
    env.line("hello", level="error")
    env.logbook.flush()
    listed = (await client.get(env.path)).json()["logs"][0]
    r = await client.get(f"{env.path}/{listed['sid']}")
    assert r.status_code == 200 and r.json() == listed


async def test_fetch_not_found(client: httpx.AsyncClient, env: Env) -> None:
    elsewhere = await make_env(client, env.logbook, "other-app")
    elsewhere.line("theirs")
    env.logbook.flush()
    theirs = (await client.get(elsewhere.path)).json()["logs"][0]["sid"]
    for sid in (theirs, "NO" + "0" * 32, "nope", "ZB" + "0" * 32):
        r = await client.get(f"{env.path}/{sid}")
        assert r.status_code == 404, sid
        assert r.json()["code"] == 20404
        assert r.json()["message"] == f"The requested resource {env.path[3:]}/{sid} was not found"


async def test_unknown_environment_or_service_is_404(client: httpx.AsyncClient, env: Env) -> None:
    elsewhere = await make_env(client, env.logbook, "other-app")
    service = env.service["sid"]
    for path in (
        f"/v1/Services/{service}/Environments/{new_sid(ENVIRONMENT)}/Logs",
        f"/v1/Services/{service}/Environments/nope/Logs",
        f"/v1/Services/{service}/Environments/{elsewhere.sid}/Logs",  # another service's
        f"/v1/Services/no-such-app/Environments/{env.sid}/Logs",
        f"/v1/Services/{service}/Environments/{new_sid(ENVIRONMENT)}/Logs/Stream",
    ):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert r.json()["code"] == 20404


async def test_another_account_sees_nothing(
    client: httpx.AsyncClient, other: httpx.AsyncClient, env: Env
) -> None:
    env.line("secret")
    env.logbook.flush()
    sid = (await client.get(env.path)).json()["logs"][0]["sid"]
    for path in (env.path, f"{env.path}/{sid}", f"{env.path}/Stream"):
        r = await other.get(path)
        assert r.status_code == 404, path
        assert r.json()["code"] == 20404


async def test_read_only_and_authenticated(client: httpx.AsyncClient, api: Api, env: Env) -> None:
    r = await client.post(env.path, data={"Message": "x"})
    assert r.status_code == 405
    r = await client.delete(f"{env.path}/NO" + "0" * 32)
    assert r.status_code == 405
    async with connect(api) as anonymous:
        for path in (env.path, f"{env.path}/NO" + "0" * 32, f"{env.path}/Stream"):
            r = await anonymous.get(path)
            assert r.status_code == 401, path
            assert r.json()["code"] == 20003


async def test_stream_rejects_bad_parameters(client: httpx.AsyncClient, env: Env) -> None:
    for params in ({"FunctionSid": "ZHnope"}, {"Since": "last week"}):
        r = await client.get(f"{env.path}/Stream", params=params)
        assert r.status_code == 400, params
        assert r.json()["code"] == 20001


# -- the stream, driven directly ----------------------------------------------------------


def stream_call(api: Api, env: Env) -> Call:
    return Call(
        api=api,
        account_sid=env.service["account_sid"],
        path={"ServiceSid": env.service["sid"], "EnvironmentSid": env.sid},
        form=Params({}),  # type: ignore[arg-type]
        query=Params({}),  # type: ignore[arg-type]
        base="http://api.test",
        uri=env.path[3:] + "/Stream",
        credentials=env.credentials,
    )


def parse(event: str) -> dict[str, Any]:
    fields = dict(line.split(": ", 1) for line in event.strip().split("\n"))
    assert fields["event"] == "log"
    body = json.loads(fields["data"])
    assert body["sid"] == fields["id"]
    return body


async def test_events_replay_then_go_live(api: Api, env: Env, logbook: LogBook) -> None:
    env.line("too old", ago=60)
    env.line("missed 1", ago=5)
    env.line("missed 2", ago=4)
    environment = logs_api._stream_environment(stream_call(api, env))
    subscription = logbook.subscribe(env.sid)
    events = logs_api._events(
        stream_call(api, env),
        environment,
        subscription,
        since=utcnow() - timedelta(seconds=30),
    )
    assert await anext(events) == ": connected\n\n"
    replayed = [parse(await anext(events)) for _ in range(2)]
    assert [e["message"] for e in replayed] == ["missed 1", "missed 2"]
    assert set(replayed[0]) == FIELDS
    env.line("live")
    live = parse(await asyncio.wait_for(anext(events), 1))
    assert live["message"] == "live" and set(live) == FIELDS
    assert live["url"] == f"http://api.test{env.path}/{live['sid']}"
    await events.aclose()
    assert subscription.closed and logbook.subscribers(env.sid) == 0


async def test_lines_in_both_backlog_and_live_come_once(
    api: Api, env: Env, logbook: LogBook
) -> None:
    subscription = logbook.subscribe(env.sid)
    env.line("between subscribe and backlog")  # live queue and database both have it
    events = logs_api._events(
        stream_call(api, env),
        logs_api._stream_environment(stream_call(api, env)),
        subscription,
        since=utcnow() - timedelta(seconds=30),
    )
    assert await anext(events) == ": connected\n\n"
    assert parse(await anext(events))["message"] == "between subscribe and backlog"
    env.line("next")
    assert parse(await asyncio.wait_for(anext(events), 1))["message"] == "next"
    await events.aclose()


async def test_last_event_id_replays_after_that_line(api: Api, env: Env, logbook: LogBook) -> None:
    for i in range(4):
        env.line(f"l{i}", ago=10 - i)
    logbook.flush()
    call = stream_call(api, env)
    stored = logs_api._backlog(call, env.sid, since=utcnow() - timedelta(minutes=1))
    assert [row.message for row in stored] == ["l0", "l1", "l2", "l3"]
    mark = logs_api._seq_of(call, env.sid, stored[1].sid)
    assert mark is not None
    after = logs_api._backlog(call, env.sid, after=mark)
    assert [row.message for row in after] == ["l2", "l3"]
    # An unknown id has no place in the order (the stream then falls back to Since).
    assert logs_api._seq_of(call, env.sid, "NO" + "0" * 32) is None
    assert logs_api._seq_of(call, env.sid, "junk") is None


async def test_keep_alive_and_function_filter(
    api: Api, env: Env, logbook: LogBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs_api, "KEEP_ALIVE", 0.05)
    wanted = new_sid(RESOURCE)
    subscription = logbook.subscribe(env.sid)
    events = logs_api._events(
        stream_call(api, env),
        logs_api._stream_environment(stream_call(api, env)),
        subscription,
        function_sid=wanted,
    )
    assert await anext(events) == ": connected\n\n"
    assert await asyncio.wait_for(anext(events), 1) == ": keep-alive\n\n"
    env.line("other function")
    env.line("this function", function_sid=wanted)
    # Lines reach streams once their batch is written (any node's): keep-alives may come first.
    event = await asyncio.wait_for(anext(events), 1)
    while event == ": keep-alive\n\n":
        event = await asyncio.wait_for(anext(events), 1)
    assert parse(event)["message"] == "this function"
    subscription.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(events), 1)


async def test_a_lagging_stream_gets_the_lost_lines_from_the_database(
    api: Api, env: Env, logbook: LogBook
) -> None:
    subscription = logbook.subscribe(env.sid, limit=2)
    events = logs_api._events(
        stream_call(api, env), logs_api._stream_environment(stream_call(api, env)), subscription
    )
    assert await anext(events) == ": connected\n\n"
    logbook.record(env.meta(), [{"message": str(i)} for i in range(5)])
    got = [parse(await asyncio.wait_for(anext(events), 2))["message"] for _ in range(5)]
    assert got == ["0", "1", "2", "3", "4"]  # 0-2 were dropped live: read back, in order
    env.line("after")
    assert parse(await asyncio.wait_for(anext(events), 2))["message"] == "after"  # once
    await events.aclose()


async def test_lost_lines_dated_before_a_sent_one_still_arrive(
    api: Api, env: Env, logbook: LogBook
) -> None:
    # Invocations finish in another order than they print: a line recorded later may carry
    # an earlier time. Catching up by time would skip it; by recording order it arrives.
    subscription = logbook.subscribe(env.sid, limit=2)
    events = logs_api._events(
        stream_call(api, env), logs_api._stream_environment(stream_call(api, env)), subscription
    )
    assert await anext(events) == ": connected\n\n"
    env.line("finished first")
    assert parse(await asyncio.wait_for(anext(events), 2))["message"] == "finished first"
    earlier = time.time() - 10
    logbook.record(
        env.meta(), [{"message": f"printed earlier {i}", "time": earlier} for i in range(6)]
    )
    got = [parse(await asyncio.wait_for(anext(events), 2))["message"] for _ in range(6)]
    assert got == [f"printed earlier {i}" for i in range(6)]
    env.line("next")
    assert parse(await asyncio.wait_for(anext(events), 2))["message"] == "next"  # no repeats
    await events.aclose()


async def test_a_gap_longer_than_a_page_is_filled_page_by_page(
    api: Api, env: Env, logbook: LogBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs_api, "MAX_REPLAY", 3)
    env.line("first")
    logbook.flush()
    mark = logs_api._backlog(stream_call(api, env), env.sid, since=utcnow() - timedelta(minutes=1))[
        -1
    ].sid
    logbook.record(env.meta(), [{"message": f"missed {i}"} for i in range(8)])
    subscription = logbook.subscribe(env.sid)
    events = logs_api._events(
        stream_call(api, env),
        logs_api._stream_environment(stream_call(api, env)),
        subscription,
        last_event_id=mark,
    )
    assert await anext(events) == ": connected\n\n"
    got = [parse(await asyncio.wait_for(anext(events), 2))["message"] for _ in range(8)]
    assert got == [f"missed {i}" for i in range(8)]
    await events.aclose()


async def test_the_stream_ends_when_its_environment_is_deleted(
    api: Api, env: Env, logbook: LogBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs_api, "KEEP_ALIVE", 0.05)
    subscription = logbook.subscribe(env.sid)
    events = logs_api._events(
        stream_call(api, env), logs_api._stream_environment(stream_call(api, env)), subscription
    )
    assert await anext(events) == ": connected\n\n"
    assert await asyncio.wait_for(anext(events), 1) == ": keep-alive\n\n"
    with api.store.begin() as conn:
        conn.execute(sa.delete(environments).where(environments.c.sid == env.sid))
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(events), 2)


# -- the stream over a real server ---------------------------------------------------------


@pytest.fixture
def server(api: Api) -> Iterator[str]:
    """The API on a real uvicorn server on a free port, in a thread with its own loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_api(api), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert running.started
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(5)
    sock.close()


async def next_event(lines: AsyncIterator[str]) -> str:
    block: list[str] = []
    async for line in lines:
        if line == "" and block:
            return "\n".join(block) + "\n\n"
        if line:
            block.append(line)
    raise AssertionError("the stream ended")


@pytest.fixture
async def real(server: str, owner: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, auth=owner, timeout=5) as c:
        yield c


async def test_stream_over_a_real_server(
    real: httpx.AsyncClient, client: httpx.AsyncClient, env: Env, logbook: LogBook
) -> None:
    async with real.stream("GET", f"{env.path}/Stream") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        lines = r.aiter_lines()
        assert await asyncio.wait_for(next_event(lines), 2) == ": connected\n\n"
        assert logbook.subscribers(env.sid) == 1
        started = time.monotonic()
        env.line("live over the wire")  # recorded on this thread: the server's loop is another
        event = parse(await asyncio.wait_for(next_event(lines), 1))
        assert time.monotonic() - started < 1
        assert event["message"] == "live over the wire"
        assert event["url"].endswith(f"{env.path}/{event['sid']}")
    # The client went away: the server notices and lets go of the subscription.
    deadline = time.monotonic() + 3
    while logbook.subscribers(env.sid) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert logbook.subscribers(env.sid) == 0


async def test_reconnect_with_since_or_last_event_id_has_no_gap(
    real: httpx.AsyncClient, env: Env, logbook: LogBook
) -> None:
    env.line("before", ago=120)
    env.line("while away 1", ago=2)
    env.line("while away 2", ago=1)
    since = (datetime.now(UTC) - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    async with real.stream("GET", f"{env.path}/Stream", params={"Since": since}) as r:
        lines = r.aiter_lines()
        assert await asyncio.wait_for(next_event(lines), 2) == ": connected\n\n"
        first = parse(await asyncio.wait_for(next_event(lines), 2))
        second = parse(await asyncio.wait_for(next_event(lines), 2))
        assert [first["message"], second["message"]] == ["while away 1", "while away 2"]
    headers = {"Last-Event-ID": first["sid"]}
    async with real.stream("GET", f"{env.path}/Stream", headers=headers) as r:
        lines = r.aiter_lines()
        assert await asyncio.wait_for(next_event(lines), 2) == ": connected\n\n"
        assert parse(await asyncio.wait_for(next_event(lines), 2))["message"] == "while away 2"
        env.line("live")
        assert parse(await asyncio.wait_for(next_event(lines), 1))["message"] == "live"
