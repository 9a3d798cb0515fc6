"""Roster resolution and coverage (pure): time zones, DST, overrides, swaps, gaps, unknown people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agents.roster_coverage import coverage_gaps, unknown_people
from agents.roster_file import EXAMPLE_ROSTER_FILE, RosterFileError, load_roster, parse_roster
from agents.roster_resolution import Gap, on_call
from models.alerts import Severity
from models.roster import Person, Roster, Slot

NY = ZoneInfo("America/New_York")
CRIT, URG = Severity.CRITICAL, Severity.URGENT

PEOPLE = """
[roster]
id = "t"
version = "1"
source = "test"
time_zone = "America/New_York"

[[people]]
id = "rn-a"
name = "A"
role = "primary_nurse"
time_zone = "America/New_York"
channels = [{ kind = "webhook", url_secret = "a" }]

[[people]]
id = "rn-b"
name = "B"
role = "backup_nurse"
time_zone = "Europe/London"
channels = [{ kind = "ntfy", url_secret = "b" }]

[escalation]
critical = ["primary", "backup"]
urgent = ["primary"]

[fallback]
name = "Desk"
channels = [{ kind = "webhook", url_secret = "desk" }]
"""

DAYS_NIGHTS = """
[[shifts]]
slot = "primary"
person = "rn-a"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "08:00"
end = "20:00"

[[shifts]]
slot = "primary"
person = "rn-b"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "20:00"
end = "08:00"

[[shifts]]
slot = "backup"
person = "rn-b"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "08:00"
end = "20:00"

[[shifts]]
slot = "backup"
person = "rn-a"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "20:00"
end = "08:00"
"""


def roster(extra: str = DAYS_NIGHTS) -> Roster:
    return parse_roster(PEOPLE + extra)


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


def who(r: Roster, at: datetime, severity: Severity = CRIT, level: int = 0) -> str:
    found = on_call(r, severity, level, at)
    return f"GAP {found.reason}" if isinstance(found, Gap) else found.id


def test_shifts_in_their_time_zone_and_levels_map_to_slots() -> None:
    r = roster()
    assert who(r, ny(2026, 12, 7, 12)) == "rn-a"
    assert who(r, ny(2026, 12, 7, 12), level=1) == "rn-b"
    assert who(r, ny(2026, 12, 7, 22)) == "rn-b"
    assert who(r, ny(2026, 12, 8, 7, 59)) == "rn-b"  # the night that began the day before
    assert who(r, ny(2026, 12, 8, 8)) == "rn-a"  # start inclusive, end exclusive
    assert who(r, ny(2026, 12, 7, 22), level=5) == "rn-a"  # past the list: its last slot (backup)
    assert who(r, ny(2026, 12, 7, 12), URG, level=3) == "rn-a"  # urgent: primary only
    # The same instant in UTC or another zone resolves the same.
    assert who(r, ny(2026, 12, 7, 12).astimezone(UTC)) == who(
        r, ny(2026, 12, 7, 12).astimezone(ZoneInfo("Asia/Tokyo"))
    )


def test_dst_nights_are_longer_or_shorter_in_utc() -> None:
    r = roster()
    # 2026-11-01: clocks go back at 02:00 in New York; the 20:00-08:00 night is 13 hours long.
    night_start = ny(2026, 10, 31, 20).astimezone(UTC)
    assert who(r, night_start) == "rn-b"
    assert who(r, night_start + timedelta(hours=12, minutes=30)) == "rn-b"  # 07:30 EST
    assert who(r, night_start + timedelta(hours=13)) == "rn-a"  # 08:00 EST
    # 2026-03-08: clocks go forward at 02:00; that night is 11 hours long.
    spring = ny(2026, 3, 7, 20).astimezone(UTC)
    assert who(r, spring + timedelta(hours=10, minutes=59)) == "rn-b"
    assert who(r, spring + timedelta(hours=11)) == "rn-a"
    # No gap across either change (coverage is computed exactly, not sampled).
    for start in (ny(2026, 10, 31, 0), ny(2026, 3, 7, 0)):
        assert coverage_gaps(r, start, 3) == []


def test_a_shift_in_its_own_zone() -> None:
    night = 'person = "rn-b"\ndays = [{days}]\nstart = "20:00"\nend = "08:00"'
    week = '"mon", "tue", "wed", "thu", "fri", "sat", "sun"'
    london = night.replace("20:00", "01:00").replace("08:00", "13:00") + '\ntime_zone = "Europe/London"'
    extra = DAYS_NIGHTS.replace(night.format(days=week), london.format(days=week), 1)
    assert extra != DAYS_NIGHTS
    r = roster(extra)
    # 01:00-13:00 London is 20:00-08:00 New York in December.
    assert who(r, ny(2026, 12, 7, 21)) == "rn-b"
    assert who(r, ny(2026, 12, 8, 7, 30)) == "rn-b"


def test_overrides_beat_shifts_and_the_last_one_wins() -> None:
    r = roster(
        DAYS_NIGHTS
        + """
[[overrides]]
slot = "primary"
person = "rn-b"
start = 2026-12-24T18:00:00-05:00
end = 2026-12-25T00:00:00-05:00
reason = "early night"

[[overrides]]
slot = "primary"
person = "rn-a"
start = 2026-12-24T23:10:00Z
end = 2026-12-24T23:30:00Z
reason = "half an hour back"
"""
    )
    assert who(r, ny(2026, 12, 24, 17, 59)) == "rn-a"
    assert who(r, ny(2026, 12, 24, 18)) == "rn-b"
    assert who(r, ny(2026, 12, 24, 18, 15)) == "rn-a"  # 23:15Z: the later override
    assert who(r, ny(2026, 12, 24, 18, 45)) == "rn-b"
    assert who(r, ny(2026, 12, 24, 18), level=1) == "rn-b"  # backup untouched


def test_a_swap_exchanges_the_shifts_that_begin_on_its_date() -> None:
    r = roster(
        DAYS_NIGHTS + '\n[[swaps]]\ndate = 2026-12-31\nperson = "rn-a"\nwith = "rn-b"\nreason = "NYE"\n'
    )
    assert who(r, ny(2026, 12, 31, 12)) == "rn-b"
    assert who(r, ny(2026, 12, 31, 12), level=1) == "rn-a"
    assert who(r, ny(2027, 1, 1, 3)) == "rn-a"  # the night that began on the 31st
    assert who(r, ny(2026, 12, 31, 3)) == "rn-b"  # the night that began on the 30th: not swapped
    assert who(r, ny(2027, 1, 1, 12)) == "rn-a"


def test_gaps_resolve_to_a_gap_and_check_warns_about_them() -> None:
    weekdays_only = DAYS_NIGHTS.replace(
        '"mon", "tue", "wed", "thu", "fri", "sat", "sun"', '"mon", "tue", "wed", "thu", "fri"'
    )
    r = roster(weekdays_only)
    found = on_call(r, CRIT, 0, ny(2026, 12, 12, 12))  # a Saturday
    assert isinstance(found, Gap) and found.slot is Slot.PRIMARY and "gap" in found.reason
    gaps = coverage_gaps(r, ny(2026, 12, 7, 0), 7)  # Mon 00:00 to next Mon 00:00
    primary = [(g.start.astimezone(NY), g.end.astimezone(NY)) for g in gaps if g.slot is Slot.PRIMARY]
    # The Friday night shift runs until Saturday 08:00; Sunday has none until the week ends.
    assert primary == [(ny(2026, 12, 7, 0), ny(2026, 12, 7, 8)), (ny(2026, 12, 12, 8), ny(2026, 12, 14, 0))]
    assert {g.reaches for g in gaps if g.slot is Slot.PRIMARY} == {((CRIT, 0), (URG, 0))}
    assert {g.slot for g in gaps} == {Slot.PRIMARY, Slot.BACKUP}


def test_unknown_people_are_warned_about_and_resolve_to_a_gap() -> None:
    r = roster(DAYS_NIGHTS.replace('person = "rn-a"', 'person = "rn-zz"', 1))
    assert unknown_people(r) == [("shifts[0].person", "rn-zz")]
    found = on_call(r, CRIT, 0, ny(2026, 12, 7, 12))
    assert isinstance(found, Gap) and found.reason == "shifts[0] names rn-zz, who is not in the roster"
    assert coverage_gaps(r, ny(2026, 12, 7, 9), 0.1)[0].slot is Slot.PRIMARY


def test_bad_files_name_row_and_field(tmp_path: Path) -> None:
    bad = (
        PEOPLE.replace('time_zone = "Europe/London"', 'time_zone = "Mars/Olympus"').replace(
            'urgent = ["primary"]', ""
        )
        + '\n[[shifts]]\nslot = "primary"\nperson = "rn-a"\ndays = ["mon"]\nstart = "25:00"\nend = "08:00"\n'
    )
    with pytest.raises(RosterFileError) as caught:
        parse_roster(bad, "bad.toml")
    text = str(caught.value)
    assert "people[1] (id=rn-b).time_zone: unknown time zone 'Mars/Olympus'" in text
    assert "shifts[0].start" in text
    with pytest.raises(RosterFileError, match="escalation: needs a list of slots for urgent"):
        parse_roster(PEOPLE.replace('urgent = ["primary"]', ""))
    with pytest.raises(RosterFileError, match="url_secret"):
        parse_roster(PEOPLE.replace('url_secret = "a"', 'url = "https://hooks.example/secret"'))
    with pytest.raises(RosterFileError, match="cannot read"):
        load_roster(tmp_path / "none.toml")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        on_call(roster(), CRIT, 0, datetime(2026, 12, 7, 12))  # noqa: DTZ001


def test_the_example_roster_has_two_nurses_a_supervisor_and_no_gap() -> None:
    r = load_roster(EXAMPLE_ROSTER_FILE)
    assert [(p.id, p.role.value) for p in r.people] == [
        ("rn-ana", "primary_nurse"),
        ("rn-ben", "backup_nurse"),
        ("sup-cho", "supervisor"),
    ]
    assert coverage_gaps(r, ny(2026, 12, 20, 0), 14) == [] and unknown_people(r) == []
    for hour in range(24):
        first, second = (on_call(r, CRIT, level, ny(2026, 12, 7, hour)) for level in (0, 1))
        assert isinstance(first, Person) and isinstance(second, Person)
        assert {first.id, second.id} == {"rn-ana", "rn-ben"}  # two nurses on call, one after the other
