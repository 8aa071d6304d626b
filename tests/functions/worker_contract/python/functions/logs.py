import logging


def handler(context, event, callback):
    print("a print line")
    logging.info("an info line")
    logging.warning("a warning line")
    logging.error("an error line")
    callback(None, "logged")
