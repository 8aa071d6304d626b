"""What every API command starts from: its flags merged with the config file (as the typed
flags of ``options.py``; ``configure`` does that much for start and new), the project's .env,
the credentials and a client of the server.

The order Twilio's toolkit uses: the config file is specialised for the command and the target
environment (and, once the account is known, the project), then merged with the flags — a flag
wins only when the user gave it (on the command line or through its environment variable).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import click

from callbox.rules import is_service_name
from callbox.toolkit import deployinfo, rcfile
from callbox.toolkit.client import ApiClient
from callbox.toolkit.credentials import Credentials, ProfileStore, resolve
from callbox.toolkit.options import ApiFlags, BaseFlags
from callbox.toolkit.printer import Printer
from callbox.toolkit.project import read_env
from callbox.toolkit.urls import domain_url
from callbox.toolkit.variables import uploadable

SERVICE_SID = re.compile(r"ZS[0-9a-f]{32}")
B = TypeVar("B", bound=BaseFlags)
A = TypeVar("A", bound=ApiFlags)


@dataclass
class Session(Generic[A]):
    command: str
    flags: A  # the command's flags merged with the config file
    root: Path
    env_file: Path
    env_values: dict[str, str]
    credentials: Credentials
    printer: Printer
    client: ApiClient = field(repr=False)
    given: frozenset[str] = frozenset()  # flags given on the command line (or by env var)
    _account: str | None = field(default=None, repr=False)
    _account_asked: bool = field(default=False, repr=False)

    @property
    def environment(self) -> str:
        """The target environment: '' for production, else a suffix or a ZE... SID."""
        return self.flags.target

    @property
    def region(self) -> str | None:
        region = self.flags.region
        return str(region) if region else None

    def uploadable_env(self) -> dict[str, str]:
        """The .env values a deploy sends: never ACCOUNT_SID/AUTH_TOKEN, never empty values."""
        return uploadable(self.env_values)

    @property
    def account_sid(self) -> str | None:
        """The account of the credentials. An API key (SK...) does not name its account: the
        server says it (GET Accounts.json), asked once and only when needed."""
        if self._account is None and not self._account_asked:
            self._account_asked = True
            self._account = self.credentials.account_sid
            if self._account is None:
                self._account = self.client.account_of_key()
        return self._account

    def deployed_service(self) -> deployinfo.DeployInfo | None:
        """What .twiliodeployinfo says about this project for this account."""
        account = self.account_sid
        return deployinfo.lookup(self.root, account, self.region) if account else None

    def service(self, *, required: bool = True) -> str | None:
        """The service, as deploy finds it (spec 7.8): --service-sid (or serviceSid in the
        config), a --service-name given now, .twiliodeployinfo for this account, then a
        serviceName from the config. The API takes a unique name wherever a SID goes."""
        named = self.flags.service_name
        chosen = self.flags.service_sid or (named if "service_name" in self.given else None)
        if not chosen:
            info = self.deployed_service()
            chosen = (info.service_sid if info else None) or named
        if chosen and not (SERVICE_SID.fullmatch(str(chosen)) or is_service_name(str(chosen))):
            raise click.ClickException(
                f'"{chosen}" is neither a service SID (ZS and 32 hex digits) nor a service '
                "name (letters, digits and dashes): check --service-sid / --service-name."
            )
        if not chosen and required:
            raise click.ClickException(f"No service given: {self._why_no_deploy_info()}")
        return str(chosen) if chosen else None

    def _why_no_deploy_info(self) -> str:
        if deployinfo.invalid(self.root):
            return (
                f"{self.root / deployinfo.FILE_NAME} is not valid; fix or delete it, or pass "
                "--service-sid (or --service-name)."
            )
        return (
            f"{self.root} has no .twiliodeployinfo for this account: pass --service-sid (or "
            "--service-name), or run `callbox deploy` here first."
        )

    def find_environment(self, service: str) -> dict[str, Any]:
        """The target environment of ``service``, or one readable error naming it."""
        found = self.client.find_environment(service, self.environment)
        if found is None:
            name = f'"{self.environment}"' if self.environment else "production"
            raise click.ClickException(
                f"Could not find environment {name} in service {service}: check --environment "
                "(a domain suffix or ZE... SID) or --production, or deploy to it first."
            )
        return found

    def domain_url(self, domain: str) -> str:
        """The public URL of a deployed domain: the server's scheme and port, the domain's name."""
        return domain_url(self.credentials.url, domain)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Session[A]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def merged(ctx: click.Context, rc: rcfile.RcFile, config: dict[str, Any]) -> dict[str, Any]:
    """The flags merged with ``config``; a value from the file is checked and converted by
    the flag's own type ("force": "false" is an error, not True)."""
    given = rcfile.given_names(ctx)
    options = rcfile.merge(dict(ctx.params), given, config)
    for param in ctx.command.params:
        name = param.name
        if not name or name in given or config.get(name) is None:
            continue
        value = config[name]
        try:
            if isinstance(param, click.Option) and param.is_flag:
                if not isinstance(value, bool):
                    raise click.BadParameter("expected true or false")
            elif isinstance(value, (list, dict)) and not param.multiple:
                raise click.BadParameter("expected a single value")
            options[name] = param.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            raise rcfile.RcError(
                f'Config file {rc.path}: "{_camel(name)}" is {value!r}: {exc.message}; fix '
                "that key."
            ) from None
    return options


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class Configured(Generic[B]):
    """A command's flags merged with its config file."""

    flags: B
    rc: rcfile.RcFile
    environment: str | None  # the environments scope applied; None: the command has none


def configure(
    ctx: click.Context, command: str, kind: type[B], project: Path | None = None
) -> Configured[B]:
    """Flags merged with the config file's top-level, command and environment scopes, as a
    ``kind``; the file is searched from --cwd, else ``project`` (start's DIRECTORY), else the
    current folder."""
    typed = kind.of(ctx.params)  # the flags alone say where the file is
    start = Path(typed.cwd or project or os.getcwd())
    rc = rcfile.find_config(start.resolve(), typed.config)
    environment = None
    if "environment" in ctx.params:  # a command with --environment: that scope applies too
        environment = ApiFlags.of(merged(ctx, rc, rcfile.specialize(rc, command))).target
    values = merged(ctx, rc, rcfile.specialize(rc, command, environment=environment))
    return Configured(kind.of(values), rc, environment)


def env_file(root: Path, env: str | None) -> Path:
    """The .env a command reads: ``env`` (--env, relative to the project) or the project's
    .env; a file named explicitly must exist (Twilio's message)."""
    path = (root / (env or ".env")).resolve()
    if env and not path.is_file():
        raise click.ClickException(f'Failed to find .env file at "{path}"')
    return path


def read_local_env(
    root: Path, env: str | None, load_system_env: bool
) -> tuple[Path, dict[str, str]]:
    """The .env a deploy/promote/import reads: Twilio's rules, same messages."""
    if load_system_env and not env:
        raise click.ClickException(
            "If you are using --load-system-env you'll also have to supply a --env flag. "
            "The .env file you are pointing at will be used to primarily load environment "
            "variables; empty entries are filled from the system's environment."
        )
    path = env_file(root, env)
    values = read_env(path)
    if load_system_env:
        values = {k: (v if v != "" else os.environ.get(k, "")) for k, v in values.items()}
    return path, values


@overload
def open_session(ctx: click.Context, command: str) -> Session[ApiFlags]: ...


@overload
def open_session(ctx: click.Context, command: str, kind: type[A]) -> Session[A]: ...


def open_session(ctx: click.Context, command: str, kind: type[ApiFlags] = ApiFlags) -> Session[Any]:
    """Resolve everything an API command needs, or fail with one readable line; the command's
    flags (merged with the config file) as a ``kind``."""
    configured = configure(ctx, command, kind)
    flags, rc = configured.flags, configured.rc
    root = Path(flags.cwd or os.getcwd()).resolve()
    env_file, env_values = read_local_env(root, flags.env, bool(flags.load_system_env))
    credentials = resolve(
        url=flags.url,
        username=flags.username,  # never from a config file (rcfile.DROPPED_KEYS)
        password=flags.password,
        profile=flags.profile,
        env_values=env_values,
        env_file=env_file,
        environ=os.environ,
        store=ProfileStore.default(),
    )
    client = ApiClient(
        credentials.url, credentials.username, credentials.password, source=credentials.source
    )
    account = credentials.account_sid
    if account is None and rc.data.get("projects"):  # an API key: ask whose it is
        try:
            account = client.account_of_key()
        except BaseException:
            client.close()
            raise
    if account:
        # The projects scope needs the account; it wins over everything but given flags.
        scoped = rcfile.specialize(
            rc,
            command,
            environment=configured.environment,
            account_sid=account,
            region=flags.region,
        )
        before = (flags.env, bool(flags.load_system_env))
        flags = kind.of(merged(ctx, rc, scoped))
        after = (flags.env, bool(flags.load_system_env))
        if after != before:  # projects.<account> chose another .env file
            env_file, env_values = read_local_env(root, *after)
    printer = Printer(str(flags.log_level or "info"), flags.output_format == "json")
    return Session(
        command,
        flags,
        root,
        env_file,
        env_values,
        credentials,
        printer,
        client,
        frozenset(rcfile.given_names(ctx)),
        _account=account,  # known already when the projects scope needed it
        _account_asked=account is not None,
    )
