"""``callbox debugger``: the Debugger's alerts (the Monitor Alerts API), grouped by the
function's URL (default) or by error code, or listed one by one (``--group-by none``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from callbox.toolkit.options import ApiFlags, api_options, output_option, service_sid_option
from callbox.toolkit.session import Session, open_session

GROUPS = ("url", "error_code", "none")
GROUP_COLUMNS = ["key", "count", "log_level", "error_codes", "last_occurrence", "last_alert_text"]
ALERT_COLUMNS = ["date_created", "log_level", "error_code", "request_url", "alert_text"]
TEXT_WIDTH = 60  # a table shows an alert's first line, this long at most (-o json: all of it)


@click.command("debugger")
@api_options
@click.option("-n", "--service-name", default=None, help="Only this service's alerts (by name).")
@service_sid_option
@click.option(
    "--group-by",
    type=click.Choice(GROUPS),
    default="url",
    show_default=True,
    help="Group by the function's URL or by error code; none lists the alerts themselves.",
)
@click.option("--level", type=click.Choice(["error", "warning"]), default=None, help="Only these.")
@click.option("--search", default=None, help="Only alerts whose text holds these words.")
@click.option("--since", default=None, help="Only alerts from this time on (ISO 8601).")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="How many alerts to list (with --group-by none).",
)
@output_option
@click.pass_context
def debugger(ctx: click.Context, **_flags: Any) -> None:
    """What failed: the Debugger's alerts (every WARN/ERROR line and failed invocation).

    \b
    Examples:
      callbox debugger                          # grouped by the function's URL
      callbox debugger --group-by error_code    # grouped by Twilio error code
      callbox debugger --group-by none --level error --search timeout -o json
    """
    with open_session(ctx, "debugger", DebuggerFlags) as session:
        _show(session)


@dataclass(frozen=True)
class DebuggerFlags(ApiFlags):
    group_by: str = "url"
    level: str | None = None
    search: str | None = None
    since: str | None = None
    limit: int = 50


def _show(session: Session[DebuggerFlags]) -> None:
    flags = session.flags
    # Account-wide unless a service is named now (not the one .twiliodeployinfo remembers).
    named = flags.service_sid or "service_name" in session.given
    service = session.service(required=False) if named else None
    if service and not service.startswith("ZS"):
        service = str(session.client.service(service)["sid"])
    filters = {
        "ServiceSid": service,
        "LogLevel": flags.level,
        "Search": flags.search,
        "StartDate": flags.since,
    }
    printer = session.printer
    if flags.group_by == "none":
        rows = session.client.alerts(limit=flags.limit, **filters)
        columns = ALERT_COLUMNS
    else:
        rows = session.client.alert_groups(flags.group_by, **filters)
        columns = GROUP_COLUMNS
    if printer.json:
        printer.emit_json(rows)
        return
    if not rows:
        printer.out("No alerts." if not any(filters.values()) else "No alerts match.")
        return
    texts = ("alert_text", "last_alert_text")
    shown = [{**row, **{key: _short(row.get(key)) for key in texts}} for row in rows]
    printer.table(shown, columns)


def _short(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= TEXT_WIDTH else first[: TEXT_WIDTH - 3] + "..."
