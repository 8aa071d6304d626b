import json


def handler(context, event, callback):
    assets = Runtime.get_assets()  # noqa: F821 - injected global
    data = json.loads(assets["/data.json"].open())
    callback(None, {"keys": sorted(assets), "data": data})
