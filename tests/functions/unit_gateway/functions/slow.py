import asyncio


async def handler(context, event, callback):
    await asyncio.sleep(float(event.get("delay", "0.5")))
    return "slow done"
