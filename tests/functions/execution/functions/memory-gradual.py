"""Allocates 1 MB at a time until the worker's memory cap is hit."""


def handler(context, event, callback):
    chunks = []
    while True:
        chunks.append(bytearray(1024 * 1024))
