def handler(context, event, callback):
    functions = Runtime.get_functions()  # noqa: F821 - injected global
    helper = functions["lib/helper"].load()
    callback(
        None,
        {
            "lib": sorted(key for key in functions if key.startswith("lib/")),
            "has_self": "functions" in functions,
            "shout": helper.shout("hello"),
        },
    )
