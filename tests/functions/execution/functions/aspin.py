"""An async handler that blocks its worker's event loop with a CPU loop."""

import os


async def handler(context, event, callback):
    with open(event["pidfile"], "w") as f:
        f.write(str(os.getpid()))
    while True:
        pass
