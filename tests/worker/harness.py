"""Start a real worker process by exec, as a launcher does (``frames.py``, "Starting a worker"):
fd 3 is one end of a socketpair, fd 4 a pipe holding the WorkerSpec. The test holds the other
end of the socket and speaks frames on it; a reader thread collects every frame that arrives and
checks it against its type in ``frames.py`` (``frame_problems``): a frame that does not match
fails the test that waits for a frame after it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import types
import typing
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from callbox.worker import frames, protocol

NODE_WORKER = Path(__file__).resolve().parents[2] / "src" / "callbox" / "node" / "worker.js"
EXTENSIONS = {"python": ".py", "node": ".js"}
_PREFIX = struct.Struct(">II")

Frame = tuple[dict[str, Any], bytes]

# Each worker -> gateway frame type by its ``type``.
WORKER_FRAMES: dict[str, type] = {
    typing.get_args(typing.get_type_hints(kind)["type"])[0]: kind
    for kind in typing.get_args(frames.WorkerFrame)
}


def frame_problems(header: dict[str, Any]) -> list[str]:
    """How a frame from a worker differs from its TypedDict in ``frames.py``: unknown type,
    missing or extra fields, values of the wrong JSON type. Empty when it matches."""
    kind = WORKER_FRAMES.get(header.get("type"))  # type: ignore[arg-type]
    if kind is None:
        return [f"unknown frame type {header.get('type')!r}"]
    return _value_problems(header, kind, header["type"])


def _each(checks: Iterable[tuple[Any, Any, str]]) -> list[str]:
    return [
        problem for value, hint, where in checks for problem in _value_problems(value, hint, where)
    ]


def _value_problems(value: Any, hint: Any, where: str) -> list[str]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if typing.is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{where}: expected an object, found {value!r}"]
        fields = typing.get_type_hints(hint, include_extras=True)
        problems = [f"{where}: unexpected field {k!r}" for k in value if k not in fields]
        for name, field_hint in fields.items():
            optional = typing.get_origin(field_hint) is typing.NotRequired
            if optional:
                field_hint = typing.get_args(field_hint)[0]
            if name not in value:
                problems += [] if optional else [f"{where}: missing field {name!r}"]
            else:
                problems += _value_problems(value[name], field_hint, f"{where}.{name}")
        return problems
    if hint is Any:
        return []
    if origin is typing.Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {args}"]
    if origin is types.UnionType or origin is typing.Union:
        every = [_value_problems(value, arg, where) for arg in args]
        return [] if any(not p for p in every) else every[0]
    if hint is type(None):
        return [] if value is None else [f"{where}: expected null, found {value!r}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: expected an array, found {value!r}"]
        return _each((item, args[0], f"{where}[{i}]") for i, item in enumerate(value))
    if origin is tuple:  # a JSON array of fixed length
        if not isinstance(value, list) or len(value) != len(args):
            return [f"{where}: expected an array of {len(args)}, found {value!r}"]
        pairs = zip(value, args, strict=True)
        return _each((item, arg, f"{where}[{i}]") for i, (item, arg) in enumerate(pairs))
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: expected an object, found {value!r}"]
        return _each((item, args[1], f"{where}.{key}") for key, item in value.items())
    expected = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}[hint]
    if not isinstance(value, expected) or (hint is not bool and isinstance(value, bool)):
        return [f"{where}: expected {hint.__name__}, found {value!r}"]
    return []


def command(runtime: str) -> list[str]:
    if runtime == "python":
        return [sys.executable, "-m", "callbox.worker"]
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: the Node.js worker tests need Node 18 or newer")
    return [node, str(NODE_WORKER)]


def _route(relative: Path, keep_suffix: bool) -> tuple[str, str]:
    """Twilio's naming: `a/b.private.js` -> ('/a/b', 'private'); assets keep their extension."""
    name, visibility = relative.name, "public"
    for marker in ("private", "protected"):
        dotted = f".{marker}{relative.suffix}"
        if name.endswith(dotted):
            name, visibility = name[: -len(dotted)] + relative.suffix, marker
    if not keep_suffix:
        name = name[: -len(relative.suffix)]
    parent = relative.parent.as_posix()
    return "/" + (f"{parent}/{name}" if parent != "." else name), visibility


def build_spec(root: Path, runtime: str, **settings: Any) -> dict[str, Any]:
    """The WorkerSpec of the project folder ``root``: its functions of that runtime's language
    and its assets."""
    functions: dict[str, dict[str, str]] = {}
    for file in sorted((root / "functions").rglob(f"*{EXTENSIONS[runtime]}")):
        path, visibility = _route(file.relative_to(root / "functions"), keep_suffix=False)
        functions[path] = {"file": str(file), "visibility": visibility}
    assets: dict[str, dict[str, str]] = {}
    if (root / "assets").is_dir():
        for file in sorted(p for p in (root / "assets").rglob("*") if p.is_file()):
            path, visibility = _route(file.relative_to(root / "assets"), keep_suffix=True)
            assets[path] = {"file": str(file), "visibility": visibility}
    return {
        "worker_id": uuid.uuid4().hex,
        "runtime": runtime,
        "root": str(root),
        "functions": functions,
        "assets": assets,
        "site_packages": [],
        "memory_limit_mb": 512,
        "debug_errors": False,
        "local": False,
        "threads": 4,
        "slot": 0,
        **settings,
    }


class WorkerProcess:
    """One worker process and the gateway's end of its socket."""

    def __init__(self, runtime: str, spec: dict[str, Any]) -> None:
        self.runtime = runtime
        self.spec = spec
        self.frames: list[Frame] = []
        self.problems: list[str] = []  # frames that do not match frames.py
        self._changed = threading.Condition()
        self._closed = False
        self.returncode: int | None = None
        # The worker's stdout and stderr (closed in close()).
        self._output = tempfile.TemporaryFile()  # noqa: SIM115
        gateway_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        spec_read, spec_write = os.pipe()
        argv = command(runtime)
        try:
            self.pid = os.posix_spawn(
                argv[0],
                argv,
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, worker_end.fileno(), protocol.SOCKET_FD),
                    (os.POSIX_SPAWN_DUP2, spec_read, protocol.SPEC_FD),
                    (os.POSIX_SPAWN_DUP2, self._output.fileno(), 1),
                    (os.POSIX_SPAWN_DUP2, self._output.fileno(), 2),
                ],
            )
        finally:
            worker_end.close()
            os.close(spec_read)
        with os.fdopen(spec_write, "wb") as pipe:
            pipe.write(json.dumps(spec).encode())
        self.sock = gateway_end
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.hello = self.wait_for(lambda h, _: h["type"] == "hello", timeout=20)[0]

    # -- frames ---------------------------------------------------------------------------
    def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        self.sock.sendall(protocol.encode(header, body))  # type: ignore[arg-type]

    def send_raw(self, data: bytes) -> None:
        """Bytes as they are: frames that break the contract."""
        self.sock.sendall(data)

    def _read(self) -> None:
        stream = self.sock.makefile("rb")
        try:
            while True:
                prefix = stream.read(_PREFIX.size)
                if len(prefix) < _PREFIX.size:
                    break
                header_len, body_len = _PREFIX.unpack(prefix)
                header = json.loads(stream.read(header_len))
                body = stream.read(body_len)
                problems = frame_problems(header)
                if body and header.get("type") != "result":
                    problems.append(f"{header.get('type')}: a body of {len(body)} bytes")
                with self._changed:
                    self.problems += problems
                    self.frames.append((header, body))
                    self._changed.notify_all()
        except (OSError, ValueError):
            pass
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def wait_for(
        self, match: Callable[[dict[str, Any], bytes], bool], timeout: float = 10
    ) -> Frame:
        """The first frame received (so far or within ``timeout``) that ``match``es."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if self.problems:
                    raise AssertionError(
                        f"the {self.runtime} worker sent frames that do not match frames.py: "
                        f"{self.problems}"
                    )
                for frame in self.frames:
                    if match(*frame):
                        return frame
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise AssertionError(
                        f"no matching frame from the {self.runtime} worker within {timeout} s; "
                        f"received: {[h for h, _ in self.frames]}; output: {self.output()!r}"
                    )
                self._changed.wait(left)

    def frames_of(self, invocation_id: str) -> list[dict[str, Any]]:
        with self._changed:
            return [h for h, _ in self.frames if str(h.get("id")) == invocation_id]

    # -- invocations --------------------------------------------------------------------------
    def start(
        self,
        path: str,
        event: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> str:
        invocation_id = uuid.uuid4().hex
        self.send(
            {
                "type": "invoke",
                "id": invocation_id,
                "path": path,
                # What the gateway always sends, overlaid with the environment's variables.
                "context": {
                    "PATH": path,
                    "DOMAIN_NAME": "unit.test:8080",
                    "SERVICE_SID": None,
                    "ENVIRONMENT_SID": None,
                    **(context or {}),
                },
                "event": event if event is not None else {},
                "timeout": 10,
            }
        )
        return invocation_id

    def result(self, invocation_id: str, timeout: float = 10) -> Frame:
        return self.wait_for(
            lambda h, _: h["type"] == "result" and h["id"] == invocation_id, timeout
        )

    def invoke(self, path: str, event: dict[str, Any] | None = None, **context: Any) -> Frame:
        return self.result(self.start(path, event, context))

    # -- the process ------------------------------------------------------------------------
    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    def poll(self) -> int | None:
        """The exit code once the process has ended, else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def close(self, timeout: float = 5) -> int | None:
        """Close the gateway's end (the worker should exit by itself); kill it if it does not.
        Returns the exit code, or None when it had to be killed."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # the reader thread's file holds the fd open
        self.sock.close()
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        code = self.returncode
        if code is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        self._output.close()
        return code
