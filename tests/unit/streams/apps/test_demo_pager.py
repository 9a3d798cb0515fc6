"""The demo's pager pieces (pure): its secrets point every channel at its own server, and it knows
when an escalation reached the second nurse."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from streams.apps.demo_pager import DemoReceivers, ReceivedPage, example_roster, reached_second_nurse

NOON = datetime(2026, 12, 7, 12, tzinfo=ZoneInfo("America/New_York"))  # rn-ana primary, rn-ben backup


def test_every_secret_of_the_example_roster_is_served_locally() -> None:
    receivers = DemoReceivers(example_roster(), lambda page: None, port=12345)
    secrets = receivers.secrets()
    assert set(secrets) == set(example_roster().secret_names())
    assert secrets["rn-ana-ntfy-topic-url"] == "http://127.0.0.1:12345/rn-ana"
    assert secrets["desk-sms-url"] == "http://127.0.0.1:12345/oncall-desk"
    assert secrets["twilio-auth-token"] == "demo-twilio-auth-token"
    assert all(v.startswith(("http://127.0.0.1:12345/", "demo-")) for v in secrets.values())


def test_the_second_nurse_is_the_backup_on_call_when_the_escalation_arrived() -> None:
    roster = example_roster()
    first = ReceivedPage.of("pt-1:incident:1|escalated|1|urgent|rn-ana", NOON)
    second = ReceivedPage.of("pt-1:incident:1|escalated|1|urgent|rn-ben", NOON)
    assert first is not None and second is not None
    assert reached_second_nurse(roster, [first]) is None  # at noon rn-ana is the primary
    assert reached_second_nurse(roster, [first, second]) == second
    assert ReceivedPage.of("pt-1:incident:1|escalated|1|urgent", NOON) is None  # single-webhook key
    receivers = DemoReceivers(roster, lambda page: None, port=1)
    assert receivers.as_what(second) == "on call as backup"
