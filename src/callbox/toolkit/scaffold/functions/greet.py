"""Public function: GET /greet?name=Ada -> {"message": "Hello, Ada!"}."""


def handler(context, event, callback):
    # Private functions are shared code: load the module instead of importing it.
    helper = Runtime.get_functions()["lib/greeting"].load()  # noqa: F821
    callback(None, {"message": helper.greet(event.get("name", "World"))})
