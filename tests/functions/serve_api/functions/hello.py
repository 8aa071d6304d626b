"""One line at each level: print -> INFO, logging.warning -> WARN, stderr -> ERROR."""

import logging
import sys


def handler(context, event, callback):
    tag = event.get("tag", "")
    print(f"hello {tag} from {context.PATH}")
    logging.warning("careful %s", tag)
    print(f"trouble {tag}", file=sys.stderr)
    callback(None, f"hello {tag}")
