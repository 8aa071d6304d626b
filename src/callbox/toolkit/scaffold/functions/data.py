"""Public function: GET /data -> the contents of the private data.json asset."""

import json


def handler(context, event, callback):
    # Private assets are not served directly; functions read them through Runtime.
    asset = Runtime.get_assets()["/data.json"]  # noqa: F821
    callback(None, json.loads(asset.open()))
