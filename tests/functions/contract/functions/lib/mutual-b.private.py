"""A helper that loads mutual-a, which loads this one back."""

A = Runtime.get_functions()["lib/mutual-a"].load()  # noqa: F821 - injected global
NAME = "b"
