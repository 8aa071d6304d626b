import json


def handler(context, event, callback):
    asset = Runtime.get_assets()["/data.json"]  # noqa: F821 - injected global
    callback(None, json.loads(asset.open()))
