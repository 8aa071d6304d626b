"""The access log of ``callbox serve``: one line per request, in the Common Log Format with the
host, the duration and the request SID added, written in batches (a write per request would
cost more than a hello-world invocation):

    127.0.0.1 - - [05/Dec/2026:12:00:00 +0000] "GET /hello HTTP/1.1" 200 12
        "hello-1234.localhost:8080" 1.234 RQ0123...          (one line)

The fields after the Common Log Format's: the Host the client asked for (quoted), the time to
answer in milliseconds, the invocation's request SID ("-" for anything but an invocation).
``CALLBOX_ACCESS_LOG=off`` turns it off.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

FLUSH_AFTER = 0.2  # seconds a line may wait in memory
FLUSH_LINES = 256


class AccessLog:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._second = 0
        self._when = ""

    def write(
        self,
        *,
        client: str,
        method: str,
        path: str,
        version: str,
        status: int,
        size: int,
        host: str,
        duration_ms: float,
        request_sid: str,
    ) -> None:
        now = int(time.time())
        if now != self._second:  # formatting the time is most of a line's cost: once a second
            self._second = now
            self._when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
        when = self._when
        host = host.replace('"', "%22")
        self._lines.append(
            f'{client or "-"} - - [{when}] "{method} {path} HTTP/{version}" {status} {size} '
            f'"{host}" {duration_ms:.3f} {request_sid or "-"}\n'
        )
        if len(self._lines) >= FLUSH_LINES:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)
            except RuntimeError:  # no loop: write at once
                self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        lines, self._lines = self._lines, []
        if lines:
            try:
                self.out.write("".join(lines))
                self.out.flush()
            except (OSError, ValueError):
                pass  # stdout closed: nobody to tell
