"""A helper that loads mutual-b, which loads this one back."""

B = Runtime.get_functions()["lib/mutual-b"].load()  # noqa: F821 - injected global
NAME = "a"
