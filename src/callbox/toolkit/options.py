"""The flags the toolkit's commands share, as Twilio's toolkit has them (spec 7.2): the base
flags of every command but list-templates, the API flags, the output format, the target
service and environment, and the typed objects a command reads them from.

A command's flags are merged with its config file (``session.py``) into one of these objects
(``DeployFlags``, ``StartFlags``, ...): a command reads ``flags.service_sid``, never a string
key of a dict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Self, TypeVar

import click

from callbox.toolkit import rcfile

F = TypeVar("F", bound=Callable[..., Any])


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


base_options = _stack(
    click.option(
        "-l",
        "--log-level",
        type=click.Choice(["debug", "info", "warn", "error", "none"]),
        default="info",
        show_default=True,
        help="How much progress to print (errors always are).",
    ),
    click.option(
        "-c",
        "--config",
        type=click.Path(path_type=Path),
        default=None,
        help="Config file to use (default: .twilioserverlessrc, .twilioserverlessrc.yml or "
        "[tool.callbox] in pyproject.toml, searched from the project folder up).",
    ),
    click.option(
        "--cwd",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The project folder (default: the current folder).",
    ),
    click.option("--env", default=None, help="The .env file (default: .env in the project)."),
)

api_options = _stack(
    base_options,
    click.option("-u", "--username", default=None, help="Account SID or API key (SK...)."),
    click.option("--password", default=None, help="Auth token, or the API key's secret."),
    click.option("-p", "--profile", default=None, help="A profile saved by `callbox login`."),
    click.option(
        "--url",
        default=None,
        help="The callbox server (default: $CALLBOX_URL, the profile's, http://127.0.0.1:8080).",
    ),
    click.option(
        "--load-system-env",
        is_flag=True,
        default=False,
        help="Fill empty values of the --env file from this shell's environment.",
    ),
    click.option("--region", default=None, hidden=True),
    click.option("--edge", default=None, hidden=True),
)

output_option = click.option(
    "-o",
    "--output-format",
    type=click.Choice(["", "json"]),
    default="",
    help="json: print only JSON, for scripts.",
)

service_sid_option = click.option(
    "--service-sid", default=None, help="The service (ZS...; its unique name works too)."
)

environment_options = _stack(
    click.option(
        "--environment",
        "--to",
        "environment",
        default="dev",
        show_default=True,
        help="The environment's domain suffix, or its SID (ZE...).",
    ),
    click.option(
        "--production", is_flag=True, default=False, help="The production environment (no suffix)."
    ),
)


data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="CALLBOX_DATA_DIR",
    help="Data folder: database, blobs, builds, secret key (default ~/.local/share/callbox).",
)


# --- the typed flags ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Flags:
    """A command's flags as attributes, filled from the flags merged with the config file."""

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Self:
        """The fields of ``cls`` found in ``values``; the others keep their defaults (the
        flags' own). A value from the config file was converted by its flag's type, or, for a
        key that is no flag of the command (``serviceName`` for promote), is as written."""
        names = {field.name for field in fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in names})


@dataclass(frozen=True)
class BaseFlags(Flags):
    """``base_options``: every command but list-templates."""

    log_level: str = "info"
    config: Path | None = None
    cwd: Path | None = None
    env: str | None = None  # the .env file, relative to the project


@dataclass(frozen=True)
class ApiFlags(BaseFlags):
    """``api_options`` and what an API command may be pointed at: the output format, the
    service (--service-sid, or -n / serviceName in the config file) and the environment."""

    username: str | None = None
    password: str | None = None
    profile: str | None = None
    url: str | None = None
    load_system_env: bool = False
    region: str | None = None
    edge: str | None = None
    output_format: str = ""
    service_sid: str | None = None
    service_name: str | None = None
    environment: str | None = None  # a domain suffix or a ZE... SID; None: dev
    production: bool = False

    @property
    def target(self) -> str:
        """The environment acted on: '' for production, else a domain suffix or a ZE... SID."""
        return rcfile.environment_suffix(self.environment, self.production)
