"""A worker started by exec rather than fork: ``python -m callbox.worker``.

The launcher hands it what a forked worker inherits (``frames.py``, "Starting a worker"): fd 3
is a Unix stream socket connected to the gateway, fd 4 a pipe holding its ``WorkerSpec`` as JSON.
"""

from __future__ import annotations

import json
import os
import socket

from callbox.worker import loop, protocol
from callbox.worker.frames import WorkerSpec


def main() -> None:
    with os.fdopen(protocol.SPEC_FD, "rb") as source:
        spec: WorkerSpec = json.loads(source.read())
    sock = socket.socket(fileno=protocol.SOCKET_FD)
    loop.run(spec, sock, spec["worker_id"])


if __name__ == "__main__":
    main()
