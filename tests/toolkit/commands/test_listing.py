"""``callbox list``'s argument (commands/listing.py): the types to list. The listing itself,
against a real server, is in tests/e2e/test_e2e_toolkit_list.py."""

from __future__ import annotations

from callbox.toolkit.commands.listing import parse_types


def test_types_are_split_and_trimmed() -> None:
    # Spec case 75.
    assert parse_types("services") == ["services"]
    assert parse_types("environments, functions") == ["environments", "functions"]
    assert parse_types(None) == ["services"]
    assert parse_types(" ,") == ["services"]
