"""The pieces of ``callbox logs --tail`` that need no server (logstream.py): the stream's
server-sent events and the bounded memory of printed lines. The follower against a real
server is in tests/e2e/test_e2e_toolkit_logs.py."""

from __future__ import annotations

import json

from callbox.toolkit.logstream import SeenSids, parse_events


def test_seen_sids_is_bounded() -> None:
    seen = SeenSids(2)
    assert seen.add("a") and seen.add("b") and not seen.add("a")
    assert seen.add("c") and len(seen) == 2
    assert "a" not in seen and "b" in seen and "c" in seen


def test_parse_events_skips_comments() -> None:
    lines = [": connected", "", "id: NO1", "event: log", 'data: {"sid": "NO1"}', "", ": keep"]
    [event] = list(parse_events(lines))
    assert (event.type, event.id, json.loads(event.data)) == ("log", "NO1", {"sid": "NO1"})
