import asyncio
import sys
import threading


async def handler(context, event, callback):
    def work():
        print("from a thread of my own")
        print("forged 127.0.0.1 - - [05/Dec/2026] \"GET /admin\" 200", file=sys.stderr)
        raise ValueError("thread blew up")

    thread = threading.Thread(target=work)  # threads do not inherit the invocation's context
    thread.start()
    thread.join()

    async def fail():
        raise RuntimeError("unawaited task failed")

    asyncio.create_task(fail())  # its exception is never retrieved: the loop reports it
    await asyncio.sleep(0.05)
    callback(None, "answered")
