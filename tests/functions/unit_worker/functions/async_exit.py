async def handler(context, event, callback):
    if event.get("kind") == "interrupt":
        raise KeyboardInterrupt("interrupted")
    raise SystemExit(event.get("code", 2))
