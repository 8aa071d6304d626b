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


@pytest.mark.parametrize(
    ("spelling", "usage"),
    [
        ("serverless:deploy", "callbox deploy"),
        ("serverless:start", "callbox start"),
        ("serverless:dev", "callbox start"),
        ("serverless:run", "callbox start"),
        ("serverless:init", "callbox init"),
        ("serverless:promote", "callbox promote"),
        ("serverless:activate", "callbox activate"),
        ("serverless:logs", "callbox logs"),
        ("serverless:list", "callbox list"),
        ("serverless:new", "callbox new"),
        ("serverless:env:set", "callbox env set"),
        ("serverless:env:import", "callbox env import"),
        ("env:get", "callbox env get"),
        ("assets:upload", "callbox assets upload"),
        ("profiles:list", "callbox profiles list"),
        ("profiles:create", "callbox login"),
    ],
)
def test_twilios_colon_spellings_are_aliases(spelling: str, usage: str) -> None:
    # From issue 13: the seeds spell the commands `twilio serverless:deploy` and so on.
    result = CliRunner().invoke(cli, [spelling, "--help"], prog_name="callbox")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {usage} ")


@pytest.mark.parametrize("path", [["deploy"], ["env", "set"], ["list"], ["assets", "upload"]])
def test_api_commands_take_p_for_profile(path: list[str]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert "-p, --profile" in result.output


def test_an_unknown_colon_spelling_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["serverless:nope"])
    assert result.exit_code == 2 and "No such command 'nope'" in result.output
