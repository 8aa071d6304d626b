import logging
import sys


def handler(context, event, callback):
    print("printed line")
    logging.debug("debug is below the threshold")
    logging.info("info through logging")
    logging.getLogger("user.module").warning("warning through logging")
    logging.error("error through logging")
    logging.critical("critical through logging")
    sys.stderr.write("written to stderr\n")
    print("unterminated last line", end="")
    return "logged"
