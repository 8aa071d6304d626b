"""Every message between the gateway and a worker, typed and documented field by field.

This is the contract a worker in any language implements (src/callbox/node/ is the second);
``protocol.py`` carries the frames over the socket, ``tests/worker/test_contract.py`` is the
shared set of tests both workers pass. The types cost nothing at run time: frames are plain
dicts decoded from JSON, checked only for being an object with a string ``type``
(``protocol``); mypy checks every module that builds or reads one.

The wire. Workers talk to the gateway over one Unix stream socket, in frames:

    frame = u32 header_length | u32 body_length | header (UTF-8 JSON object) | body (raw bytes)

lengths big-endian. The header is one of the ``*Frame`` types below, told apart by ``type``.
Only ``result`` carries a body (the HTTP body); every other frame has an empty one (a worker
skips a body sent on a gateway frame). A header
over ``protocol.MAX_HEADER_BYTES``, or one that is not a JSON object with a string ``type``,
breaks the connection: the worker exits (non-zero), the gateway drops the worker and fails
what it held. A frame of an unknown ``type`` is ignored by both sides (room to grow). A result
body over the gateway's limit is skipped, and the invocation answers 500.

Order. The worker's first frame is ``hello``. Then the gateway sends ``invoke`` and ``cancel``
frames whenever it likes, many invocations at once; the worker answers each ``invoke`` with one
``result`` (or, if cancelled first, one ``cancelled``), each ``cancel`` with one ``cancelled``
(even when the invocation had already finished), and may send ``log`` and ``retire`` frames at
any time. The gateway closing the socket ends the worker (exit code 0).

Starting a worker. Python workers are forked by the warm parent (``zygote.py``), which reads
one ``ZygoteCommand`` per line (JSON) on stdin and writes one ``ExitedReport`` per line on
stdout when a worker ends. Every other worker (Node.js, or Python started by exec) gets from
its launcher exactly what a forked one inherits: fd 3 (``protocol.SOCKET_FD``) is a Unix stream
socket already connected to the gateway, fd 4 (``protocol.SPEC_FD``) holds its ``WorkerSpec``
as one JSON object (read it to EOF), the working directory is the build's root, and the sandbox
is already applied. Commands: ``python -m callbox.worker``; ``node src/callbox/node/worker.js``
(see src/callbox/node/README.md).
"""

from __future__ import annotations

from typing import Any, Final, Literal, NotRequired, TypedDict

RUNTIME_PYTHON: Final = "python"
RUNTIME_NODE: Final = "node"

Runtime = Literal["python", "node"]
Level = Literal["INFO", "WARN", "ERROR"]
Visibility = Literal["public", "protected", "private"]

# -- pieces of frames ---------------------------------------------------------------------


class LogLine(TypedDict):
    """One line a function wrote (print, console.log, logging, stderr, an error report)."""

    level: Level  # INFO: stdout / console.log; WARN: warnings; ERROR: stderr, failures
    message: str  # the line, without its newline
    time: float  # when it was written, seconds since the epoch


# What the function sees as ``context``: the environment's variables, over the four the gateway
# always sets (PATH, DOMAIN_NAME, SERVICE_SID, ENVIRONMENT_SID; a SID is None when unknown).
InvokeContext = dict[str, str | None]

# What the function sees as ``event``: a JSON object (runtime/event.py builds it from the HTTP
# request: query, form or JSON body, and ``request: {headers, cookies}``).
Event = dict[str, Any]

# -- gateway -> worker --------------------------------------------------------------------


class InvokeFrame(TypedDict):
    """Run one invocation."""

    type: Literal["invoke"]
    id: str  # the invocation's id (the request SID, RQ...), echoed by every frame about it
    path: str  # the function's route, a key of the spec's ``functions``
    context: InvokeContext
    event: Event
    timeout: float  # the execution limit, seconds; the worker's ``getRemainingTime`` counts it


class CancelFrame(TypedDict):
    """The deadline passed: stop the invocation and answer ``cancelled``."""

    type: Literal["cancel"]
    id: str


GatewayFrame = InvokeFrame | CancelFrame

# -- worker -> gateway --------------------------------------------------------------------


class HelloFrame(TypedDict):
    """The worker's first frame, once."""

    type: Literal["hello"]
    worker_id: str  # the spec's (or the spawn command's) worker_id
    pid: int  # its process id, as the worker sees it (1 in a PID namespace of its own)
    runtime: Runtime


class ResultFrame(TypedDict):
    """An invocation's answer; the frame's body is the HTTP body."""

    type: Literal["result"]
    id: str
    status: int  # the HTTP status the function chose (the gateway refuses one outside 200-599)
    headers: list[tuple[str, str]]  # [[name, value], ...] in order; a name may repeat
    logs: list[LogLine]  # the lines written until the answer, in order
    mode: Literal["sync", "async"]  # how the handler ran: on a thread, or on the event loop
    retire: bool  # true: the worker should get no more work (it ran out of memory)


class CancelledFrame(TypedDict):
    """The answer to ``cancel``, always sent, even for an invocation that had finished."""

    type: Literal["cancelled"]
    id: str
    logs: list[LogLine]  # the lines written until the cancel, not yet sent
    thread_running: bool  # true: sync code still runs on a thread (the worker must retire)


class LogFrame(LogLine):
    """A line an invocation wrote after its result or cancel (its other lines went there)."""

    type: Literal["log"]
    id: str


class RetireFrame(TypedDict):
    """A handler thread outlived the execution limit: give this worker no more work."""

    type: Literal["retire"]
    id: str  # the invocation whose thread is still running


WorkerFrame = HelloFrame | ResultFrame | CancelledFrame | LogFrame | RetireFrame
Frame = GatewayFrame | WorkerFrame

# -- starting a worker --------------------------------------------------------------------


class FileEntry(TypedDict):
    file: str  # absolute path of the function or asset file
    visibility: Visibility


class InspectSettings(TypedDict):
    """Local development with a debugger (``callbox start --inspect``)."""

    host: str  # listen for one at host:port (Python: debugpy; Node.js: the inspector)
    port: int
    wait: bool  # once hello is sent, serve nothing until one is attached


class WorkerSpec(TypedDict):
    """The build as a worker sees it."""

    runtime: Runtime  # the build's language
    root: str  # the build's folder, the worker's working directory
    functions: dict[str, FileEntry]  # route -> its file
    assets: dict[str, FileEntry]  # route -> its file (private ones: Runtime.getAssets())
    # Folders holding the build's dependencies: Python puts them on sys.path; Node.js searches
    # them (folders that contain packages) after the function's own folders.
    site_packages: list[str]
    memory_limit_mb: int  # the worker's memory budget (0: none)
    debug_errors: bool  # error answers carry the stack (local development)
    local: bool  # served by ``callbox start``: unset SIDs warn instead of staying silent
    threads: int  # Python: handler threads for plain ``def`` handlers
    slot: int  # the service's sandbox slot (its uid); read by the gateway's supervisor
    worker_id: NotRequired[str]  # exec-started workers: what their hello says
    executable: NotRequired[str]  # Node.js: the server's ``node``, set by the supervisor
    inspect: NotRequired[InspectSettings]
    # The sandbox, as ``sandbox.fences.Fences.to_dict()``: read by the zygote, which puts the
    # fences up in the child before any of the function's code runs.
    fences: NotRequired[dict[str, Any]]


class SpawnCommand(TypedDict):
    """Zygote: fork a worker, which connects to ``socket`` and says hello as ``worker_id``."""

    op: Literal["spawn"]
    worker_id: str
    socket: str  # path of the gateway's Unix socket
    spec: WorkerSpec


class KillCommand(TypedDict):
    """Zygote: SIGKILL the worker (the zygote knows the process; a pid may have been reused)."""

    op: Literal["kill"]
    worker_id: str


ZygoteCommand = SpawnCommand | KillCommand


class ExitedReport(TypedDict):
    """Zygote: a worker ended (or could not be started: pid 0)."""

    op: Literal["exited"]
    worker_id: str
    pid: int
    status: str  # how it ended, for people: "exit code 1", "killed by SIGKILL", "out of memory..."
