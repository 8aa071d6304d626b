"""``python -m callbox.sandbox run NAME -- PROGRAM [ARG...]``: run a program inside the fences
given as JSON in ``CALLBOX_SANDBOX_FENCES``, from a process that stays outside to wait for it
and to clean up after it. Exits with the program's status (128 + N when killed by signal N).

The server starts dependency installs this way; this process dies with the server (its parent)
and the program dies with this process, so nothing outlives the server.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from callbox.sandbox import launcher, linux
from callbox.sandbox.fences import Fences


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[0] != "run" or argv[2] != "--":
        sys.stderr.write(__doc__ or "")
        return 2
    name, program = argv[1], argv[3:]
    raw = os.environ.get("CALLBOX_SANDBOX_FENCES")
    if not raw:
        sys.stderr.write("callbox sandbox: CALLBOX_SANDBOX_FENCES is not set.\n")
        return 2
    fences = Fences.from_dict(json.loads(raw))
    if linux.machine_supported():
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    status = launcher.run(fences, name, program)
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
