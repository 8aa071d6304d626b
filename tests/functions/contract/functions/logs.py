import logging
import sys


def handler(context, event, callback):
    print("a print line")
    logging.warning("a warning line")
    logging.error("an error line")
    sys.stderr.write("a stderr line\n")
    callback(None, "logged")
