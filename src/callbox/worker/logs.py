"""Tie every line a function writes (print, logging, stderr) to the invocation that wrote it."""

from __future__ import annotations

import contextvars
import io
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, Final, TextIO

from callbox.worker.frames import Level, LogLine

INFO: Final = "INFO"
WARN: Final = "WARN"
ERROR: Final = "ERROR"

# The invocation whose code is running: set per asyncio task and copied into handler threads.
current: contextvars.ContextVar[Any] = contextvars.ContextVar("callbox_invocation")
# The invocation that started last: lines written outside any (a thread the function started,
# a task's exception reported by the loop) are its, marked so. The worker's own output is the
# server's: user code must never write there (it could forge the operator's log lines).
_last: Any = None
OUTSIDE = "(outside an invocation) "


def started(invocation: Any) -> None:
    """``invocation`` begins: it is current in its task, and the last one started."""
    global _last
    current.set(invocation)
    _last = invocation


def _orphan(level: Level, text: str) -> None:
    """Lines written where no invocation is current."""
    lines = [line for line in text.splitlines() if line.strip()]
    if _last is not None:
        for line in lines:
            _last.sink.emit(level, OUTSIDE + line)
    elif sys.__stderr__ is not None:  # before any invocation: marked, so nothing is forged
        sys.__stderr__.write("".join(f"[function output] {line}\n" for line in lines))


class LineSink:
    """Where an invocation's lines go: a list until its result is sent, then ``late``."""

    def __init__(self, late: Callable[[LogLine], None]) -> None:
        self.lines: list[LogLine] = []
        self.sent = False
        self._late = late

    def emit(self, level: Level, message: str) -> None:
        line: LogLine = {"level": level, "message": message, "time": time.time()}
        if self.sent:
            self._late(line)
        else:
            self.lines.append(line)

    def take(self) -> list[LogLine]:
        lines, self.lines, self.sent = self.lines, [], True
        return lines


class _InvocationStream(io.TextIOBase):
    """sys.stdout / sys.stderr stand-in: whole lines go to the current invocation's sink."""

    def __init__(self, level: Level, fallback: TextIO) -> None:
        self._level = level
        self._fallback = fallback
        self._partial: dict[int, str] = {}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        invocation = current.get(None)
        if invocation is None:  # whole lines, per thread (a traceback comes in pieces)
            key = -threading.get_ident()
            *lines, rest = (self._partial.pop(key, "") + text).split("\n")
            for line in lines:
                _orphan(self._level, line)
            if rest:
                self._partial[key] = rest
            return len(text)
        key = id(invocation)
        if invocation.sink.sent:
            # Written after the result: nothing will flush a partial line later, so each
            # write goes out as it is.
            buffered = self._partial.pop(key, "") + text
            for line in buffered.splitlines():
                invocation.sink.emit(self._level, line)
            return len(text)
        buffered = self._partial.pop(key, "") + text
        *lines, rest = buffered.split("\n")
        for line in lines:
            invocation.sink.emit(self._level, line)
        if rest:
            self._partial[key] = rest
        return len(text)

    def flush_invocation(self, invocation: Any) -> None:
        rest = self._partial.pop(id(invocation), "")
        if rest:
            invocation.sink.emit(self._level, rest)

    def flush(self) -> None:
        self._fallback.flush()


class _InvocationLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        invocation = current.get(None)
        message = self.format(record)
        level: Level
        if record.levelno >= logging.ERROR:
            level = ERROR
        elif record.levelno >= logging.WARNING:
            level = WARN
        else:
            level = INFO
        if invocation is None:
            _orphan(level, message)
            return
        invocation.sink.emit(level, message)


_streams: list[_InvocationStream] = []


def install() -> None:
    """Route print, logging and stderr of user code into invocation logs (once per worker)."""
    stdout = _InvocationStream(INFO, sys.__stdout__ or io.StringIO())
    stderr = _InvocationStream(ERROR, sys.__stderr__ or io.StringIO())
    _streams[:] = [stdout, stderr]
    sys.stdout, sys.stderr = stdout, stderr
    handler = _InvocationLogHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # A library's warnings.warn() is a WARN line, not an ERROR one (it would go to stderr).
    warnings.showwarning = _show_warning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    text = f"{category.__name__}: {message} ({os.path.basename(filename)}:{lineno})"
    invocation = current.get(None)
    if invocation is None:
        _orphan(WARN, text)
        return
    invocation.sink.emit(WARN, text)


def flush(invocation: Any) -> None:
    """Emit the unterminated last line an invocation printed, if any."""
    for stream in _streams:
        stream.flush_invocation(invocation)
