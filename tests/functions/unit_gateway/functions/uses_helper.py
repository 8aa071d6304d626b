def handler(context, event, callback):
    helper = Runtime.get_functions()["lib/helper"].load()
    return helper.greet(event.get("name", "you"))
