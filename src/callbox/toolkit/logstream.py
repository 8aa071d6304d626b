"""Following an environment's live log stream (``.../Logs/Stream``, server-sent events), as
``callbox logs --tail`` does: it connects with ``Last-Event-ID`` set to the newest line already
printed, so there is no gap, and reconnects the same way when the connection drops; the SIDs
seen last are remembered so that no line is printed twice.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from callbox.toolkit.client import api_error


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
