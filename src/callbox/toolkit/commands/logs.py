"""``callbox logs``: the recent log lines of an environment, and with ``--tail`` the new ones.

Twilio's toolkit polls the list every second; callbox follows the server's live stream
(``.../Logs/Stream``, server-sent events) instead. It connects with ``Last-Event-ID`` set to
the newest line already printed, so there is no gap, and reconnects the same way when the
connection drops; SIDs seen last are remembered so that no line is printed twice.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import httpx

from callbox.toolkit.client import api_error
from callbox.toolkit.options import (
    ApiFlags,
    api_options,
    environment_options,
    output_option,
    service_sid_option,
)
from callbox.toolkit.session import Session, open_session

RECENT = 50  # lines printed first, as Twilio's toolkit
WINDOW = timedelta(hours=24)  # the list's default window: where a tail with no lines starts


@click.command()
@api_options
@service_sid_option
@click.option(
    "--function-sid",
    default=None,
    help="Only this function's lines: its SID (ZH...) or its path (e.g. /hello).",
)
@click.option("--tail", is_flag=True, default=False, help="Keep printing new lines (Ctrl+C ends).")
@environment_options
@click.option("--log-cache-size", type=click.IntRange(min=1), default=1000, hidden=True)
@output_option
@click.pass_context
def logs(ctx: click.Context, **_flags: Any) -> None:
    """Print the last 50 log lines of an environment, oldest first; --tail follows new ones.

    Each line reads [LEVEL][date]: message; -o json prints one JSON object per line.

    \b
    Examples:
      callbox logs                                   # the dev environment of this project
      callbox logs --tail --production
      callbox logs --function-sid /hello --environment stage
      callbox logs --service-sid ZS0123... --tail -o json | jq .message
    """
    with (
        open_session(ctx, "logs", LogsFlags) as session,
        contextlib.suppress(KeyboardInterrupt),
    ):
        _logs(session)  # Ctrl+C is how a tail ends: not an error


@dataclass(frozen=True)
class LogsFlags(ApiFlags):
    function_sid: str | None = None  # a SID (ZH...) or a path
    tail: bool = False
    log_cache_size: int = 1000


def _logs(session: Session[LogsFlags]) -> None:
    flags = session.flags
    environment = session.find_environment(str(session.service()))
    service_sid = environment["service_sid"]
    client = session.client
    function_sid = _function_sid(session, service_sid, flags.function_sid)
    started = datetime.now(UTC)
    recent = client.logs(service_sid, environment["sid"], page_size=RECENT, function=function_sid)
    emit = print_json_line if session.printer.json else print_text_line
    seen = SeenSids(int(flags.log_cache_size or 1000))
    for item in reversed(recent):  # the API gives newest first
        seen.add(item["sid"])
        emit(item)
    if not flags.tail:
        return
    follower = Follower(
        client.http,
        f"{client.logs_path(service_sid, environment['sid'])}/Stream",
        emit=emit,
        seen=seen,
        last_event_id=recent[0]["sid"] if recent else None,
        since=None if recent else _iso(started - WINDOW),
        function_sid=function_sid,
        say=session.printer.info,
        source=client.source,
    )
    follower.run()


def print_text_line(item: dict[str, Any]) -> None:
    click.echo(f"[{item.get('level')}][{item.get('date_created')}]: {item.get('message')}")


def print_json_line(item: dict[str, Any]) -> None:
    click.echo(json.dumps(item))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _function_sid(session: Session, service_sid: str, value: Any) -> str | None:
    """--function-sid as a SID, or the SID of the function deployed at that path."""
    if not value:
        return None
    text = str(value)
    if text.startswith("ZH"):
        return text
    wanted = "/" + text.lstrip("/")
    for function in session.client.resources(service_sid, "function"):
        if function.get("friendly_name") == wanted:
            return str(function["sid"])
    raise click.ClickException(
        f"Service {service_sid} has no function at path {wanted}: pass a function SID (ZH...) "
        "or a path `callbox list functions` shows."
    )


class SeenSids:
    """The last ``size`` SIDs printed: a replay after a reconnect never prints a line twice."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._order: deque[str] = deque()
        self._set: set[str] = set()

    def add(self, sid: str) -> bool:
        """Remember ``sid``; False when it was already there."""
        if sid in self._set:
            return False
        self._order.append(sid)
        self._set.add(sid)
        if len(self._order) > self.size:
            self._set.discard(self._order.popleft())
        return True

    def __contains__(self, sid: object) -> bool:
        return sid in self._set

    def __len__(self) -> int:
        return len(self._order)


@dataclass
class Event:
    type: str = "message"
    id: str | None = None
    data: str = ""


def parse_events(lines: Iterable[str]) -> Iterator[Event]:
    """Server-sent events from the stream's lines (comments, e.g. keep-alives, are skipped)."""
    event, data = Event(), list[str]()
    for line in lines:
        if not line:
            if data:
                event.data = "\n".join(data)
                yield event
            event, data = Event(), []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event.type = value
        elif name == "id":
            event.id = value


@dataclass
class Follower:
    """Follows ``path`` (a Logs/Stream URL) on ``http`` until ``stop()``, reconnecting with
    ``Last-Event-ID`` when the connection drops or the server ends it."""

    http: httpx.Client
    path: str
    emit: Callable[[dict[str, Any]], None]
    seen: SeenSids = field(default_factory=SeenSids)
    last_event_id: str | None = None
    since: str | None = None  # ISO date: where to start when no line was printed yet
    function_sid: str | None = None
    say: Callable[[str], None] = lambda _text: None
    source: str = ""  # where the credentials came from, said if they are refused
    retry_delay: float = 0.25
    max_delay: float = 5.0
    read_timeout: float = 60.0  # the server sends a keep-alive every 15 s
    connections: int = 0
    _stopped: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                if self.follow_once():
                    return
                failures = 0  # the server ended the stream (a restart, say): reconnect
            except httpx.TransportError as exc:
                failures += 1
                if failures == 1:
                    self.say(f"Lost the log stream ({exc or type(exc).__name__}); reconnecting.")
            delay = min(self.retry_delay * 2 ** min(failures, 8), self.max_delay)
            if self._stopped.wait(delay):
                return

    def follow_once(self) -> bool:
        """One connection, until it ends; True once ``stop()`` was called."""
        headers = {"Accept": "text/event-stream"}
        params: dict[str, str] = {}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        elif self.since:
            params["Since"] = self.since
        if self.function_sid:
            params["FunctionSid"] = self.function_sid
        timeout = httpx.Timeout(30.0, read=self.read_timeout)
        with self.http.stream(
            "GET", self.path, params=params, headers=headers, timeout=timeout
        ) as response:
            if response.status_code >= 400:
                response.read()
                error = api_error(response, self.source)
                if response.status_code < 500:
                    raise error
                raise httpx.TransportError(str(error))  # a server in trouble: try again
            self.connections += 1
            if self.connections > 1:
                self.say("Reconnected to the log stream.")
            for event in parse_events(response.iter_lines()):
                if event.type == "log":
                    self._deliver(event)
                if self._stopped.is_set():
                    return True
        return self._stopped.is_set()

    def _deliver(self, event: Event) -> None:
        try:
            item = json.loads(event.data)
        except ValueError:
            return
        sid = str(item.get("sid") or event.id or "")
        if event.id:
            self.last_event_id = event.id
        if sid and self.seen.add(sid):
            self.emit(item)
