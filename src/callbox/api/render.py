"""Resource JSON as the SDKs read it: snake_case, exact timestamps, absolute urls, pages."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import sqlalchemy as sa

from callbox.api.params import Param

if TYPE_CHECKING:
    from callbox.api.endpoint import Call
from callbox.errors import BadRequest

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
# The offset Page * PageSize must fit a 64-bit SQL integer, whatever the PageSize.
MAX_PAGE = 2**62 // MAX_PAGE_SIZE

# Every list takes these (query parameters).
PAGING = (
    Param(
        "PageSize",
        "integer",
        minimum=1,
        at_most=MAX_PAGE_SIZE,  # the SDK sends list(limit=N) as PageSize=N: read as at most 1000
        default=DEFAULT_PAGE_SIZE,
        empty="absent",
        invalid=f"PageSize must be between 1 and {MAX_PAGE_SIZE}; found {{value}}",
        description="How many items a page holds.",
    ),
    Param(
        "Page",
        "integer",
        minimum=0,
        maximum=MAX_PAGE,
        default=0,
        empty="absent",
        invalid="Page {value} is out of range: at most {limit}",
        description="The page number; without a PageToken, the page counted from the first.",
    ),
    Param(
        "PageToken",
        pattern="PP?T[A-Za-z0-9_-]+",
        empty="absent",
        invalid="PageToken {value!r} is not one this server issued",
        description="Where the page starts: the token of a next_page_url or previous_page_url.",
    ),
)


def timestamp(value: datetime | None) -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ``: the SDK parses exactly this and nothing else."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def page(
    call: Call,
    conn: sa.Connection,
    query: sa.Select[Any],
    table: sa.Table,
    *,
    key: str,
    path: str,
    render: Callable[[Any], dict[str, Any]],
    newest_first: bool = False,
    filters: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """One page of ``query``, ordered by (date_created, sid), with Twilio's ``meta`` envelope.

    The PageToken carries the last row's (date_created, sid): a keyset, so rows added while a
    client walks the pages (new log lines) neither repeat nor shift what it sees. ``Page`` alone
    (no token) is an offset of ``Page * PageSize`` rows.
    """
    base = call.base
    size, number, token = call.args["PageSize"], call.args["Page"], call.args["PageToken"]
    date, sid = table.c.date_created, table.c.sid
    backwards = bool(token and token.startswith("PP"))
    ascending = newest_first == backwards
    if token:
        after_date, after_sid = _decode(token)
        mark = sa.tuple_(after_date, after_sid)
        query = query.where(
            sa.tuple_(date, sid) > mark if ascending else sa.tuple_(date, sid) < mark
        )
    order = (date.asc(), sid.asc()) if ascending else (date.desc(), sid.desc())
    query = query.order_by(*order).limit(size + 1)
    if not token and number > 0:
        # A page asked for by number alone (no token to continue from): counted from the start,
        # so its items are the ones its "page" label says.
        query = query.offset(number * size)
    fetched = list(conn.execute(query).all())
    more, rows = len(fetched) > size, fetched[:size]
    if backwards:
        rows.reverse()

    def link(page_number: int, page_token: str | None) -> str:
        args = [*filters, ("PageSize", str(size)), ("Page", str(page_number))]
        if page_token:
            args.append(("PageToken", page_token))
        return f"{base}{path}?{urlencode(args)}"

    next_url = previous_url = None
    if rows and (more or backwards):
        next_url = link(number + 1, _encode(rows[-1].date_created, rows[-1].sid))
    if rows and number > 0 and (more or not backwards):
        previous_url = link(number - 1, "P" + _encode(rows[0].date_created, rows[0].sid))
    return {
        key: [render(row) for row in rows],
        "meta": {
            "first_page_url": link(0, None),
            "key": key,
            "next_page_url": next_url,
            "page": number,
            "page_size": size,
            "previous_page_url": previous_url,
            "url": link(number, token),
        },
    }


def _encode(date: datetime, sid: str) -> str:
    raw = json.dumps([date.isoformat(), sid]).encode()
    return "PT" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> tuple[datetime, str]:
    # "PT...": the page after that row; "PPT...": the page before it.
    body = token[3:] if token.startswith("PPT") else token[2:] if token.startswith("PT") else ""
    try:
        date, sid = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return datetime.fromisoformat(date), str(sid)
    except (ValueError, TypeError, RecursionError):
        raise BadRequest(f"PageToken {token!r} is not one this server issued") from None
