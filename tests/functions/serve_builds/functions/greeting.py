# Answers the environment variable GREETING and the build it runs from.
from pathlib import Path

BUILD = Path(__file__).resolve().parents[1].name


def handler(context, event, callback):
    return callback(None, f"{context.GREETING} from {BUILD}")
