def handler(context, event, callback):
    callback(None, {"kind": "json", "items": [1, 2], "nested": {"ok": True, "none": None}})
