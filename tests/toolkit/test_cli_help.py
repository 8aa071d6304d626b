"""Every command and subcommand of the CLI documents itself with at least one example."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from callbox.toolkit.cli import cli


def _walk(group: click.Group, prefix: list[str]) -> Iterator[list[str]]:
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        yield [*prefix, name]
        if isinstance(command, click.Group):
            yield from _walk(command, [*prefix, name])


COMMANDS = list(_walk(cli, []))


def test_the_toolkit_has_twilios_commands() -> None:
    names = {" ".join(path) for path in COMMANDS}
    expected = {
        "init", "start", "deploy", "list", "ls", "logs", "promote", "activate", "new",
        "template", "list-templates", "login", "profiles list", "profiles use",
        "profiles remove", "env set", "env get", "env list", "env unset", "env import",
        "assets init", "assets upload", "assets list", "serve",
    }  # fmt: skip
    assert expected <= names, expected - names


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_has_examples(path: list[str]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and "callbox " in result.output
