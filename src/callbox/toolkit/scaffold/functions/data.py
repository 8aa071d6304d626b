"""Public function: GET /data -> the contents of the private data.json asset."""

from callbox.runtime import Runtime
from callbox.runtime.types import Callback, Context, Event
import json


def handler(context: Context, event: Event, callback: Callback) -> None:
    # Private assets are not served directly; functions read them through Runtime.
    asset = Runtime.get_assets()["/data.json"]  # noqa: F821
    callback(None, json.loads(asset.open()))
