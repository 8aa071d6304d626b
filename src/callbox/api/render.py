"""Resource JSON as the SDKs read it: snake_case, exact timestamps, absolute urls, pages."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import sqlalchemy as sa

from callbox.api.params import Params

if TYPE_CHECKING:
    from callbox.api.endpoint import Call
from callbox.errors import BadRequest

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
_MAX_OFFSET = 2**62  # SQL integers are 64-bit


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
    params, base = call.query, call.base
    size = _page_size(params)
    number = _int(params, "Page", 0)
    date, sid = table.c.date_created, table.c.sid
    token = params.text("PageToken")
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
        if number * size > _MAX_OFFSET:
            raise BadRequest(f"Page {number} is out of range for PageSize {size}")
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


def _page_size(params: Params) -> int:
    size = _int(params, "PageSize", DEFAULT_PAGE_SIZE)
    if size < 1:
        raise BadRequest(f"PageSize must be between 1 and {MAX_PAGE_SIZE}; found {size}")
    return min(size, MAX_PAGE_SIZE)  # the SDK sends list(limit=N) as PageSize=N: clamp


def _int(params: Params, name: str, default: int) -> int:
    raw = params.text(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number; found {raw!r}") from None
    if value < 0:
        raise BadRequest(f"{name} must not be negative; found {value}")
    return value


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
