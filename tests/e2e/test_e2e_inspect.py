"""``callbox start --inspect``: a real debugger attaches to the worker, a breakpoint in a
handler is hit, and the request finishes once the debugger lets it go. Python workers speak
the Debug Adapter Protocol (debugpy), Node.js workers the inspector protocol (node --inspect).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

MARK = "# BREAK HERE"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def break_line(file: Path, mark: str) -> int:
    """The 1-based number of the line carrying ``mark``."""
    return next(i for i, line in enumerate(file.read_text().splitlines(), 1) if mark in line)


def connect(port: int, timeout: float = 20.0) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=timeout)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Dap:
    """A minimal Debug Adapter Protocol client: requests, their responses, events."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def send(self, command: str, **arguments: Any) -> int:
        self.seq += 1
        body = json.dumps(
            {"seq": self.seq, "type": "request", "command": command, "arguments": arguments}
        ).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _read(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        length = int(head.split(b":")[1])
        while len(self.buffer) < length:
            self.buffer += self._recv()
        message, self.buffer = self.buffer[:length], self.buffer[length:]
        return json.loads(message)

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the debug adapter closed the connection")
        return data

    def wait(self, predicate: Any) -> dict[str, Any]:
        for event in self.events:
            if predicate(event):
                self.events.remove(event)
                return event
        while True:
            message = self._read()
            if predicate(message):
                return message
            self.events.append(message)

    def response(self, seq: int) -> dict[str, Any]:
        answer = self.wait(lambda m: m["type"] == "response" and m["request_seq"] == seq)
        assert answer["success"], answer
        return answer

    def event(self, name: str) -> dict[str, Any]:
        return self.wait(lambda m: m["type"] == "event" and m["event"] == name)


def get_later(url: str, results: list[httpx.Response]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(httpx.get(url, timeout=60)))
    thread.start()
    return thread


@pytest.mark.parametrize("flag", ["--inspect", "--inspect-brk"])
def test_a_python_breakpoint_is_hit(servers, flag: str) -> None:
    port = free_port()
    server = servers.start("inspect", args=[f"{flag}=127.0.0.1:{port}"])
    source = server.root / "functions" / "hello.py"
    dap = Dap(connect(port))
    dap.response(dap.send("initialize", adapterID="callbox-test", linesStartAt1=True))
    attach = dap.send("attach", justMyCode=False)
    dap.event("initialized")
    line = break_line(source, MARK)
    answer = dap.response(
        dap.send("setBreakpoints", source={"path": str(source)}, breakpoints=[{"line": line}])
    )
    assert answer["body"]["breakpoints"][0]["verified"]
    dap.response(dap.send("configurationDone"))
    dap.response(attach)
    results: list[httpx.Response] = []
    thread = get_later(f"{server.base_url}/hello?name=Ada", results)
    stopped = dap.event("stopped")
    assert stopped["body"]["reason"] == "breakpoint"
    frames = dap.response(dap.send("stackTrace", threadId=stopped["body"]["threadId"]))
    top = frames["body"]["stackFrames"][0]
    assert (Path(top["source"]["path"]).name, top["line"]) == ("hello.py", line)
    assert not results  # held at the breakpoint
    dap.response(dap.send("continue", threadId=stopped["body"]["threadId"]))
    thread.join(30)
    assert results[0].status_code == 200 and results[0].text == "Hello, Ada!"


async def _node_breakpoint(port: int, url: str, source: Path, wait: bool) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        try:
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    line = break_line(source, "// BREAK HERE")
    async with websockets.connect(targets[0]["webSocketDebuggerUrl"], max_size=None) as ws:
        ids = iter(range(1, 1000))
        pending: list[dict[str, Any]] = []

        async def call(method: str, **params: Any) -> dict[str, Any]:
            number = next(ids)
            await ws.send(json.dumps({"id": number, "method": method, "params": params}))
            while True:
                message = json.loads(await ws.recv())
                if message.get("id") == number:
                    return message
                pending.append(message)

        async def event(name: str) -> dict[str, Any]:
            for message in pending:
                if message.get("method") == name:
                    pending.remove(message)
                    return message
            while True:
                message = json.loads(await ws.recv())
                if message.get("method") == name:
                    return message

        await call("Debugger.enable")
        placed = await call(
            "Debugger.setBreakpointByUrl", lineNumber=line - 1, urlRegex=r"hello\.js$"
        )
        assert "result" in placed, placed
        if wait:
            await call("Runtime.runIfWaitingForDebugger")
        results: list[httpx.Response] = []
        thread = get_later(url, results)
        paused = await asyncio.wait_for(event("Debugger.paused"), 30)
        frame = paused["params"]["callFrames"][0]
        assert frame["location"]["lineNumber"] == line - 1
        held = not results
        await call("Debugger.resume")
        await asyncio.to_thread(thread.join, 30)
        return {"held": held, "status": results[0].status_code, "text": results[0].text}


@pytest.mark.parametrize("flag", ["--inspect", "--inspect-brk"])
def test_a_node_breakpoint_is_hit(servers, flag: str) -> None:
    port = free_port()
    server = servers.start("inspect-js", args=[f"{flag}=127.0.0.1:{port}"])
    source = server.root / "functions" / "hello.js"
    seen = asyncio.run(
        _node_breakpoint(port, f"{server.base_url}/hello?name=Ada", source, flag == "--inspect-brk")
    )
    assert seen == {"held": True, "status": 200, "text": "Hello, Ada!"}
