"""What counts as a page, in one place: the message's own flag."""

from __future__ import annotations

from streams.apps.cohort.paging import definition, is_page
from tests.unit.streams.apps.cohort.hand_built import message


def test_a_page_is_the_messages_own_flag() -> None:
    assert is_page(message("stale_data", "warning", "firing").alert) is True
    assert is_page(message("stale_data", "warning", "firing", page=False).alert) is False
    assert is_page(message("fever", "critical", "acknowledged", page=True).alert) is True
    assert "`page` flag" in definition()
