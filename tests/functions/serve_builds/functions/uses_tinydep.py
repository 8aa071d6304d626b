# Needs the package `tinydep`, installed as the build's dependency from a local wheel.
import tinydep


def handler(context, event, callback):
    return callback(None, tinydep.VALUE)
