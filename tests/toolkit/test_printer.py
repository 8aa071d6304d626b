"""The toolkit's output rules: progress on stderr (bars and a live status on a terminal, plain
lines otherwise), results on stdout, nothing but JSON with -o json."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from callbox.toolkit.printer import Printer

SPINNER = r"\x1b\[32m[\u2800-\u28ff]\x1b\[0m "  # a frame of rich's "dots", in green


def terminal_printer(level: str = "info", json_output: bool = False) -> tuple[Printer, io.StringIO]:
    printer = Printer(level, json_output)
    sink = io.StringIO()
    printer.err = Console(file=sink, force_terminal=True, width=100)
    return printer, sink


def test_upload_bar_on_a_terminal() -> None:
    printer, sink = terminal_printer()
    with printer.progress("Uploading 3 Functions", 3) as bar:
        for _ in range(3):
            bar.advance()
    text = sink.getvalue()
    assert "Uploading 3 Functions" in text and "3/3" in text


def test_live_status_shows_each_new_state() -> None:
    # The live line is drawn when it refreshes (a timer) and when it stops: what a stop draws
    # is the state at that moment, beside the spinner; then the line is cleared (transient).
    printer, sink = terminal_printer()
    with printer.status("Build ZB1: building"):
        pass
    assert re.search(SPINNER + "Build ZB1: building", sink.getvalue())

    printer, sink = terminal_printer()
    with printer.status("Build ZB1: building") as status:
        status.update("Build ZB1: completed")
    drawn = sink.getvalue()
    assert re.search(SPINNER + "Build ZB1: completed", drawn), repr(drawn)
    assert drawn.endswith("\x1b[2K")  # erased: the result lines that follow stand alone


def test_plain_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    printer = Printer("info")
    with printer.progress("Uploading 2 Assets", 2) as bar:
        bar.advance()
        bar.advance()
    with printer.status("Build ZB1: building") as status:
        status.update("Build ZB1: building")  # repeated: printed once
        status.update("Build ZB1: completed")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "Uploading 2 Assets (2)",
        "Build ZB1: building",
        "Build ZB1: completed",
    ]


@pytest.mark.parametrize(
    ("level", "json_output"), [("warn", False), ("none", False), ("info", True)]
)
def test_quiet_levels_and_json_print_no_progress(
    level: str, json_output: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    printer = Printer(level, json_output)
    printer.info("progress")
    with printer.progress("Uploading", 1) as bar:
        bar.advance()
    printer.warn("careful")
    captured = capsys.readouterr()
    assert "progress" not in captured.err and "Uploading" not in captured.err
    assert ("careful" in captured.err) == (level == "warn")
    assert captured.out == ""


def test_json_is_tab_indented_and_alone(capsys: pytest.CaptureFixture[str]) -> None:
    printer = Printer("info", json_output=True)
    printer.emit_json({"domain": "x-1234.localhost", "functions": []})
    out = capsys.readouterr().out
    assert out == '{\n\t"domain": "x-1234.localhost",\n\t"functions": []\n}\n'


def test_piped_tables_keep_long_values_whole(capsys: pytest.CaptureFixture[str]) -> None:
    url = "http://a-very-long-service-name-1234-stage.callbox.example.com:8080/" + "x" * 120
    Printer().table([{"path": "/x", "url": url}], ["path", "url"])
    out = capsys.readouterr().out
    assert url in out.splitlines()[1]
