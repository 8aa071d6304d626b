"""A worker started by exec rather than fork: ``python -m callbox.worker``.

The launcher hands it what a forked worker inherits (``protocol``, "Starting a worker"): fd 3 is
a Unix stream socket connected to the gateway, fd 4 a pipe holding the WORKER_SPEC as JSON.
"""

from __future__ import annotations

import json
import os
import socket

from callbox.worker import loop, protocol


def main() -> None:
    with os.fdopen(protocol.SPEC_FD, "rb") as source:
        spec = json.loads(source.read())
    sock = socket.socket(fileno=protocol.SOCKET_FD)
    loop.run(spec, sock, str(spec["worker_id"]))


if __name__ == "__main__":
    main()
