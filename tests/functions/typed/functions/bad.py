"""Mistakes mypy --strict must report (each line is named in the test)."""

from callbox.runtime import Twilio
from callbox.runtime.types import Callback, Context, Event


def handler(context: Context, event: Event, callback: Callback) -> None:
    response = Twilio.Response()
    response.set_statuscode(200)  # misspelt method
    callback(None, response, "extra")  # too many arguments
    callback(error=None)  # the arguments are positional
