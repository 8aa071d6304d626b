"""How the toolkit prints: results on stdout, progress on stderr, JSON alone with ``-o json``.

Progress (bars, the live build status) goes to stderr so that stdout stays the result a script
can read; ``--log-level`` quiets it, and ``-o json`` silences it entirely.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

LEVELS = {"debug": 0, "info": 1, "warn": 2, "error": 3, "none": 4}


class Printer:
    def __init__(self, log_level: str = "info", json_output: bool = False) -> None:
        self.level = LEVELS.get(log_level, 1)
        self.json = json_output
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def chatty(self) -> bool:
        return not self.json and self.level <= LEVELS["info"]

    def info(self, text: str) -> None:
        if self.chatty:
            self.err.print(text, markup=False)

    def debug(self, text: str) -> None:
        if not self.json and self.level <= LEVELS["debug"]:
            self.err.print(text, markup=False)

    def warn(self, text: str) -> None:
        if not self.json and self.level <= LEVELS["warn"]:
            self.err.print(f"WARNING {text}", markup=False)

    def out(self, text: str = "") -> None:
        """A line of the command's result (stdout)."""
        click.echo(text)

    def note(self, text: str) -> None:
        """A line of a result that Twilio's toolkit logs at info level (promote's summary):
        on stdout, silenced by --log-level warn, error or none."""
        if self.level <= LEVELS["info"]:
            click.echo(text)

    def emit_json(self, value: Any) -> None:
        click.echo(json.dumps(value, indent="\t"))

    def table(self, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
        """Rows as an aligned table on stdout; values of nested objects as JSON."""
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for column in columns:
            table.add_column(column.upper().replace("_", " "), overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row.get(column)) for column in columns))
        console = Console(highlight=False)
        if not console.is_terminal:  # piped: never fold a URL at 80 columns
            console = Console(highlight=False, width=100_000)
        console.print(table)

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Any]:
        """A bar on stderr while ``total`` steps run; call ``advance()`` on what it yields."""
        if not self.chatty or total == 0 or not self.err.is_terminal:
            self.info(f"{description} ({total})")
            yield _Steps(None, None)
            return
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.err,
            transient=False,
        )
        with bar:
            task = bar.add_task(description, total=total)
            yield _Steps(bar, task)

    @contextmanager
    def status(self, text: str) -> Iterator[Any]:
        """A live one-line status (a spinner on a terminal); ``update(text)`` changes it."""
        if not self.chatty or not self.err.is_terminal:
            self.info(text)
            yield _Status(None, self, text)
            return
        with self.err.status(text) as live:
            yield _Status(live, self, text)


class _Steps:
    def __init__(self, bar: Progress | None, task: Any) -> None:
        self.bar = bar
        self.task = task

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)


class _Status:
    def __init__(self, live: Any, printer: Printer, first: str) -> None:
        self.live = live
        self.printer = printer
        self.last = first

    def update(self, text: str) -> None:
        if text == self.last:
            return
        self.last = text
        if self.live is not None:
            self.live.update(text)
        else:
            self.printer.info(text)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
