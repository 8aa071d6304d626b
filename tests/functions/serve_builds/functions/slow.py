# Writes the worker's pid to event["started"] (a file path), waits event["seconds"], then
# answers "<build sid> <worker pid>" like which_build.py.
import asyncio
import os
from pathlib import Path

BUILD = Path(__file__).resolve().parents[1].name


async def handler(context, event, callback):
    Path(event["started"]).write_text(str(os.getpid()))
    await asyncio.sleep(float(event.get("seconds", "1")))
    return callback(None, f"{BUILD} {os.getpid()}")
