"""Allocates far more than the worker's memory cap."""


def handler(context, event, callback):
    block = bytearray(512 * 1024 * 1024)
    callback(None, f"allocated {len(block)} bytes")
