"""Public function: GET /greet?name=Ada -> {"message": "Hello, Ada!"}."""

from callbox.runtime import Runtime
from callbox.runtime.types import Callback, Context, Event
def handler(context: Context, event: Event, callback: Callback) -> None:
    # Private functions are shared code: load the module instead of importing it.
    helper = Runtime.get_functions()["lib/greeting"].load()  # noqa: F821
    callback(None, {"message": helper.greet(event.get("name", "World"))})
