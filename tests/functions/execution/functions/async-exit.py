"""An async handler that raises SystemExit(2) or KeyboardInterrupt (?kind=interrupt)."""


async def handler(context, event, callback):
    if event.get("kind") == "interrupt":
        raise KeyboardInterrupt("interrupted by the function")
    raise SystemExit(2)
