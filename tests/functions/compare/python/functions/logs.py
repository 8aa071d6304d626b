import logging


def handler(context, event, callback):
    print("an info line")
    logging.getLogger("fn").warning("a warning line")
    logging.getLogger("fn").error("an error line")
    return callback(None, "logged")
