import logging
import warnings


def handler(context, event, callback):
    logging.getLogger("orders").warning("stock is low for %s", event.get("item", "tea"))
    warnings.warn("this API is deprecated", stacklevel=1)
    callback(None, "warned")
