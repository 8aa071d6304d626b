import sys


async def handler(context, event, callback):
    sys.exit(3)
