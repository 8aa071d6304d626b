"""Checks of what the toolkit prints, shared by its end-to-end tests."""

from __future__ import annotations


def one_error_line(stderr: str) -> str:
    """The error output of a failed command: exactly one `Error: ...` line, no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    return lines[0]
