"""What counts as a page, in one place."""

from __future__ import annotations

import pytest

from streams.apps.cohort.paging import definition, has_page_field, is_page
from tests.unit.streams.apps.cohort.hand_built import message


@pytest.mark.parametrize(
    ("severity", "status", "pages"),
    [
        ("warning", "firing", True),
        ("urgent", "firing", True),
        ("critical", "escalated", True),
        ("info", "firing", False),
        ("critical", "acknowledged", False),
        ("urgent", "resolved", False),
    ],
)
def test_todays_page_is_a_firing_or_escalated_warning_or_worse(
    severity: str, status: str, pages: bool
) -> None:
    if has_page_field():
        pytest.skip("alerts carry their own `page` flag now; test_a_page_flag_wins covers it")
    assert is_page(message("fever", severity, status).alert) is pages
    assert "no `page` field" in definition()


def test_a_page_flag_wins_when_the_alert_carries_one() -> None:
    alert = message("stale_data", "warning", "firing").alert
    flagged = alert.model_copy(update={"page": False}) if has_page_field() else _Flagged(alert, page=False)
    assert is_page(flagged) is False  # type: ignore[arg-type]


class _Flagged:
    """An alert-like object with a `page` flag (today's Alert model has none)."""

    def __init__(self, alert: object, *, page: bool) -> None:
        self.alert, self.page = alert, page
