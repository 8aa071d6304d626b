import asyncio


async def handler(context, event, callback):
    await asyncio.sleep(0.01)
    callback(None, Twilio.Response().set_status_code(201).set_body({"created": event.get("name")}))
