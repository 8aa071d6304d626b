def handler(context, event, callback):
    assets = Runtime.get_assets()
    return {
        "keys": sorted(assets),
        "camel_keys": sorted(Runtime.getAssets()),
        "data": assets["/data.json"].open(),
        "logo_size": len(assets["/logo.png"].open("rb")),
    }
