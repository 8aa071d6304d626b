"""The ``callbox`` command line: the group, where each command lives, and the rule that a
user's mistake is one line, not a traceback.

Commands are imported when used: ``callbox deploy`` does not load the server's modules, which
keeps every toolkit command's start-up short (bench/toolkit.py times it).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import traceback
from typing import Any

import click

from callbox import __version__
from callbox.toolkit.errors import USER_ERRORS

# name -> "module:attribute"; aliases (Twilio's) point at the same command.
COMMANDS = {
    "init": "callbox.toolkit.commands.init:init",
    "start": "callbox.toolkit.commands.start:start",
    "serve": "callbox.toolkit.commands.serve:serve",
    "accounts": "callbox.toolkit.commands.accounts:accounts",
    "keys": "callbox.toolkit.commands.accounts:keys",
    "deploy": "callbox.toolkit.commands.deploy:deploy",
    "promote": "callbox.toolkit.commands.promote:promote",
    "activate": "callbox.toolkit.commands.promote:promote",
    "list": "callbox.toolkit.commands.listing:list_command",
    "ls": "callbox.toolkit.commands.listing:list_command",
    "logs": "callbox.toolkit.commands.logs:logs",
    "debugger": "callbox.toolkit.commands.debugger:debugger",
    "env": "callbox.toolkit.commands.env:env",
    "new": "callbox.toolkit.commands.templates:new",
    "template": "callbox.toolkit.commands.templates:new",
    "list-templates": "callbox.toolkit.commands.templates:list_templates",
    "assets": "callbox.toolkit.commands.assets:assets",
    "login": "callbox.toolkit.commands.profiles:login",
    "profiles": "callbox.toolkit.commands.profiles:profiles",
    "twilio-proxy": "callbox.toolkit.commands.twilio_proxy:twilio_proxy",
}


# Twilio's CLI spells commands with colons: `twilio serverless:deploy`, `serverless:env:set`,
# `assets:upload`, `profiles:list`. The spelling after an optional "serverless:" is split into
# the command and its subcommand; these names differ from ours.
COLON_NAMES = {"dev": ["start"], "run": ["start"], "profiles:create": ["login"]}


def split_colon_name(args: list[str]) -> list[str]:
    """``["serverless:env:set", ...]`` -> ``["env", "set", ...]``; other arguments unchanged."""
    if not args or args[0].startswith("-") or ":" not in args[0]:
        return args
    name = args[0].removeprefix("serverless:")
    words = COLON_NAMES.get(name) or name.split(":")
    return [*words, *args[1:]]


class Interrupted(BaseException):
    """Ctrl+C (SIGINT) reached a command: the process ends quietly, as killed by that signal."""


class ToolkitGroup(click.Group):
    """Turns the failures a user can act on into one ``Error: ...`` line and exit code 1."""

    debug = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, split_colon_name(args))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        added = super().get_command(ctx, name)  # a group built with its own commands (tests)
        target = COMMANDS.get(name)
        if added is not None or target is None:
            return added
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None  # past click, which would print "Aborted."
        except Exception as exc:
            if not isinstance(exc, USER_ERRORS):
                raise
            if self.debug:
                traceback.print_exc()
            raise click.ClickException(str(exc)) from None


@click.group(cls=ToolkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="callbox")
def cli() -> None:
    """callbox: Twilio Functions & Assets, self-hosted, with functions in Python or JavaScript.

    A failure prints one line; run again with --debug (anywhere on the line) for the traceback.

    Twilio's spellings work too: `callbox serverless:deploy -p PROFILE`, `env:set`,
    `assets:upload`, `profiles:list`.

    \b
    Examples:
      callbox init my-project && cd my-project && callbox start
      callbox serve --data ./data
      callbox deploy --production
    """


def main() -> None:
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    ToolkitGroup.debug = debug
    try:
        cli.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:  # a prompt given end-of-file or Ctrl+C
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except (Interrupted, KeyboardInterrupt):
        _end_by(signal.SIGINT)
    except Exception as exc:  # a bug of ours: one readable line unless --debug
        if debug:
            traceback.print_exc()
        else:
            click.echo(f"Error: {exc} (run again with --debug for the traceback)", err=True)
        sys.exit(1)


def _end_by(sig: signal.Signals) -> None:
    """End as killed by ``sig`` once everything is cleaned up, as Python does for an uncaught
    Ctrl+C: the shell sees 128 + the signal's number (130), a calling script learns its child
    was interrupted, and nothing is printed."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    sys.exit(128 + sig)  # only if the signal could not end the process
