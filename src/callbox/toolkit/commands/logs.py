"""``callbox logs``: the recent log lines of an environment, and with ``--tail`` the new ones.

Twilio's toolkit polls the list every second; callbox follows the server's live stream instead
(``logstream.py``: no gap, no line twice, across reconnects).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from callbox.toolkit.logstream import Follower, SeenSids
from callbox.toolkit.options import (
    ApiFlags,
    api_options,
    environment_options,
    output_option,
    service_sid_option,
)
from callbox.toolkit.session import Session, open_session

RECENT = 50  # lines printed first, as Twilio's toolkit
WINDOW = timedelta(hours=24)  # the list's default window: where a tail with no lines starts


@click.command()
@api_options
@service_sid_option
@click.option(
    "--function-sid",
    default=None,
    help="Only this function's lines: its SID (ZH...) or its path (e.g. /hello).",
)
@click.option("--tail", is_flag=True, default=False, help="Keep printing new lines (Ctrl+C ends).")
@environment_options
@click.option("--log-cache-size", type=click.IntRange(min=1), default=1000, hidden=True)
@output_option
@click.pass_context
def logs(ctx: click.Context, **_flags: Any) -> None:
    """Print the last 50 log lines of an environment, oldest first; --tail follows new ones.

    Each line reads [LEVEL][date]: message; -o json prints one JSON object per line.

    \b
    Examples:
      callbox logs                                   # the dev environment of this project
      callbox logs --tail --production
      callbox logs --function-sid /hello --environment stage
      callbox logs --service-sid ZS0123... --tail -o json | jq .message
    """
    with (
        open_session(ctx, "logs", LogsFlags) as session,
        contextlib.suppress(KeyboardInterrupt),
    ):
        _logs(session)  # Ctrl+C is how a tail ends: not an error


@dataclass(frozen=True)
class LogsFlags(ApiFlags):
    function_sid: str | None = None  # a SID (ZH...) or a path
    tail: bool = False
    log_cache_size: int = 1000


def _logs(session: Session[LogsFlags]) -> None:
    flags = session.flags
    environment = session.find_environment(str(session.service()))
    service_sid = environment["service_sid"]
    client = session.client
    function_sid = _function_sid(session, service_sid, flags.function_sid)
    started = datetime.now(UTC)
    recent = client.logs(service_sid, environment["sid"], page_size=RECENT, function=function_sid)
    emit = print_json_line if session.printer.json else print_text_line
    seen = SeenSids(int(flags.log_cache_size or 1000))
    for item in reversed(recent):  # the API gives newest first
        seen.add(item["sid"])
        emit(item)
    if not flags.tail:
        return
    follower = Follower(
        client.http,
        f"{client.logs_path(service_sid, environment['sid'])}/Stream",
        emit=emit,
        seen=seen,
        last_event_id=recent[0]["sid"] if recent else None,
        since=None if recent else _iso(started - WINDOW),
        function_sid=function_sid,
        say=session.printer.info,
        source=client.source,
    )
    follower.run()


def print_text_line(item: dict[str, Any]) -> None:
    click.echo(f"[{item.get('level')}][{item.get('date_created')}]: {item.get('message')}")


def print_json_line(item: dict[str, Any]) -> None:
    click.echo(json.dumps(item))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _function_sid(session: Session, service_sid: str, value: Any) -> str | None:
    """--function-sid as a SID, or the SID of the function deployed at that path."""
    if not value:
        return None
    text = str(value)
    if text.startswith("ZH"):
        return text
    wanted = "/" + text.lstrip("/")
    for function in session.client.resources(service_sid, "function"):
        if function.get("friendly_name") == wanted:
            return str(function["sid"])
    raise click.ClickException(
        f"Service {service_sid} has no function at path {wanted}: pass a function SID (ZH...) "
        "or a path `callbox list functions` shows."
    )
