import logging
import re

PATTERN = re.compile(r"\d+")
log = logging.getLogger(__name__)


def helper():
    return PATTERN.pattern
