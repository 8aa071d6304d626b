def handler(context, event, callback):
    functions = Runtime.get_functions()
    counter = functions["lib/counter"].load()
    again = Runtime.getFunctions()["lib/counter"].load()
    return {
        "keys": sorted(functions),
        "same_module": counter is again,
        "loads": counter.LOADS,
        "greeting": counter.greet(event.get("name", "you")),
    }
