"""One worker process: loads one build and runs invocations."""
